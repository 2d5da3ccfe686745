"""The plugin registry: discovery, lookup by name, run-time registration, and the one resolver.

Four kinds of plugin, one entry-point group and one estimator parameter each:

============== ======================== ============== =====================================
kind           entry-point group        parameter      base class
============== ======================== ============== =====================================
losses         ``xsup.losses``          ``loss``       :class:`xsup.base.ExplanationLoss`
explainers     ``xsup.explainers``      ``explainer``  :class:`xsup.base.Explainer`
interpolators  ``xsup.interpolators``   ``interpolator`` :class:`xsup.base.Interpolator`
modules        ``xsup.modules``         ``module``     :class:`xsup.base.Backbone`
============== ======================== ============== =====================================

Entry points are read once, lazily, on the first lookup; a plugin is imported
only when it is used by name or listed with :func:`available`. A third-party
plugin that fails to import (whatever it raises, ``SystemExit`` included) or
does not derive from its kind's base class is reported with a warning naming
it and its distribution, and skipped; a plugin whose optional dependency is
missing (its ``requires``) is not usable either. :func:`available` lists the
usable plugins, :func:`unavailable` the others with the reason; using one of
those by name raises :class:`PluginLoadError`. Set
``XSUP_DISABLE_PLUGIN_AUTOLOAD=1`` to ignore third-party entry points.

:func:`resolve` is the one place where a name, class or instance becomes a
configured, validated and set-up plugin; the estimators, the tuning search
space, the command line and the explainers that wrap other explainers all use
it (or :func:`plugin_class`, its first half).
"""

from __future__ import annotations

import difflib
from typing import Any, Literal, overload

from xsup._registry import (
    BUILTINS,
    KINDS,
    RUNTIME_ORIGIN,
    PluginKind,
    PluginLoadError,
    PluginNotFoundError,
    PluginWarning,
    _check_kind,
    _discover,
    _Entry,
    _load,
    _report,
    _validate,
    reset,
)
from xsup.base import Plugin
from xsup.constraints import validate_parameters
from xsup.spec import InputSpec

__all__ = [
    "BUILTINS",
    "KINDS",
    "SHARED_PARAMETERS",
    "PluginKind",
    "PluginLoadError",
    "PluginNotFoundError",
    "PluginWarning",
    "available",
    "configure",
    "describe",
    "get",
    "plugin_class",
    "register",
    "reset",
    "resolve",
    "unavailable",
]


#: Estimator parameters shared with the plugins: a plugin whose ``__init__`` takes one of
#: them receives the estimator's value (unless its own option is given), and a plugin's
#: ``search_space`` may name them without a prefix.
SHARED_PARAMETERS = ("sigma1", "sigma2", "alpha", "k")


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
        Unknown name; the message suggests close names and lists the usable ones.
    PluginLoadError
        The plugin failed to import, is not a valid plugin of that kind, or
        needs an optional dependency that is not installed.

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
    message += f" Available {kind}: {', '.join(available(kind)) or 'none'}."
    broken = unavailable(kind)
    if broken:
        message += f" Not usable: {', '.join(broken)} (see xsup plugins)."
    return message


