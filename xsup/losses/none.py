"""The baseline: no explanation term."""

from __future__ import annotations

from typing import ClassVar

import torch

from xsup.base import ExplanationLoss
from xsup.batch import ExplanationBatch


class NoExplanationLoss(ExplanationLoss):
    """Train on the prediction loss alone (the unsupervised baseline).

    Needs neither annotations nor saliency, so the explainer is never run and
    a step costs what a plain training step costs.
    """

    requires_annotation: ClassVar[bool] = False
    requires_saliency: ClassVar[bool] = False

    def forward(self, batch: ExplanationBatch) -> torch.Tensor:
        """Return a zero explanation term."""
        return batch.reduce(batch.output.new_zeros(len(batch.output)))
