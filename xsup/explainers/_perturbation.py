"""Captum's perturbation methods: occlusion, feature ablation, feature permutation, Shapley sampling.

Re-exported by :mod:`xsup.explainers.captum_methods`, where they are registered.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from xsup.constraints import Interval, SequenceOf
from xsup.explainers._posthoc import (
    BASELINE,
    FEATURE_MASK,
    POSITIVE_INT,
    RANDOM_STATE,
    PosthocExplainer,
    import_captum,
    make_baseline,
)
from xsup.spec import InputSpec

__all__ = ["FeatureAblation", "FeaturePermutation", "Occlusion", "ShapleySampling",
           "grouped_feature_mask"]

#: Side of the default square occlusion patch of images and raster sequences.
PATCH = 4


def grouped_feature_mask(spec: InputSpec, patch: int = PATCH) -> torch.Tensor:
    """Group labels ``(1, *sample_shape)`` for the perturbation methods.

    One group per feature (tabular), per time step with all its features (time
    series, as the benchmark), per ``patch`` x ``patch`` square of pixels with
    all its channels (images; each frame of raster sequences on its own).

    Examples
    --------
    >>> grouped_feature_mask(InputSpec("time_series", (3, 2), 2))
    tensor([[[0, 0],
             [1, 1],
             [2, 2]]])
    >>> grouped_feature_mask(InputSpec("images", (1, 2, 4), 2), patch=2)
    tensor([[[[0, 0, 1, 1],
              [0, 0, 1, 1]]]])
    """
    shape = spec.sample_shape
    if spec.kind == "tabular":
        return torch.arange(shape[0]).reshape(1, -1)
    if spec.kind == "time_series":
        return torch.arange(shape[0]).reshape(1, -1, 1).expand(1, *shape).contiguous()
    height, width = shape[-2:]
    rows = torch.arange(height) // patch
    columns = torch.arange(width) // patch
    per_row = -(-width // patch)
    squares = rows.reshape(-1, 1) * per_row + columns.reshape(1, -1)
    if spec.kind == "images":
        return squares.reshape(1, 1, height, width).expand(1, *shape).contiguous()
    n_squares = -(-height // patch) * per_row
    frames = torch.arange(shape[0]).reshape(-1, 1, 1, 1) * n_squares
    return (frames + squares.reshape(1, 1, height, width)).unsqueeze(0).expand(1, *shape).contiguous()


def _feature_mask(value: Any, spec: InputSpec, device: torch.device) -> torch.Tensor | None:
    """``"auto"`` -> :func:`grouped_feature_mask`; None -> every cell; or integer labels
    shaped like one sample."""
    if isinstance(value, str) and value == "auto":
        return grouped_feature_mask(spec).to(device)
    if value is None:
        return None
    mask = torch.as_tensor(np.asarray(value) if not torch.is_tensor(value) else value)
    if mask.dtype.is_floating_point or mask.dtype == torch.bool or tuple(mask.shape) != spec.sample_shape:
        raise ValueError(
            f'explainer__feature_mask must be "auto", None or integer group labels shaped like one '
            f"sample {spec.sample_shape}; got dtype {mask.dtype} and shape {tuple(mask.shape)}."
        )
    return mask.long().unsqueeze(0).contiguous().to(device)


class Occlusion(PosthocExplainer):
    """Occlusion (Zeiler and Fergus, 2014): Captum's ``Occlusion``.

    A window slides over each sample; the output drop when the window is set to
    the baseline is credited to every cell under it (averaged where windows
    overlap).

    Parameters
    ----------
    window : tuple of int or None, default=None
        Window shape over one sample. None: one feature (tabular); one time
        step with all features, ``(1, F)``, as the benchmark (time series);
        ``(C, 4, 4)`` patches (images); ``(1, C, 4, 4)``, one frame (raster
        sequences); patches are cut to the image size.
    stride : int, tuple of int or None, default=None
        Step of the window. None: the window's size, except half of it
        (rounded down, at least 1) on the height and width axes, so patches
        overlap.
    baseline : {"uniform", "zeros"}, float or array-like, default="uniform"
        Values put under the window (the benchmark uses a random baseline).
    perturbations_per_eval : int, default=1
        Window positions evaluated per forward pass (speed/memory knob).
    random_state : int, RandomState or None, default=None
        Seeds the uniform baseline.
    """

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "window": [None, SequenceOf(Interval("int", 1, None))],
        "stride": [None, Interval("int", 1, None), SequenceOf(Interval("int", 1, None))],
        "baseline": BASELINE, "perturbations_per_eval": POSITIVE_INT, "random_state": RANDOM_STATE,
    }

    def __init__(self, window: tuple[int, ...] | None = None, stride: Any = None,
                 baseline: Any = "uniform", perturbations_per_eval: int = 1,
                 random_state: Any = None) -> None:
        self.window = window
        self.stride = stride
        self.baseline = baseline
        self.perturbations_per_eval = perturbations_per_eval
        self.random_state = random_state

    def shapes(self, spec: InputSpec) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The window and stride used for ``spec``'s samples."""
        shape = spec.sample_shape
        spatial = {"images": (1, 2), "raster_sequences": (2, 3)}.get(spec.kind, ())
        if self.window is None:
            window = (1,) if spec.kind == "tabular" else (1, shape[-1])
            if spec.kind in ("images", "raster_sequences"):
                window = (*shape[:-2], min(PATCH, shape[-2]), min(PATCH, shape[-1]))
                window = (1, *window[1:]) if spec.is_sequence else window
        else:
            window = tuple(self.window) if isinstance(self.window, (tuple, list)) else ()
            if len(window) != len(shape) or not all(
                    isinstance(w, (int, np.integer)) and not isinstance(w, bool) and 1 <= w <= s
                    for w, s in zip(window, shape)):
                raise ValueError(
                    f"explainer__window must be a tuple of {len(shape)} ints within the sample "
                    f"shape {shape}; got {self.window!r}."
                )
            window = tuple(int(w) for w in window)
        if self.stride is None:
            return window, tuple(max(1, w // 2) if axis in spatial else w
                                 for axis, w in enumerate(window))
        stride = self.stride if isinstance(self.stride, (tuple, list)) else (self.stride,) * len(shape)
        if len(stride) != len(shape) or not all(
                isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1 for s in stride):
            raise ValueError(
                f"explainer__stride must be an int >= 1 or a tuple of {len(shape)} of them; "
                f"got {self.stride!r}."
            )
        return window, tuple(int(s) for s in stride)

    def attribute(self, model: nn.Module, X: torch.Tensor, target: torch.Tensor | None,
                  spec: InputSpec, generator: torch.Generator) -> torch.Tensor:
        """Captum's Occlusion of ``target`` with the window and stride of :meth:`shapes`."""
        window, stride = self.shapes(spec)
        baselines = make_baseline(self.baseline, X, generator)
        return import_captum().Occlusion(model).attribute(
            X, sliding_window_shapes=window, strides=stride, baselines=baselines, target=target,
            perturbations_per_eval=self.perturbations_per_eval)


class FeatureAblation(PosthocExplainer):
    """Feature ablation: Captum's ``FeatureAblation``.

    The output drop when a cell (or a group of cells) is set to the baseline.

    Parameters
    ----------
    baseline : {"zeros", "uniform"}, float or array-like, default="zeros"
        Replacement values (the benchmark ablates to 0).
    feature_mask : "auto", None or array-like of int, default=None
        Groups ablated together: None, every cell alone (the benchmark's
        choice, channels too); "auto", the groups of :class:`ShapleySampling`;
        or integer labels shaped like one sample.
    perturbations_per_eval : int, default=1
        Groups evaluated per forward pass (speed/memory knob).
    random_state : int, RandomState or None, default=None
        Seeds the uniform baseline.
    """

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "baseline": BASELINE, "feature_mask": FEATURE_MASK, "perturbations_per_eval": POSITIVE_INT,
        "random_state": RANDOM_STATE,
    }

    def __init__(self, baseline: Any = "zeros", feature_mask: Any = None,
                 perturbations_per_eval: int = 1, random_state: Any = None) -> None:
        self.baseline = baseline
        self.feature_mask = feature_mask
        self.perturbations_per_eval = perturbations_per_eval
        self.random_state = random_state

    def attribute(self, model: nn.Module, X: torch.Tensor, target: torch.Tensor | None,
                  spec: InputSpec, generator: torch.Generator) -> torch.Tensor:
        """Captum's FeatureAblation of ``target``."""
        return import_captum().FeatureAblation(model).attribute(
            X, baselines=make_baseline(self.baseline, X, generator), target=target,
            feature_mask=_feature_mask(self.feature_mask, spec, X.device),
            perturbations_per_eval=self.perturbations_per_eval)