@overload
def available(kind: str, with_origin: Literal[False] = ...) -> list[str]: ...
@overload
def available(kind: str, with_origin: Literal[True]) -> dict[str, str]: ...
def available(kind: str, with_origin: bool = False) -> list[str] | dict[str, str]:
    """List the usable plugins of a kind.

    Every listed plugin is loaded; one that fails is reported with a
    :class:`PluginWarning` and left out, as is one whose optional dependency
    is not installed (see :func:`unavailable`).

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


def unavailable(kind: str) -> dict[str, str]:
    """The registered plugins of a kind that cannot be used, with the reason.

    Parameters
    ----------
    kind : {"losses", "explainers", "interpolators", "modules"}
        Plugin kind.

    Returns
    -------
    dict
        Name to ``"<origin>: <why>"``: a failed import, a class that is not
        a valid plugin, or a missing optional dependency with its install command.
    """
    _check_kind(kind)
    return {
        name: f"{entry.origin}: {entry.error}"
        for name, entry in sorted(_discover()[kind].items())
        if _load(entry) is None
    }


def plugin_class(kind: str, value: Any) -> type[Plugin]:
    """The plugin class behind a registered name, a plugin class or a plugin instance.

    Raises
    ------
    PluginNotFoundError, PluginLoadError
        As :func:`get`, for a name.
    TypeError
        ``value`` is neither a name nor a class or instance of the kind's base class.

    Examples
    --------
    >>> from xsup.losses import GradiaLoss
    >>> plugin_class("losses", "gradia") is plugin_class("losses", GradiaLoss()) is GradiaLoss
    True
    """
    _check_kind(kind)
    spec = KINDS[kind]
    if isinstance(value, str):
        return get(kind, value)
    if isinstance(value, spec.base):
        return type(value)
    if isinstance(value, type) and issubclass(value, spec.base):
        return value
    raise TypeError(
        f"{spec.prefix} must be a registered name, a {spec.base.__name__} subclass or instance; "
        f"got {value!r}."
    )


def configure(
    kind: str,
    value: Any,
    options: dict[str, Any] | None = None,
    *,
    shared: dict[str, Any] | None = None,
) -> tuple[type[Plugin], dict[str, Any]]:
    """The first half of :func:`resolve`: the plugin class and its checked ``__init__`` parameters.

    Nothing is built; the parameters and errors are those of :func:`resolve`.
    """
    cls = plugin_class(kind, value)
    prefix = KINDS[kind].prefix
    params = dict(value.get_params(deep=False)) if isinstance(value, Plugin) else {}
    params.update(options or {})
    accepted = cls._get_param_names()
    for name, shared_value in (shared or {}).items():
        if name in accepted and name not in params:
            params[name] = shared_value
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        shown = value if isinstance(value, str) else cls.__name__
        raise ValueError(
            f"{', '.join(prefix + '__' + key for key in unknown)}: not a parameter of "
            f"{prefix} {shown!r} ({cls.__name__}); its parameters are: "
            f"{', '.join(accepted) or 'none'}."
        )
    validate_parameters(params, cls.parameter_constraints, prefix=f"{prefix}__")
    return cls, params


def resolve(
    kind: str,
    value: Any,
    options: dict[str, Any] | None = None,
    *,
    shared: dict[str, Any] | None = None,
    spec: InputSpec | None = None,
) -> Plugin:
    """A configured, validated and (given ``spec``) set-up plugin from a name, class or instance.

    Parameters
    ----------
    kind : {"losses", "explainers", "interpolators", "modules"}
        Plugin kind.
    value : str, Plugin subclass or Plugin instance
        What the user gave, e.g. ``loss="res"``. An instance's parameters are
        the starting point; it is never modified.
    options : dict or None
        The plugin's own options, without prefix (``{"gamma": 3}`` for
        ``loss__gamma=3``); they win over an instance's parameters.
    shared : dict or None
        Estimator values handed to a plugin whose ``__init__`` takes a
        parameter of that name and that was not given it otherwise
        (:data:`SHARED_PARAMETERS`, ``random_state``, a backbone's
        ``input_shape``/``n_outputs``).
    spec : InputSpec or None
        When given, the plugin's ``setup(spec)`` is called.

    Returns
    -------
    Plugin
        A new instance.

    Raises
    ------
    ValueError
        An option the plugin does not take (named with its prefix).
    xsup.constraints.InvalidParameterError
        An option value the plugin's ``parameter_constraints`` refuse.

    Examples
    --------
    >>> loss = resolve("losses", "res", {"gamma": 3.0}, shared={"alpha": 0.1, "k": 0.5})
    >>> loss.gamma, loss.alpha
    (3.0, 0.1)
    >>> resolve("losses", "res", {"gamma": -1.0})
    Traceback (most recent call last):
    ...
    xsup.constraints.InvalidParameterError: loss__gamma must be a positive finite number; got -1.0.
    """
    cls, params = configure(kind, value, options, shared=shared)
    instance = cls(**params)
    if spec is not None:
        instance.setup(spec)
    return instance


def describe(plugin: Any) -> str:
    """How error messages name a plugin: class, registered name and distribution.

    Examples
    --------
    >>> from xsup.losses import GradiaLoss
    >>> describe(GradiaLoss())
    "GradiaLoss (losses plugin 'gradia' from xsup (built-in))"
    """
    cls = plugin if isinstance(plugin, type) else type(plugin)
    for kind, entries in _discover().items():
        for name, entry in entries.items():
            if entry.loaded is cls:
                return f"{cls.__name__} ({kind} plugin {name!r} from {entry.origin})"
    return f"{cls.__name__} (from {cls.__module__}, not registered)"


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
    problem = _validate(obj, KINDS[kind].base)
    if problem:
        raise TypeError(f"Cannot register {obj!r} as {kind} plugin {name!r}: it {problem}.")
    entries = _discover()[kind]
    if name in entries and entries[name].is_builtin:
        raise ValueError(f"{kind} plugin name {name!r} is taken by a built-in plugin.")
    entries[name] = _Entry(name, kind, "", RUNTIME_ORIGIN, loaded=obj)
