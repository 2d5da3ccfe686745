"""Agreement between saliency maps and annotation masks: IoU and explanation precision/recall/F1."""

from __future__ import annotations

import math
import warnings
from typing import Any, Literal

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning

__all__ = ["explanation_iou", "explanation_precision_recall_f1"]

Average = Literal["micro", "macro"]

#: Added to denominators of explanation precision, recall and F1, as in the RES reference code.
EPS = 1e-6


def _to_numpy(array: Any, name: str) -> np.ndarray:
    """A float numpy view of a numpy array, memory map, torch tensor or nested list."""
    if hasattr(array, "detach") and hasattr(array, "cpu"):  # torch.Tensor, without importing torch
        array = array.detach().cpu().numpy()
    try:
        array = np.asarray(array, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be an array of real numbers; got {type(array).__name__}.") from error
    return array


def _frames(
    S: Any, E: Any, threshold: float, average: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check the inputs and return per-frame ``(predicted, positive, negative)`` boolean cells.

    Each returned array is ``(n_annotated_frames, cells)``; NaN cells of E are
    neither predicted nor annotated, so they count nowhere.
    """
    if average not in ("micro", "macro"):
        raise ValueError(f"average must be 'micro' or 'macro'; got {average!r}.")
    if not (isinstance(threshold, (int, float, np.floating)) and math.isfinite(threshold)):
        raise ValueError(f"threshold must be a finite real number; got {threshold!r}.")
    S = _to_numpy(S, "S")
    E = _to_numpy(E, "E")
    if S.shape != E.shape:
        raise ValueError(
            f"S has shape {S.shape} but E has shape {E.shape}; saliency maps S and "
            "annotations E must have the same shape."
        )
    if S.ndim < 2:
        raise ValueError(
            f"S and E must have a sample axis and at least one more; got shape {S.shape}."
        )
    if not np.isfinite(S).all():
        raise ValueError("S contains NaN or infinity; saliency maps must be finite.")
    # A frame is one time step of a raster sequence (N, T, H, W), else the whole sample.
    n_frames = S.shape[0] * S.shape[1] if S.ndim == 4 else S.shape[0]
    S = S.reshape(n_frames, -1)
    E = E.reshape(n_frames, -1)
    known = np.isfinite(E)
    annotated = (known & (E != 0)).any(axis=1)
    known, S, E = known[annotated], S[annotated], E[annotated]
    E = np.where(known, E, 0.0)
    return (S > threshold) & known, E > 0, E < 0


def _undefined(metric: str) -> float:
    warnings.warn(
        f"{metric} is undefined: E has no annotated frame (every frame is missing or all "
        "zero). Returning nan.",
        UndefinedMetricWarning,
        stacklevel=3,
    )
    return float("nan")


def explanation_iou(
    S: Any,
    E: Any,
    *,
    threshold: float = 0.5,
    average: Average = "micro",
    zero_division: float = 1.0,
) -> float:
    """Intersection over union of binarised saliency maps and positive annotations.

    The saliency is binarised as ``S > threshold``; the annotation is the
    positive part ``E > 0``. Only annotated frames count: a frame (one time
    step of a raster sequence ``(N, T, H, W)``, the whole sample for any other
    shape) is annotated when it holds at least one finite non-zero value;
    missing (NaN or all-zero) frames are skipped, and NaN cells of annotated
    frames are ignored.

    Parameters
    ----------
    S : array-like or torch.Tensor
        Saliency maps normalised to [0, 1], for instance from
        ``estimator.explain(X)``.
    E : array-like or torch.Tensor
        Annotations of the same shape: 1 (or any positive weight) should
        matter, -1 should not, 0 not annotated, NaN missing.
    threshold : float, default=0.5
        Saliency cells above it count as attended.
    average : {"micro", "macro"}, default="micro"
        ``"micro"`` pools intersection and union over all annotated frames of
        all samples (as STES reports; equal to scikit-learn's binary
        ``jaccard_score`` over the annotated cells). ``"macro"`` averages the
        IoU of each annotated frame (as RES reports, per image).
    zero_division : float, default=1.0
        IoU of a frame (macro) or of the whole set (micro) whose union is
        empty: nothing annotated positive and nothing attended.

    Returns
    -------
    float
        IoU in [0, 1]; NaN, with an ``UndefinedMetricWarning``, when no frame
        is annotated.

    Raises
    ------
    ValueError
        S and E differ in shape, S is not finite, or an option is invalid.

    Examples
    --------
    Two frames: the first matches one of two annotated cells, the second
    matches its single annotated cell exactly.

    >>> S = [[0.9, 0.2, 0.8, 0.0], [0.0, 0.0, 0.0, 1.0]]
    >>> E = [[1, 1, 0, 0], [0, 0, 0, 1]]
    >>> round(explanation_iou(S, E), 4)  # (1 + 1) / (3 + 1)
    0.5
    >>> round(explanation_iou(S, E, average="macro"), 4)  # (1/3 + 1) / 2
    0.6667
    """
    predicted, positive, _ = _frames(S, E, threshold, average)
    if len(predicted) == 0:
        return _undefined("explanation_iou")
    intersection = (predicted & positive).sum(axis=1)
    union = (predicted | positive).sum(axis=1)
    if average == "micro":
        total = union.sum()
        return float(intersection.sum() / total) if total else float(zero_division)
    per_frame = np.where(union > 0, intersection / np.maximum(union, 1), zero_division)
    return float(per_frame.mean())


def explanation_precision_recall_f1(
    S: Any,
    E: Any,
    *,
    threshold: float = 0.5,
    average: Average = "micro",
) -> tuple[float, float, float]:
    """Explanation precision, recall and F1 as RES defines them (§4.1).

    With ``P = S > threshold``: ``TP = |P and E > 0|``, ``FP = |P and E < 0|``
    (only cells explicitly annotated as *not* mattering count as false
    positives; attention on unannotated cells is not penalised) and
    ``FN = |not P and E > 0|``. Then ``precision = TP / (TP + FP + eps)``,
    ``recall = TP / (TP + FN + eps)`` and ``F1 = 2 P R / (P + R + eps)``
    with ``eps = 1e-6``, as in the RES reference code. Frames are selected as
    in :func:`explanation_iou`.

    Parameters
    ----------
    S : array-like or torch.Tensor
        Saliency maps normalised to [0, 1].
    E : array-like or torch.Tensor
        Annotations of the same shape (1 should matter, -1 should not, 0 not
        annotated, NaN missing).
    threshold : float, default=0.5
        Saliency cells above it count as attended.
    average : {"micro", "macro"}, default="micro"
        ``"micro"`` pools TP, FP and FN over all annotated frames, then
        computes the scores; ``"macro"`` computes the three scores per frame
        and averages each (as RES reports).

    Returns
    -------
    precision, recall, f1 : float
        NaN each, with an ``UndefinedMetricWarning``, when no frame is annotated.

    Raises
    ------
    ValueError
        S and E differ in shape, S is not finite, or an option is invalid.

    Examples
    --------
    One image: 3 attended cells, 2 on the object (E = 1), 1 on a cell marked
    as not mattering (E = -1); 1 object cell is missed; attention on the
    unannotated cell (E = 0) costs nothing.

    >>> S = [[1.0, 1.0, 0.0, 1.0, 1.0]]
    >>> E = [[1, 1, 1, -1, 0]]
    >>> [round(v, 4) for v in explanation_precision_recall_f1(S, E)]
    [0.6667, 0.6667, 0.6667]
    """
    predicted, positive, negative = _frames(S, E, threshold, average)
    if len(predicted) == 0:
        nan = _undefined("explanation_precision_recall_f1")
        return nan, nan, nan
    tp = (predicted & positive).sum(axis=1).astype(np.float64)
    fp = (predicted & negative).sum(axis=1).astype(np.float64)
    fn = (~predicted & positive).sum(axis=1).astype(np.float64)
    if average == "micro":
        tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
    precision = tp / (tp + fp + EPS)
    recall = tp / (tp + fn + EPS)
    f1 = 2 * precision * recall / (precision + recall + EPS)
    return float(np.mean(precision)), float(np.mean(recall)), float(np.mean(f1))
