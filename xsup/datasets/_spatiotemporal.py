"""SolarFlare-like raster sequences: an evolving bipolar region foreshadows a rare event."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from xsup.datasets._checks import check_bool, check_int, check_real, generator

__all__ = ["make_spatiotemporal_events"]

#: Amplitude ranges (field units) of a weak and of a strong lobe or blob.
_WEAK = (0.25, 0.45)
_STRONG = (0.8, 1.1)
#: Gaussian sigma of a lobe, in pixels of a 16 x 16 frame, when weak and when grown.
_SIGMA_WEAK, _SIGMA_GROWN = 0.9, 1.1


def _progress(n_steps: int) -> np.ndarray:
    """How far an evolution has gone at each frame, from 0 to 1, accelerating."""
    return np.linspace(0.0, 1.0, n_steps) ** 1.5


def _ramp(start: np.ndarray, stop: np.ndarray, n_steps: int) -> np.ndarray:
    """``(..., T)`` values going from ``start`` to ``stop`` over the frames."""
    return start[..., None] + (stop - start)[..., None] * _progress(n_steps)


def _gaussians(
    cy: np.ndarray, cx: np.ndarray, sigma: np.ndarray, amplitude: np.ndarray, height: int,
    width: int,
) -> np.ndarray:
    """Sum of Gaussian blobs; every argument is ``(N, T, K)``, the result ``(N, T, H, W)``."""
    spread = 2 * sigma[..., None] ** 2
    # Separable: exp(-(dy^2 + dx^2) / s) = exp(-dy^2 / s) exp(-dx^2 / s), (N, T, K, H) and (..., W).
    along_y = np.exp(-((np.arange(height) - cy[..., None]) ** 2) / spread) * amplitude[..., None]
    along_x = np.exp(-((np.arange(width) - cx[..., None]) ** 2) / spread)
    return np.einsum("ntkh,ntkw->nthw", along_y, along_x)


class _Region(NamedTuple):
    lobes_y: np.ndarray  # (N, T, 2) lobe centres
    lobes_x: np.ndarray
    sigma: np.ndarray  # (N, T) lobe width
    field: np.ndarray  # (N, T, H, W)


def _size(growth: float, n_steps: int) -> np.ndarray:
    """``(T,)`` factor of the region's extent at each frame: 1 at the first, ``growth`` at the last."""
    return 1.0 + (growth - 1.0) * np.linspace(0.0, 1.0, n_steps)


