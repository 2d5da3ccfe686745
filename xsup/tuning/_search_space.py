"""The Optuna search space of an explanation-supervised estimator, read from its plugins."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from xsup import plugins
from xsup.validation import check_param_distributions

__all__ = ["SHARED_NAMES", "as_grid", "search_space"]

#: Estimator parameters a plugin may declare without a prefix (:data:`xsup.plugins.SHARED_PARAMETERS`).
SHARED_NAMES = plugins.SHARED_PARAMETERS


def _plugin_class(kind: str, value: Any) -> type | None:
    """The plugin class behind a name, class or instance; None for "auto" and plain torch modules."""
    if isinstance(value, str) and value == "auto":  # resolved from the data at fit time
        return None
    try:
        return plugins.plugin_class(kind, value)
    except TypeError:  # e.g. module=<a torch module class>: no search space
        return None


def search_space(estimator: Any) -> dict[str, Any]:
    """Optuna distributions for the hyperparameters the estimator's plugins use.

    Collects ``search_space()`` of the loss, explainer, interpolator and
    module plugins (given as names, classes or instances). A plugin's own
    parameters appear with its prefix (``loss__gamma``), the shared
    estimator parameters ``sigma1``, ``sigma2``, ``alpha`` and ``k`` as they
    are. When two plugins declare the same shared parameter, the loss wins
    (it is listed first). For a :class:`~sklearn.pipeline.Pipeline` the final
    step is read and every name gets its step prefix (``clf__sigma1``), as
    ``set_params`` on the Pipeline expects.

    Parameters
    ----------
    estimator : estimator or Pipeline
        An explanation-supervised estimator (with ``loss``, ``explainer``,
        ``interpolator`` and ``module`` parameters), or a Pipeline ending in one.

    Returns
    -------
    dict
        Parameter name to ``optuna.distributions.BaseDistribution``; empty when
        no plugin declares anything (e.g. ``loss="none"`` with built-in modules).

    Raises
    ------
    TypeError
        The estimator has none of the plugin parameters.

    Examples
    --------
    >>> from xsup import ExplanationSupervisedClassifier
    >>> sorted(search_space(ExplanationSupervisedClassifier(loss="res")))
    ['alpha', 'loss__gamma', 'sigma1']
    >>> search_space(ExplanationSupervisedClassifier(loss="none"))
    {}
    """
    prefix = ""
    while isinstance(estimator, Pipeline):
        name, estimator = estimator.steps[-1]
        prefix += f"{name}__"
    params = estimator.get_params(deep=False) if hasattr(estimator, "get_params") else {}
    if not any(kind.prefix in params for kind in plugins.KINDS.values()):
        raise TypeError(
            "estimator must be an explanation-supervised estimator (with loss, explainer, "
            "interpolator and module parameters) or a Pipeline ending in one; got "
            f"{type(estimator).__name__}."
        )
    space: dict[str, Any] = {}
    for kind, spec in plugins.KINDS.items():  # the loss first: it wins a shared parameter
        cls = _plugin_class(kind, params.get(spec.prefix))
        if cls is None:
            continue
        for key, distribution in cls.search_space().items():
            name = key if key in SHARED_NAMES else f"{spec.prefix}__{key}"
            space.setdefault(prefix + name, distribution)
    return space


def _values(name: str, distribution: Any, n: int) -> list[Any]:
    """``n`` evenly spaced values of a distribution (log-spaced when it is on a log scale)."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if isinstance(distribution, CategoricalDistribution):
        return list(distribution.choices)
    if isinstance(distribution, (FloatDistribution, IntDistribution)):
        low, high = distribution.low, distribution.high
        if distribution.log:
            points = np.geomspace(low, high, n)
        else:
            points = np.linspace(low, high, n)
        if isinstance(distribution, IntDistribution):
            return sorted({int(round(point)) for point in points})
        return [float(f"{point:.12g}") for point in points]
    raise TypeError(
        f"{name}: cannot make a grid from a {type(distribution).__name__}; expected a "
        "FloatDistribution, IntDistribution or CategoricalDistribution."
    )


def as_grid(space: dict[str, Any], n: int = 3) -> dict[str, list[Any]]:
    """A ``GridSearchCV`` parameter grid from Optuna distributions.

    Numeric ranges become ``n`` evenly spaced values (geometrically spaced
    for log-scale distributions, deduplicated for integers); categorical
    distributions keep all their choices.

    Parameters
    ----------
    space : dict
        Parameter name to distribution, e.g. from :func:`search_space`.
    n : int, default=3
        Values per numeric parameter (at least 2).

    Returns
    -------
    dict
        Parameter name to a list of values.

    Raises
    ------
    ValueError
        ``n`` below 2.
    TypeError
        A distribution of an unsupported type.

    Examples
    --------
    >>> from optuna.distributions import FloatDistribution
    >>> as_grid({"sigma1": FloatDistribution(0.01, 100.0, log=True)}, n=3)
    {'sigma1': [0.01, 1.0, 100.0]}
    """
    check_param_distributions(space, name="space")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2; got {n!r}.")
    return {name: _values(name, distribution, int(n)) for name, distribution in space.items()}
