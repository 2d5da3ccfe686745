"""The plugin registry: discovery through entry points, lookup by name, run-time registration.

Four kinds of plugin, one entry-point group each:

============== ==================== =================================
kind           entry-point group    base class
============== ==================== =================================
losses         ``xsup.losses``      :class:`xsup.base.ExplanationLoss`
explainers     ``xsup.explainers``  :class:`xsup.base.Explainer`
interpolators  ``xsup.interpolators`` :class:`xsup.base.Interpolator`
modules        ``xsup.modules``     :class:`xsup.base.Backbone`
============== ==================== =================================

Entry points are read once, lazily, on the first lookup; a plugin is imported
only when it is used by name or listed with :func:`available`. A third-party
plugin that fails to import or does not derive from its kind's base class is
reported with a warning naming it and its distribution, and skipped; using it
by name raises :class:`PluginLoadError`. Set ``XSUP_DISABLE_PLUGIN_AUTOLOAD=1``
to ignore third-party entry points.
"""

from __future__ import annotations

import difflib
import importlib
import os
import warnings
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Literal, overload

from xsup.base import Backbone, Explainer, ExplanationLoss, Interpolator, Plugin

__all__ = [
    "PluginLoadError",
    "PluginNotFoundError",
    "PluginWarning",
    "available",
    "get",
    "register",
]

KINDS: dict[str, tuple[str, type[Plugin]]] = {
    "losses": ("xsup.losses", ExplanationLoss),
    "explainers": ("xsup.explainers", Explainer),
    "interpolators": ("xsup.interpolators", Interpolator),
    "modules": ("xsup.modules", Backbone),
}

#: The built-in plugins; the package's own pyproject declares the same entry points.
BUILTINS: dict[str, dict[str, str]] = {
    "losses": {
        "none": "xsup.losses.none:NoExplanationLoss",
        "gradia": "xsup.losses.gradia:GradiaLoss",
        "haics": "xsup.losses.haics:HaicsLoss",
        "res": "xsup.losses.res:RESLoss",
        "rrr": "xsup.losses.rrr:RRRLoss",
        "sgt": "xsup.losses.sgt:SaliencyGuidedLoss",
        "stes": "xsup.losses.stes:STESLoss",
    },
    "explainers": {
        "gradcam": "xsup.explainers.gradcam:GradCAM",
        "gradient": "xsup.explainers.gradient:InputGradient",
        "integrated_gradients": "xsup.explainers.captum_methods:IntegratedGradients",
        "smoothgrad": "xsup.explainers.captum_methods:SmoothGrad",
        "deeplift": "xsup.explainers.captum_methods:DeepLift",
        "gradient_shap": "xsup.explainers.captum_methods:GradientShap",
        "deep_shap": "xsup.explainers.captum_methods:DeepShap",
        "occlusion": "xsup.explainers.captum_methods:Occlusion",
        "feature_ablation": "xsup.explainers.captum_methods:FeatureAblation",
        "feature_permutation": "xsup.explainers.captum_methods:FeaturePermutation",
        "shapley_sampling": "xsup.explainers.captum_methods:ShapleySampling",
        "random": "xsup.explainers.random:RandomSaliency",
        "tsr": "xsup.explainers.tsr:TemporalSaliencyRescaling",
    },
    "interpolators": {
        "none": "xsup.interpolators.simple:NoInterpolation",
        "nearest": "xsup.interpolators.simple:NearestInterpolation",
        "linear": "xsup.interpolators.simple:LinearInterpolation",
        "stes": "xsup.interpolators.stes:STESInterpolator",
    },
    "modules": {
        "mlp": "xsup.modules.mlp:MLP",
        "cnn": "xsup.modules.cnn:CNN",
        "cnn_gru": "xsup.modules.cnn_gru:CNNGRU",
        "tcn": "xsup.modules.tcn:TCN",
        "lstm": "xsup.modules.lstm:LSTM",
        "input_cell_lstm": "xsup.modules.input_cell_lstm:InputCellLSTM",
        "transformer": "xsup.modules.transformer:Transformer",
    },
}

