"""Post-hoc explainers backed by Captum, on every input kind.

Each class wraps one ``captum.attr`` method. ``explain`` returns the model
output and ``|attribution|`` shaped like the annotations: channels of images
and raster sequences are summed, tabular data and time series keep every cell.
The maps are not trained through (``differentiable = False``). Options are
checked when ``explain`` runs; every random draw (uniform baselines, noise,
permutations) is seeded from ``random_state``. Captum is imported on first use
(``pip install "xsup[explain]"``).

Defaults follow the time-series saliency benchmark of Ismail et al. (2020),
which draws U[0, 1) baselines (its data are min-max scaled to [0, 1]); pass
``baseline="zeros"``, a number or an array shaped like one sample otherwise.
The gradient-based methods live here, the perturbation-based ones in
``xsup.explainers._perturbation`` (re-exported here).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from xsup.explainers._perturbation import (
    FeatureAblation,
    FeaturePermutation,
    Occlusion,
    ShapleySampling,
    grouped_feature_mask,
)
from xsup.constraints import Interval, Options
from xsup.explainers._posthoc import (
    BASELINE,
    BATCH_SIZE,
    NON_NEGATIVE,
    POSITIVE_INT,
    RANDOM_STATE,
    PosthocExplainer,
    import_captum,
    make_baseline,
    make_baseline_distribution,
)
from xsup.spec import InputSpec

__all__ = ["DeepLift", "DeepShap", "FeatureAblation", "FeaturePermutation", "GradientShap",
           "IntegratedGradients", "Occlusion", "ShapleySampling", "SmoothGrad", "grouped_feature_mask"]

#: Captum's quadratures for Integrated Gradients.
INTEGRATION_METHODS = ("gausslegendre", "riemann_trapezoid", "riemann_left", "riemann_right",
                       "riemann_middle")
NOISE_TUNNEL_TYPES = ("smoothgrad", "smoothgrad_sq", "vargrad")


class IntegratedGradients(PosthocExplainer):
    """Integrated Gradients (Sundararajan et al., 2017): Captum's ``IntegratedGradients``.

    ``(x - x') * mean over the path x' -> x of d f_c / d x``.

    Parameters
    ----------
    baseline : {"uniform", "zeros"}, float or array-like, default="uniform"
        Reference input ``x'``: one U[0, 1) draw shaped like a sample, shared by
        every sample (the benchmark's choice), zeros, a constant, or an array
        shaped like one sample.
    n_steps : int, default=50
        Points on the path (Captum's default).
    integration_method : str, default="gausslegendre"
        Captum's quadrature: ``"gausslegendre"``, ``"riemann_trapezoid"``,
        ``"riemann_left"``, ``"riemann_right"`` or ``"riemann_middle"``.
    internal_batch_size : int or None, default=None
        Path points evaluated per forward pass (memory knob); None: all
        ``n_steps * N`` at once.
    random_state : int, RandomState or None, default=None
        Seeds the uniform baseline.

    Examples
    --------
    On a linear model with a zero baseline, IG is ``w * x`` exactly:

    >>> import torch
    >>> from xsup.spec import InputSpec
    >>> model = torch.nn.Linear(3, 2)
    >>> with torch.no_grad():
    ...     _ = model.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.0, 0.0, 1.0]]))
    >>> _, saliency = IntegratedGradients(baseline="zeros").explain(
    ...     model, torch.tensor([[2.0, 1.0, -4.0]]), torch.tensor([0]), InputSpec("tabular", (3,), 2))
    >>> saliency
    tensor([[2., 2., 2.]])
    """

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "baseline": BASELINE, "n_steps": POSITIVE_INT,
        "integration_method": [Options(*INTEGRATION_METHODS)],
        "internal_batch_size": BATCH_SIZE, "random_state": RANDOM_STATE,
    }

    def __init__(self, baseline: Any = "uniform", n_steps: int = 50,
                 integration_method: str = "gausslegendre", internal_batch_size: int | None = None,
                 random_state: Any = None) -> None:
        self.baseline = baseline
        self.n_steps = n_steps
        self.integration_method = integration_method
        self.internal_batch_size = internal_batch_size
        self.random_state = random_state

    def attribute(self, model: nn.Module, X: torch.Tensor, target: torch.Tensor | None,
                  spec: InputSpec, generator: torch.Generator) -> torch.Tensor:
        """Captum's IG of ``target`` from the baseline to ``X``."""
        baselines = make_baseline(self.baseline, X, generator)
        return import_captum().IntegratedGradients(model).attribute(
            X, baselines=baselines, target=target, n_steps=self.n_steps,
            method=self.integration_method, internal_batch_size=self.internal_batch_size)


