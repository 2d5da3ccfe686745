"""Noisy and partial annotations: corrupt an exact E the way human annotators get it wrong."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
from scipy import ndimage

from xsup.datasets._checks import generator

__all__ = ["CORRUPTIONS", "corrupt_annotations"]

#: Corruption kind -> what its level means.
CORRUPTIONS = {
    "dilate": "cells the positive region grows by, on every side (int >= 0; city-block)",
    "erode": "cells the positive region shrinks by, on every side (int >= 0; city-block)",
    "boxes": "cells added around the positive region's bounding box (int >= 0)",
    "shift": "cells the positive region moves by, in a random direction per sample (int >= 0)",
    "drop": "share of positive cells of each sample set to 0, not annotated (in [0, 1])",
    "missing": "share of frames (raster sequences) or samples (other shapes) set to NaN "
               "(in [0, 1])",
}
_INTEGER_KINDS = ("dilate", "erode", "boxes", "shift")

#: The eight directions of a shift on a 2-D grid (Chebyshev length 1), and the two of a 1-D grid.
_DIRECTIONS_2D = np.array([(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)])
_DIRECTIONS_1D = np.array([(-1,), (1,)])


def _check_level(kind: str, level: Any) -> int | float:
    if kind in _INTEGER_KINDS:
        if isinstance(level, bool) or not isinstance(level, Integral) or level < 0:
            raise ValueError(f"level must be an int >= 0 with kind={kind!r} (the {CORRUPTIONS[kind]}"
                             f"); got {level!r}.")
        return int(level)
    if isinstance(level, bool) or not isinstance(level, Real) or not 0.0 <= level <= 1.0:
        raise ValueError(f"level must be a real number in [0, 1] with kind={kind!r} (the "
                         f"{CORRUPTIONS[kind].split(' (')[0]}); got {level!r}.")
    return float(level)


def _grid_axes(ndim: int) -> tuple[int, ...]:
    """Axes of the cell grid a region lives on: F; (T, F) or (H, W); (H, W) of each frame."""
    return {2: (1,), 3: (1, 2), 4: (2, 3)}[ndim]


def _filter(positive: np.ndarray, level: int, grow: bool) -> np.ndarray:
    """Grey dilation (``grow``) or erosion by a diamond of radius ``level`` on the grid axes.

    The diamond holds the cells within city-block distance ``level``. Cells
    outside the grid count as 0, so that erosion also eats regions at the border.
    """
    axes = _grid_axes(positive.ndim)
    offsets = np.indices((2 * level + 1,) * len(axes)) - level
    diamond = np.abs(offsets).sum(axis=0) <= level
    footprint = diamond.reshape([diamond.shape[axes.index(a)] if a in axes else 1
                                 for a in range(positive.ndim)])
    if grow:
        return ndimage.grey_dilation(positive, footprint=footprint, mode="constant", cval=0.0)
    return ndimage.grey_erosion(positive, footprint=footprint, mode="constant", cval=0.0)


def _boxes(positive: np.ndarray, margin: int) -> np.ndarray:
    """Each frame's (sample's) positive cells replaced by their bounding box grown by ``margin``."""
    axes = _grid_axes(positive.ndim)
    frames = positive.reshape(-1, *positive.shape[axes[0]:])  # (frames, *grid)
    boxes = np.zeros_like(frames)
    for index, frame in enumerate(frames):
        cells = np.argwhere(frame > 0)
        if not len(cells):
            continue
        low = np.maximum(cells.min(axis=0) - margin, 0)
        high = cells.max(axis=0) + margin + 1
        boxes[index][tuple(slice(a, b) for a, b in zip(low, high))] = frame.max()
    return boxes.reshape(positive.shape)


def _shift(positive: np.ndarray, level: int, rng: np.random.Generator) -> np.ndarray:
    """Move each sample's positive cells by ``level`` cells in one of the grid's directions."""
    axes = _grid_axes(positive.ndim)
    directions = _DIRECTIONS_1D if len(axes) == 1 else _DIRECTIONS_2D
    chosen = directions[rng.integers(len(directions), size=len(positive))] * level
    shifted = np.zeros_like(positive)
    for index, offset in enumerate(chosen):
        source, target = [slice(None)] * (positive.ndim - 1), [slice(None)] * (positive.ndim - 1)
        for axis, step in zip(axes, offset):
            length = positive.shape[axis]
            step = int(np.clip(step, -length, length))
            source[axis - 1] = slice(max(-step, 0), length - max(step, 0))
            target[axis - 1] = slice(max(step, 0), length - max(-step, 0))
        shifted[index][tuple(target)] = positive[index][tuple(source)]
    return shifted


def _drop(positive: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Zero exactly ``round(share * count)`` positive cells of each sample, drawn at random."""
    flat = positive.reshape(len(positive), -1)
    keys = np.where(flat > 0, rng.random(flat.shape), np.inf)
    ranks = np.argsort(np.argsort(keys, axis=1, kind="stable"), axis=1, kind="stable")
    counts = np.rint(share * (flat > 0).sum(axis=1, keepdims=True))
    return np.where(ranks < counts, 0.0, flat).astype(positive.dtype).reshape(positive.shape)


