"""Ranking the cells of saliency maps and replacing the top-ranked cells of the inputs.

Shared by the saliency precision/recall curves, the accuracy drop and the
AOPC faithfulness scores. Maps are flattened to ``(n_samples, n_cells)``;
a cell is one value of ``E`` (for images and raster sequences it covers
every channel of one pixel of ``X``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from xsup.metrics._explanation import _as_array
from xsup.spec import KIND_BY_NDIM, annotation_shape

__all__ = [
    "cell_share_counts",
    "check_percentages",
    "check_saliency_for_input",
    "chunks",
    "descending_order",
    "fill_values",
    "replace_cells",
    "rescale_saliency",
    "response_function",
    "saliency_share_counts",
    "selected_cells",
]

#: Samples masked and predicted at a time (bounds the memory of masked copies).
CHUNK_SAMPLES = 1024

#: Relative tolerance on a saliency share, so that rounding in cumulative sums
#: does not push a share that is reached exactly one cell further.
SHARE_RTOL = 1e-9


def check_percentages(values: Any, *, name: str = "percentages", minimum: int = 1) -> np.ndarray:
    """Percentages as a float array: strictly increasing, within [0, 100], at least ``minimum``."""
    array = np.asarray(values, dtype=np.float64) if _is_real_sequence(values) else None
    if (
        array is None
        or array.ndim != 1
        or len(array) < minimum
        or not np.isfinite(array).all()
        or (array < 0).any()
        or (array > 100).any()
        or (np.diff(array) <= 0).any()
    ):
        raise ValueError(
            f"{name} must be a strictly increasing sequence of at least {minimum} number(s) "
            f"between 0 and 100; got {values!r}."
        )
    return array


def _is_real_sequence(values: Any) -> bool:
    try:
        array = np.asarray(values)
    except (TypeError, ValueError):
        return False
    return array.dtype.kind in "iuf"


def rescale_saliency(S: np.ndarray) -> np.ndarray:
    """``|S|`` min-max rescaled per sample, flattened to ``(n_samples, n_cells)``.

    A constant map becomes all zeros.
    """
    s = np.abs(np.asarray(S, dtype=np.float64)).reshape(len(S), -1)
    low = s.min(axis=1, keepdims=True)
    span = s.max(axis=1, keepdims=True) - low
    return np.divide(s - low, span, out=np.zeros_like(s), where=span > 0)


def descending_order(s: np.ndarray) -> np.ndarray:
    """Cell indices of each row from the highest value down (ties keep index order)."""
    return np.argsort(-s, axis=1, kind="stable")


def saliency_share_counts(sorted_s: np.ndarray, percentages: np.ndarray) -> np.ndarray:
    """Fewest top cells holding at least p% of each sample's total saliency.

    Parameters
    ----------
    sorted_s : ndarray of shape (n_samples, n_cells)
        Non-negative saliency, each row sorted in decreasing order.
    percentages : ndarray of shape (n_percentages,)

    Returns
    -------
    ndarray of shape (n_percentages, n_samples)
        Counts in ``[1, n_cells]``. A sample whose saliency sums to zero has
        no ranking; it counts as uniform: ``ceil(p% of n_cells)``, at least 1.
    """
    n_cells = sorted_s.shape[1]
    cumulative = np.cumsum(sorted_s, axis=1)
    total = cumulative[:, -1]
    counts = np.empty((len(percentages), len(sorted_s)), dtype=np.int64)
    for row, percentage in enumerate(percentages):
        threshold = percentage / 100 * total - SHARE_RTOL * total
        counts[row] = (cumulative < threshold[:, None]).sum(axis=1) + 1
    uniform = cell_share_counts(n_cells, percentages)
    counts[:, total == 0] = np.maximum(uniform, 1)[:, None]
    return counts


def cell_share_counts(n_cells: int, percentages: np.ndarray) -> np.ndarray:
    """``ceil(p% of n_cells)`` per percentage (0 for 0%, ``n_cells`` for 100%)."""
    return np.array(
        [math.ceil(p / 100 * n_cells - SHARE_RTOL * n_cells) for p in percentages], dtype=np.int64
    )


def selected_cells(order: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Boolean masks of each row's first ``counts`` cells in ``order``.

    ``order`` is ``(n_samples, n_cells)``; ``counts`` is ``(n_samples,)``.
    """
    ranks = np.empty_like(order)
    positions = np.broadcast_to(np.arange(order.shape[1]), order.shape)
    np.put_along_axis(ranks, order, positions, axis=1)
    return ranks < counts[:, None]


def check_saliency_for_input(S: Any, X: Any) -> tuple[np.ndarray, np.ndarray]:
    """Check that ``S`` holds one E-shaped map per sample of ``X``; return both as arrays."""
    X = _as_array(X, "X")
    S = _as_array(S, "S")
    if X.ndim not in KIND_BY_NDIM:
        raise ValueError(
            f"X must have 2 to 5 dimensions (tabular, time series, images, raster "
            f"sequences); got shape {X.shape}."
        )
    if len(X) == 0:
        raise ValueError(f"X must hold at least 1 sample; got shape {X.shape}.")
    expected = (len(X),) + annotation_shape(KIND_BY_NDIM[X.ndim], tuple(X.shape[1:]))
    if S.shape != expected:
        raise ValueError(
            f"S has shape {S.shape} but X of shape {X.shape} needs saliency maps of shape "
            f"{expected}: one map per sample, shaped like the annotations E."
        )
    if math.prod(expected[1:]) < 2:
        raise ValueError(f"Saliency maps need at least 2 cells; got shape {S.shape}.")
    return S, X


def fill_values(value: Any, X: np.ndarray, name: str) -> np.ndarray:
    """``value`` (scalar, array broadcastable to X, or callable returning one) broadcast to X."""
    if callable(value):
        value = value()
    array = _as_array(value, name)
    try:
        array = np.broadcast_to(array, X.shape)
    except ValueError:
        raise ValueError(
            f"{name} has shape {array.shape}, which does not broadcast to X's shape {X.shape}; "
            f"pass one sample shaped {X.shape[1:]}, one value per sample, or a scalar."
        ) from None
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinity; it must be finite.")
    return array


def replace_cells(X: np.ndarray, mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``X`` with the masked cells taken from ``values``; ``mask`` is ``(n, n_cells)``.

    The cell mask is reshaped like ``E`` and broadcast over the channels of
    images and raster sequences.
    """
    shape = (len(X),) + annotation_shape(KIND_BY_NDIM[X.ndim], tuple(X.shape[1:]))
    mask = mask.reshape(shape)
    if X.ndim == 4:  # images (N, C, H, W): maps (N, H, W)
        mask = mask[:, None]
    elif X.ndim == 5:  # raster sequences (N, T, C, H, W): maps (N, T, H, W)
        mask = mask[:, :, None]
    dtype = X.dtype if X.dtype.kind == "f" else np.float64
    return np.where(mask, values, X).astype(dtype, copy=False)


def response_function(estimator: Any, method: str) -> Callable[[np.ndarray], Any]:
    """``estimator.<method>``, or ``estimator`` itself when it is a plain callable."""
    if hasattr(estimator, method):
        return getattr(estimator, method)
    if callable(estimator):
        return estimator
    raise TypeError(
        f"estimator must be a fitted model with a {method} method or a callable "
        f"mapping X to its {method} output; got {type(estimator).__name__}."
    )


def chunks(n_samples: int, size: int = CHUNK_SAMPLES) -> Iterator[slice]:
    """Consecutive slices of at most ``size`` samples."""
    for start in range(0, n_samples, size):
        yield slice(start, min(start + size, n_samples))
