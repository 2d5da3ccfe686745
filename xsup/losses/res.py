"""RES: robust explanation supervision (Gao et al., KDD 2022, eq. 8)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from xsup.base import ExplanationLoss
from xsup.batch import ExplanationBatch
from xsup.constraints import Interval, Options
from xsup.losses._imputation import AnnotationImputation, check_kernel
from xsup.losses._threshold import adaptive_threshold
from xsup.spec import InputSpec

__all__ = ["RESLoss"]

IMPUTATIONS = ("gaussian", "learnable", "none")
THRESHOLD_SCOPES = ("sample", "batch")
IMPUTATION_SCOPES = ("annotated", "all")


class RESLoss(ExplanationLoss):
    """RES (Gao et al., 2022): robust term with an adaptive threshold plus imputation.

    With ``M`` the normalised saliency of the target frame (the last time step
    of a sequence, the whole map otherwise), ``H = F - C`` the annotation
    (``F``: cells with ``E > 0``, ``C``: cells with ``E < 0``) and
    ``S = {j : H_j != 0}`` the annotated cells, each sample contributes (eq. 8)::

        max(0, mean_{j in S} |tanh(gamma (M_j - a)) - H_j| - alpha)
            + mean_{j in S} |M_j - h(F, C)_j|

    and the term is the mean over the samples whose target frame has an
    annotated cell. Soft annotations are weights: a cell enters both means
    with weight ``|E_j|`` and target ``sign(E_j)``. Missing (NaN) cells are
    never annotated. The threshold ``a`` maximises the number of satisfied
    constraints ``a <= M_j`` (``F``) and ``a >= M_j`` (``C``) and is found
    exactly by RES Algorithm 1 (sorting, O(m log m)), without gradient.

    Parameters
    ----------
    gamma : float, default=5.0
        Slope of the tanh surrogate of the indicator ``1(M >= a)``.
    alpha : float, default=0.0
        Slack of the robust term's hinge; the estimator passes its ``alpha``.
    imputation : {"gaussian", "learnable", "none"}, default="gaussian"
        ``h``: a fixed Gaussian blur of ``F`` (RES-G), a ``k x k`` convolution
        of the two masks ``F``, ``C`` trained jointly with the model (RES-L,
        started from the Gaussian), or no imputation term. The first two
        need images or raster sequences.
    kernel_size : int, default=3
        Odd size ``k`` of the imputation kernel, in cells of ``E``.
    kernel_sigma : float or None, default=None
        Width of the Gaussian; None uses OpenCV's rule for ``k`` (0.8 for 3).
    threshold_scope : {"sample", "batch"}, default="sample"
        One threshold per sample, or one for the whole batch (the pooled
        count of eq. 6, as RES's reference code does).
    imputation_scope : {"annotated", "all"}, default="annotated"
        Cells compared with ``h``: the annotated ones (selective penalisation,
        eq. 8) or every known cell of the target frame (the reference code).

    Examples
    --------
    >>> import torch
    >>> from xsup.batch import ExplanationBatch
    >>> from xsup.spec import InputSpec
    >>> spec = InputSpec("tabular", (4,), 2)
    >>> loss = RESLoss(imputation="none")
    >>> loss.setup(spec)
    >>> batch = ExplanationBatch(
    ...     model=None, X=None, y=None, output=None, target=None, spec=spec,
    ...     annotation=torch.tensor([[1.0, 1.0, -1.0, 0.0]]),
    ...     saliency=torch.tensor([[0.9, 0.8, 0.1, 0.5]]))
    >>> loss(batch)  # a = 0.1: errors 1 - tanh(4), 1 - tanh(3.5), 1 over 3 cells
    tensor(0.3342)
    """

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "gamma": [Interval("real", 0, None, closed="neither")],
        "alpha": [Interval("real", 0, None)],
        "imputation": [Options(*IMPUTATIONS)],
        "kernel_size": [Interval("int", 1, None)],
        "kernel_sigma": [None, Interval("real", 0, None, closed="neither")],
        "threshold_scope": [Options(*THRESHOLD_SCOPES)],
        "imputation_scope": [Options(*IMPUTATION_SCOPES)],
    }

    def __init__(
        self,
        gamma: float = 5.0,
        alpha: float = 0.0,
        imputation: str = "gaussian",
        kernel_size: int = 3,
        kernel_sigma: float | None = None,
        threshold_scope: str = "sample",
        imputation_scope: str = "annotated",
    ) -> None:
        super().__init__()
        self.gamma = gamma
        self.alpha = alpha
        self.imputation = imputation
        self.kernel_size = kernel_size
        self.kernel_sigma = kernel_sigma
        self.threshold_scope = threshold_scope
        self.imputation_scope = imputation_scope

    @classmethod
    def search_space(cls) -> dict[str, Any]:
        """Tune the tanh slope, the slack and the explanation weight on log scales."""
        from optuna.distributions import FloatDistribution

        return {
            "gamma": FloatDistribution(1.0, 20.0, log=True),
            "alpha": FloatDistribution(1e-3, 0.3, log=True),
            "sigma1": FloatDistribution(1e-2, 1e2, log=True),
        }

    def setup(self, spec: InputSpec) -> None:
        """Check that the kernel fits the data, and build the imputation convolution for 2-D maps."""
        sigma = check_kernel(self.kernel_size, self.kernel_sigma)
        self.imputer_ = None
        if self.imputation == "none":
            return
        if spec.kind not in ("images", "raster_sequences"):
            raise ValueError(
                f"loss='res' with imputation={self.imputation!r} convolves 2-D annotation maps, "
                f"so it needs images (N, C, H, W) or raster sequences (N, T, C, H, W); X is "
                f"{spec.kind.replace('_', ' ')} with samples of shape {spec.sample_shape}. "
                "Use imputation='none' for this input."
            )
        self.imputer_ = AnnotationImputation(
            self.kernel_size, sigma, learnable=self.imputation == "learnable"
        )

    def forward(self, batch: ExplanationBatch) -> torch.Tensor:
        """Return the RES term of one batch."""
        if not hasattr(self, "imputer_"):
            raise RuntimeError("RESLoss is not set up: call setup(spec) before using it.")
        cells = batch.cells()
        saliency, codes = cells.saliency, cells.codes
        positive, negative = codes > 0, codes < 0
        weight = codes.abs()
        if self.threshold_scope == "batch":
            pooled = adaptive_threshold(
                saliency.reshape(1, -1), positive.reshape(1, -1), negative.reshape(1, -1)
            )
            threshold = pooled.expand(len(saliency))
        else:
            threshold = adaptive_threshold(saliency, positive, negative)
        surrogate = torch.tanh(self.gamma * (saliency - threshold.unsqueeze(1)))
        robust = _weighted_mean((surrogate - torch.sign(codes)).abs(), weight)
        per_sample = torch.relu(robust - self.alpha)
        if self.imputer_ is not None:
            frame = batch.target_step(batch.annotation)
            target = self.imputer_(frame).flatten(start_dim=1).to(saliency.dtype)
            if self.imputation_scope == "all":
                weight = cells.known.to(saliency.dtype)
            per_sample = per_sample + _weighted_mean((saliency - target).abs(), weight)
        return batch.reduce(per_sample, cells.annotated)


def _weighted_mean(values: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Row-wise ``sum(weight * values) / sum(weight)``; 0 for a row without weight."""
    total = weight.sum(dim=1)
    return (weight * values).sum(dim=1) / torch.where(total > 0, total, torch.ones_like(total))
