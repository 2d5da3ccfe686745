"""SolarFlare-like raster sequences: an evolving bipolar region foreshadows a rare event."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import numpy as np

__all__ = ["make_spatiotemporal_events"]

#: Amplitude ranges of the active region (drawn per sample, in field units).
_WEAK = (0.25, 0.45)
_STRONG = (0.8, 1.1)
#: Width (Gaussian sigma, in pixels of a 16 x 16 frame) of a lobe when weak and when grown.
_SIGMA_WEAK, _SIGMA_GROWN = 0.9, 1.1


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise ValueError(f"{name} must be an int >= {low}; got {value!r}.")
    return int(value)


def _check_real(
    name: str, value: Any, low: float, high: float, *, open_low: bool = False,
    open_high: bool = False,
) -> float:
    interval = f"{'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if open_low else value >= low) and (
            value < high if open_high else value <= high
        )
    if not ok:
        raise ValueError(f"{name} must be a real number in {interval}; got {value!r}.")
    return float(value)


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False; got {value!r}.")
    return bool(value)


def _generator(random_state: Any) -> np.random.Generator:
    """A numpy Generator from None, an int, a Generator or a legacy RandomState."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31 - 1))
    if random_state is None or isinstance(random_state, (Integral, np.random.Generator)):
        if isinstance(random_state, bool):
            raise ValueError(f"random_state must be None, an int or a Generator; got {random_state!r}.")
        return np.random.default_rng(random_state)
    raise ValueError(
        f"random_state must be None, an int, a numpy Generator or RandomState; got {random_state!r}."
    )


def _gaussians(
    cy: np.ndarray, cx: np.ndarray, sigma: np.ndarray, amplitude: np.ndarray, height: int, width: int
) -> np.ndarray:
    """Sum of Gaussian blobs; every argument is ``(N, T, K)``, the result ``(N, T, H, W)``."""
    rows = np.arange(height, dtype=np.float64)[:, None]
    cols = np.arange(width, dtype=np.float64)[None, :]
    dy = rows - cy[..., None, None]
    dx = cols - cx[..., None, None]
    blobs = amplitude[..., None, None] * np.exp(-(dy**2 + dx**2) / (2 * sigma[..., None, None] ** 2))
    return blobs.sum(axis=2)


def _progress(n_steps: int) -> np.ndarray:
    """How far an evolution has gone at each frame, from 0 to 1, accelerating."""
    return np.linspace(0.0, 1.0, n_steps) ** 1.5


def _ramp(start: np.ndarray, stop: np.ndarray, n_steps: int) -> np.ndarray:
    """``(..., T)`` values going from ``start`` to ``stop`` over the frames."""
    return start[..., None] + (stop - start)[..., None] * _progress(n_steps)


def _place_centres(
    rng: np.random.Generator, n: int, height: int, width: int, pad: float, keep_out: float
) -> tuple[np.ndarray, np.ndarray]:
    """Region centres at least ``pad`` from the border and ``keep_out`` from the top-left corner."""
    cy = rng.uniform(pad, height - 1 - pad, size=n)
    cx = rng.uniform(pad, width - 1 - pad, size=n)
    for _ in range(100):  # redraw the few that fall too close to the shortcut corner
        bad = np.maximum(cy, cx) < keep_out
        if not bad.any():
            break
        cy[bad] = rng.uniform(pad, height - 1 - pad, size=bad.sum())
        cx[bad] = rng.uniform(pad, width - 1 - pad, size=bad.sum())
    return cy, cx


