"""HAICS: binary cross-entropy between saliency and annotation on the annotated cells."""

from __future__ import annotations

from typing import Any

import torch

from xsup.base import ExplanationLoss
from xsup.batch import ExplanationBatch

__all__ = ["HaicsLoss"]

#: Saliency is clipped to [EPSILON, 1 - EPSILON] before the logarithms (largest cell loss 13.8).
EPSILON = 1e-6


class HaicsLoss(ExplanationLoss):
    """HAICS (Shen et al., 2021): BCE between saliency and ``{0, 1}`` annotation.

    At each sample's target frame (the last time step of a sequence, the
    whole map otherwise) every annotated cell ``j`` (``E_j != 0``, not NaN)
    adds the binary cross-entropy between the normalised saliency ``S_j`` and
    the target ``1`` if ``E_j > 0`` (should matter) or ``0`` if ``E_j < 0``
    (should not matter)::

        sum_j |E_j| * -[t_j log S_j + (1 - t_j) log(1 - S_j)] / sum_j |E_j|

    Soft annotations are weights: a cell counts ``|E_j|`` times. Unannotated
    (``0``) and missing (NaN) cells add nothing, so the BCE is averaged over
    the annotated cells only. The term is the mean over the samples whose
    target frame has an annotated cell; the others add nothing. Saliency is
    clipped to ``[1e-6, 1 - 1e-6]`` so that a cell at exactly 0 or 1 (the
    peak of a normalised map) has a finite loss and gradient.

    Examples
    --------
    >>> import torch
    >>> from xsup.batch import ExplanationBatch
    >>> from xsup.spec import InputSpec
    >>> batch = ExplanationBatch(
    ...     model=None, X=None, y=None, output=None, target=None,
    ...     spec=InputSpec("tabular", (4,), 2),
    ...     annotation=torch.tensor([[1.0, -1.0, 0.0, float("nan")]]),
    ...     saliency=torch.tensor([[0.5, 0.5, 0.9, 0.9]]))
    >>> HaicsLoss()(batch)  # log 2 on each of the two annotated cells
    tensor(0.6931)
    """

    @classmethod
    def search_space(cls) -> dict[str, Any]:
        """Tune the explanation weight ``sigma1`` on a log scale."""
        from optuna.distributions import FloatDistribution

        return {"sigma1": FloatDistribution(1e-2, 1e2, log=True)}

    def forward(self, batch: ExplanationBatch) -> torch.Tensor:
        """Return the HAICS term of one batch."""
        cells = batch.cells()
        weight = cells.codes.abs()
        total = weight.sum(dim=1)
        clipped = cells.saliency.clamp(EPSILON, 1.0 - EPSILON)
        cross_entropy = -torch.where(cells.codes > 0, torch.log(clipped), torch.log1p(-clipped))
        per_sample = (weight * cross_entropy).sum(dim=1) / torch.where(total > 0, total, 1.0)
        return batch.reduce(per_sample, cells.annotated)
