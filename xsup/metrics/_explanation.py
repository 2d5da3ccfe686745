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


#: Samples read at a time, so that memory-mapped maps are never loaded whole.
CHUNK_SAMPLES = 256


def _as_array(array: Any, name: str) -> np.ndarray:
    """A numpy view of an array, memory map, torch tensor or nested list (no copy if possible)."""
    if hasattr(array, "detach") and hasattr(array, "cpu"):  # torch.Tensor, without importing torch
        array = array.detach().cpu().numpy()
    try:
        array = np.asarray(array)
    except ValueError as error:
        raise ValueError(
            f"{name} must be a rectangular array; got a ragged sequence ({error})."
        ) from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers; got dtype {array.dtype}.")
    return array


def _check_annotation_values(E: np.ndarray) -> None:
    """E in [-1, 1] or NaN, read a chunk of samples at a time."""
    for start in range(0, len(E), CHUNK_SAMPLES):
        e = np.asarray(E[start : start + CHUNK_SAMPLES], dtype=np.float64)
        if np.isinf(e).any():
            raise ValueError("E contains infinity; use NaN to mark missing annotations.")
        low, high = np.nanmin(e, initial=0.0), np.nanmax(e, initial=0.0)
        if low < -1 or high > 1:
            raise ValueError(
                "E must lie in [-1, 1] (1 should matter, -1 should not, 0 unknown, NaN missing); "
                f"got values from {low:g} to {high:g}."
            )


def _matching_maps(S: Any, E: Any) -> tuple[np.ndarray, np.ndarray]:
    """Saliency maps and annotations as arrays: same shape, some samples, E in [-1, 1] or NaN."""
    S = _as_array(S, "S")
    E = _as_array(E, "E")
    if S.shape != E.shape:
        raise ValueError(
            f"S has shape {S.shape} but E has shape {E.shape}; saliency maps S and "
            "annotations E must have the same shape."
        )
    if S.ndim and S.shape[0] == 0:
        raise ValueError(f"S and E must hold at least 1 sample; got shape {S.shape}.")
    _check_annotation_values(E)
    return S, E


def _frame_counts(S: Any, E: Any, threshold: float, average: str) -> dict[str, np.ndarray]:
    """Check the inputs and count cells per annotated frame.

    Returns ``intersection``, ``union``, ``tp``, ``fp`` and ``fn``, each of
    shape ``(n_annotated_frames,)``. Binarised saliency ``P = S > threshold``;
    NaN cells of E count nowhere.
    """
    if average not in ("micro", "macro"):
        raise ValueError(f"average must be 'micro' or 'macro'; got {average!r}.")
    if isinstance(threshold, bool) or not (
        isinstance(threshold, (int, float, np.integer, np.floating)) and math.isfinite(threshold)
    ):
        raise ValueError(f"threshold must be a finite real number; got {threshold!r}.")
    S, E = _matching_maps(S, E)
    if S.ndim < 2:
        raise ValueError(
            f"S and E must have a sample axis and at least one more; got shape {S.shape}."
        )
    # A frame is one time step of a raster sequence (N, T, H, W), else the whole sample.
    frames_per_sample = S.shape[1] if S.ndim == 4 else 1
    counts: dict[str, list[np.ndarray]] = {k: [] for k in ("intersection", "union", "fp", "fn")}
    for start in range(0, S.shape[0], CHUNK_SAMPLES):
        s = np.asarray(S[start : start + CHUNK_SAMPLES], dtype=np.float64)
        e = np.asarray(E[start : start + CHUNK_SAMPLES], dtype=np.float64)
        if not np.isfinite(s).all():
            raise ValueError("S contains NaN or infinity; saliency maps must be finite.")
        s = s.reshape(len(s) * frames_per_sample, -1)
        e = e.reshape(len(e) * frames_per_sample, -1)
        known = np.isfinite(e)
        annotated = (known & (e != 0)).any(axis=1)
        known, s, e = known[annotated], s[annotated], np.where(known, e, 0.0)[annotated]
        predicted, positive, negative = (s > threshold) & known, e > 0, e < 0
        counts["intersection"].append((predicted & positive).sum(axis=1))
        counts["union"].append((predicted | positive).sum(axis=1))
        counts["fp"].append((predicted & negative).sum(axis=1))
        counts["fn"].append((~predicted & positive).sum(axis=1))
    totals = {
        name: np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)
        for name, parts in counts.items()
    }
    totals["tp"] = totals["intersection"]
    return totals


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
    counts = _frame_counts(S, E, threshold, average)
    intersection, union = counts["intersection"], counts["union"]
    if len(union) == 0:
        return _undefined("explanation_iou")
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
    counts = _frame_counts(S, E, threshold, average)
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    if len(tp) == 0:
        nan = _undefined("explanation_precision_recall_f1")
        return nan, nan, nan
    if average == "micro":
        tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
    precision = tp / (tp + fp + EPS)
    recall = tp / (tp + fn + EPS)
    f1 = 2 * precision * recall / (precision + recall + EPS)
    return float(np.mean(precision)), float(np.mean(recall)), float(np.mean(f1))
