"""RRR: "right for the right reasons" input-gradient penalty (Ross et al., 2017)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from xsup.base import ExplanationLoss
from xsup.batch import ExplanationBatch
from xsup.constraints import Options
from xsup.explainers.gradient import CHANNEL_AXIS

__all__ = ["RRRLoss", "irrelevance_mask"]

REDUCTIONS = ("mean", "sum")


def irrelevance_mask(annotation: torch.Tensor) -> torch.Tensor:
    """Ross et al.'s ``A``: how much each cell should NOT matter, per sample.

    A sample with negative cells (``E < 0``) penalises exactly those, with
    weight ``-E``. A sample with positive cells only penalises every other
    known cell, with weight ``1 - E`` (so ``E = 1`` is free and ``E = 0``
    fully penalised). Missing (NaN) cells and samples without any annotation
    are never penalised.

    Parameters
    ----------
    annotation : torch.Tensor
        ``(N, ...)`` annotations in [-1, 1], NaN for missing cells.

    Returns
    -------
    torch.Tensor
        Weights in [0, 1], same shape.

    Examples
    --------
    >>> nan = float("nan")
    >>> irrelevance_mask(torch.tensor([[1.0, 0.0, -1.0], [1.0, 0.0, nan], [0.0, 0.0, nan]]))
    tensor([[0., 0., 1.],
            [0., 1., 0.],
            [0., 0., 0.]])
    """
    codes = torch.nan_to_num(annotation, nan=0.0)
    flat = codes.flatten(start_dim=1)
    shape = (-1,) + (1,) * (annotation.dim() - 1)
    has_negative = (flat < 0).any(dim=1).reshape(shape)
    has_positive = (flat > 0).any(dim=1).reshape(shape)
    outside_positive = torch.where(torch.isfinite(annotation) & has_positive, 1.0 - codes, 0.0)
    return torch.where(has_negative, codes.clamp(max=0.0).abs(), outside_positive.clamp(min=0.0))


class RRRLoss(ExplanationLoss):
    """Right for the right reasons (Ross et al., 2017): penalise input gradients.

    The gradient of the summed log-probabilities of all classes (of the
    summed outputs for a regressor) with respect to the input is squared and
    weighted by :func:`irrelevance_mask` ``A``: the cells annotated as not
    mattering (``E < 0``), or, in a sample annotated with positives only,
    every known cell outside them. For images and raster sequences ``A``
    (one weight per pixel) is broadcast over the channels of ``X``; tabular
    data and time series match ``X`` cell for cell. Every time step counts.
    Needs no saliency map: the explainer is not run.

    Parameters
    ----------
    reduction : {"mean", "sum"}, default="mean"
        Per sample, ``"sum"`` gives Ross et al.'s ``sum (A * grad)^2`` and
        ``"mean"`` divides it by the (weighted) number of penalised input
        elements, which keeps the term's scale independent of the input size.
        Either way the term is the mean over the samples with a penalised
        cell, so with ``"sum"`` and every sample annotated the estimator's
        objective is Ross et al.'s (summed over the batch) divided by the
        batch size, ``sigma1`` playing their ``lambda``.

    Examples
    --------
    >>> import torch
    >>> from xsup.batch import ExplanationBatch
    >>> from xsup.spec import InputSpec
    >>> model = torch.nn.Linear(3, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = model.weight.copy_(torch.tensor([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0]]))
    >>> X = torch.tensor([[1.0, 0.0, 0.0]], requires_grad=True)
    >>> batch = ExplanationBatch(
    ...     model=model, X=X, y=None, output=model(X), target=None,
    ...     spec=InputSpec("tabular", (3,), 2), annotation=torch.tensor([[1.0, 0.0, -1.0]]))
    >>> # only x2 is penalised; d(log p0 + log p1)/dx2 = (p1 - p0) * 2 with p0 = sigmoid(1)
    >>> RRRLoss()(batch)
    tensor(0.8542, grad_fn=<MeanBackward0>)
    """

    requires_annotation: ClassVar[bool] = True
    requires_saliency: ClassVar[bool] = False
    requires_input_gradient: ClassVar[bool] = True
    parameter_constraints: ClassVar[dict[str, list[Any]]] = {"reduction": [Options(*REDUCTIONS)]}

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    @classmethod
    def search_space(cls) -> dict[str, Any]:
        """Tune the penalty weight ``sigma1`` (Ross et al.'s lambda) on a log scale."""
        from optuna.distributions import FloatDistribution

        return {"sigma1": FloatDistribution(1e-2, 1e4, log=True)}

    def forward(self, batch: ExplanationBatch) -> torch.Tensor:
        """Return the RRR term of one batch."""
        weight = irrelevance_mask(batch.require_annotation()).to(batch.output.dtype)
        penalised = weight.flatten(start_dim=1).sum(dim=1) > 0
        if not bool(penalised.any()):  # no input gradient needed
            return batch.reduce(batch.output.sum(dim=1) * 0.0, penalised)
        if batch.spec.task == "classification":
            score = torch.log_softmax(batch.output, dim=1).sum()
        else:
            score = batch.output.sum()
        gradient = batch.input_gradient(score)
        if batch.spec.kind in CHANNEL_AXIS:
            weight = weight.unsqueeze(CHANNEL_AXIS[batch.spec.kind]).expand_as(gradient)
        per_sample = (weight * gradient**2).flatten(start_dim=1).sum(dim=1)
        if self.reduction == "mean":
            per_sample = per_sample / weight.flatten(start_dim=1).sum(dim=1).clamp(min=1e-12)
        return batch.reduce(per_sample, penalised)
