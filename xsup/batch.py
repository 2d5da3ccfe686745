"""What an explanation loss sees of one training batch, and the helpers most losses share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from xsup.spec import InputSpec

__all__ = ["AnnotatedCells", "ExplanationBatch", "annotated_frames"]


def annotated_frames(annotation: torch.Tensor, spec: InputSpec) -> torch.Tensor:
    """Which frames of a batch of annotations carry an annotation.

    A frame is one time step of a sequence, or the whole sample otherwise. It
    is annotated when at least one of its cells is finite and non-zero; an
    all-NaN or all-zero frame is missing (following STES, which treats empty
    frames as missing).

    Parameters
    ----------
    annotation : torch.Tensor
        ``(N, *spec.annotation_shape)``, NaN for missing cells.
    spec : InputSpec
        Shape of the data.

    Returns
    -------
    torch.Tensor
        Boolean, ``(N, T)`` for sequences, ``(N,)`` otherwise.
    """
    present = torch.nan_to_num(annotation, nan=0.0) != 0
    n_frame_axes = 2 if spec.is_sequence else 1
    return present.flatten(start_dim=n_frame_axes).any(dim=-1)


@dataclass(frozen=True)
class AnnotatedCells:
    """Saliency and annotation of the frames a loss compares, flattened per frame.

    With ``steps="target"`` every tensor has one row per sample: shape
    ``(N, m)`` for the cells, ``(N,)`` for :attr:`annotated`. With
    ``steps="all"`` a time axis follows the sample axis: ``(N, T, m)`` and
    ``(N, T)`` (``T = 1`` for inputs without time).

    Attributes
    ----------
    saliency : torch.Tensor
        The normalised saliency map's cells.
    annotation : torch.Tensor
        The annotation's cells, NaN where missing.
    codes : torch.Tensor
        The annotation with missing cells as 0 (not annotated), in the
        saliency's dtype.
    known : torch.Tensor
        Boolean: cells whose annotation is not missing (finite).
    annotated : torch.Tensor
        Boolean per frame: it has a known non-zero cell.
    """

    saliency: torch.Tensor
    annotation: torch.Tensor
    codes: torch.Tensor
    known: torch.Tensor
    annotated: torch.Tensor


class ExplanationBatch:
    """Everything an :class:`~xsup.base.ExplanationLoss` may use for one batch.

    The estimators build it through :class:`xsup.objective.ExplanationObjective`;
    tests and examples may build one directly.

    Parameters
    ----------
    model : torch.nn.Module or None
        The backbone being trained.
    X : torch.Tensor or None
        The inputs; they require grad when the loss asked for input gradients.
    y : torch.Tensor or None
        The training targets (encoded class indices, or regression targets).
    output : torch.Tensor or None
        ``model(X)``: logits for a classifier.
    target : torch.Tensor or None
        The output column explained for each sample, ``(N,)``.
    spec : InputSpec
        Shape of the data.
    annotation : torch.Tensor or None, default=None
        ``E`` after the interpolator filled missing frames; NaN where nothing
        is known. None when ``fit`` got no ``E``.
    create_graph : bool, default=True
        Whether gradients computed here must stay differentiable (training).
    saliency : torch.Tensor or None, default=None
        The training explainer's map, normalised per sample to [0, 1], shaped
        like ``E``; None when the loss does not declare ``requires_saliency``.
    sample_weight : torch.Tensor or None, default=None
        ``(N,)`` non-negative weights of the samples; :meth:`reduce` applies them.

    Examples
    --------
    >>> spec = InputSpec("tabular", (3,), 2)
    >>> batch = ExplanationBatch(model=None, X=None, y=None, output=None, target=None, spec=spec,
    ...                          annotation=torch.tensor([[1.0, 0.0, float("nan")], [0.0, 0.0, 0.0]]),
    ...                          saliency=torch.tensor([[0.5, 1.0, 0.0], [1.0, 1.0, 1.0]]))
    >>> cells = batch.cells()
    >>> cells.annotated, cells.known[0]
    (tensor([ True, False]), tensor([ True,  True, False]))
    >>> batch.reduce(cells.saliency.sum(dim=1), cells.annotated)  # only sample 0 counts
    tensor(1.5000)
    """

    def __init__(
        self,
        model: nn.Module | None,
        X: torch.Tensor | None,
        y: torch.Tensor | None,
        output: torch.Tensor | None,
        target: torch.Tensor | None,
        spec: InputSpec,
        annotation: torch.Tensor | None = None,
        create_graph: bool = True,
        saliency: torch.Tensor | None = None,
        sample_weight: torch.Tensor | None = None,
    ) -> None:
        self.model, self.X, self.y, self.output, self.target = model, X, y, output, target
        self.spec, self.annotation, self.create_graph = spec, annotation, create_graph
        self._saliency, self.sample_weight = saliency, sample_weight
        #: Whether a loss reduced its per-sample terms through :meth:`reduce` (so weights apply).
        self.reduced = False

    def __repr__(self) -> str:
        shape = None if self.X is None else tuple(self.X.shape)
        return f"ExplanationBatch(spec={self.spec!r}, X shape={shape})"

    @property
    def saliency(self) -> torch.Tensor:
        """The training explainer's map, per-sample normalised to [0, 1], shaped like E."""
        if self._saliency is None:
            raise RuntimeError(
                "No saliency was computed for this batch: the loss must declare "
                "requires_saliency = True to read batch.saliency."
            )
        return self._saliency

    @property
    def frames_annotated(self) -> torch.Tensor:
        """Boolean mask of annotated frames: ``(N, T)`` for sequences, ``(N,)`` otherwise."""
        return annotated_frames(self.require_annotation(), self.spec)

    def require_annotation(self) -> torch.Tensor:
        """:attr:`annotation`, or a ``ValueError`` saying that the loss needs E."""
        if self.annotation is None:
            raise ValueError(
                "This loss needs annotations E, but the batch has none (fit() got E=None)."
            )
        return self.annotation

    def target_step(self, tensor: torch.Tensor) -> torch.Tensor:
        """Select the target (last) time step of a sequence tensor; identity otherwise."""
        return tensor[:, -1] if self.spec.is_sequence else tensor

    def cells(self, steps: Literal["target", "all"] = "target") -> AnnotatedCells:
        """The saliency and annotation cells a loss compares, with their masks.

        Parameters
        ----------
        steps : {"target", "all"}, default="target"
            The target (last) frame of each sample, or every time step.

        Raises
        ------
        ValueError
            The batch has no annotations.
        RuntimeError
            The batch has no saliency map.
        """
        if steps not in ("target", "all"):
            raise ValueError(f"steps must be 'target' or 'all'; got {steps!r}.")
        annotation, saliency = self.require_annotation(), self.saliency
        if steps == "target":
            saliency = self.target_step(saliency).flatten(start_dim=1)
            annotation = self.target_step(annotation).flatten(start_dim=1)
        else:
            if not self.spec.is_sequence:  # a sample without time is one frame
                saliency, annotation = saliency.unsqueeze(1), annotation.unsqueeze(1)
            saliency, annotation = saliency.flatten(start_dim=2), annotation.flatten(start_dim=2)
        known = torch.isfinite(annotation)
        codes = torch.where(known, annotation, 0.0).to(saliency.dtype)
        return AnnotatedCells(saliency, annotation, codes, known, (codes != 0).any(dim=-1))

    def reduce(self, per_sample: torch.Tensor, rows: torch.Tensor | None = None) -> torch.Tensor:
        """The loss value: the mean of per-sample terms over ``rows``, weighted by ``sample_weight``.

        Without weights this is ``per_sample[rows].mean()``; with weights
        ``w``, ``sum(w * term) / sum(w)`` over ``rows``, so a sample of weight
        0 adds nothing. With no row (or no weight) left it is 0, still
        connected to the graph.

        Parameters
        ----------
        per_sample : torch.Tensor
            ``(N,)`` terms, one per sample.
        rows : torch.Tensor or None, default=None
            Boolean ``(N,)``: the samples the term applies to (e.g. those with
            an annotated target frame); None for all.
        """
        self.reduced = True
        if rows is None:
            rows = torch.ones(per_sample.shape, dtype=torch.bool, device=per_sample.device)
        selected = torch.where(rows, per_sample, torch.zeros_like(per_sample))
        if self.sample_weight is None:
            return per_sample[rows].mean() if bool(rows.any()) else selected.sum() * 0.0
        weight = self.sample_weight.to(per_sample.dtype) * rows
        total = weight.sum()
        if not bool(total > 0):
            return selected.sum() * 0.0
        return (weight * selected).sum() / total

    def input_gradient(self, score: torch.Tensor) -> torch.Tensor:
        """Gradient of a scalar ``score`` with respect to :attr:`X`.

        Differentiable (``create_graph``) during training; the forward graph is
        kept, so the prediction loss can still be back-propagated. Needs the
        loss to declare ``requires_input_gradient = True``.
        """
        if self.X is None or not self.X.requires_grad:
            raise RuntimeError(
                "The input does not require grad: declare requires_input_gradient = True on the loss."
            )
        (gradient,) = torch.autograd.grad(
            score, self.X, create_graph=self.create_graph, retain_graph=True
        )
        return gradient
