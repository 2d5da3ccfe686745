"""Estimator parameters from a ``--config`` file: JSON, or YAML read with ``yaml.safe_load``.

The file is parsed as data, never executed: a mapping from estimator
parameter names to JSON values, for instance ``{"sigma1": 2.0, "lr": 0.003,
"loss__gamma": 5}``. Names and values are checked before anything is trained.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

from xsup.cli._arguments import UsageError

__all__ = ["CONFIG_EXCLUDED", "check_config", "config_parameters", "read_config"]

#: Parameters a file cannot set: they take Python objects, or loosen checkpoint loading.
CONFIG_EXCLUDED = ("callbacks", "torch_load_kwargs")

#: Prefixes of nested options (``loss__gamma``) and the kind of plugin they configure.
PLUGIN_PREFIXES = {
    "loss": "losses",
    "explainer": "explainers",
    "interpolator": "interpolators",
    "module": "modules",
}

#: Other nested options, checked against the signature of the class they configure.
CLASS_PREFIXES = ("optimizer", "iterator_train", "iterator_valid")

#: How the nested options are spelt, for the messages.
_PREFIXES_TEXT = ", ".join(f"{prefix}__" for prefix in (*PLUGIN_PREFIXES, *CLASS_PREFIXES))

#: Parameters of a backbone that the estimator fills in from the data.
_DATA_PARAMETERS = ("input_shape", "n_outputs")


def read_config(path: Path) -> dict[str, Any]:
    """The mapping in a JSON file, or a YAML file (``.yaml``/``.yml``, needs PyYAML).

    Raises
    ------
    UsageError
        The file cannot be read or parsed, or does not hold a mapping with
        string keys.
    """
    where = f"--config {path}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise UsageError(f"{where}: cannot read the file ({reason}).") from None
    if Path(path).suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise UsageError(
                f"{where}: reading YAML needs PyYAML (pip install pyyaml); or write the file "
                "as JSON."
            ) from None
        try:
            config = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise UsageError(f"{where}: not valid YAML ({' '.join(str(error).split())}).") from None
        config = {} if config is None else config
    else:
        try:
            config = json.loads(text)
        except json.JSONDecodeError as error:
            raise UsageError(f"{where}: not valid JSON ({error}).") from None
    if not isinstance(config, dict):
        raise UsageError(
            f"{where}: expected a mapping of estimator parameters such as "
            f'{{"sigma1": 2.0}}; got a {type(config).__name__}.'
        )
    bad = [key for key in config if not isinstance(key, str)]
    if bad:
        raise UsageError(f"{where}: parameter names must be strings; got {bad!r}.")
    return config


def config_parameters(estimator_class: type) -> list[str]:
    """Top-level parameters of ``estimator_class`` a file may set (those with plain defaults)."""
    defaults = estimator_class().get_params(deep=False)
    plain = (type(None), bool, int, float, str)
    return sorted(
        name for name, value in defaults.items()
        if isinstance(value, plain) and name not in CONFIG_EXCLUDED
    )


def _plugin_class(prefix: str, value: Any, where: str) -> type | None:
    """The plugin class a registered name stands for; None for "auto" and non-names."""
    from xsup import plugins

    if not isinstance(value, str) or value == "auto":  # "auto" is resolved from the data
        return None
    try:
        return plugins.get(PLUGIN_PREFIXES[prefix], value)
    except (ValueError, ImportError) as error:  # unknown name (with hints), or a broken plugin
        raise UsageError(f"{where}: {prefix}={value!r}: {error}") from None


def _nested_names(prefix: str, params: dict[str, Any], where: str) -> list[str] | None:
    """Option names accepted under ``prefix`` for these parameters; None when unknown."""
    value = params.get(prefix)
    if prefix in PLUGIN_PREFIXES:
        cls = _plugin_class(prefix, value, where)
        if cls is None:
            return None
        return [name for name in cls._get_param_names() if name not in _DATA_PARAMETERS]
    if prefix == "optimizer":
        target = value
    else:
        from torch.utils.data import DataLoader

        target = value if isinstance(value, type) else DataLoader
    if not isinstance(target, type):
        return None
    signature = inspect.signature(target)
    if any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()):
        return None
    return [name for name in signature.parameters if name not in ("self", "params", "dataset")]


def _describe(value: Any) -> str:
    return value.__name__ if isinstance(value, type) else repr(value)


def check_config(
    config: dict[str, Any], estimator_class: type, base: dict[str, Any], path: Path | None
) -> Any:
    """Check a file's parameters and return ``estimator_class(**base, **config)``.

    Parameters
    ----------
    config : dict
        What :func:`read_config` returned.
    estimator_class : type
        The estimator the command trains.
    base : dict
        The command's own settings; the file overrides them.
    path : Path or None
        The file, for the messages.

    Raises
    ------
    UsageError
        An unknown parameter name (the message lists the valid ones) or a
        value the estimator refuses.
    """
    from xsup.validation import check_hyperparameters

    where = f"--config {path}" if path is not None else "options"
    valid = config_parameters(estimator_class)
    params = {**base, **config}
    resolved = {**estimator_class().get_params(deep=False), **params}
    for name in config:
        prefix, nested, option = name.partition("__")
        if not nested:
            if name not in valid:
                raise UsageError(
                    f"{where}: unknown parameter {name!r}; valid parameters: {', '.join(valid)}, "
                    f"and options prefixed with {_PREFIXES_TEXT}."
                )
            continue
        if prefix not in (*PLUGIN_PREFIXES, *CLASS_PREFIXES):
            raise UsageError(
                f"{where}: unknown parameter {name!r}; nested options start with one of "
                f"{_PREFIXES_TEXT}."
            )
        accepted = _nested_names(prefix, resolved, where)
        if accepted is not None and option not in accepted:
            raise UsageError(
                f"{where}: unknown parameter {name!r}; {prefix} {_describe(resolved[prefix])} "
                f"takes {', '.join(prefix + '__' + key for key in accepted) or 'no options'}."
            )
    for prefix in PLUGIN_PREFIXES:
        _plugin_class(prefix, resolved.get(prefix), where)
    try:
        estimator = estimator_class(**params)
        check_hyperparameters(estimator)
    except (TypeError, ValueError) as error:
        raise UsageError(f"{where}: {error}") from None
    return estimator
