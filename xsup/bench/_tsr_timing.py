"""TSR speed: the batched explainer against the plain per-sample, per-step, per-feature loop.

:func:`tsr_loop` computes Temporal Saliency Rescaling the way the authors'
code does, one call to the base explainer per masked input, and is the
reference that the batched :class:`~xsup.explainers.TemporalSaliencyRescaling`
is tested against. :func:`measure_tsr_speedup` times both on the same seeded
data and the same untrained TCN.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import nn

from xsup.explainers.tsr import TemporalSaliencyRescaling
from xsup.modules.tcn import TCN
from xsup.saliency import normalize_saliency
from xsup.spec import InputSpec

__all__ = ["measure_tsr_speedup", "tsr_loop"]


def _rescale(values: torch.Tensor) -> torch.Tensor:
    """Min-max rescale a vector to [0, 1]; a constant vector gives ones if positive, else zeros."""
    low, high = values.min(), values.max()
    if high > low:
        return (values - low) / (high - low)
    return torch.ones_like(values) if high > 0 else torch.zeros_like(values)


def tsr_loop(
    tsr: TemporalSaliencyRescaling,
    model: nn.Module,
    X: torch.Tensor,
    target: torch.Tensor,
    spec: InputSpec,
) -> torch.Tensor:
    """TSR maps computed by plain loops: one base-explainer call per (masked) input.

    Uses the options of ``tsr`` (base explainer, threshold, mask value, ...)
    but none of its batching; slow, for tests and timing.

    Parameters
    ----------
    tsr : TemporalSaliencyRescaling
        The options to follow.
    model : torch.nn.Module
        The model, in evaluation mode.
    X : torch.Tensor
        ``(N, T, F)`` time series or ``(N, T, C, H, W)`` raster sequences.
    target : torch.Tensor
        Output explained for each sample, ``(N,)``.
    spec : InputSpec
        Shape of the data.

    Returns
    -------
    torch.Tensor
        ``(N, *spec.annotation_shape)`` maps, not normalised.

    Examples
    --------
    >>> from torch import nn
    >>> _ = torch.manual_seed(0)
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 2))
    >>> spec, X, target = InputSpec("time_series", (3, 2), 2), torch.randn(2, 3, 2), torch.tensor([0, 1])
    >>> tsr = TemporalSaliencyRescaling(threshold=0.2, threshold_mode="absolute")
    >>> torch.allclose(tsr_loop(tsr, model, X, target, spec), tsr.explain(model, X, target, spec)[1])
    True
    """
    base = tsr.base_explainer(spec)
    X = X.detach()

    def relevance(x: torch.Tensor, target_n: torch.Tensor) -> torch.Tensor:
        return base.explain(model, x, target_n, spec)[1].detach()

    maps = []
    for n in range(len(X)):
        x, target_n = X[n : n + 1], target[n : n + 1]
        fill = x.flatten()[0].item() if tsr.mask_value == "first" else float(tsr.mask_value)
        reference = relevance(x, target_n)
        n_steps, frame = x.shape[1], tuple(reference.shape[2:])
        time_relevance = torch.zeros(n_steps, dtype=reference.dtype)
        for t in range(n_steps):
            masked = x.clone()
            masked[0, t] = fill
            time_relevance[t] = (relevance(masked, target_n) - reference).abs().sum()
        time_relevance = _rescale(time_relevance)
        if tsr.threshold_mode == "quantile":
            level = torch.quantile(time_relevance, float(tsr.threshold)).item()
        else:
            level = float(tsr.threshold)
        n_features = math.prod(frame)
        feature_relevance = torch.full((n_steps, n_features), float(tsr.below_threshold_score),
                                       dtype=reference.dtype)
        for t in range(n_steps):
            if not time_relevance[t] > level:
                continue
            scores = torch.zeros(n_features, dtype=reference.dtype)
            for i in range(n_features):
                masked = x.clone()
                if spec.kind == "time_series":
                    masked[0, t, i] = fill
                else:  # raster sequences: pixel (h, w) in every channel
                    h, w = divmod(i, frame[1])
                    masked[0, t, :, h, w] = fill
                scores[i] = (relevance(masked, target_n) - reference).abs().sum()
            feature_relevance[t] = _rescale(scores) if tsr.normalize_features else scores
        maps.append((time_relevance[:, None] * feature_relevance).reshape(1, n_steps, *frame))
    return torch.cat(maps)


def measure_tsr_speedup(
    *, n: int = 50, t: int = 50, f: int = 50, base: str = "gradient", seed: int = 0
) -> dict[str, Any]:
    """Time batched TSR against :func:`tsr_loop` on the same seeded data and model.

    The model is an untrained TCN sized like the time-series benchmark's
    (channels (5, 5, 50), kernel 4, two classes) in evaluation mode, on
    ``X ~ N(0, 1)`` of shape ``(n, t, f)``, explaining the predicted class
    with the default TSR options; the CPU, with torch's current thread count.

    Parameters
    ----------
    n, t, f : int, default=50
        Samples, time steps and features.
    base : str, default="gradient"
        Registered name of the explainer that TSR rescales.
    seed : int, default=0
        Seed of the model's weights and of the data.

    Returns
    -------
    dict
        ``loop_seconds``, ``batched_seconds``, ``speedup`` (their ratio),
        ``max_abs_difference`` (between the two results, each map normalised
        per sample to [0, 1] as ``explain`` returns it), ``loop_calls`` and
        ``batched_calls`` (forward passes of the model), ``n``, ``t``, ``f``,
        ``base``, ``chunk_size`` and ``threads``.

    Examples
    --------
    >>> result = measure_tsr_speedup(n=2, t=4, f=3)
    >>> result["max_abs_difference"] < 1e-4, result["loop_calls"] > result["batched_calls"]
    (True, True)
    """
    torch.manual_seed(seed)
    model = TCN((t, f), 2, channels=(5, 5, 50), kernel_size=4).eval()
    X = torch.randn(n, t, f, generator=torch.Generator().manual_seed(seed))
    spec = InputSpec("time_series", (t, f), 2)
    with torch.no_grad():
        target = model(X).argmax(dim=1)
    tsr = TemporalSaliencyRescaling(base=base)
    calls = [0]

    def count(*_: Any) -> None:
        calls[0] += 1

    handle = model.register_forward_pre_hook(count)
    try:
        start = time.perf_counter()
        batched = tsr.explain(model, X, target, spec)[1]
        batched_seconds = time.perf_counter() - start
        batched_calls, calls[0] = calls[0], 0
        start = time.perf_counter()
        looped = tsr_loop(tsr, model, X, target, spec)
        loop_seconds = time.perf_counter() - start
        loop_calls = calls[0]
    finally:
        handle.remove()
    difference = (normalize_saliency(batched) - normalize_saliency(looped)).abs().max().item()
    return {
        "loop_seconds": loop_seconds,
        "batched_seconds": batched_seconds,
        "speedup": loop_seconds / batched_seconds,
        "max_abs_difference": difference,
        "loop_calls": loop_calls,
        "batched_calls": batched_calls,
        "n": n, "t": t, "f": f,
        "base": base,
        "chunk_size": tsr.chunk_size,
        "threads": torch.get_num_threads(),
    }
