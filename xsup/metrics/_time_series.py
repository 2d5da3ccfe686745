"""Weighted saliency precision and recall under percent-of-saliency masking (Ismail et al.)."""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import auc

from xsup.metrics._explanation import CHUNK_SAMPLES, _matching_maps
from xsup.metrics._masking import (
    check_percentages,
    descending_order,
    rescale_saliency,
    saliency_share_counts,
    selected_cells,
)

__all__ = ["saliency_precision_recall"]

Level = Literal["cell", "time", "feature"]

DEFAULT_PERCENTAGES = (10, 20, 30, 40, 50, 60, 70, 80, 90)


def _check_inputs(S: Any, E: Any, level: str, zero_division: Any) -> tuple[np.ndarray, np.ndarray]:
    if level not in ("cell", "time", "feature"):
        raise ValueError(f"level must be 'cell', 'time' or 'feature'; got {level!r}.")
    if not (zero_division == "warn" or isinstance(zero_division, (int, float))) or isinstance(
        zero_division, bool
    ):
        raise ValueError(f"zero_division must be 'warn' or a number; got {zero_division!r}.")
    S, E = _matching_maps(S, E)
    if level != "cell" and S.ndim != 3:
        raise ValueError(
            f"level={level!r} needs time series maps of shape (N, T, F); got shape {S.shape}."
        )
    if S.ndim < 2 or np.prod(S.shape[1:]) < 2:
        raise ValueError(
            f"S and E need a sample axis and at least 2 cells per sample; got shape {S.shape}."
        )
    return S, E


def _unit_scores(s: np.ndarray, truth: np.ndarray, axis: int) -> np.ndarray:
    """Score of each time step (axis=2 reduced) or feature (axis=1 reduced) of ``(n, T, F)`` maps.

    The mean of the K largest values along ``axis``, where K is the most
    annotated cells any one row (or column) of the sample holds, at least 1.
    """
    k = np.maximum(truth.sum(axis=axis).max(axis=1), 1)
    top = -np.sort(-s, axis=axis)
    top = np.moveaxis(top, axis, -1)
    cumulative = np.cumsum(top, axis=-1)
    return np.take_along_axis(cumulative, (k - 1)[:, None, None], axis=-1)[..., 0] / k[:, None]