BUILTIN_ORIGIN = "xsup (built-in)"
RUNTIME_ORIGIN = "registered at run time"
AUTOLOAD_SWITCH = "XSUP_DISABLE_PLUGIN_AUTOLOAD"


class PluginNotFoundError(ValueError):
    """No plugin of that kind has that name."""


class PluginLoadError(ImportError):
    """A plugin exists but could not be loaded or is not a valid plugin."""


class PluginWarning(UserWarning):
    """A third-party plugin was skipped or shadowed."""


@dataclass
class _Entry:
    name: str
    kind: str
    value: str  # "module:attribute", or "" for objects registered at run time
    origin: str
    loaded: Any = None
    error: str | None = None
    exception: BaseException | None = field(default=None, repr=False)
    reported: bool = field(default=False, repr=False)

    @property
    def is_builtin(self) -> bool:
        return self.origin == BUILTIN_ORIGIN


_registry: dict[str, dict[str, _Entry]] | None = None


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(
            f"kind must be one of {sorted(KINDS)}; got {kind!r}."
        )


def _discover() -> dict[str, dict[str, _Entry]]:
    """Read the built-in table and, unless switched off, the entry points (once)."""
    global _registry
    if _registry is not None:
        return _registry
    registry: dict[str, dict[str, _Entry]] = {
        kind: {name: _Entry(name, kind, value, BUILTIN_ORIGIN) for name, value in table.items()}
        for kind, table in BUILTINS.items()
    }
    if os.environ.get(AUTOLOAD_SWITCH, "").strip() not in ("", "0"):
        _registry = registry
        return registry
    for kind, (group, _) in KINDS.items():
        found = sorted(
            entry_points(group=group),
            key=lambda ep: (ep.dist.name if ep.dist else "", ep.name),
        )
        for ep in found:
            dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist else "an unknown distribution"
            existing = registry[kind].get(ep.name)
            if existing is not None:
                if existing.value == ep.value:
                    continue  # the same plugin, e.g. xsup's own entry points
                warnings.warn(
                    f"{kind} plugin {ep.name!r} from {dist} ({ep.value}) is ignored: the name is "
                    f"already taken by {existing.origin} ({existing.value}).",
                    PluginWarning,
                    stacklevel=3,
                )
                continue
            registry[kind][ep.name] = _Entry(ep.name, kind, ep.value, dist)
    _registry = registry
    return registry


def _load(entry: _Entry) -> Any:
    """Import an entry's object and check it against its kind's base class."""
    if entry.loaded is not None or entry.error is not None:
        return entry.loaded
    base = KINDS[entry.kind][1]
    module_name, _, attribute = entry.value.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            obj = getattr(obj, part)
    except Exception as exc:  # noqa: BLE001 - any failure of third-party code is reported
        entry.error = f"import of {entry.value} failed: {type(exc).__name__}: {exc}"
        entry.exception = exc
        return None
    problem = _validate(obj, base)
    if problem:
        entry.error = f"{entry.value} {problem}"
        return None
    entry.loaded = obj
    return obj


def _validate(obj: Any, base: type[Plugin]) -> str | None:
    if not isinstance(obj, type) or not issubclass(obj, base):
        return f"is not a subclass of {base.__module__}.{base.__name__}"
    abstract = getattr(obj, "__abstractmethods__", frozenset())
    if abstract:
        return f"leaves abstract method(s) {sorted(abstract)} unimplemented"
    return None


def _report(entry: _Entry) -> None:
    if not entry.reported:
        entry.reported = True
        warnings.warn(
            f"{entry.kind} plugin {entry.name!r} from {entry.origin} is skipped: {entry.error}",
            PluginWarning,
            stacklevel=3,
        )


