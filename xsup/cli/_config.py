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

#: Prefixes of nested options checked here; the plugins' prefixes, the optimizer's and the
#: criterion's are checked by the estimator's ``check_parameters``.
LOADER_PREFIXES = ("iterator_train", "iterator_valid")


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


def _nested_prefixes() -> tuple[str, ...]:
    from xsup import plugins

    return (*(kind.prefix for kind in plugins.KINDS.values()), "optimizer", "criterion",
            *LOADER_PREFIXES)


def _check_loader_option(name: str, option: str, where: str) -> None:
    """An ``iterator_*__`` option must be a parameter of torch's DataLoader."""
    from torch.utils.data import DataLoader

    accepted = [p for p in inspect.signature(DataLoader).parameters if p not in ("self", "dataset")]
    if option not in accepted:
        raise UsageError(
            f"{where}: unknown parameter {name!r}; DataLoader takes "
            f"{', '.join(name.split('__')[0] + '__' + key for key in accepted)}."
        )


def check_config(
    config: dict[str, Any], estimator_class: type, base: dict[str, Any], path: Path | None,
    input_kind: str | None = None,
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
    input_kind : str or None, default=None
        The kind of the data the command trains on; resolves ``module="auto"``
        so that ``module__*`` options are checked as well.

    Raises
    ------
    UsageError
        An unknown parameter name (the message lists the valid ones), a
        plugin option the plugin does not take, or a value the estimator, a
        plugin, the optimizer or the criterion refuses; all before training.
    """
    where = f"--config {path}" if path is not None else "options"
    valid = config_parameters(estimator_class)
    prefixes = _nested_prefixes()
    for name in config:
        prefix, nested, option = name.partition("__")
        if not nested and name not in valid:
            raise UsageError(
                f"{where}: unknown parameter {name!r}; valid parameters: {', '.join(valid)}, "
                f"and options prefixed with {', '.join(p + '__' for p in prefixes)}."
            )
        if nested and prefix not in prefixes:
            raise UsageError(
                f"{where}: unknown parameter {name!r}; nested options start with one of "
                f"{', '.join(p + '__' for p in prefixes)}."
            )
        if nested and prefix in LOADER_PREFIXES:
            _check_loader_option(name, option, where)
    try:
        estimator = estimator_class(**{**base, **config})
        estimator.check_parameters(input_kind)
    except (TypeError, ValueError) as error:
        raise UsageError(f"{where}: {error}") from None
    return estimator