class SmoothGrad(PosthocExplainer):
    """SmoothGrad (Smilkov et al., 2017): Captum's ``NoiseTunnel(Saliency)``.

    The mean of ``|d f_c / d x|`` over ``nt_samples`` copies of ``x`` with
    Gaussian noise of standard deviation ``stdevs`` added (in input units).

    Parameters
    ----------
    nt_samples : int, default=5
        Noisy copies per sample (Captum's default, used by the benchmark).
    stdevs : float, default=1.0
        Noise standard deviation in input units (Captum's default, used by the
        benchmark). Smilkov et al. suggest 10-20% of the input range.
    nt_type : {"smoothgrad", "smoothgrad_sq", "vargrad"}, default="smoothgrad"
        Mean, mean of squares, or variance of the noisy gradients.
    nt_samples_batch_size : int or None, default=None
        Noisy copies evaluated per pass (memory knob); None: all at once.
    random_state : int, RandomState or None, default=None
        Seeds the noise.
    """

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "nt_samples": POSITIVE_INT, "stdevs": NON_NEGATIVE,
        "nt_type": [Options(*NOISE_TUNNEL_TYPES)], "nt_samples_batch_size": BATCH_SIZE,
        "random_state": RANDOM_STATE,
    }

    def __init__(self, nt_samples: int = 5, stdevs: float = 1.0, nt_type: str = "smoothgrad",
                 nt_samples_batch_size: int | None = None, random_state: Any = None) -> None:
        self.nt_samples = nt_samples
        self.stdevs = stdevs
        self.nt_type = nt_type
        self.nt_samples_batch_size = nt_samples_batch_size
        self.random_state = random_state

    def attribute(self, model: nn.Module, X: torch.Tensor, target: torch.Tensor | None,
                  spec: InputSpec, generator: torch.Generator) -> torch.Tensor:
        """Captum's NoiseTunnel over ``Saliency`` (absolute gradients)."""
        captum = import_captum()
        return captum.NoiseTunnel(captum.Saliency(model)).attribute(
            X, nt_type=self.nt_type, nt_samples=self.nt_samples,
            nt_samples_batch_size=self.nt_samples_batch_size, stdevs=float(self.stdevs),
            target=target, abs=True)


class DeepLift(PosthocExplainer):
    """DeepLIFT, Rescale rule (Shrikumar et al., 2017): Captum's ``DeepLift``.

    Captum applies the rescale rule to nonlinearities that are ``nn.Module``
    instances (``nn.ReLU``, ``nn.Sigmoid``, ...); a functional call such as
    ``torch.relu`` inside ``forward`` is treated as plain gradient.

    Parameters
    ----------
    baseline : {"uniform", "zeros"}, float or array-like, default="uniform"
        Reference input, as for :class:`IntegratedGradients`.
    random_state : int, RandomState or None, default=None
        Seeds the uniform baseline.
    """

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "baseline": BASELINE, "random_state": RANDOM_STATE,
    }

    def __init__(self, baseline: Any = "uniform", random_state: Any = None) -> None:
        self.baseline = baseline
        self.random_state = random_state

    def attribute(self, model: nn.Module, X: torch.Tensor, target: torch.Tensor | None,
                  spec: InputSpec, generator: torch.Generator) -> torch.Tensor:
        """Captum's DeepLift of ``target`` relative to the baseline."""
        baselines = make_baseline(self.baseline, X, generator)
        return import_captum().DeepLift(model).attribute(X, baselines=baselines, target=target)