def get(kind: str, name: str) -> type[Plugin]:
    """Return the plugin class registered under ``name``.

    Parameters
    ----------
    kind : {"losses", "explainers", "interpolators", "modules"}
        Plugin kind.
    name : str
        Registered name.

    Returns
    -------
    type
        The plugin class.

    Raises
    ------
    PluginNotFoundError
        Unknown name; the message suggests close names and lists the available ones.
    PluginLoadError
        The plugin failed to import or is not a valid plugin of that kind.

    Examples
    --------
    >>> get("losses", "gradia").__name__
    'GradiaLoss'
    """
    _check_kind(kind)
    if not isinstance(name, str):
        raise TypeError(f"A {kind} plugin name must be a str; got {type(name).__name__}.")
    entries = _discover()[kind]
    entry = entries.get(name)
    if entry is None:
        raise PluginNotFoundError(_not_found_message(kind, name, entries))
    obj = _load(entry)
    if obj is None:
        raise PluginLoadError(
            f"{kind} plugin {name!r} from {entry.origin} cannot be used: {entry.error}"
        ) from entry.exception
    return obj


def _not_found_message(kind: str, name: str, entries: dict[str, _Entry]) -> str:
    message = f"Unknown {kind} plugin {name!r}."
    close = difflib.get_close_matches(name, list(entries), n=3)
    if close:
        message += f" Did you mean {' or '.join(repr(c) for c in close)}?"
    elsewhere = [other for other, table in _discover().items() if other != kind and name in table]
    if elsewhere:
        message += f" {name!r} is a plugin of kind {elsewhere[0]!r}, not {kind!r}."
    message += f" Available {kind}: {', '.join(sorted(entries))}."
    return message


@overload
def available(kind: str, with_origin: Literal[False] = ...) -> list[str]: ...
@overload
def available(kind: str, with_origin: Literal[True]) -> dict[str, str]: ...
def available(kind: str, with_origin: bool = False) -> list[str] | dict[str, str]:
    """List the usable plugins of a kind.

    Every listed plugin is loaded; one that fails is reported with a
    :class:`PluginWarning` and left out.

    Parameters
    ----------
    kind : {"losses", "explainers", "interpolators", "modules"}
        Plugin kind.
    with_origin : bool, default=False
        Return ``{name: origin}`` where origin names the distribution.

    Returns
    -------
    list of str or dict
        Sorted names, or names mapped to their origin.

    Examples
    --------
    >>> "gradcam" in available("explainers")
    True
    """
    _check_kind(kind)
    usable: dict[str, str] = {}
    for name, entry in sorted(_discover()[kind].items()):
        if _load(entry) is None:
            _report(entry)
            continue
        usable[name] = entry.origin
    return usable if with_origin else list(usable)


def register(kind: str, name: str, obj: type[Plugin]) -> None:
    """Register a plugin class at run time.

    Parameters
    ----------
    kind : {"losses", "explainers", "interpolators", "modules"}
        Plugin kind.
    name : str
        Name to use it by, e.g. ``loss="my_loss"``.
    obj : type
        A subclass of the kind's base class.

    Raises
    ------
    TypeError
        ``obj`` is not a concrete subclass of the kind's base class.
    ValueError
        ``name`` is taken by a built-in plugin.
    """
    _check_kind(kind)
    problem = _validate(obj, KINDS[kind][1])
    if problem:
        raise TypeError(f"Cannot register {obj!r} as {kind} plugin {name!r}: it {problem}.")
    entries = _discover()[kind]
    if name in entries and entries[name].is_builtin:
        raise ValueError(f"{kind} plugin name {name!r} is taken by a built-in plugin.")
    entries[name] = _Entry(name, kind, "", RUNTIME_ORIGIN, loaded=obj)


def reset() -> None:
    """Forget discovered plugins, so that the next lookup reads the entry points again."""
    global _registry
    _registry = None
