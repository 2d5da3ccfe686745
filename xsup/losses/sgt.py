"""Saliency-guided training: mask low-saliency features, keep the prediction."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from xsup.base import ExplanationLoss
from xsup.batch import ExplanationBatch
from xsup.constraints import InstanceOf, Interval
from xsup.spec import InputKind, InputSpec

__all__ = ["SaliencyGuidedLoss", "mask_low_saliency"]

#: Axes of X over which a channel's value range is taken, per input kind: a
#: feature's range over the batch (tabular), a feature's range over time within
#: a sample (time series), a channel's range over a sample's pixels (images) and
#: over all of a sample's frames (raster sequences).
RANGE_AXES: dict[str, tuple[int, ...]] = {
    "tabular": (0,),
    "time_series": (1,),
    "images": (2, 3),
    "raster_sequences": (1, 3, 4),
}

#: Axis of X holding image channels (summed when channels are masked jointly).
CHANNEL_AXIS = {"images": 1, "raster_sequences": 2}

#: Tolerance so that e.g. ``k = 0.7`` of 10 features masks 7, not 6.
_ROUNDING = 1e-9


def _check_fraction(k: Any) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, float)) or not 0 <= k <= 1:
        raise ValueError(f"k must be a fraction in [0, 1]; got {k!r}.")


def _lowest(scores: torch.Tensor, n: int) -> torch.Tensor:
    """Boolean mask of the ``n`` smallest of each row of ``scores``, ties in index order.

    The same cells as the first ``n`` of a stable ascending ``argsort`` (NaN
    after every number), found with one selection (``kthvalue``) instead of a
    full sort: the cells below the row's n-th smallest value, then, in index
    order, as many of the cells equal to it as are still wanted.

    Examples
    --------
    >>> scores = torch.tensor([[2.0, float("nan"), 1.0, 1.0, 0.0, 1.0]])
    >>> _lowest(scores, 3).int()  # 0.0, then the first two of the tied 1.0s
    tensor([[0, 0, 1, 1, 1, 0]], dtype=torch.int32)
    >>> stable = scores.argsort(dim=1, stable=True)
    >>> all(torch.equal(_lowest(scores, n)[0], torch.isin(torch.arange(6), stable[0, :n]))
    ...     for n in range(7))
    True
    """
    if n == 0:
        return torch.zeros_like(scores, dtype=torch.bool)
    kth = scores.kthvalue(n, dim=1, keepdim=True).values
    nan, kth_nan = torch.isnan(scores), torch.isnan(kth)
    below = (scores < kth) | (~nan & kth_nan)
    tied = (scores == kth) | (nan & kth_nan)
    wanted = n - below.sum(dim=1, keepdim=True)
    return below | (tied & (tied.cumsum(dim=1) <= wanted))


def mask_low_saliency(
    X: torch.Tensor,
    saliency: torch.Tensor,
    k: float,
    kind: InputKind,
    *,
    signed: bool = False,
    joint_channels: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Replace each sample's lowest-saliency features by random values (SGT's ``M_k``).

    Features are ranked per sample by ``|saliency|`` (or the signed saliency)
    and the lowest ``floor(k * n_features)`` are replaced by
    ``low + u * (high - low)``, with ``u = torch.rand(X.shape, generator=generator)``
    and ``[low, high]`` the range of the feature's channel: a feature's range
    over the batch (tabular), a feature's range over the sample's time steps
    (time series), a channel's range over the sample's pixels (images) and over
    all of the sample's frames (raster sequences). Ties keep index order.

    Parameters
    ----------
    X : torch.Tensor
        Inputs, ``(N, F)``, ``(N, T, F)``, ``(N, C, H, W)`` or ``(N, T, C, H, W)``.
    saliency : torch.Tensor
        Same shape as ``X``, e.g. the input gradient.
    k : float
        Fraction of features to replace, in [0, 1].
    kind : {"tabular", "time_series", "images", "raster_sequences"}
        Input kind of ``X``.
    signed : bool, default=False
        Rank by the signed saliency (the most negative are replaced first).
    joint_channels : bool, default=False
        For images and raster sequences, rank pixel locations by the saliency
        summed over channels and replace all channels of a location together.
        Tabular data and time series have no channel axis: no effect there.
    generator : torch.Generator or None, default=None
        Source of the random values; None uses torch's global generator.

    Returns
    -------
    torch.Tensor
        The masked copy of ``X``, detached from the graph.

    Examples
    --------
    >>> X = torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])
    >>> saliency = torch.tensor([[0.1, -5.0, 0.2, 3.0], [9.0, 0.0, 1.0, 2.0]])
    >>> masked = mask_low_saliency(X, saliency, 0.5, "tabular")
    >>> (masked != X).int()  # the two features of smallest |saliency| per row
    tensor([[1, 0, 1, 0],
            [0, 1, 1, 0]], dtype=torch.int32)
    """
    _check_fraction(k)
    if kind not in RANGE_AXES:
        raise ValueError(f"kind must be one of {sorted(RANGE_AXES)}; got {kind!r}.")
    if saliency.shape != X.shape:
        raise ValueError(
            f"saliency has shape {tuple(saliency.shape)} but X has {tuple(X.shape)}: "
            "one saliency value per input element."
        )
    X, score = X.detach(), saliency.detach()
    if not signed:
        score = score.abs()
    channel_axis = CHANNEL_AXIS.get(kind) if joint_channels else None
    if channel_axis is not None:
        score = score.sum(dim=channel_axis)
    flat = score.flatten(start_dim=1)
    n_features = flat.shape[1]
    n_masked = min(n_features, int(k * n_features + _ROUNDING))
    chosen = _lowest(flat, n_masked).reshape(score.shape)
    if channel_axis is not None:
        chosen = chosen.unsqueeze(channel_axis).expand_as(X)
    low = X.amin(dim=RANGE_AXES[kind], keepdim=True)
    high = X.amax(dim=RANGE_AXES[kind], keepdim=True)
    uniform = torch.rand(X.shape, generator=generator, dtype=X.dtype, device=X.device)
    return torch.where(chosen, low + uniform * (high - low), X)


