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
    ...     _saliency=torch.tensor([[0.5, 0.5, 1.0, 1.0]]))
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
        saliency = batch.target_step(batch.saliency).flatten(start_dim=1)
        annotation = batch.target_step(batch.annotation).flatten(start_dim=1)
        known = torch.isfinite(annotation)
        annotated = (known & (annotation != 0)).any(dim=1)
        if not bool(annotated.any()):
            return saliency.sum() * 0.0
        wanted = torch.where(known, annotation.clamp(min=0.0), torch.zeros_like(annotation))
        error = ((saliency - wanted).abs() * known).sum(dim=1) / known.sum(dim=1).clamp(min=1)
        return error[annotated].mean()
