"""STES: time-aware explanation supervision with an adaptive decay and a tolerance (Yu et al.)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from xsup.base import ExplanationLoss
from xsup.batch import ExplanationBatch
from xsup.constraints import Interval, Options
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
    ...     saliency=torch.tensor([[[0.5, 0.5], [1.0, 0.0]]]))
    >>> loss(batch)
    tensor(0.4000)
    """

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "alpha": [Interval("real", 0, None)],
        "decay": [Options(*DECAY_SHAPES, "none")],
        "distance": [Options(*DISTANCES)],
        "max_decay": [Interval("real", 0, None, closed="neither")],
        "hidden": [Interval("int", 1, None)],
    }

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

    def setup(self, spec: InputSpec) -> None:
        """Refuse tabular data and build the decay MLP ``h_d`` for T time steps."""
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
        cells = batch.cells(steps="all")  # an image is a sequence of one frame
        difference = torch.where(cells.known, cells.saliency - cells.codes.clamp(min=0.0), 0.0)
        difference = difference.abs() if self.distance == "l1" else difference.pow(2)
        per_step = difference.sum(dim=-1) / cells.known.sum(dim=-1).clamp(min=1)
        weighted = self.step_weights(cells.saliency) * per_step
        terms = torch.relu(weighted - self.alpha) * cells.annotated
        return batch.reduce(terms.sum(dim=1), cells.annotated.any(dim=1))
