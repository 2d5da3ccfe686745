"""Scorers that compare an estimator's explanations with the annotations E, for model selection."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.metadata_routing import MetadataRequest

from xsup.metrics._explanation import explanation_iou, explanation_precision_recall_f1
from xsup.metrics._pointing import pointing_hit_rate
from xsup.metrics._time_series import saliency_precision_recall

__all__ = ["ExplanationScorer", "explanation_scorer"]

Target = Literal["predicted", "true"]


def _precision(S: Any, E: Any, **params: Any) -> float:
    return explanation_precision_recall_f1(S, E, **params)[0]


def _recall(S: Any, E: Any, **params: Any) -> float:
    return explanation_precision_recall_f1(S, E, **params)[1]


def _f1(S: Any, E: Any, **params: Any) -> float:
    return explanation_precision_recall_f1(S, E, **params)[2]


def _aup(S: Any, E: Any, **params: Any) -> float:
    return saliency_precision_recall(S, E, **params)["AUP"]


def _aur(S: Any, E: Any, **params: Any) -> float:
    return saliency_precision_recall(S, E, **params)["AUR"]


def _aupr(S: Any, E: Any, **params: Any) -> float:
    return saliency_precision_recall(S, E, **params)["AUPR"]


#: Metric name -> (function of (S, E, **params) returning a float, function whose options it takes).
METRICS: dict[str, tuple[Callable[..., float], Callable[..., Any]]] = {
    "iou": (explanation_iou, explanation_iou),
    "precision": (_precision, explanation_precision_recall_f1),
    "recall": (_recall, explanation_precision_recall_f1),
    "f1": (_f1, explanation_precision_recall_f1),
    "pointing": (pointing_hit_rate, pointing_hit_rate),
    "aup": (_aup, saliency_precision_recall),
    "aur": (_aur, saliency_precision_recall),
    "aupr": (_aupr, saliency_precision_recall),
}


def _resolve_metric(metric: Any) -> tuple[Callable[..., float], Callable[..., Any]]:
    if callable(metric):
        return metric, metric
    if isinstance(metric, str) and metric in METRICS:
        return METRICS[metric]
    close = difflib.get_close_matches(str(metric), METRICS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"metric must be a callable metric(S, E, **params) or one of {sorted(METRICS)}; "
        f"got {metric!r}.{hint}"
    )


def _final_estimator(estimator: Any, X: Any) -> tuple[Any, Any]:
    """The last step of (nested) Pipelines, and X passed through the steps before it."""
    while isinstance(estimator, Pipeline):
        if len(estimator) > 1:
            X = estimator[:-1].transform(X)
        estimator = estimator[-1]
    if not hasattr(estimator, "explain"):
        raise TypeError(
            "an explanation scorer needs an estimator with an explain(X) method (or a Pipeline "
            f"ending in one), such as ExplanationSupervisedClassifier; got "
            f"{type(estimator).__name__}."
        )
    return estimator, X


class ExplanationScorer:
    """A scikit-learn scorer comparing ``estimator.explain(X)`` with the annotations ``E``.

    Create it with :func:`explanation_scorer`, which documents the options.
    Called as ``scorer(estimator, X, y, E=E)``; it requests ``E`` for
    ``score`` through scikit-learn's metadata routing, so searches and
    cross-validation pass each test fold's annotations to it.
    """

    def __init__(
        self,
        metric: str | Callable[..., float] = "iou",
        *,
        method: Any = None,
        target: Target = "predicted",
        metric_params: dict[str, Any] | None = None,
    ) -> None:
        function, signature_owner = _resolve_metric(metric)
        if target not in ("predicted", "true"):
            raise ValueError(f"target must be 'predicted' or 'true'; got {target!r}.")
        params = dict(metric_params or {})
        try:
            inspect.signature(signature_owner).bind(None, None, **params)
        except TypeError as error:
            raise TypeError(
                f"Invalid options {sorted(params)} for metric {metric!r}: {error}."
            ) from None
        except ValueError:  # a callable without an introspectable signature
            pass
        self.metric = metric
        self.method = method
        self.target = target
        self.metric_params = params
        self._function = function

    def __call__(self, estimator: Any, X: Any, y: Any = None, E: Any = None) -> float:
        """Explain ``X`` with the fitted ``estimator`` and score the maps against ``E``."""
        if E is None:
            raise ValueError(
                f"{self!r} received no annotations E. scikit-learn passes E to scorers only "
                "with metadata routing enabled: call sklearn.set_config("
                "enable_metadata_routing=True) (or use sklearn.config_context) and pass E to "
                "fit, e.g. GridSearchCV(...).fit(X, y, E=E) or cross_validate(..., "
                "params={'E': E}). Called directly, pass scorer(estimator, X, y, E=E)."
            )
        if len(E) != len(X):
            raise ValueError(
                f"E holds {len(E)} samples but X holds {len(X)}: one annotation per sample."
            )
        final, Xt = _final_estimator(estimator, X)
        options: dict[str, Any] = {"method": self.method}
        if self.target == "true":
            if y is None:
                raise ValueError("target='true' explains the true labels, but y is None.")
            options["target"] = np.asarray(y)
        maps = final.explain(Xt, **options)
        return float(self._function(maps, E, **self.metric_params))

    def get_metadata_routing(self) -> MetadataRequest:
        """Request ``E`` for ``score``: searches route each test fold's annotations here."""
        request = MetadataRequest(owner=self)
        request.score.add_request(param="E", alias=True)
        return request

    def __repr__(self) -> str:
        metric = self.metric if isinstance(self.metric, str) else getattr(
            self.metric, "__name__", repr(self.metric)
        )
        options = [f"{key}={value!r}" for key, value in self.metric_params.items()]
        if self.method is not None:
            options.append(f"method={self.method!r}")
        if self.target != "predicted":
            options.append(f"target={self.target!r}")
        return f"explanation_scorer({', '.join([repr(metric), *options])})"


