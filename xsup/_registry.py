"""The plugin registry's state: the kinds, the built-in table, discovery and loading.

Internal to :mod:`xsup.plugins`, which holds the public functions.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import warnings
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from xsup.base import Backbone, Explainer, ExplanationLoss, Interpolator, Plugin

@dataclass(frozen=True)
class PluginKind:
    """One kind of plugin: its entry-point group, base class and estimator parameter.

    ``prefix`` is both the estimator parameter that names the plugin
    (``loss="res"``) and the prefix of the plugin's options (``loss__gamma``).
    """

    group: str
    base: type[Plugin]
    prefix: str


KINDS: dict[str, PluginKind] = {
    "losses": PluginKind("xsup.losses", ExplanationLoss, "loss"),
    "explainers": PluginKind("xsup.explainers", Explainer, "explainer"),
    "interpolators": PluginKind("xsup.interpolators", Interpolator, "interpolator"),
    "modules": PluginKind("xsup.modules", Backbone, "module"),
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
        "convlstm": "xsup.modules.convlstm:ConvLSTM",
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
    broken: bool = False  # failed to import or invalid (a missing optional dependency is not)
    reported: bool = field(default=False, repr=False)

    @property
    def is_builtin(self) -> bool:
        return self.origin == BUILTIN_ORIGIN


_registry: dict[str, dict[str, _Entry]] | None = None


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}; got {kind!r}.")


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
    for kind, spec in KINDS.items():
        found = sorted(
            entry_points(group=spec.group),
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
    """Import an entry's object and check it: base class, abstract methods, dependencies.

    Whatever the import raises is caught (``SystemExit`` from a plugin that
    calls ``sys.exit()`` included), except ``KeyboardInterrupt``.
    """
    if entry.loaded is not None or entry.error is not None:
        return entry.loaded
    module_name, _, attribute = entry.value.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            obj = getattr(obj, part)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - any failure of third-party code is reported
        entry.error = f"import of {entry.value} failed: {type(exc).__name__}: {exc}"
        entry.exception = exc
        entry.broken = True
        return None
    problem = _validate(obj, KINDS[entry.kind].base)
    if problem:
        entry.error = f"{entry.value} {problem}"
        entry.broken = True
        return None
    missing = _missing_dependency(obj)
    if missing:
        entry.error = missing
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


def _missing_dependency(cls: type[Plugin]) -> str | None:
    """Why ``cls`` cannot run here (an optional module it ``requires`` is missing), or None."""
    for module, requirement in cls.requires.items():
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return f"needs {module!r}, which is not installed (pip install \"{requirement}\")"
    return None


def _report(entry: _Entry) -> None:
    if entry.broken and not entry.reported:
        entry.reported = True
        warnings.warn(
            f"{entry.kind} plugin {entry.name!r} from {entry.origin} is skipped: {entry.error}",
            PluginWarning,
            stacklevel=3,
        )


def reset() -> None:
    """Forget discovered plugins, so that the next lookup reads the entry points again."""
    global _registry
    _registry = None