class FeaturePermutation(PosthocExplainer):
    """Permutation feature importance: Captum's ``FeaturePermutation``.

    The output drop when a group of cells is shuffled across the samples of the
    batch passed to ``explain`` (which must hold at least 2 samples; the
    estimators' ``explain`` never passes a last batch of one sample alone).

    Parameters
    ----------
    feature_mask : "auto", None or array-like of int, default="auto"
        Groups shuffled together. "auto": each feature (tabular), each time step
        with all its features (time series, as the benchmark), each 4 x 4 patch
        of pixels with all its channels (images; each frame of raster
        sequences apart), see :func:`grouped_feature_mask`; None: every cell
        alone; or integer labels shaped like one sample.
    perturbations_per_eval : int, default=1
        Groups evaluated per forward pass (speed/memory knob).
    random_state : int, RandomState or None, default=None
        Seeds the permutations.
    """

    min_batch_size: ClassVar[int] = 2

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "feature_mask": FEATURE_MASK, "perturbations_per_eval": POSITIVE_INT,
        "random_state": RANDOM_STATE,
    }

    def __init__(self, feature_mask: Any = "auto", perturbations_per_eval: int = 1,
                 random_state: Any = None) -> None:
        self.feature_mask = feature_mask
        self.perturbations_per_eval = perturbations_per_eval
        self.random_state = random_state

    def attribute(self, model: nn.Module, X: torch.Tensor, target: torch.Tensor | None,
                  spec: InputSpec, generator: torch.Generator) -> torch.Tensor:
        """Captum's FeaturePermutation of ``target`` within the batch."""
        if len(X) < self.min_batch_size:
            raise ValueError(
                f"feature_permutation shuffles values across the samples of a batch, so X must "
                f"hold at least {self.min_batch_size} samples; got {len(X)}."
            )
        return import_captum().FeaturePermutation(model).attribute(
            X, target=target, feature_mask=_feature_mask(self.feature_mask, spec, X.device),
            perturbations_per_eval=self.perturbations_per_eval)


