"""The perturbations of the input-perturbation analysis: rings in space, windows in time.

Every function works on one batch of samples (rows ``start:stop`` of X) and
returns a perturbed copy; X itself is never written to.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["distance_maps", "shuffle_ring", "shuffle_window"]


def distance_maps(targets: np.ndarray, height: int, width: int, metric: str) -> np.ndarray:
    """Integer distance of every pixel to its sample's target pixel, ``(len(targets), H, W)``.

    Chebyshev distance ``max(|di|, |dj|)`` gives square rings (the shape of a
    stack of k x k convolutions' receptive field); Euclidean distance is
    rounded half up to the nearest integer, giving discs.

    Examples
    --------
    >>> distance_maps(np.array([[1, 1]]), 3, 4, "chebyshev")[0]
    array([[1, 1, 1, 2],
           [1, 0, 1, 2],
           [1, 1, 1, 2]])
    """
    rows = np.arange(height)[None, :, None] - targets[:, 0, None, None]
    cols = np.arange(width)[None, None, :] - targets[:, 1, None, None]
    if metric == "chebyshev":
        return np.maximum(np.abs(rows), np.abs(cols))
    return np.floor(np.sqrt(rows**2 + cols**2) + 0.5).astype(np.int64)


def _pixel_axes(x: np.ndarray, spatial_ndim: int) -> tuple[slice | None, ...]:
    """Index that broadcasts an ``(n, H, W)`` mask over the channel (and time) axes of x."""
    return (slice(None),) + (None,) * (x.ndim - 1 - spatial_ndim) + (slice(None),) * spatial_ndim


def shuffle_ring(
    X: Any,
    start: int,
    stop: int,
    ring: np.ndarray,
    shuffle: str,
    donors: np.ndarray,
    rng: np.random.RandomState,
) -> np.ndarray:
    """Rows ``start:stop`` of X with the pixels of ``ring`` shuffled.

    ``ring`` is a boolean ``(n, H, W)`` mask (one per row) or ``(1, H, W)`` (shared).

    ``shuffle="samples"``: each sample's ring pixels (all channels and frames)
    are those of sample ``donors[i]``. ``shuffle="positions"``: each sample's
    ring pixels (each with all of its channels and frames) are permuted among
    the ring's positions, by a uniformly random permutation per sample.
    """
    x = np.array(X[start:stop], dtype=np.float32)
    n_rows = len(x)
    height, width = x.shape[-2:]
    ring = np.broadcast_to(ring, (n_rows, height, width))
    if shuffle == "samples":
        donor = np.asarray(X[donors[start:stop]], dtype=np.float32)
        np.copyto(x, donor, where=ring[_pixel_axes(x, 2)])
        return x
    n_pixels = height * width
    index = np.arange(n_pixels)
    flat_ring = ring.reshape(n_rows, n_pixels)
    # Ring pixels first in both orders, the others after them in their own order:
    # the k-th ring position (by index) takes the k-th ring pixel of a random order.
    positions = np.argsort(np.where(flat_ring, index, n_pixels + index), axis=1, kind="stable")
    keys = rng.random_sample((n_rows, n_pixels))
    sources = np.argsort(np.where(flat_ring, keys, 2.0 + index), axis=1, kind="stable")
    source_of = np.empty_like(positions)
    np.put_along_axis(source_of, positions, sources, axis=1)
    flat = x.reshape(*x.shape[:-2], n_pixels)
    source_of = source_of[_pixel_axes(flat, 1)]
    return np.take_along_axis(flat, source_of, axis=-1).reshape(x.shape)


def shuffle_window(
    X: Any,
    start: int,
    stop: int,
    steps: slice,
    shuffle: str,
    donors: np.ndarray,
    rng: np.random.RandomState,
) -> np.ndarray:
    """Rows ``start:stop`` of X with the time steps ``steps`` (axis 1) shuffled.

    ``shuffle="samples"``: each sample's window is that of sample
    ``donors[i]``. ``shuffle="positions"``: each sample's frames inside the
    window are put in a uniformly random order.
    """
    x = np.array(X[start:stop], dtype=np.float32)
    if shuffle == "samples":
        x[:, steps] = np.asarray(X[donors[start:stop]], dtype=np.float32)[:, steps]
        return x
    window = x[:, steps]
    order = np.argsort(rng.random_sample(window.shape[:2]), axis=1)
    order = order.reshape(order.shape + (1,) * (window.ndim - 2))
    x[:, steps] = np.take_along_axis(window, order, axis=1)
    return x
