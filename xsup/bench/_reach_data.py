"""Raster sequences whose label depends on a known neighbourhood: a planted spatial and temporal reach.

Each sample is ``T`` frames of two channels: white noise, and a marker that
is 1 at one target pixel in every frame (drawn per sample, or the centre of
every frame). The regression target is the noise averaged over the pixels
within Chebyshev distance ``radius`` of the target pixel in the last ``lag``
frames, scaled to unit variance. A model that predicts it must look exactly
that far in space and time and no further, which is what the
input-perturbation analysis should find.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["PlantedReach", "make_reach_sequences"]


class PlantedReach(NamedTuple):
    """What :func:`make_reach_sequences` returns."""

    X: np.ndarray  # (N, T, 2, H, W) float32: noise, marker
    y: np.ndarray  # (N,) float32 regression target, standard normal
    E: np.ndarray  # (N, T, H, W) float32: 1 in the planted window, -1 elsewhere
    targets: np.ndarray  # (N, 2) int64 row and column of the target pixel


def make_reach_sequences(n_samples: int, *, radius: int, lag: int, n_steps: int, size: int,
                         random_state: int, centred: bool = False) -> PlantedReach:
    """Planted data with spatial reach ``radius`` (pixels) and temporal reach ``lag`` (frames).

    The target pixel keeps at least ``radius`` pixels from the border, so
    that its whole window lies inside the frame; with ``centred`` it is the
    centre pixel ``(size - 1) // 2`` of every sample.

    Examples
    --------
    >>> data = make_reach_sequences(4, radius=1, lag=2, n_steps=5, size=7, random_state=0)
    >>> data.X.shape, data.E.shape, data.targets.shape
    ((4, 5, 2, 7, 7), (4, 5, 7, 7), (4, 2))
    >>> row, col = data.targets[0]
    >>> window = data.X[0, -2:, 0, row - 1:row + 2, col - 1:col + 2]
    >>> bool(np.isclose(window.mean() * np.sqrt(18), data.y[0])), int((data.E[0] == 1).sum())
    (True, 18)
    """
    if not 1 <= lag <= n_steps or not 0 <= radius or 2 * radius + 1 > size:
        raise ValueError(f"the planted window (radius {radius}, lag {lag}) must fit {n_steps} "
                         f"frames of {size} x {size}.")
    rng = np.random.default_rng(random_state)
    noise = rng.standard_normal((n_samples, n_steps, size, size)).astype(np.float32)
    targets = rng.integers(radius, size - radius, size=(n_samples, 2))
    if centred:
        targets[:] = (size - 1) // 2
    rows = np.abs(np.arange(size)[None, :, None] - targets[:, 0, None, None])
    cols = np.abs(np.arange(size)[None, None, :] - targets[:, 1, None, None])
    window = np.maximum(rows, cols) <= radius  # (N, H, W)
    recent = np.arange(n_steps) >= n_steps - lag  # (T,)
    inside = window[:, None] & recent[None, :, None, None]  # (N, T, H, W)
    count = (2 * radius + 1) ** 2 * lag
    signal = (noise * inside).sum(axis=(1, 2, 3)) / np.sqrt(count)  # the mean, times sqrt(count)
    marker = np.zeros_like(noise)
    marker[np.arange(n_samples), :, targets[:, 0], targets[:, 1]] = 1.0
    X = np.stack([noise, marker], axis=2)
    E = np.where(inside, 1.0, -1.0).astype(np.float32)
    return PlantedReach(X, signal.astype(np.float32), E, targets.astype(np.int64))