class ShapleySampling(PosthocExplainer):
    """Shapley value sampling (Castro et al., 2009): Captum's ``ShapleyValueSampling``.

    Each group's marginal contribution, averaged over ``n_samples`` random
    orders in which the groups are switched from the baseline to the input.
    Costs ``n_samples * (groups + 1)`` forward passes.

    Parameters
    ----------
    baseline : {"zeros", "uniform"}, float or array-like, default="zeros"
        Values of the switched-off groups (Captum's default, 0).
    feature_mask : "auto", None or array-like of int, default="auto"
        Groups, as for :class:`FeaturePermutation`: per feature (tabular), per
        time step (time series, as the benchmark), per 4 x 4 patch (images,
        each frame of raster sequences).
    n_samples : int, default=25
        Random orders (Captum's default).
    perturbations_per_eval : int, default=1
        Perturbed inputs evaluated per forward pass (speed/memory knob).
    random_state : int, RandomState or None, default=None
        Seeds the orders and the uniform baseline.
    """

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "baseline": BASELINE, "feature_mask": FEATURE_MASK, "n_samples": POSITIVE_INT,
        "perturbations_per_eval": POSITIVE_INT, "random_state": RANDOM_STATE,
    }

    def __init__(self, baseline: Any = "zeros", feature_mask: Any = "auto", n_samples: int = 25,
                 perturbations_per_eval: int = 1, random_state: Any = None) -> None:
        self.baseline = baseline
        self.feature_mask = feature_mask
        self.n_samples = n_samples
        self.perturbations_per_eval = perturbations_per_eval
        self.random_state = random_state

    def attribute(self, model: nn.Module, X: torch.Tensor, target: torch.Tensor | None,
                  spec: InputSpec, generator: torch.Generator) -> torch.Tensor:
        """Captum's ShapleyValueSampling of ``target``."""
        return import_captum().ShapleyValueSampling(model).attribute(
            X, baselines=make_baseline(self.baseline, X, generator), target=target,
            feature_mask=_feature_mask(self.feature_mask, spec, X.device), n_samples=self.n_samples,
            perturbations_per_eval=self.perturbations_per_eval)