def _weighted_counts(
    s: np.ndarray, truth: np.ndarray, percentages: np.ndarray, level: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Saliency-weighted TP, FP, FN of each percentage and sample, ``(P, n)`` each."""
    n_cells = s.shape[1] * s.shape[2] if s.ndim == 3 else s.shape[1]
    flat, flat_truth = s.reshape(len(s), n_cells), truth.reshape(len(s), n_cells)
    order = descending_order(flat)
    sorted_s = np.take_along_axis(flat, order, axis=1)
    counts = np.clip(saliency_share_counts(sorted_s, percentages), 1, n_cells - 1)
    if level == "cell":
        sorted_truth = np.take_along_axis(flat_truth, order, axis=1)
        hits = np.cumsum(sorted_s * sorted_truth, axis=1)
        misses = np.cumsum(sorted_s * ~sorted_truth, axis=1)
        last = (counts - 1).T  # (n, P)
        tp = np.take_along_axis(hits, last, axis=1).T
        fp = np.take_along_axis(misses, last, axis=1).T
        return tp, fp, hits[:, -1][None, :] - tp
    axis = 2 if level == "time" else 1  # reduce features to score time steps, and vice versa
    scores = _unit_scores(s, truth, axis)  # (n, U)
    true_units = truth.any(axis=axis)  # (n, U)
    tp, fp, fn = (np.empty((len(percentages), len(s))) for _ in range(3))
    for row, count in enumerate(counts):
        chosen = selected_cells(order, count).reshape(s.shape).any(axis=axis)
        tp[row] = (scores * (chosen & true_units)).sum(axis=1)
        fp[row] = (scores * (chosen & ~true_units)).sum(axis=1)
        fn[row] = (scores * (~chosen & true_units)).sum(axis=1)
    return tp, fp, fn


def _mean_ratio(sums: np.ndarray, counts: np.ndarray, zero_division: Any, what: str) -> np.ndarray:
    undefined = counts == 0
    if undefined.any() and zero_division == "warn":
        warnings.warn(
            f"Saliency {what} is undefined at some percentages: no sample has a positive "
            "denominator there (saliency all zero, or nothing annotated). Counted as 0.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
    fill = 0.0 if zero_division == "warn" else float(zero_division)
    return np.where(undefined, fill, sums / np.maximum(counts, 1))


def _area(x: np.ndarray, y: np.ndarray) -> float:
    if np.isnan(x).any() or np.isnan(y).any():
        return float("nan")
    order = np.argsort(x, kind="stable")
    return float(auc(x[order], y[order]))


def saliency_precision_recall(
    S: Any,
    E: Any,
    *,
    percentages: Any = DEFAULT_PERCENTAGES,
    level: Level = "cell",
    zero_division: float | str = "warn",
) -> dict[str, Any]:
    """Weighted precision and recall of saliency under percent-of-saliency masking.

    The metrics of Ismail et al. (2020) for time series. Per sample, the
    saliency is rescaled (``|S|``, then min-max over all of its cells) and
    the cells are ranked by it. At each percentage p, the selection is the
    fewest top cells that hold at least p% of the sample's total saliency
    (at least 1 cell, at most all but one). With the truth ``E > 0``,
    ``TP``, ``FP`` and ``FN`` sum the rescaled saliency over selected true,
    selected false and unselected true cells; precision ``TP / (TP + FP)``
    and recall ``TP / (TP + FN)`` are averaged over the samples whose
    denominator is positive. ``AUP`` and ``AUR`` are the areas under
    precision and recall against ``p / 100`` (trapezoidal rule, from
    :func:`sklearn.metrics.auc`); ``AUPR`` is the area under precision
    against recall, the points sorted by recall.

    With ``level="time"`` (or ``"feature"``) the units are the time steps
    (features) of ``(N, T, F)`` maps: a unit is selected when any of its cells
    is, true when any of its cells is annotated, and weighs the mean of its K
    largest values, K being the most annotated cells any one unit of the
    sample holds (the box's width across that unit). The authors' code
    takes K from the box's extent along the other axis, which differs only
    for non-square boxes.

    Parameters
    ----------
    S : array-like or torch.Tensor of shape (N, ...)
        Saliency maps (any sign or scale; ``(N, T, F)`` for the time and
        feature levels).
    E : array-like or torch.Tensor of the same shape
        Annotations; cells with ``E > 0`` are the informative ones. A sample
        whose E is entirely NaN (missing) is left out.
    percentages : sequence of float, default=(10, 20, ..., 90)
        Saliency shares in percent, strictly increasing, at least two.
    level : {"cell", "time", "feature"}, default="cell"
        What is counted: cells, time steps or features.
    zero_division : "warn" or float, default="warn"
        Value of a curve point at which no sample has a positive
        denominator (for instance when every map is constant); ``"warn"``
        uses 0 and warns.

    Returns
    -------
    dict
        ``"AUP"``, ``"AUR"``, ``"AUPR"`` (floats), ``"precision"`` and
        ``"recall"`` (one value per percentage) and ``"percentages"``. All
        NaN, with an ``UndefinedMetricWarning``, when every sample's E is
        missing.

    Raises
    ------
    ValueError
        Shapes differ, S is not finite, fewer than 2 cells per sample, or an
        option is invalid.

    Examples
    --------
    One sample of 2 x 2 cells, rescaled to ``[[1, 1/2], [1/6, 0]]``; the
    cells of the first feature are informative. 50% of the saliency lies in
    the top cell (precision 1, recall 1 / (7/6)); 80% needs the top two
    (precision 1 / (3/2)); 95% the top three (precision 7/10, recall 1).

    >>> S = [[[0.6, 0.3], [0.1, 0.0]]]
    >>> E = [[[1, 0], [1, 0]]]
    >>> result = saliency_precision_recall(S, E, percentages=[50, 80, 95])
    >>> result["precision"].round(4).tolist()
    [1.0, 0.6667, 0.7]
    >>> result["recall"].round(4).tolist()
    [0.8571, 0.8571, 1.0]
    """
    S, E = _check_inputs(S, E, level, zero_division)
    percentages = check_percentages(percentages, minimum=2)
    n_points = len(percentages)
    sums = {name: np.zeros(n_points) for name in ("precision", "recall")}
    counts = {name: np.zeros(n_points) for name in ("precision", "recall")}
    scored = 0
    for start in range(0, len(S), CHUNK_SAMPLES):
        s = np.asarray(S[start : start + CHUNK_SAMPLES], dtype=np.float64)
        e = np.asarray(E[start : start + CHUNK_SAMPLES], dtype=np.float64)
        if not np.isfinite(s).all():
            raise ValueError("S contains NaN or infinity; saliency maps must be finite.")
        known = np.isfinite(e.reshape(len(e), -1)).any(axis=1)
        s, e = s[known], e[known]
        scored += len(s)
        if not len(s):
            continue
        rescaled = rescale_saliency(s).reshape(s.shape)
        tp, fp, fn = _weighted_counts(rescaled, e > 0, percentages, level)
        for name, denominator in (("precision", tp + fp), ("recall", tp + fn)):
            valid = denominator > 0
            sums[name] += np.where(valid, tp / np.where(valid, denominator, 1), 0).sum(axis=1)
            counts[name] += valid.sum(axis=1)
    if scored == 0:
        warnings.warn(
            "saliency_precision_recall is undefined: every sample's E is missing (all NaN). "
            "Returning nan.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        nan_curve = np.full(n_points, np.nan)
        return {"AUP": np.nan, "AUR": np.nan, "AUPR": np.nan, "precision": nan_curve,
                "recall": nan_curve.copy(), "percentages": percentages}
    precision = _mean_ratio(sums["precision"], counts["precision"], zero_division, "precision")
    recall = _mean_ratio(sums["recall"], counts["recall"], zero_division, "recall")
    x = percentages / 100
    return {
        "AUP": _area(x, precision),
        "AUR": _area(x, recall),
        "AUPR": _area(recall, precision),
        "precision": precision,
        "recall": recall,
        "percentages": percentages,
    }