def explanation_scorer(
    metric: str | Callable[..., float] = "iou",
    *,
    method: Any = None,
    target: Target = "predicted",
    **metric_params: Any,
) -> ExplanationScorer:
    """A scorer for ``GridSearchCV``, ``cross_validate`` and friends that scores explanations.

    The scorer explains the test fold with the fitted estimator (for a
    ``Pipeline``: the fold passes through every step before the last, whose
    ``explain`` makes the maps) and compares the maps with the fold's
    annotations ``E`` using ``metric``; higher is better. Pass it as
    ``scoring`` alone or beside other scorers
    (``scoring={"accuracy": "accuracy", "iou": explanation_scorer("iou")}``).

    scikit-learn passes ``E`` to scorers only with metadata routing enabled
    (``sklearn.set_config(enable_metadata_routing=True)`` or within
    ``sklearn.config_context(enable_metadata_routing=True)``): then
    ``GridSearchCV(...).fit(X, y, E=E)`` and ``cross_validate(...,
    params={"E": E})`` hand each fold's annotations to both the estimator's
    ``fit`` and this scorer. Without routing, scikit-learn never gives
    scorers metadata, and the scorer raises a ``ValueError`` that says so.

    Parameters
    ----------
    metric : str or callable, default="iou"
        ``"iou"`` (:func:`explanation_iou`), ``"precision"``, ``"recall"``,
        ``"f1"`` (:func:`explanation_precision_recall_f1`), ``"pointing"``
        (:func:`pointing_hit_rate`), ``"aup"``, ``"aur"``, ``"aupr"``
        (:func:`saliency_precision_recall`, time series), or a callable
        ``metric(S, E, **metric_params) -> float``.
    method : str or None, default=None
        Explainer passed to ``explain`` (None: the training explainer).
    target : {"predicted", "true"}, default="predicted"
        Explain the predicted class (as the papers evaluate) or the true label.
    **metric_params
        Options of the metric, e.g. ``threshold=0.5``, ``average="macro"``.

    Returns
    -------
    ExplanationScorer

    Raises
    ------
    ValueError
        Unknown metric name or target.
    TypeError
        Options the metric does not take.

    Examples
    --------
    Any fitted estimator with ``explain`` will do; this one explains each
    input by itself.

    >>> class SelfExplaining:
    ...     def explain(self, X, method=None, target=None):
    ...         return np.asarray(X)
    >>> scorer = explanation_scorer("iou", average="macro")
    >>> scorer
    explanation_scorer('iou', average='macro')
    >>> scorer(SelfExplaining(), [[0.9, 0.8], [0.9, 0.1]], [0, 1], E=[[1, 0], [1, 0]])
    0.75
    """
    return ExplanationScorer(metric, method=method, target=target, metric_params=metric_params)
