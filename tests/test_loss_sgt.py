"""Saliency-guided training: masking, the KL term, gradients, training and its effect."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from xsup import ExplanationSupervisedClassifier
from xsup.batch import ExplanationBatch
from xsup.losses.sgt import SaliencyGuidedLoss, mask_low_saliency
from xsup.spec import InputSpec
from xsup import plugins


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def uniform_like(X: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """The random numbers ``mask_low_saliency`` draws from ``seeded(seed)``."""
    return torch.rand(X.shape, generator=seeded(seed), dtype=X.dtype)


# ----------------------------------------------------------------------------- masking


def test_tabular_masks_lowest_magnitude_features_within_each_features_batch_range():
    X = torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], [0.0, 10.0, -1.0, 2.0]])
    saliency = torch.tensor([[0.1, -5.0, 0.2, 3.0], [9.0, 0.0, 1.0, -2.0], [-1.0, 2.0, 3.0, -0.5]])
    masked = mask_low_saliency(X, saliency, 0.5, "tabular", generator=seeded())
    chosen = torch.tensor([[1, 0, 1, 0], [0, 1, 1, 0], [1, 0, 0, 1]], dtype=torch.bool)
    # feature ranges over the batch: [0, 5], [2, 10], [-1, 7], [2, 8]
    low = torch.tensor([0.0, 2.0, -1.0, 2.0])
    high = torch.tensor([5.0, 10.0, 7.0, 8.0])
    expected = torch.where(chosen, low + uniform_like(X) * (high - low), X)
    torch.testing.assert_close(masked, expected)
    assert bool((masked[chosen] != X[chosen]).all())
    assert bool(((masked >= low) & (masked <= high)).all())


def test_signed_ranking_masks_the_most_negative_gradients():
    X = torch.arange(8.0).reshape(2, 4)
    saliency = torch.tensor([[0.1, -5.0, 0.2, 3.0], [9.0, 0.0, 1.0, -2.0]])
    masked = mask_low_saliency(X, saliency, 0.5, "tabular", signed=True, generator=seeded())
    assert (masked != X).tolist() == [[True, True, False, False], [False, True, False, True]]


def test_time_series_fill_uses_each_samples_feature_range_over_time():
    X = torch.tensor([[[0.0, 10.0], [4.0, 20.0], [2.0, 30.0]],
                      [[-3.0, 1.0], [-1.0, 1.5], [-2.0, 2.0]]])  # (N=2, T=3, F=2)
    saliency = torch.tensor([[[1.0, 0.0], [2.0, 5.0], [0.5, 6.0]],
                             [[4.0, 3.0], [0.2, 0.1], [7.0, 8.0]]])
    masked = mask_low_saliency(X, saliency, 2 / 6, "time_series", generator=seeded())
    chosen = torch.tensor([[[0, 1], [0, 0], [1, 0]], [[0, 0], [1, 1], [0, 0]]], dtype=torch.bool)
    low = torch.tensor([[[0.0, 10.0]], [[-3.0, 1.0]]])
    high = torch.tensor([[[4.0, 30.0]], [[-1.0, 2.0]]])
    expected = torch.where(chosen, low + uniform_like(X) * (high - low), X)
    torch.testing.assert_close(masked, expected)


def test_images_mask_elements_alone_or_locations_across_channels():
    # one image, two channels of 1x2 pixels; channel 1 spans a much wider range
    X = torch.tensor([[[[0.0, 1.0]], [[100.0, 200.0]]]])
    saliency = torch.tensor([[[[0.1, 3.0]], [[5.0, 0.2]]]])
    per_element = mask_low_saliency(X, saliency, 0.5, "images", generator=seeded())
    assert (per_element != X).flatten().tolist() == [True, False, False, True]
    joint = mask_low_saliency(X, saliency, 0.5, "images", joint_channels=True, generator=seeded())
    # summed |saliency| per location: 5.1 and 3.2 -> the second location, both channels
    assert (joint != X).flatten().tolist() == [False, True, False, True]
    u = uniform_like(X)
    expected = torch.stack([u[0, 0, 0, 1], 100 + 100 * u[0, 1, 0, 1]])
    torch.testing.assert_close(joint[0, :, 0, 1], expected)


def test_raster_sequences_use_each_channels_range_over_all_frames():
    X = torch.randn(2, 3, 2, 4, 4, generator=seeded(1))  # (N, T, C, H, W)
    saliency = torch.randn(X.shape, generator=seeded(2))
    masked = mask_low_saliency(X, saliency, 0.25, "raster_sequences", generator=seeded())
    changed = masked != X
    assert changed.flatten(1).sum(dim=1).tolist() == [24, 24]  # 0.25 of 96 elements
    threshold = saliency.abs().flatten(1).sort(dim=1).values[:, 23].reshape(2, 1, 1, 1, 1)
    assert bool((saliency.abs()[changed].reshape(2, -1) <= threshold.reshape(2, 1)).all())
    low = X.amin(dim=(1, 3, 4), keepdim=True)
    high = X.amax(dim=(1, 3, 4), keepdim=True)
    expected = torch.where(changed, low + uniform_like(X) * (high - low), X)
    torch.testing.assert_close(masked, expected)
    joint = mask_low_saliency(X, saliency, 0.25, "raster_sequences", joint_channels=True)
    location_changed = joint != X
    assert bool((location_changed[:, :, 0] == location_changed[:, :, 1]).all())
    assert location_changed[:, :, 0].flatten(1).sum(dim=1).tolist() == [12, 12]


@pytest.mark.parametrize(("k", "n_masked"), [(0.0, 0), (0.7, 7), (0.29, 2), (1.0, 10)])
def test_k_is_the_fraction_of_features_rounded_down(k, n_masked):
    X = torch.arange(20.0).reshape(2, 10)
    masked = mask_low_saliency(X, torch.randn(2, 10, generator=seeded()), k, "tabular")
    assert (masked != X).sum(dim=1).tolist() == [n_masked, n_masked]


@pytest.mark.parametrize("k", [-0.1, 1.5, True, "half"])
def test_k_outside_zero_one_is_rejected(k):
    with pytest.raises(ValueError, match="k must be a fraction in"):
        mask_low_saliency(torch.zeros(2, 3), torch.zeros(2, 3), k, "tabular")
    with pytest.raises(ValueError, match="k must be a fraction in"):
        plugins.resolve("losses", SaliencyGuidedLoss, {"k": k}, spec=InputSpec("tabular", (3,), 2))


def test_saliency_of_another_shape_is_rejected():
    with pytest.raises(ValueError, match=r"saliency has shape \(2, 2\) but X has \(2, 3\)"):
        mask_low_saliency(torch.zeros(2, 3), torch.zeros(2, 2), 0.5, "tabular")


def test_regression_is_declined():
    with pytest.raises(ValueError, match="needs a classifier"):
        SaliencyGuidedLoss().setup(InputSpec("tabular", (3,), 1, task="regression"))


# ----------------------------------------------------------------------------- the KL term


def linear_batch(dtype=torch.float32) -> ExplanationBatch:
    """Two samples through z = W x with W's rows differing most on feature 2, least on feature 1."""
    model = nn.Linear(3, 2, bias=False).to(dtype)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 0.0, 2.0], [0.0, 0.5, -1.0]]))
    X = torch.tensor([[1.0, 2.0, 0.0], [0.0, -2.0, 1.0]], dtype=dtype, requires_grad=True)
    y = torch.tensor([0, 1])
    return ExplanationBatch(model=model, X=X, y=y, output=model(X), target=y,
                            spec=InputSpec("tabular", (3,), 2))


