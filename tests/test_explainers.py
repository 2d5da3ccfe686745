"""Grad-CAM and input gradients: agreement with Captum, gradient flow, batching, hooks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from xsup.explainers import GradCAM, InputGradient
from xsup.modules import CNN, CNNGRU, MLP, TCN
from xsup.spec import InputSpec

captum_attr = pytest.importorskip("captum.attr")

#: A small built-in backbone and its input shape, per input kind.
BACKBONES = {
    "tabular": ((6,), lambda shape: MLP(shape, 3, hidden=(8,))),
    "time_series": ((7, 3), lambda shape: TCN(shape, 3, channels=(4, 5))),
    "images": ((2, 8, 8), lambda shape: CNN(shape, 3, channels=(4, 6))),
    "raster_sequences": ((3, 2, 8, 8), lambda shape: CNNGRU(shape, 3, channels=(4, 6), hidden=5)),
}
TARGET = torch.tensor([0, 1, 2, 1])


def setup_kind(kind: str) -> tuple[nn.Module, torch.Tensor, InputSpec]:
    """A seeded float64 backbone in evaluation mode, four inputs and their spec."""
    torch.manual_seed(0)
    shape, build = BACKBONES[kind]
    X = torch.randn(4, *shape, dtype=torch.float64)
    return build(shape).double().eval(), X, InputSpec(kind, shape, 3)


def hooks_left(model: nn.Module) -> int:
    return sum(len(getattr(module, name)) for module in model.modules()
               for name in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks"))


# ----------------------------------------------------------------------------- Grad-CAM vs Captum


def captum_grad_cam(model: nn.Module, layer: nn.Module, X: torch.Tensor, size: tuple[int, ...]):
    """Captum's LayerGradCam (ReLU, summed over channels), upsampled (bi)linearly to ``size``."""
    maps = captum_attr.LayerGradCam(model, layer).attribute(
        X, target=TARGET, relu_attributions=True
    )
    mode = {1: "linear", 2: "bilinear"}[len(size)]
    return captum_attr.LayerAttribution.interpolate(maps, size, interpolate_mode=mode)[:, 0]


def test_grad_cam_matches_captum_on_images():
    model, X, spec = setup_kind("images")
    _, ours = GradCAM().explain(model, X, TARGET, spec)
    expected = captum_grad_cam(model, model.encoder, X, (8, 8))  # encoder output is 4x4
    torch.testing.assert_close(ours, expected)
    assert bool((ours > 0).any())


def test_grad_cam_matches_captum_at_full_resolution_on_a_named_layer():
    model, X, spec = setup_kind("images")
    _, ours = GradCAM(layer="encoder.0").explain(model, X, TARGET, spec)
    maps = captum_attr.LayerGradCam(model, model.encoder[0]).attribute(
        X, target=TARGET, relu_attributions=True
    )
    torch.testing.assert_close(ours, maps[:, 0])  # 8x8 already: no resizing


def test_grad_cam_matches_captum_on_raster_sequences_frame_by_frame():
    model, X, spec = setup_kind("raster_sequences")
    _, ours = GradCAM().explain(model, X, TARGET, spec)
    # Captum on the encoder sees the (N * T, K, 4, 4) frames, sample-major
    frames = captum_grad_cam(model, model.encoder, X, (8, 8))
    assert frames.shape == (12, 8, 8)
    torch.testing.assert_close(ours, frames.reshape(4, 3, 8, 8))
    assert bool((ours.flatten(2).amax(dim=2) > 0).any(dim=0).all())  # frames carry signal


def test_grad_cam_on_time_series_is_captums_temporal_map_repeated_over_features():
    model, X, spec = setup_kind("time_series")
    _, ours = GradCAM().explain(model, X, TARGET, spec)
    steps = captum_grad_cam(model, model.blocks, X, (7,))
    torch.testing.assert_close(ours, steps.unsqueeze(-1).expand(-1, 7, 3))


def test_grad_cam_explains_all_frames_in_one_pass_of_the_layer():
    model, X, spec = setup_kind("raster_sequences")
    shapes = []
    handle = model.encoder.register_forward_hook(lambda m, i, output: shapes.append(output.shape))
    try:
        GradCAM().explain(model, X, TARGET, spec, create_graph=True)
    finally:
        handle.remove()
    assert shapes == [(4 * 3, 6, 4, 4)]