def _region(
    rng: np.random.Generator, positive: np.ndarray, n_steps: int, height: int, width: int,
    scale: float, keep_out: float, drift: float, growth: float,
    direction: np.ndarray,
) -> _Region:
    """The active region: two lobes of opposite sign whose strength follows the label.

    Positives grow from weak to strong (and widen); negatives are quiet (weak
    throughout), decaying (strong to weak) or steady (strong throughout), so
    that only the growth foreshadows the event. Whatever the label, the region
    moves ``drift`` pixels per frame along ``direction`` (an angle per sample)
    and its extent (lobe width and separation) scales from 1 to ``growth``;
    the centre of its path is drawn so that every frame keeps it inside.
    """
    n_samples = len(positive)
    sigma_weak, sigma_grown = _SIGMA_WEAK * scale, _SIGMA_GROWN * scale
    size = _size(growth, n_steps)
    half_separation = 1.3 * sigma_grown
    half_path = drift * (n_steps - 1) / 2
    pad = (half_separation + 1.5 * sigma_grown) * max(1.0, growth) + half_path
    along = (np.arange(n_steps) - (n_steps - 1) / 2) * drift  # (T,) signed distance travelled
    step_y, step_x = np.sin(direction)[:, None] * along, np.cos(direction)[:, None] * along

    def path(mid_y: np.ndarray, mid_x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return mid_y[:, None] + step_y[: len(mid_y)], mid_x[:, None] + step_x[: len(mid_x)]

    cy = rng.uniform(pad, height - 1 - pad, size=n_samples)
    cx = rng.uniform(pad, width - 1 - pad, size=n_samples)
    for _ in range(100):  # redraw the paths that pass near the shortcut corner
        near = (np.maximum(*path(cy, cx)) < keep_out).any(axis=1)
        if not near.any():
            break
        cy[near] = rng.uniform(pad, height - 1 - pad, size=near.sum())
        cx[near] = rng.uniform(pad, width - 1 - pad, size=near.sum())
    centre_y, centre_x = path(cy, cx)  # (N, T)
    angle = rng.uniform(0, np.pi, size=n_samples)
    polarity = rng.choice([-1.0, 1.0], size=n_samples)
    weak = rng.uniform(*_WEAK, size=(2, n_samples))
    strong = rng.uniform(*_STRONG, size=n_samples)
    mode = rng.integers(0, 3, size=n_samples)  # negatives: 0 quiet, 1 decaying, 2 steady
    start = np.where(positive | (mode == 0), weak[0], strong)
    stop = np.where(positive | (mode == 2), strong, np.where(mode == 1, weak[1], weak[0]))
    amplitude = _ramp(start, stop, n_steps)
    sigma = np.where(
        positive[:, None],
        _ramp(np.full(n_samples, sigma_weak), np.full(n_samples, sigma_grown), n_steps),
        sigma_weak,
    ) * size
    offset_y = half_separation * np.sin(angle)[:, None] * size  # (N, T)
    offset_x = half_separation * np.cos(angle)[:, None] * size
    lobes_y = np.stack([centre_y + offset_y, centre_y - offset_y], axis=2)  # (N, T, 2)
    lobes_x = np.stack([centre_x + offset_x, centre_x - offset_x], axis=2)
    signed = polarity[:, None, None] * np.stack([amplitude, -amplitude], axis=2)
    field = _gaussians(lobes_y, lobes_x, np.repeat(sigma[..., None], 2, axis=2), signed,
                       height, width)
    return _Region(lobes_y, lobes_x, sigma, field)


def _distractors(
    rng: np.random.Generator, region: _Region, n_distractors: int, n_steps: int, height: int,
    width: int, scale: float, corner: float, region_size: float,
) -> np.ndarray:
    """Unipolar blobs of random, alternating sign that brighten or fade independently of the label.

    Each is as wide as both lobes of the region together and as bright, so it
    carries the same unsigned flux. They keep away from the region, the
    shortcut corner and each other (two opposite blobs side by side would look
    like a region) in every frame, the largest extent of a growing region
    counted (``region_size``); where a frame is too crowded after 100 redraws,
    the last draw is kept.
    """
    n_samples = region.lobes_y.shape[0]
    sigma_weak, sigma_grown = _SIGMA_WEAK * scale, _SIGMA_GROWN * scale
    cy, cx = region.lobes_y.mean(axis=2), region.lobes_x.mean(axis=2)  # (N, T) path of the centre
    region_gap = (1.3 * sigma_grown + 3 * sigma_grown) * region_size
    dy = np.empty((n_samples, n_distractors))
    dx = np.empty((n_samples, n_distractors))
    for k in range(n_distractors):
        todo = np.ones(n_samples, dtype=bool)
        for _ in range(100):
            dy[todo, k] = rng.uniform(0, height - 1, size=todo.sum())
            dx[todo, k] = rng.uniform(0, width - 1, size=todo.sum())
            near = (np.hypot(dy[:, k, None] - cy, dx[:, k, None] - cx) < region_gap).any(axis=1)
            near |= np.maximum(dy[:, k], dx[:, k]) < corner
            gaps = np.hypot(dy[:, :k] - dy[:, k : k + 1], dx[:, :k] - dx[:, k : k + 1])
            near |= (gaps < 4 * sigma_grown).any(axis=1)
            todo &= near
            if not todo.any():
                break
    shape = (n_samples, n_distractors)
    sigma = np.sqrt(2) * rng.uniform(sigma_weak, sigma_grown, size=shape)
    sign = rng.choice([-1.0, 1.0], size=(n_samples, 1)) * (-1.0) ** np.arange(n_distractors)
    is_strong = rng.random((2, *shape)) < 0.5
    start, stop = np.where(
        is_strong, rng.uniform(*_STRONG, size=(2, *shape)), rng.uniform(*_WEAK, size=(2, *shape))
    )
    amplitude = sign[..., None] * _ramp(start, stop, n_steps)  # (N, K, T)

    def over_time(values: np.ndarray) -> np.ndarray:
        return np.broadcast_to(values[:, None], (n_samples, n_steps, n_distractors))

    return _gaussians(over_time(dy), over_time(dx), over_time(sigma),
                      amplitude.transpose(0, 2, 1), height, width)


def _boxes(region: _Region, height: int, width: int, margin: int) -> np.ndarray:
    """``(N, T, H, W)`` float32: 1 inside the box around both lobes (1.5 sigma + margin)."""
    extent = 1.5 * region.sigma[..., None] + margin  # (N, T, 1)
    top = np.floor(region.lobes_y.min(axis=2, keepdims=True) - extent)
    bottom = np.ceil(region.lobes_y.max(axis=2, keepdims=True) + extent)
    left = np.floor(region.lobes_x.min(axis=2, keepdims=True) - extent)
    right = np.ceil(region.lobes_x.max(axis=2, keepdims=True) + extent)
    rows = np.arange(height)[None, None, :, None]
    cols = np.arange(width)[None, None, None, :]
    inside = (rows >= top[..., None]) & (rows <= bottom[..., None])
    inside = inside & (cols >= left[..., None]) & (cols <= right[..., None])
    return inside.astype(np.float32)


def make_spatiotemporal_events(
    n_samples: int = 200,
    random_state: Any = None,
    *,
    n_steps: int = 4,
    n_channels: int = 1,
    height: int = 16,
    width: int = 16,
    positive_rate: float = 0.18,
    n_distractors: int = 3,
    noise: float = 0.1,
    box_margin: int = 1,
    missing_annotation_rate: float = 0.0,
    shortcut: bool = False,
    shortcut_agreement: float = 1.0,
    annotate_shortcut: bool = False,
    drift: float = 0.0,
    growth: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generate SolarFlare-like raster sequences with box annotations.

    Each sample is a sequence of ``n_steps`` frames of a signed field (think
    of a line-of-sight magnetogram). Every sequence holds one *active region*:
    two adjacent Gaussian lobes of opposite sign. In positive sequences the
    region grows and intensifies over the frames, foreshadowing the event; in
    negative ones it stays weak, decays from a strong start, or stays strong
    without growing, so that neither the first nor the last frame alone gives
    the label away: the growth does. ``n_distractors`` unipolar blobs, as
    bright and with as much unsigned flux as the region, brighten or fade at
    random whatever the label; Gaussian noise is added. The region sums to
    about zero, so frame means carry no information about the label, and
    unsigned intensity statistics only some: a model has to find the region
    and follow it over time.

    By default the region stays in place. With ``drift`` it moves in a
    straight line, in a direction drawn per sample, and with ``growth`` its
    extent changes from frame to frame, whatever the label (on top of the
    positives' own widening), so that the frames' boxes differ and filling a
    missing annotation frame from its neighbours is no longer trivial.

    The annotation ``E`` is a coarse box around the region's lobes in every
    frame (negative sequences included, as in the SolarFlare data): 1 inside,
    0 outside.

    Parameters
    ----------
    n_samples : int, default=200
        Number of sequences (>= 1).
    random_state : int, numpy Generator, RandomState or None, default=None
        Seed; an int gives the same data on every call.
    n_steps : int, default=4
        Frames per sequence T (>= 2); the label is the event after the last frame.
    n_channels : int, default=1
        Channels C (>= 1); every channel observes the same scene with a gain
        from 1 down to 0.5 and its own noise.
    height, width : int, default=16
        Frame size (>= 8 each). Blob sizes scale with ``min(height, width) / 16``.
    positive_rate : float, default=0.18
        Share of positive sequences, in (0, 1) (SolarFlare: 17.8%). Exactly
        ``round(positive_rate * n_samples)`` positives, kept between 1 and
        ``n_samples - 1``.
    n_distractors : int, default=3
        Unipolar distractor blobs per sequence (>= 0).
    noise : float, default=0.1
        Standard deviation of the additive Gaussian noise (>= 0).
    box_margin : int, default=1
        Pixels added around each lobe's extent (1.5 sigma) in the box (>= 0).
    missing_annotation_rate : float, default=0.0
        Share of annotation frames, in [0, 1], set to NaN (missing): exactly
        ``round(rate * n_samples * n_steps)`` frames, drawn at random.
    shortcut : bool, default=False
        Add a confounder: a bright square patch in the top-left corner of every
        frame of the samples it codes as positive. A model trained without
        explanation supervision can cheat on it. Meant for training data only:
        generate test data with ``shortcut=False`` (the same ``random_state``
        gives the same scenes and annotations, without the patch) to see
        whether a model cheated. The region and distractors keep off the corner.
    shortcut_agreement : float, default=1.0
        Probability, in [0, 1], that the patch codes the true label (it codes
        the other one otherwise). Used only with ``shortcut=True``.
    annotate_shortcut : bool, default=False
        Mark the patch's corner -1 (should not matter, like RES's negative
        annotations) in every annotated frame. Used only with ``shortcut=True``.
    drift : float, default=0.0
        Speed of the region, in pixels per frame (>= 0), in a direction drawn
        per sample; its whole path stays inside the frame, so that
        ``drift * (n_steps - 1)`` is limited by the frame size (the error
        message gives the largest speed the other options allow).
    growth : float, default=1.0
        Extent of the region (lobe width and separation) in the last frame
        relative to the first, growing linearly over the frames (> 0; below 1
        it shrinks). The boxes follow it.

    Returns
    -------
    X : numpy.ndarray of shape (n_samples, n_steps, n_channels, height, width)
        float32 raster sequences.
    y : numpy.ndarray of shape (n_samples,)
        int64 labels, 1 = event.
    E : numpy.ndarray of shape (n_samples, n_steps, height, width)
        float32 annotations: 1 in the box, 0 outside, -1 on an annotated
        shortcut corner, NaN in missing frames.

    Raises
    ------
    ValueError
        An option out of range; the message names it.

    Examples
    --------
    >>> X, y, E = make_spatiotemporal_events(100, random_state=0)
    >>> X.shape, y.shape, E.shape
    ((100, 4, 1, 16, 16), (100,), (100, 4, 16, 16))
    >>> X.dtype, y.dtype, E.dtype
    (dtype('float32'), dtype('int64'), dtype('float32'))
    >>> int(y.sum())
    18
    >>> X, y, E = make_spatiotemporal_events(10, random_state=0, missing_annotation_rate=0.5)
    >>> int(np.isnan(E).all(axis=(2, 3)).sum())  # 20 of the 40 frames are missing
    20

    A region that moves 2 pixels per frame and grows by 30%: its box moves
    and grows from frame to frame.

    >>> X, y, E = make_spatiotemporal_events(10, random_state=0, drift=2.0, growth=1.3)
    >>> E[0].sum(axis=(1, 2)).tolist()  # box areas
    [63.0, 70.0, 77.0, 80.0]
    >>> [np.argwhere(E[0, t] > 0).mean(axis=0).tolist() for t in (0, 3)]  # box centres
    [[9.0, 5.0], [6.5, 10.5]]
    """
    n_samples = check_int("n_samples", n_samples, 1)
    n_steps = check_int("n_steps", n_steps, 2)
    n_channels = check_int("n_channels", n_channels, 1)
    height = check_int("height", height, 8)
    width = check_int("width", width, 8)
    positive_rate = check_real("positive_rate", positive_rate, 0, 1, open_ends="lh")
    n_distractors = check_int("n_distractors", n_distractors, 0)
    noise = check_real("noise", noise, 0, math.inf, open_ends="h")
    box_margin = check_int("box_margin", box_margin, 0)
    missing_annotation_rate = check_real("missing_annotation_rate", missing_annotation_rate, 0, 1)
    shortcut = check_bool("shortcut", shortcut)
    shortcut_agreement = check_real("shortcut_agreement", shortcut_agreement, 0, 1)
    annotate_shortcut = check_bool("annotate_shortcut", annotate_shortcut)
    drift = check_real("drift", drift, 0, math.inf, open_ends="h")
    growth = check_real("growth", growth, 0, math.inf, open_ends="lh")
    rng = generator(random_state)
    # The direction of the drift comes from a stream of its own, so that the
    # other draws, and the data without drift, stay as they are.
    direction = rng.spawn(1)[0].uniform(0, 2 * np.pi, size=n_samples)

    scale = min(height, width) / 16.0
    patch = max(2, round(2 * scale))  # side of the shortcut patch
    extent = (1.3 + 1.5) * _SIGMA_GROWN * scale * max(1.0, growth)  # centre to a lobe's edge
    room = min(height, width) - 1 - 2 * extent
    if room < 0:
        raise ValueError(f"growth must leave the region inside the {height} x {width} frames: at "
                         f"most {growth * (min(height, width) - 1) / (2 * extent):.2f} here; "
                         f"got {growth!r}.")
    if drift * (n_steps - 1) > room:
        raise ValueError(f"drift must keep the region inside the {height} x {width} frames over "
                         f"{n_steps} frames: at most {room / (n_steps - 1):.2f} pixels per frame "
                         f"with these options; got {drift!r}.")

    n_positive = round(positive_rate * n_samples)
    if n_samples > 1:
        n_positive = min(max(n_positive, 1), n_samples - 1)
    y = np.zeros(n_samples, dtype=np.int64)
    y[rng.permutation(n_samples)[:n_positive]] = 1
    positive = y == 1

    keep_out = extent + patch + box_margin
    region = _region(rng, positive, n_steps, height, width, scale, keep_out, drift, growth,
                     direction)
    field = region.field
    if n_distractors:
        corner = patch + 2 * _SIGMA_GROWN * scale
        field = field + _distractors(rng, region, n_distractors, n_steps, height, width, scale,
                                     corner, max(1.0, growth))
    gains = np.linspace(1.0, 0.5, n_channels, dtype=np.float32)
    X = field.astype(np.float32)[:, :, None] * gains[None, None, :, None, None]
    X += np.float32(noise) * rng.standard_normal(X.shape, dtype=np.float32)

    # Drawn whether or not it is used, so that the shortcut changes nothing else.
    agrees = rng.random(n_samples) < shortcut_agreement
    E = _boxes(region, height, width, box_margin)
    if shortcut:
        X[np.where(agrees, positive, ~positive), :, :, :patch, :patch] = _STRONG[1]
        if annotate_shortcut:
            E[:, :, :patch, :patch] = -1.0
    n_missing = round(missing_annotation_rate * n_samples * n_steps)
    if n_missing:
        frames = rng.choice(n_samples * n_steps, size=n_missing, replace=False)
        E.reshape(n_samples * n_steps, height, width)[frames] = np.nan
    return X, y, E