def test_kl_value_by_hand():
    # d log p_y / dx = +-(1 - p_y) (W_0 - W_1) = +-(1 - p_y) [1, -0.5, 3]: feature 1 is the
    # least salient of both samples; k = 1/3 masks it with a value in its batch range [-2, 2].
    batch = linear_batch()
    torch.manual_seed(0)
    value = SaliencyGuidedLoss(k=0.34)(batch)
    torch.manual_seed(0)
    fill = -2.0 + 4.0 * torch.rand(2, 3)[:, 1]
    # original logits: [1, 1] and [2, -2]; masked: [1, 0.5 f0] and [2, 0.5 f1 - 1]
    sharp = math.exp(2) / (math.exp(2) + math.exp(-2))
    p = [(0.5, 0.5), (sharp, 1.0 - sharp)]
    q_logits = [(1.0, 0.5 * float(fill[0])), (2.0, 0.5 * float(fill[1]) - 1.0)]
    expected = 0.0
    for (p0, p1), (a, b) in zip(p, q_logits):
        log_norm = math.log(math.exp(a) + math.exp(b))
        expected += p0 * (math.log(p0) - (a - log_norm)) + p1 * (math.log(p1) - (b - log_norm))
    assert value.item() == pytest.approx(expected / 2, rel=1e-5)
    assert value.item() > 0


def test_nothing_masked_gives_zero_and_kl_is_non_negative():
    batch = linear_batch()
    assert SaliencyGuidedLoss(k=0.0)(batch).item() == 0.0
    for k in (0.3, 0.6, 1.0):
        assert SaliencyGuidedLoss(k=k)(linear_batch()).item() >= 0.0


def test_target_distribution_is_trained_unless_detached():
    batch = linear_batch()
    (through_p,) = torch.autograd.grad(SaliencyGuidedLoss()(batch), batch.output, allow_unused=True)
    assert through_p is not None and bool(through_p.abs().sum() > 0)
    batch = linear_batch()
    (through_p,) = torch.autograd.grad(
        SaliencyGuidedLoss(detach_target=True)(batch), batch.output, allow_unused=True
    )
    assert through_p is None