def make_spatiotemporal_events(
    n_samples: int = 200,
    random_state: Any = None,
    *,
    n_steps: int = 4,
    n_channels: int = 1,
    height: int = 16,
    width: int = 16,
    positive_rate: float = 0.18,
    n_distractors: int = 2,
    noise: float = 0.1,
    box_margin: int = 1,
    missing_annotation_rate: float = 0.0,
    shortcut: bool = False,
    shortcut_agreement: float = 1.0,
    annotate_shortcut: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generate SolarFlare-like raster sequences with box annotations.

    Each sample is a sequence of ``n_steps`` frames of a signed field (think
    of a line-of-sight magnetogram). Every sequence holds one *active region*:
    a bipolar pair of Gaussian lobes of opposite sign. In positive sequences
    the region grows and intensifies over the frames until the event; in
    negative ones it either stays weak or decays from a strong start (so that
    neither the first frame nor the average over time gives the label away).
    ``n_distractors`` unipolar blobs of similar brightness and random sign
    brighten or fade at random, independently of the label, and Gaussian
    noise is added. Because the bipolar region sums to about zero, the mean
    intensity of a frame says little about the label: a model has to find the
    region and follow its evolution.

    The annotation ``E`` is a coarse box around the region's two lobes in every
    frame (negative sequences included, as in the SolarFlare data), 1 inside,
    0 outside.

    Parameters
    ----------
    n_samples : int, default=200
        Number of sequences.
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
        Share of positive sequences, in (0, 1) (SolarFlare: 17.8%). The number
        of positives is ``round(positive_rate * n_samples)``, kept between 1 and
        ``n_samples - 1``.
    n_distractors : int, default=2
        Unipolar blobs per sequence (>= 0) that do not depend on the label.
    noise : float, default=0.1
        Standard deviation of the additive Gaussian noise (>= 0).
    box_margin : int, default=1
        Pixels added around each lobe's extent (1.5 sigma) when drawing the box (>= 0).
    missing_annotation_rate : float, default=0.0
        Share of annotation frames, in [0, 1], set to NaN (missing). Exactly
        ``round(rate * n_samples * n_steps)`` frames, drawn at random.
    shortcut : bool, default=False
        Add a confounder: a bright square patch in the top-left corner of every
        frame of the samples it codes as positive. A model trained without
        explanation supervision can cheat on it; generate the test data with
        ``shortcut=False`` (same ``random_state``: same scenes, no patch) to see
        whether it did. The region and distractors never cover the corner.
    shortcut_agreement : float, default=1.0
        Probability, in [0, 1], that the patch codes the true label (it codes
        the other label otherwise). Ignored unless ``shortcut=True``.
    annotate_shortcut : bool, default=False
        Mark the patch's corner ``-1`` (should not matter) in every annotated
        frame, as RES's negative annotations. Ignored unless ``shortcut=True``.

    Returns
    -------
    X : numpy.ndarray of shape (n_samples, n_steps, n_channels, height, width)
        float32 raster sequences.
    y : numpy.ndarray of shape (n_samples,)
        int64 labels, 1 = event.
    E : numpy.ndarray of shape (n_samples, n_steps, height, width)
        float32 annotations: 1 in the box, 0 outside, -1 on an annotated
        shortcut, NaN in missing frames.

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
    """
    n_samples = _check_int("n_samples", n_samples, 1)
    n_steps = _check_int("n_steps", n_steps, 2)
    n_channels = _check_int("n_channels", n_channels, 1)
    height = _check_int("height", height, 8)
    width = _check_int("width", width, 8)
    positive_rate = _check_real("positive_rate", positive_rate, 0, 1, open_low=True, open_high=True)
    n_distractors = _check_int("n_distractors", n_distractors, 0)
    noise = _check_real("noise", noise, 0, math.inf, open_high=True)
    box_margin = _check_int("box_margin", box_margin, 0)
    missing_annotation_rate = _check_real("missing_annotation_rate", missing_annotation_rate, 0, 1)
    shortcut = _check_bool("shortcut", shortcut)
    shortcut_agreement = _check_real("shortcut_agreement", shortcut_agreement, 0, 1)
    annotate_shortcut = _check_bool("annotate_shortcut", annotate_shortcut)
    rng = _generator(random_state)

    scale = min(height, width) / 16.0
    patch = max(2, round(2 * scale))  # side of the shortcut patch

    # Labels: an exact number of positives, in random order.
    n_positive = round(positive_rate * n_samples)
    if n_samples > 1:
        n_positive = min(max(n_positive, 1), n_samples - 1)
    y = np.zeros(n_samples, dtype=np.int64)
    y[rng.permutation(n_samples)[:n_positive]] = 1
    positive = y == 1

    # The active region: two lobes of opposite sign, `separation` apart.
    sigma_weak, sigma_grown = _SIGMA_WEAK * scale, _SIGMA_GROWN * scale
    half_separation = 1.3 * sigma_grown
    pad = half_separation + 1.5 * sigma_grown
    cy, cx = _place_centres(rng, n_samples, height, width, pad, pad + patch + box_margin)
    angle = rng.uniform(0, np.pi, size=n_samples)
    polarity = rng.choice([-1.0, 1.0], size=n_samples)
    weak = rng.uniform(*_WEAK, size=(n_samples, 2))
    strong = rng.uniform(*_STRONG, size=n_samples)
    decays = rng.random(n_samples) < 0.5  # negatives: decaying rather than quiet
    start = np.where(positive | ~decays, weak[:, 0], strong)
    stop = np.where(positive, strong, np.where(decays, weak[:, 1], weak[:, 0]))
    amplitude = _ramp(start, stop, n_steps)  # (N, T)
    sigma = np.where(
        positive[:, None], _ramp(np.full(n_samples, sigma_weak), np.full(n_samples, sigma_grown),
                                 n_steps),
        sigma_weak,
    )
    offset_y = half_separation * np.sin(angle)[:, None] * np.ones((1, n_steps))
    offset_x = half_separation * np.cos(angle)[:, None] * np.ones((1, n_steps))
    lobes_y = np.stack([cy[:, None] + offset_y, cy[:, None] - offset_y], axis=2)  # (N, T, 2)
    lobes_x = np.stack([cx[:, None] + offset_x, cx[:, None] - offset_x], axis=2)
    signed = polarity[:, None, None] * np.stack([amplitude, -amplitude], axis=2)
    field = _gaussians(lobes_y, lobes_x, np.repeat(sigma[..., None], 2, axis=2), signed,
                       height, width)

    # Distractors: unipolar blobs away from the region, brightening or fading at random.
    if n_distractors:
        shape = (n_samples, n_distractors)
        dy = rng.uniform(0, height - 1, size=shape)
        dx = rng.uniform(0, width - 1, size=shape)
        for _ in range(100):  # keep them off the region and off the shortcut corner
            near = np.hypot(dy - cy[:, None], dx - cx[:, None]) < pad + 1.5 * sigma_grown
            near |= np.maximum(dy, dx) < patch + 2 * sigma_grown
            if not near.any():
                break
            dy[near] = rng.uniform(0, height - 1, size=near.sum())
            dx[near] = rng.uniform(0, width - 1, size=near.sum())
        # As wide as both lobes together and as bright: the same unsigned flux as the region.
        d_sigma = np.sqrt(2) * rng.uniform(sigma_weak, sigma_grown, size=shape)
        # Alternating signs: strong positive and negative values appear without the region too.
        d_sign = rng.choice([-1.0, 1.0], size=(n_samples, 1)) * (-1.0) ** np.arange(n_distractors)
        strong_level = rng.random((2, *shape)) < 0.5
        d_start, d_stop = np.where(
            strong_level, rng.uniform(*_STRONG, size=(2, *shape)),
            rng.uniform(*_WEAK, size=(2, *shape)),
        )
        d_amplitude = _ramp(d_start, d_stop, n_steps).transpose(0, 2, 1)  # (N, T, K)
        field = field + _gaussians(
            np.repeat(dy[:, None], n_steps, axis=1), np.repeat(dx[:, None], n_steps, axis=1),
            np.repeat(d_sigma[:, None], n_steps, axis=1), d_sign[:, None] * d_amplitude,
            height, width,
        )

    gains = np.linspace(1.0, 0.5, n_channels)
    X = field[:, :, None] * gains[None, None, :, None, None]
    X = X + noise * rng.standard_normal(X.shape)

    # Drawn whether or not it is used, so that the shortcut changes nothing else.
    agrees = rng.random(n_samples) < shortcut_agreement
    if shortcut:
        X[np.where(agrees, positive, ~positive), :, :, :patch, :patch] = _STRONG[1]

    # Coarse boxes around both lobes, per frame.
    extent = 1.5 * sigma[..., None] + box_margin  # (N, T, 1)
    top = np.floor(lobes_y.min(axis=2, keepdims=True) - extent).clip(0, height - 1)
    bottom = np.ceil(lobes_y.max(axis=2, keepdims=True) + extent).clip(0, height - 1)
    left = np.floor(lobes_x.min(axis=2, keepdims=True) - extent).clip(0, width - 1)
    right = np.ceil(lobes_x.max(axis=2, keepdims=True) + extent).clip(0, width - 1)
    rows = np.arange(height)[None, None, :, None]
    cols = np.arange(width)[None, None, None, :]
    E = (
        (rows >= top[..., None]) & (rows <= bottom[..., None])
        & (cols >= left[..., None]) & (cols <= right[..., None])
    ).astype(np.float32)
    if shortcut and annotate_shortcut:
        E[:, :, :patch, :patch] = -1.0
    n_missing = round(missing_annotation_rate * n_samples * n_steps)
    if n_missing:
        frames = rng.choice(n_samples * n_steps, size=n_missing, replace=False)
        E.reshape(n_samples * n_steps, height, width)[frames] = np.nan

    return X.astype(np.float32), y, E
