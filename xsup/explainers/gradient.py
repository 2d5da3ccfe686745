"""Input-gradient saliency: |d f_c / d X|, reduced over channels."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from xsup.base import Explainer
from xsup.saliency import target_score
from xsup.spec import InputSpec

#: Axis of X holding image channels, per input kind (summed away).
CHANNEL_AXIS = {"images": 1, "raster_sequences": 2}


class InputGradient(Explainer):
    """Absolute gradient of the target output with respect to the input.

    Channels of images and raster sequences are summed, so the map has the
    annotation's shape; tabular data and time series keep every cell.
    Differentiable: with ``create_graph=True`` the map can be trained through
    (double backpropagation).

    Examples
    --------
    >>> import torch
    >>> from xsup.spec import InputSpec
    >>> model = torch.nn.Linear(3, 2, bias=False)
    >>> with torch.no_grad():
    ...     _ = model.weight.copy_(torch.tensor([[1.0, -2.0, 0.0], [0.0, 0.0, 5.0]]))
    >>> _, saliency = InputGradient().explain(
    ...     model, torch.ones(1, 3), torch.tensor([0]), InputSpec("tabular", (3,), 2))
    >>> saliency
    tensor([[1., 2., 0.]])
    """

    differentiable: ClassVar[bool] = True

    def explain(
        self,
        model: nn.Module,
        X: torch.Tensor,
        target: torch.Tensor,
        spec: InputSpec,
        *,
        create_graph: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the model output and ``|d output[target] / d X|`` shaped like E."""
        with torch.enable_grad():
            if not X.requires_grad:
                X = X.detach().requires_grad_(True)
            output = model(X)
            (gradient,) = torch.autograd.grad(
                target_score(output, target), X,
                create_graph=create_graph, retain_graph=create_graph,
            )
        saliency = gradient.abs()
        if spec.kind in CHANNEL_AXIS:
            saliency = saliency.sum(dim=CHANNEL_AXIS[spec.kind])
        return output, saliency