class SaliencyGuidedLoss(ExplanationLoss):
    """Saliency-guided training (Ismail et al., 2021, Algorithm 1): ``KL(p(X) || p(X~))``.

    For each sample, the gradient of the log-probability of the target (true)
    class with respect to the input is ranked; the lowest ``k`` fraction of the
    features is replaced by random values within their channel's range (see
    :func:`mask_low_saliency`) to give ``X~``, which is detached and passed
    through the model again, in the same training mode. The term is the
    Kullback-Leibler divergence from the masked prediction to the original one,
    averaged over the batch; the estimator adds ``sigma1`` (the paper's lambda)
    times it to the cross-entropy. Needs no annotations.

    Parameters
    ----------
    k : float, default=0.5
        Fraction of each sample's features to mask (the estimator passes its ``k``).
    signed : bool, default=False
        Rank features by the signed gradient instead of its magnitude, as the
        reference code does without its ``--abs`` flag.
    joint_channels : bool, default=False
        Mask all channels of an image location together, ranked by the gradient
        magnitude summed over channels; default masks every input element on
        its own. No effect on tabular data and time series.
    detach_target : bool, default=False
        Treat ``p(X)`` as a constant in the KL term; by default both
        distributions are trained, as in the reference code.

    Examples
    --------
    >>> import torch
    >>> from xsup.batch import ExplanationBatch
    >>> from xsup.spec import InputSpec
    >>> model = torch.nn.Linear(4, 2)
    >>> X = torch.randn(3, 4, requires_grad=True)
    >>> y = torch.tensor([0, 1, 1])
    >>> batch = ExplanationBatch(model=model, X=X, y=y, output=model(X), target=y,
    ...                          spec=InputSpec("tabular", (4,), 2))
    >>> SaliencyGuidedLoss(k=0.0)(batch)  # nothing masked: same prediction
    tensor(0., grad_fn=<MeanBackward0>)
    """

    requires_annotation: ClassVar[bool] = False
    requires_saliency: ClassVar[bool] = False
    requires_input_gradient: ClassVar[bool] = True
    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "k": [Interval("real", 0, 1, description="a fraction in [0, 1]")],
        "signed": [InstanceOf(bool)],
        "joint_channels": [InstanceOf(bool)],
        "detach_target": [InstanceOf(bool)],
    }

    def __init__(
        self,
        k: float = 0.5,
        signed: bool = False,
        joint_channels: bool = False,
        detach_target: bool = False,
    ) -> None:
        super().__init__()
        self.k = k
        self.signed = signed
        self.joint_channels = joint_channels
        self.detach_target = detach_target

    @classmethod
    def search_space(cls) -> dict[str, Any]:
        """Tune the masked fraction ``k`` and the KL weight ``sigma1`` (log scale)."""
        from optuna.distributions import FloatDistribution

        return {
            "k": FloatDistribution(0.1, 0.9),
            "sigma1": FloatDistribution(1e-1, 1e1, log=True),
        }

    def setup(self, spec: InputSpec) -> None:
        """Check that the model is a classifier: the term compares class distributions."""
        if spec.task != "classification":
            raise ValueError(
                "loss='sgt' compares the predicted class distributions of the original and "
                f"masked inputs, so it needs a classifier; got task={spec.task!r}."
            )

    def forward(self, batch: ExplanationBatch) -> torch.Tensor:
        """Return ``mean_n KL(p(X_n) || p(X~_n))`` for one batch."""
        if not batch.X.requires_grad:
            raise RuntimeError(
                "The input does not require grad: SaliencyGuidedLoss needs input gradients."
            )
        log_p = torch.log_softmax(batch.output, dim=1)
        score = log_p.gather(1, batch.target.long().reshape(-1, 1)).sum()
        # The ranking is discrete: a first-order gradient suffices; keep the graph for the step.
        (gradient,) = torch.autograd.grad(score, batch.X, retain_graph=True)
        masked = mask_low_saliency(
            batch.X, gradient, self.k, batch.spec.kind,
            signed=self.signed, joint_channels=self.joint_channels,
        )
        log_q = torch.log_softmax(batch.model(masked), dim=1)
        if self.detach_target:
            log_p = log_p.detach()
        return batch.reduce((log_p.exp() * (log_p - log_q)).sum(dim=1))
