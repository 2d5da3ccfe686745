"""GRADIA: L1 distance between saliency and the positive annotation at the target step."""

from __future__ import annotations

from typing import Any

import torch

from xsup.base import ExplanationLoss
from xsup.batch import ExplanationBatch


class GradiaLoss(ExplanationLoss):
    """GRADIA (Gao et al., 2022): mean ``|S - max(E, 0)|`` at the target step.

    For each sample whose target frame (the last time step of a sequence, the
    whole map otherwise) is annotated, the mean absolute difference between the
    normalised saliency and the positive part of the annotation is taken over
    the frame's known cells (NaN cells are skipped); the term is the mean over
    those samples. Samples without an annotated target frame add nothing.

    Examples
    --------
    >>> import torch
    >>> from xsup.batch import ExplanationBatch
    >>> from xsup.spec import InputSpec
    >>> batch = ExplanationBatch(
    ...     model=None, X=None, y=None, output=None, target=None,
    ...     spec=InputSpec("tabular", (4,), 2),
    ...     annotation=torch.tensor([[1.0, 0.0, -1.0, float("nan")]]),
    ...     saliency=torch.tensor([[0.5, 0.5, 1.0, 1.0]]))
    >>> GradiaLoss()(batch)  # (0.5 + 0.5 + 1.0) / 3 known cells
    tensor(0.6667)
    """

    @classmethod
    def search_space(cls) -> dict[str, Any]:
        """Tune the explanation weight ``sigma1`` on a log scale."""
        from optuna.distributions import FloatDistribution

        return {"sigma1": FloatDistribution(1e-2, 1e2, log=True)}

    def forward(self, batch: ExplanationBatch) -> torch.Tensor:
        """Return the GRADIA term of one batch."""
        cells = batch.cells()
        wanted = cells.codes.clamp(min=0.0)
        error = ((cells.saliency - wanted).abs() * cells.known).sum(dim=1)
        return batch.reduce(error / cells.known.sum(dim=1).clamp(min=1), cells.annotated)
