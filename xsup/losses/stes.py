"""STES: time-aware explanation supervision with an adaptive decay and a tolerance (Yu et al.)."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import torch

from xsup.base import ExplanationLoss
from xsup.batch import ExplanationBatch
from xsup.losses._decay import DECAY_SHAPES, AdaptiveDecay
from xsup.spec import InputSpec

__all__ = ["STESLoss"]

#: Per-step distances between the saliency map and the annotation.
DISTANCES = ("l1", "l2")


class STESLoss(ExplanationLoss):
    """STES explanation term (eq. 4.2, §4.3): ``sum_t max(theta_t * l(m_t, e_t) - alpha, 0)``.

    For every time step ``t`` of a sample, ``l(m_t, e_t)`` is the mean
    absolute (``distance="l1"``, the paper's L1) or squared (``"l2"``)
    difference between the normalised saliency map and the positive part of
    the annotation over the frame's known cells (NaN cells are skipped;
    ``-1`` "should not matter" cells ask for zero saliency, like ``0``). The
    weight ``theta_t`` comes from the adaptive decay: an MLP ``h_d`` reads the
    maximum of the sample's own saliency at each step (detached) and gives the
    sample's decay rate, kept in ``[0, max_decay]``, which the decay function
    phi turns into weights that are 1 at the target (last) step and decrease
    into the past. Steps whose weighted distance stays within the tolerance
    ``alpha`` cost nothing.

    Only annotated frames count: frames with at least one finite non-zero
    value after the interpolator ran. With ``interpolator="none"`` the missing
    frames add nothing (the STES-I ablation); with an interpolator, the frames
    it filled are supervised too. The term is the sum over steps, averaged
    over the samples that have an annotated frame. Images are sequences of one
    frame (weight 1); time-series frames are the F features of a step.

    Parameters
    ----------
    alpha : float, default=0.0
        Tolerance of each step's weighted distance; the estimator passes its
        own ``alpha`` unless ``loss__alpha`` is given.
    decay : {"exponential", "linear", "quadratic", "none"}, default="exponential"
        The decay function phi, with the sample's rate ``c``, of the distance
        ``d`` (in steps) from the target step, or of ``u = d / (T - 1)``:
        ``exp(-c d)``, ``max(1 - c u, 0)`` or ``max(1 - c u^2, 0)``;
        ``"none"`` weighs every step 1 (the STES-T ablation) and has no
        learnable part.
    distance : {"l1", "l2"}, default="l1"
        Per-step distance: mean absolute or mean squared difference.
    max_decay : float, default=1.0
        Upper bound of the decay rate ``c``.
    hidden : int, default=32
        Width of the two hidden layers of ``h_d`` (STES uses 32).

    Examples
    --------
    Two steps, decay off: step 0 is 0.5 off on each of its two cells, step 1
    matches; with ``alpha=0.1`` the term is ``max(0.5 - 0.1, 0) + 0 = 0.4``.

    >>> import torch
    >>> from xsup.batch import ExplanationBatch
    >>> from xsup.spec import InputSpec
    >>> spec = InputSpec("time_series", (2, 2), 2)
    >>> loss = STESLoss(alpha=0.1, decay="none")
    >>> loss.setup(spec)
    >>> batch = ExplanationBatch(
    ...     model=None, X=None, y=None, output=None, target=None, spec=spec,
    ...     annotation=torch.tensor([[[1.0, 0.0], [1.0, 0.0]]]),
    ...     _saliency=torch.tensor([[[0.5, 0.5], [1.0, 0.0]]]))
    >>> loss(batch)
    tensor(0.4000)
    """

    def __init__(
        self,
        alpha: float = 0.0,
        decay: str = "exponential",
        distance: str = "l1",
        max_decay: float = 1.0,
        hidden: int = 32,
    ) -> None:
        super().__init__()
        self.alpha = alpha
        self.decay = decay
        self.distance = distance
        self.max_decay = max_decay
        self.hidden = hidden

    @classmethod
    def search_space(cls) -> dict[str, Any]:
        """Tune ``sigma1`` (log scale), the tolerance ``alpha`` and the decay function."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution

        return {
            "sigma1": FloatDistribution(1e-2, 1e2, log=True),
            "alpha": FloatDistribution(0.0, 0.5),
            "decay": CategoricalDistribution((*DECAY_SHAPES, "none")),
        }

    def _check_parameters(self) -> None:
        choices = (*DECAY_SHAPES, "none")
        if self.decay not in choices:
            raise ValueError(f"decay must be one of {', '.join(choices)}; got {self.decay!r}.")
        if self.distance not in DISTANCES:
            raise ValueError(
                f"distance must be one of {', '.join(DISTANCES)}; got {self.distance!r}."
            )
        for name, strict in (("alpha", False), ("max_decay", True)):
            value = getattr(self, name)
            valid = isinstance(value, Real) and not isinstance(value, bool) and (
                value > 0 if strict else value >= 0
            )
            if not valid or value == float("inf"):
                bound = "positive" if strict else "non-negative"
                raise ValueError(f"{name} must be a finite {bound} number; got {value!r}.")
        hidden = self.hidden
        if isinstance(hidden, bool) or not isinstance(hidden, Integral) or hidden < 1:
            raise ValueError(f"hidden must be an int >= 1; got {hidden!r}.")

    def setup(self, spec: InputSpec) -> None:
        """Check the options and build the decay MLP ``h_d`` for T time steps."""
        self._check_parameters()
        if spec.kind == "tabular":
            raise ValueError(
                "loss='stes' supervises maps over time steps (raster sequences, time series) or "
                "over space (images); tabular data have neither. Use loss='gradia' or 'rrr'."
            )
        n_steps = spec.n_steps or 1
        self.n_steps_ = n_steps
        self.decay_ = None
        if self.decay != "none" and n_steps > 1:
            self.decay_ = AdaptiveDecay(
                n_steps, self.decay, float(self.max_decay), int(self.hidden)
            )

    def step_weights(self, saliency: torch.Tensor) -> torch.Tensor:
        """Weights ``theta`` ``(N, T)`` of a batch of ``(N, T, ...)`` normalised maps."""
        if not hasattr(self, "n_steps_"):
            raise RuntimeError("STESLoss is not set up: call setup(spec) first.")
        if self.decay_ is None:
            return saliency.new_ones(saliency.shape[:2])
        peaks = saliency.detach().flatten(start_dim=2).amax(dim=-1)
        return self.decay_(peaks)

    def forward(self, batch: ExplanationBatch) -> torch.Tensor:
        """Return the STES term of one batch."""
        if batch.annotation is None:
            raise ValueError("loss='stes' needs annotations E, but fit() got E=None.")
        saliency, annotation = batch.saliency, batch.annotation
        if not batch.spec.is_sequence:  # an image is a sequence of one frame
            saliency, annotation = saliency.unsqueeze(1), annotation.unsqueeze(1)
        cells = annotation.flatten(start_dim=2)
        known = torch.isfinite(cells)
        supervised = (known & (cells != 0)).any(dim=-1)
        if not bool(supervised.any()):
            return saliency.sum() * 0.0
        wanted = torch.where(known, cells.clamp(min=0.0), 0.0)
        difference = torch.where(known, saliency.flatten(start_dim=2) - wanted, 0.0)
        difference = difference.abs() if self.distance == "l1" else difference.pow(2)
        per_step = difference.sum(dim=-1) / known.sum(dim=-1).clamp(min=1)
        weighted = self.step_weights(saliency) * per_step
        terms = torch.relu(weighted - self.alpha) * supervised
        return terms.sum(dim=1)[supervised.any(dim=1)].mean()
