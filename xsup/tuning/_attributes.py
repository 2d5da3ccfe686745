"""What a stored study says about itself: objective names, the estimator searched, the workers.

``optuna-dashboard`` and ``study.trials_dataframe()`` show these: the
objectives by name (``accuracy``, ``explanation_iou``) instead of
``values_0``, the estimator's fixed parameters and the search space as study
user attributes, and the machine and process that ran each trial as the
trial's ``worker`` user attribute.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["estimator_attributes", "metric_names", "worker_name"]

#: Longest text kept for a parameter value that has no plain JSON form.
_MAX_TEXT = 200


def _scorer_name(scoring: Any) -> str:
    """A short name for one ``scoring`` entry of ``tune``."""
    if scoring is None:
        return "score"
    if isinstance(scoring, str):
        return scoring
    metric = getattr(scoring, "metric", None)  # xsup.metrics.explanation_scorer
    if isinstance(metric, str):
        return f"explanation_{metric}"
    function = getattr(scoring, "_score_func", None) or metric or scoring  # make_scorer
    name = getattr(function, "__name__", "")
    return name if name and name != "<lambda>" else "score"


def metric_names(scoring: Sequence[Any]) -> list[str]:
    """One distinct name per scorer, e.g. ``["accuracy", "explanation_iou"]``.

    Examples
    --------
    >>> from xsup.metrics import explanation_scorer
    >>> metric_names([None])
    ['score']
    >>> metric_names(["accuracy", explanation_scorer("iou"), lambda est, X, y: 0.0])
    ['accuracy', 'explanation_iou', 'score']
    >>> metric_names(["accuracy", "accuracy"])
    ['accuracy', 'accuracy_1']
    """
    names: list[str] = []
    for index, entry in enumerate(scoring):
        name = _scorer_name(entry)
        names.append(f"{name}_{index}" if name in names else name)
    return names


def _jsonable(value: Any) -> Any:
    """A parameter value as JSON can store it: plain values kept, classes and functions named."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, type) or callable(value) and hasattr(value, "__qualname__"):
        return f"{value.__module__}.{value.__qualname__}"
    text = repr(value)
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def estimator_attributes(
    estimator: Any, final: Any, space: dict[str, Any], splitter: Any, n_samples: int
) -> dict[str, Any]:
    """Study user attributes describing the search: estimator, its parameters, space, folds.

    Examples
    --------
    >>> from optuna.distributions import FloatDistribution
    >>> from sklearn.model_selection import KFold
    >>> from xsup import ExplanationSupervisedClassifier
    >>> net = ExplanationSupervisedClassifier(loss="gradia", max_epochs=2)
    >>> attrs = estimator_attributes(net, net, {"sigma1": FloatDistribution(0.1, 10.0)},
    ...                              KFold(2), 24)
    >>> attrs["estimator"], attrs["estimator_params"]["loss"], attrs["n_samples"]
    ('ExplanationSupervisedClassifier', 'gradia', 24)
    """
    return {
        "estimator": type(estimator).__name__,
        "estimator_params": _jsonable(final.get_params(deep=False)),
        "search_space": {name: repr(distribution) for name, distribution in space.items()},
        "cv": repr(splitter),
        "n_samples": int(n_samples),
    }


def worker_name() -> str:
    """``host:pid`` of the process running a trial, stored as the trial's ``worker`` attribute."""
    return f"{socket.gethostname()}:{os.getpid()}"