def corrupt_annotations(E: Any, kind: str, level: int | float, random_state: Any = None) -> np.ndarray:
    """Corrupt exact annotations the way human annotations go wrong.

    The positive part of E (the cells that should matter, ``max(E, 0)``) is
    corrupted; the negative cells (should not matter) keep their value, also
    where a corrupted positive region reaches them, so that each kind
    corrupts one thing. Missing cells (NaN) stay missing. The region
    lives on the grid of a sample's cells: the F features of tabular data,
    the (T, F) grid of a time series or the (H, W) grid of an image, and the
    (H, W) grid of each frame of a raster sequence.

    - ``"dilate"``: the region grows by ``level`` cells (city-block
      distance: a diamond) on every side (a coarse, generous boundary:
      RES's inaccurate boundary).
    - ``"erode"``: the region shrinks by ``level`` cells (city-block
      distance) on every side (a tight boundary; thin regions vanish).
    - ``"boxes"``: the region of each frame (image, series) becomes its
      bounding box grown by ``level`` cells (box annotations such as STES's).
    - ``"shift"``: the region moves by ``level`` cells (Chebyshev length) in
      one of the eight directions (two on a 1-D grid), drawn per sample; the
      same for all frames of a sequence (a misregistered annotation).
    - ``"drop"``: a share ``level`` of each sample's positive cells, drawn at
      random, becomes 0, not annotated (RES's incomplete region).
    - ``"missing"``: a share ``level`` of the frames of raster sequences, or
      of the samples of other shapes, becomes all NaN (unannotated), exactly
      ``round(level * count)`` of them.

    Level 0 returns the annotations unchanged (as float32) for every kind
    but ``"boxes"``, whose level 0 is the tight bounding box.

    Parameters
    ----------
    E : array-like of shape (N, F), (N, T, F), (N, H, W) or (N, T, H, W)
        Annotations with values in [-1, 1] and NaN for missing cells.
    kind : {"dilate", "erode", "boxes", "shift", "drop", "missing"}
        The corruption.
    level : int or float
        Its strength: cells for dilate, erode, boxes and shift (int >= 0); a
        share in [0, 1] for drop and missing.
    random_state : int, numpy Generator, RandomState or None, default=None
        Seed of the random draws of shift, drop and missing.

    Returns
    -------
    numpy.ndarray
        float32 corrupted annotations, same shape as E (a new array).

    Raises
    ------
    ValueError
        An unknown kind, a level out of range for it, or E that is not a
        2-D to 4-D array of values in [-1, 1] (or NaN).

    Examples
    --------
    >>> E = np.zeros((1, 5, 5), dtype=np.float32)
    >>> E[0, 2, 2] = 1.0
    >>> E[0, 4, 4] = -1.0
    >>> corrupt_annotations(E, "dilate", 1)[0]
    array([[ 0.,  0.,  0.,  0.,  0.],
           [ 0.,  0.,  1.,  0.,  0.],
           [ 0.,  1.,  1.,  1.,  0.],
           [ 0.,  0.,  1.,  0.,  0.],
           [ 0.,  0.,  0.,  0., -1.]], dtype=float32)
    >>> corrupt_annotations(E, "shift", 2, random_state=0)[0]
    array([[ 0.,  0.,  0.,  0.,  0.],
           [ 0.,  0.,  0.,  0.,  0.],
           [ 0.,  0.,  0.,  0.,  0.],
           [ 0.,  0.,  0.,  0.,  0.],
           [ 0.,  0.,  1.,  0., -1.]], dtype=float32)
    >>> sequences = np.ones((2, 4, 3, 3), dtype=np.float32)
    >>> missing = corrupt_annotations(sequences, "missing", 0.5, random_state=0)
    >>> int(np.isnan(missing).all(axis=(2, 3)).sum())  # 4 of the 8 frames
    4
    """
    if kind not in CORRUPTIONS:
        raise ValueError(f"kind must be one of {', '.join(CORRUPTIONS)}; got {kind!r}.")
    level = _check_level(kind, level)
    if hasattr(E, "detach") and hasattr(E, "cpu"):  # torch.Tensor
        E = E.detach().cpu().numpy()
    try:
        values = np.array(E, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(f"E must be an array of real numbers; got {type(E).__name__}.") from error
    if values.ndim not in (2, 3, 4) or values.shape[0] == 0:
        raise ValueError("E must have shape (N, F), (N, T, F), (N, H, W) or (N, T, H, W) with "
                         f"N >= 1; got shape {values.shape}.")
    missing = np.isnan(values)
    known = np.where(missing, 0.0, values)
    if np.abs(known).max(initial=0.0) > 1.0:
        raise ValueError("E must hold values in [-1, 1] (or NaN for missing cells); got values "
                         f"from {known.min():g} to {known.max():g}.")
    rng = generator(random_state)
    if kind == "missing":
        units = values.reshape(-1, *values.shape[2:]) if values.ndim == 4 else values
        chosen = rng.permutation(len(units))[: round(level * len(units))]
        units[chosen] = np.nan
        return values
    positive = np.maximum(known, 0.0)
    negative = np.maximum(-known, 0.0)
    if kind in ("dilate", "erode"):
        positive = _filter(positive, level, grow=kind == "dilate") if level else positive
    elif kind == "boxes":
        positive = _boxes(positive, level)
    elif kind == "shift":
        positive = _shift(positive, level, rng)
    else:
        positive = _drop(positive, level, rng)
    corrupted = np.where(negative > 0, -negative, positive).astype(np.float32)
    corrupted[missing] = np.nan
    return corrupted
