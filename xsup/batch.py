"""What an explanation loss sees of one training batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from xsup.spec import InputSpec

__all__ = ["ExplanationBatch", "annotated_frames"]


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


@dataclass
class ExplanationBatch:
    """Everything an :class:`~xsup.base.ExplanationLoss` may use for one batch.

    Attributes
    ----------
    model : torch.nn.Module
        The backbone being trained.
    X : torch.Tensor
        The inputs; they require grad when the loss asked for input gradients.
    y : torch.Tensor
        The training targets (encoded class indices, or regression targets).
    output : torch.Tensor
        ``model(X)``: logits for a classifier.
    target : torch.Tensor
        The output column explained for each sample, ``(N,)``.
    spec : InputSpec
        Shape of the data.
    annotation : torch.Tensor or None
        ``E`` after the interpolator filled missing frames; NaN where nothing
        is known. None when ``fit`` got no ``E``.
    create_graph : bool
        Whether gradients computed here must stay differentiable (training).
    saliency_fn : callable or None
        Computes the normalised saliency on first access of :attr:`saliency`.
    """

    model: nn.Module
    X: torch.Tensor
    y: torch.Tensor
    output: torch.Tensor
    target: torch.Tensor
    spec: InputSpec
    annotation: torch.Tensor | None = None
    create_graph: bool = True
    saliency_fn: Callable[[], torch.Tensor] | None = field(default=None, repr=False)
    _saliency: torch.Tensor | None = field(default=None, repr=False)

    @property
    def saliency(self) -> torch.Tensor:
        """The training explainer's map, per-sample normalised to [0, 1], shaped like E."""
        if self._saliency is None:
            if self.saliency_fn is None:
                raise RuntimeError(
                    "This loss did not declare requires_saliency=True, so no saliency was computed."
                )
            self._saliency = self.saliency_fn()
        return self._saliency

    @property
    def frames_annotated(self) -> torch.Tensor:
        """Boolean mask of annotated frames: ``(N, T)`` for sequences, ``(N,)`` otherwise."""
        if self.annotation is None:
            raise ValueError("This loss needs annotations E, but fit() got E=None.")
        return annotated_frames(self.annotation, self.spec)

    def target_step(self, tensor: torch.Tensor) -> torch.Tensor:
        """Select the target (last) time step of a sequence tensor; identity otherwise."""
        return tensor[:, -1] if self.spec.is_sequence else tensor

    def input_gradient(self, score: torch.Tensor) -> torch.Tensor:
        """Gradient of a scalar ``score`` with respect to :attr:`X`.

        Differentiable (``create_graph``) during training; the forward graph is
        kept, so the prediction loss can still be back-propagated. Needs the
        loss to declare ``requires_input_gradient = True``.
        """
        if not self.X.requires_grad:
            raise RuntimeError(
                "The input does not require grad: declare requires_input_gradient = True on the loss."
            )
        (gradient,) = torch.autograd.grad(
            score, self.X, create_graph=self.create_graph, retain_graph=True
        )
        return gradient