class ModeRecorder(nn.Module):
    """Records the training flag and the input of every call."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 2)
        self.calls: list[tuple[bool, torch.Tensor]] = []

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        self.calls.append((self.training, X))
        return self.linear(X)


@pytest.mark.parametrize("training", [True, False])
def test_masked_input_is_detached_and_forwarded_in_the_same_mode(training):
    model = ModeRecorder().train(training)
    X = torch.randn(3, 4, requires_grad=True)
    y = torch.tensor([0, 1, 0])
    batch = ExplanationBatch(model=model, X=X, y=y, output=model(X), target=y,
                             spec=InputSpec("tabular", (4,), 2))
    SaliencyGuidedLoss()(batch)
    assert [mode for mode, _ in model.calls] == [training, training]
    masked = model.calls[1][1]
    assert not masked.requires_grad
    assert (masked != X).sum(dim=1).tolist() == [2, 2, 2]


def test_missing_input_gradient_is_reported():
    batch = linear_batch()
    batch.X = batch.X.detach()
    with pytest.raises(RuntimeError, match="needs input gradients"):
        SaliencyGuidedLoss()(batch)


# ----------------------------------------------------------------------------- gradcheck


class Bound(nn.Module):
    """Runs ``net`` with the given tensors in place of its parameters."""

    def __init__(self, net: nn.Module, names: list[str], tensors: tuple[torch.Tensor, ...]) -> None:
        super().__init__()
        self.net, self.values = net, dict(zip(names, tensors))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(self.net, self.values, (X,))


@pytest.mark.parametrize(
    ("kind", "shape", "net", "options"),
    [
        ("tabular", (4,),
         lambda: nn.Sequential(nn.Linear(4, 3), nn.Softplus(), nn.Linear(3, 3)), {}),
        ("images", (2, 2, 2),
         lambda: nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.Softplus(), nn.Flatten(),
                               nn.Linear(8, 3)),
         {"joint_channels": True}),
    ],
)
def test_gradcheck_with_respect_to_the_model_parameters(kind, shape, net, options):
    torch.manual_seed(0)
    net = net().double()
    names = [name for name, _ in net.named_parameters()]
    X0 = torch.randn(3, *shape, dtype=torch.float64)
    y = torch.tensor([0, 1, 2])
    loss = SaliencyGuidedLoss(k=0.5, **options)

    def term(*tensors: torch.Tensor) -> torch.Tensor:
        model = Bound(net, names, tensors)
        X = X0.clone().requires_grad_(True)
        torch.manual_seed(1)  # the same random fill on every call
        return loss(ExplanationBatch(model=model, X=X, y=y, output=model(X), target=y,
                                     spec=InputSpec(kind, shape, 3)))

    parameters = tuple(p.detach().clone().requires_grad_(True) for p in net.parameters())
    assert torch.autograd.gradcheck(term, parameters, atol=1e-6)


# ----------------------------------------------------------------------------- the estimator


@pytest.mark.parametrize(
    ("shape", "module_options"),
    [((6,), {"module__hidden": (8,)}), ((5, 3), {"module__channels": (4,)}),
     ((1, 6, 6), {"module__channels": (4,)}),
     ((3, 1, 6, 6), {"module__channels": (4,), "module__hidden": 4})],
    ids=["tabular", "time_series", "images", "raster_sequences"],
)
def test_trains_through_the_estimator_without_annotations(shape, module_options):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, *shape)).astype(np.float32)
    y = np.arange(12) % 2
    net = ExplanationSupervisedClassifier(
        loss="sgt", k=0.3, max_epochs=1, batch_size=6, verbose=0, random_state=0, **module_options
    ).fit(X, y)
    assert net.loss_.k == 0.3
    for key in ("train_explanation", "valid_explanation"):
        assert all(math.isfinite(v) and v >= 0 for v in net.history[:, key])
    assert net.predict(X).shape == (12,)


def test_search_space_tunes_k_and_sigma1():
    assert sorted(SaliencyGuidedLoss.search_space()) == ["k", "sigma1"]


def two_informative_features(n: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 10)).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def test_sgt_concentrates_input_gradients_on_the_informative_features():
    X, y = two_informative_features(128, seed=0)
    X_test, y_test = two_informative_features(400, seed=1)
    params = dict(max_epochs=10, lr=3e-3, batch_size=32, train_split=None, verbose=0,
                  random_state=0)
    shares = {}
    for loss in ("none", "sgt"):
        net = ExplanationSupervisedClassifier(loss=loss, **params).fit(X, y)
        maps = net.explain(X_test, method="gradient", target=y_test)
        shares[loss] = maps[:, :2].sum() / maps.sum()
        assert net.score(X_test, y_test) > 0.85
    # 2 of 10 features carry the label; measured over seeds 0-3: 0.57-0.64 of the gradient
    # mass on them without, 0.70-0.74 with saliency-guided training
    assert shares["sgt"] > shares["none"] + 0.05
