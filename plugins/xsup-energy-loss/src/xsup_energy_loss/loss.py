"""The energy-based pointing game, turned into an explanation loss."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from xsup.base import ExplanationLoss
from xsup.batch import ExplanationBatch
from xsup.constraints import Interval

__all__ = ["EnergyPointingLoss"]


class EnergyPointingLoss(ExplanationLoss):
    """One minus the share of saliency mass inside the positive annotation.

    The energy-based pointing game (Wang et al., Score-CAM, 2020) scores a
    saliency map by the fraction of its total mass that falls inside the
    annotated region. As a loss, for each sample it takes the target frame (the
    last time step of a sequence, the whole map otherwise) and computes::

        1 - sum(S * [E > 0]) / (sum(S) + eps)

    where the sums run over the frame's known cells (NaN cells of E are left
    out of both sums). The term is the mean over the samples whose target frame
    has at least one positive cell; samples without one (all missing, all zero,
    or only negative marks) add nothing, and a batch without any gives 0.

    Unlike GRADIA's L1 distance, the loss does not ask the saliency to be high
    everywhere inside the annotation, only that whatever mass there is lies
    inside it: it suits coarse annotations (boxes) that over-cover the evidence.
    It needs annotations and a differentiable saliency map.

    Parameters
    ----------
    eps : float, default=1e-6
        Added to the frame's total mass, so that an all-zero map gives a loss
        of 1 with finite gradients.

    Examples
    --------
    >>> import torch
    >>> from xsup.batch import ExplanationBatch
    >>> from xsup.spec import InputSpec
    >>> batch = ExplanationBatch(
    ...     model=None, X=None, y=None, output=None, target=None,
    ...     spec=InputSpec("tabular", (4,), 2),
    ...     annotation=torch.tensor([[1.0, 1.0, 0.0, float("nan")]]),
    ...     saliency=torch.tensor([[0.5, 0.25, 0.25, 1.0]]))
    >>> EnergyPointingLoss()(batch)  # 1 - 0.75 / 1.0 over the 3 known cells
    tensor(0.2500)
    """

    requires_annotation: ClassVar[bool] = True
    requires_saliency: ClassVar[bool] = True
    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "eps": [Interval("real", 0, None, closed="neither")],
    }

    def __init__(self, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps

    @classmethod
    def search_space(cls) -> dict[str, Any]:
        """Tune the explanation weight ``sigma1`` on a log scale."""
        from optuna.distributions import FloatDistribution

        return {"sigma1": FloatDistribution(1e-2, 1e2, log=True)}

    def forward(self, batch: ExplanationBatch) -> torch.Tensor:
        """Return the mean share of saliency mass outside the positive annotation."""
        cells = batch.cells()  # the target frame of each sample
        inside = cells.codes > 0
        total = (cells.saliency * cells.known).sum(dim=1)
        share = (cells.saliency * inside).sum(dim=1) / (total + self.eps)
        return batch.reduce(1.0 - share, inside.any(dim=1))
