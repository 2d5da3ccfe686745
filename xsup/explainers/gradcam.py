"""Grad-CAM on a convolutional layer, differentiable for training."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from xsup.base import Explainer
from xsup.constraints import InstanceOf
from xsup.saliency import resize_maps, target_score
from xsup.spec import InputSpec

CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def find_layer(model: nn.Module, layer: str | None) -> nn.Module:
    """Resolve the Grad-CAM layer: a dotted name, the backbone's default, or the last convolution."""
    if layer is None:
        layer = getattr(model, "gradcam_layer", None)
    if layer is not None:
        try:
            return model.get_submodule(layer)
        except AttributeError:
            names = [name for name, _ in model.named_modules() if name]
            raise ValueError(
                f"explainer__layer={layer!r} is not a submodule of {type(model).__name__}; "
                f"expected one of: {', '.join(names[:30])}."
            ) from None
    convolutions = [module for module in model.modules() if isinstance(module, CONV_TYPES)]
    if not convolutions:
        raise ValueError(
            f"explainer='gradcam' needs a convolutional layer, but {type(model).__name__} has none; "
            "pass explainer__layer='<submodule name>' or use explainer='gradient'."
        )
    return convolutions[-1]


class GradCAM(Explainer):
    """Grad-CAM (Selvaraju et al., 2017) of the target output on one layer.

    ``cam = ReLU(sum_k w_k A_k)`` with ``w_k`` the spatial mean of
    ``d output[target] / d A_k``, upsampled to the annotation's size. All
    frames of a raster sequence are explained in one batched pass: the layer's
    output is read as ``(N * T, K, h, w)``; the layer must run exactly once per
    forward pass (a ``ValueError`` says so otherwise). Time series get a
    temporal map ``(N, T)`` repeated over features. Tabular data is declined
    with a ``ValueError``: a fully connected layer has no spatial axes to map
    back onto the features.

    Parameters
    ----------
    layer : str or None, default=None
        Dotted submodule name; None uses the backbone's ``gradcam_layer`` or
        else the last convolution.
    create_graph : bool, default=True
        In training, differentiate through the channel weights ``w_k`` too
        (second-order backpropagation, as STES describes). False holds the
        weights constant, the cheaper variant of the STES reference code; the
        map stays differentiable through the activations ``A``.
    """

    differentiable: ClassVar[bool] = True

    parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "layer": [None, InstanceOf(str, description="a dotted submodule name")],
        "create_graph": [InstanceOf(bool)],
    }

    def __init__(self, layer: str | None = None, create_graph: bool = True) -> None:
        self.layer = layer
        self.create_graph = create_graph

    def explain(
        self,
        model: nn.Module,
        X: torch.Tensor,
        target: torch.Tensor,
        spec: InputSpec,
        *,
        create_graph: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the model output and the Grad-CAM maps shaped like E."""
        if spec.kind == "tabular":
            raise ValueError(
                "explainer='gradcam' needs spatial or temporal axes; tabular data has none. "
                "Use explainer='gradient'."
            )
        layer = find_layer(model, self.layer)
        captured: list[torch.Tensor] = []
        handle = layer.register_forward_hook(lambda module, inputs, output: captured.append(output))
        with torch.enable_grad():
            try:
                output = model(X)
            finally:
                handle.remove()
            activations = self._single_activation(captured, layer)
            (gradients,) = torch.autograd.grad(
                target_score(output, target),
                activations,
                create_graph=create_graph and self.create_graph,
                retain_graph=create_graph,
            )
        axes = tuple(range(2, activations.dim()))
        weights = gradients.mean(dim=axes, keepdim=True)
        cam = torch.relu((weights * activations).sum(dim=1))
        return output, self._to_annotation_shape(cam, X.shape[0], spec)

    @staticmethod
    def _single_activation(captured: list, layer: nn.Module) -> torch.Tensor:
        """The layer's one output of the forward pass: all samples and frames in one batch."""
        if len(captured) != 1 or not isinstance(captured[0], torch.Tensor):
            what = f"ran {len(captured)} times" if len(captured) != 1 else "returned no tensor"
            raise ValueError(
                f"The Grad-CAM layer ({type(layer).__name__}) {what} in one forward pass; it must "
                "run once and return one tensor holding every sample (and, for raster sequences, "
                "every frame, as (N * T, K, h, w)). Choose another explainer__layer."
            )
        return captured[0]

    @staticmethod
    def _to_annotation_shape(cam: torch.Tensor, n_samples: int, spec: InputSpec) -> torch.Tensor:
        shape = spec.annotation_shape
        if spec.kind == "raster_sequences" and cam.shape[0] == n_samples * shape[0]:
            frames = resize_maps(cam, shape[1:])  # (N * T, H, W), sample-major
            return frames.reshape(n_samples, *shape)
        if spec.kind == "time_series":
            steps = resize_maps(cam, shape[:1])  # (N, T)
            return steps.unsqueeze(-1).expand(-1, *shape)
        return resize_maps(cam, shape)
