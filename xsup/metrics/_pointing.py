"""The pointing game: does each annotated frame's saliency peak fall on the annotated object?"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning

from xsup.metrics._explanation import CHUNK_SAMPLES, _matching_maps

__all__ = ["pointing_hit_rate"]


def pointing_hit_rate(S: Any, E: Any) -> float:
    """Share of annotated frames whose saliency maximum lies on a positive annotation.

    The pointing game (Zhang et al. 2018) on annotation masks: a frame (one
    time step of a raster sequence ``(N, T, H, W)``, the whole sample for any
    other shape) takes part when it has at least one cell with ``E > 0``;
    it scores a hit when its most salient cell has ``E > 0``. When several
    cells share the maximum, the frame scores the fraction of them on
    ``E > 0`` (the expected hit of picking one at random), so a constant map
    scores the annotated share of the frame, chance level, rather than a
    sure hit or miss.

    Parameters
    ----------
    S : array-like or torch.Tensor
        Saliency maps, for instance from ``estimator.explain(X)``.
    E : array-like or torch.Tensor
        Annotations of the same shape; ``E > 0`` marks the object, NaN or
        non-positive cells do not.

    Returns
    -------
    float
        Hit rate in [0, 1]; NaN, with an ``UndefinedMetricWarning``, when no
        frame has a positive annotation.

    Raises
    ------
    ValueError
        S and E differ in shape, have no axis besides the samples, or S is
        not finite.

    Examples
    --------
    Frame 1 peaks on its object, frame 2 beside it, frame 3 is constant
    (one of its four cells is annotated: 1/4 of a hit).

    >>> S = [[0.2, 0.9, 0.1, 0.0], [0.9, 0.2, 0.1, 0.0], [0.5, 0.5, 0.5, 0.5]]
    >>> E = [[0, 1, 1, 0], [0, 1, 1, 0], [1, 0, 0, 0]]
    >>> pointing_hit_rate(S, E)  # (1 + 0 + 1/4) / 3
    0.4166666666666667
    """
    S, E = _matching_maps(S, E)
    if S.ndim < 2:
        raise ValueError(
            f"S and E must have a sample axis and at least one more; got shape {S.shape}."
        )
    frames_per_sample = S.shape[1] if S.ndim == 4 else 1
    hits, frames = 0.0, 0
    for start in range(0, S.shape[0], CHUNK_SAMPLES):
        s = np.asarray(S[start : start + CHUNK_SAMPLES], dtype=np.float64)
        e = np.asarray(E[start : start + CHUNK_SAMPLES], dtype=np.float64)
        if not np.isfinite(s).all():
            raise ValueError("S contains NaN or infinity; saliency maps must be finite.")
        s = s.reshape(len(s) * frames_per_sample, -1)
        positive = e.reshape(len(e) * frames_per_sample, -1) > 0  # NaN compares False
        annotated = positive.any(axis=1)
        s, positive = s[annotated], positive[annotated]
        peak = s == s.max(axis=1, keepdims=True)
        hits += float(((peak & positive).sum(axis=1) / peak.sum(axis=1)).sum())
        frames += len(s)
    if frames == 0:
        warnings.warn(
            "pointing_hit_rate is undefined: no frame of E has a positive annotation. "
            "Returning nan.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return float("nan")
    return hits / frames