class GradientShap(PosthocExplainer):
    """Gradient SHAP (Lundberg and Lee, 2017): Captum's ``GradientShap``.

    Expected gradients: for ``n_samples`` draws per sample, a baseline picked at
    random from the distribution, Gaussian noise (``stdevs``) on the input and a
    random point on the path between them; the average of ``(x - x') * grad``.

    Parameters
    ----------
    baseline : {"uniform", "zeros"}, float or array-like, default="uniform"
        The baseline distribution: ``n_baselines`` U[0, 1) draws (the
        benchmark's), zeros, a constant, an array shaped like one sample, or an
        array ``(k, *sample_shape)`` of ``k`` baselines.
    n_baselines : int, default=5
        Baselines drawn for ``"uniform"`` (5, as the benchmark).
    n_samples : int, default=5
        Random draws per sample (Captum's default).
    stdevs : float, default=0.09
        Noise on the input, in input units (the benchmark's value).
    random_state : int, RandomState or None, default=None
        Seeds baselines, their choice, the noise and the path points.
    """

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "baseline": BASELINE, "n_baselines": POSITIVE_INT, "n_samples": POSITIVE_INT,
        "stdevs": NON_NEGATIVE, "random_state": RANDOM_STATE,
    }

    def __init__(self, baseline: Any = "uniform", n_baselines: int = 5, n_samples: int = 5,
                 stdevs: float = 0.09, random_state: Any = None) -> None:
        self.baseline = baseline
        self.n_baselines = n_baselines
        self.n_samples = n_samples
        self.stdevs = stdevs
        self.random_state = random_state

    def attribute(self, model: nn.Module, X: torch.Tensor, target: torch.Tensor | None,
                  spec: InputSpec, generator: torch.Generator) -> torch.Tensor:
        """Captum's GradientShap of ``target`` over the baseline distribution."""
        baselines = make_baseline_distribution(self.baseline, self.n_baselines, X, generator)
        return import_captum().GradientShap(model).attribute(
            X, baselines=baselines, n_samples=self.n_samples, stdevs=float(self.stdevs),
            target=target)


class DeepShap(PosthocExplainer):
    """Deep SHAP (Lundberg and Lee, 2017): Captum's ``DeepLiftShap``.

    DeepLIFT against every baseline of a distribution, averaged. Needs
    nonlinearities as ``nn.Module`` instances, like :class:`DeepLift`. Memory
    grows with ``N * n_baselines``.

    Parameters
    ----------
    baseline : {"uniform", "zeros"}, float or array-like, default="uniform"
        The baseline distribution, as for :class:`GradientShap` (at least 2).
    n_baselines : int, default=5
        Baselines drawn for ``"uniform"`` (5, as the benchmark); at least 2.
    random_state : int, RandomState or None, default=None
        Seeds the uniform baselines.
    """

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "baseline": BASELINE, "n_baselines": [Interval("int", 2, None)],
        "random_state": RANDOM_STATE,
    }

    def __init__(self, baseline: Any = "uniform", n_baselines: int = 5,
                 random_state: Any = None) -> None:
        self.baseline = baseline
        self.n_baselines = n_baselines
        self.random_state = random_state

    def attribute(self, model: nn.Module, X: torch.Tensor, target: torch.Tensor | None,
                  spec: InputSpec, generator: torch.Generator) -> torch.Tensor:
        """Captum's DeepLiftShap of ``target`` over the baseline distribution."""
        baselines = make_baseline_distribution(self.baseline, self.n_baselines, X, generator)
        if len(baselines) < 2:
            raise ValueError("explainer__baseline must hold at least 2 baselines for deep_shap; got 1.")
        return import_captum().DeepLiftShap(model).attribute(X, baselines=baselines, target=target)