class FramewiseEncoder(nn.Module):
    """Runs its convolution once per frame: not batched, so Grad-CAM refuses it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3, padding=1)
        self.head = nn.Linear(3, 3)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        frames = [self.conv(X[:, t]).mean(dim=(-2, -1)) for t in range(X.shape[1])]
        return self.head(torch.stack(frames, dim=1).mean(dim=1))


def test_grad_cam_refuses_a_layer_run_once_per_frame():
    _, X, spec = setup_kind("raster_sequences")
    model = FramewiseEncoder().double()
    with pytest.raises(ValueError, match="ran 3 times in one forward pass"):
        GradCAM(layer="conv").explain(model, X, TARGET, spec)
    assert hooks_left(model) == 0


def test_grad_cam_declines_tabular_data_with_a_clear_error():
    model, X, spec = setup_kind("tabular")
    with pytest.raises(ValueError, match="tabular data has none.*explainer='gradient'"):
        GradCAM().explain(model, X, TARGET, spec)


def test_grad_cam_needs_a_layer_that_exists():
    model, X, spec = setup_kind("images")
    with pytest.raises(ValueError, match="explainer__layer='nope' is not a submodule"):
        GradCAM(layer="nope").explain(model, X, TARGET, spec)


class FailsAfterEncoder(CNN):
    def forward(self, X: torch.Tensor) -> torch.Tensor:
        self.encoder(X)
        raise RuntimeError("forward failed on purpose")


def test_grad_cam_removes_its_hook_when_the_model_raises():
    torch.manual_seed(0)
    model = FailsAfterEncoder((2, 8, 8), 3, channels=(4,))
    with pytest.raises(RuntimeError, match="on purpose"):
        GradCAM().explain(model, torch.randn(2, 2, 8, 8), TARGET[:2],
                          InputSpec("images", (2, 8, 8), 3))
    assert hooks_left(model) == 0


def test_explainers_leave_no_hooks_and_work_without_grad_mode():
    for kind in ("time_series", "images", "raster_sequences"):
        model, X, spec = setup_kind(kind)
        for explainer in (GradCAM(), InputGradient()):
            with torch.no_grad():
                _, saliency = explainer.explain(model, X, TARGET, spec)
            assert saliency.shape == (4, *spec.annotation_shape)
            assert hooks_left(model) == 0


# ----------------------------------------------------------------------------- gradient flow


def parameter_gradients(value: torch.Tensor, module: nn.Module) -> list[torch.Tensor | None]:
    parameters = list(module.parameters())
    return list(torch.autograd.grad(value, parameters, allow_unused=True, retain_graph=True))


def all_nonzero(gradients: list[torch.Tensor | None]) -> bool:
    return all(g is not None and bool(torch.isfinite(g).all()) and bool(g.abs().sum() > 0)
               for g in gradients)


@pytest.mark.parametrize("kind", ["images", "raster_sequences"])
def test_grad_cam_second_order_trains_the_layers_before_and_after(kind):
    model, X, spec = setup_kind(kind)
    _, saliency = GradCAM().explain(model, X, TARGET, spec, create_graph=True)
    generator = torch.Generator().manual_seed(0)
    weights = torch.rand(saliency.shape, generator=generator, dtype=saliency.dtype)
    value = (saliency * weights).sum()
    assert all_nonzero(parameter_gradients(value, model.encoder))
    # after the layer: the channel weights depend on the head's weight (not its bias, which
    # does not change d output / d A) and on every GRU parameter
    head_weight, head_bias = torch.autograd.grad(
        value, [model.head.weight, model.head.bias], retain_graph=True, allow_unused=True
    )
    assert bool(head_weight.abs().sum() > 0)
    assert head_bias is None
    if kind == "raster_sequences":
        assert all_nonzero(parameter_gradients(value, model.gru))


@pytest.mark.parametrize("kind", ["images", "raster_sequences"])
def test_grad_cam_without_second_order_trains_only_the_layers_before(kind):
    model, X, spec = setup_kind(kind)
    _, saliency = GradCAM(create_graph=False).explain(model, X, TARGET, spec, create_graph=True)
    value = saliency.sum()
    assert all_nonzero(parameter_gradients(value, model.encoder))
    after = [p for name, p in model.named_parameters() if not name.startswith("encoder.")]
    assert after
    assert all(g is None for g in torch.autograd.grad(value, after, allow_unused=True))


def test_grad_cam_post_hoc_keeps_no_graph_to_the_channel_weights():
    model, X, spec = setup_kind("images")
    _, saliency = GradCAM().explain(model, X, TARGET, spec)  # create_graph=False
    (head_weight,) = torch.autograd.grad(saliency.sum(), model.head.weight, allow_unused=True)
    assert head_weight is None


# ----------------------------------------------------------------------------- input gradients


@pytest.mark.parametrize("kind", list(BACKBONES))
def test_input_gradient_is_captums_absolute_saliency_summed_over_channels(kind):
    model, X, spec = setup_kind(kind)
    _, ours = InputGradient().explain(model, X, TARGET, spec)
    expected = captum_attr.Saliency(model).attribute(X, target=TARGET, abs=True)
    if kind in ("images", "raster_sequences"):
        expected = expected.sum(dim=-3)  # the channel axis
    assert ours.shape == (4, *spec.annotation_shape)
    torch.testing.assert_close(ours, expected)


def test_input_gradient_sums_channels_by_hand():
    # f_0 = 2 x[c0] - 3 x[c1] at every pixel: |grad| summed over channels is 5
    model = nn.Sequential(nn.Conv2d(2, 1, 1, bias=False), nn.Flatten(), nn.Linear(4, 2, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([2.0, -3.0]).reshape(1, 2, 1, 1))
        model[2].weight.copy_(torch.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]))
    _, saliency = InputGradient().explain(
        model, torch.randn(1, 2, 2, 2), torch.tensor([0]), InputSpec("images", (2, 2, 2), 2)
    )
    torch.testing.assert_close(saliency, torch.full((1, 2, 2), 5.0))


@pytest.mark.parametrize("kind", list(BACKBONES))
def test_input_gradient_trains_every_backbone_by_double_backpropagation(kind):
    model, X, spec = setup_kind(kind)
    _, saliency = InputGradient().explain(model, X, TARGET, spec, create_graph=True)
    gradients = [g for g in parameter_gradients(saliency.sum(), model) if g is not None]
    assert gradients and any(bool(g.abs().sum() > 0) for g in gradients)
