"""RRR: the irrelevance mask, the input-gradient penalty by hand, gradients, a decoy feature."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from xsup import ExplanationSupervisedClassifier, ExplanationSupervisedRegressor
from xsup.batch import ExplanationBatch
from xsup.losses import RRRLoss
from xsup.losses.rrr import irrelevance_mask
from xsup.spec import InputSpec
from xsup import plugins

NAN = float("nan")


def linear_model(weight):
    model = nn.Sequential(nn.Flatten(), nn.Linear(weight.shape[1], weight.shape[0], bias=False))
    with torch.no_grad():
        model[1].weight.copy_(weight)
    return model


def rrr_value(spec, model, X, annotation, reduction="mean"):
    X = torch.as_tensor(X, dtype=torch.float32).requires_grad_(True)
    loss = RRRLoss(reduction=reduction)
    loss.setup(spec)
    batch = ExplanationBatch(model=model, X=X, y=None, output=model(X), target=None, spec=spec,
                             annotation=torch.as_tensor(annotation, dtype=torch.float32))
    return loss(batch)


def test_irrelevance_mask_per_sample():
    annotation = torch.tensor([
        [1.0, 0.0, -1.0, -0.5],   # negatives given: exactly those, weight -E
        [1.0, 0.0, 0.25, NAN],    # positives only: every other known cell, weight 1 - E
        [0.0, 0.0, 0.0, 0.0],     # nothing annotated
        [NAN, NAN, NAN, NAN],     # missing
    ])
    expected = torch.tensor([
        [0.0, 0.0, 1.0, 0.5],
        [0.0, 1.0, 0.75, 0.0],
        [0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0],
    ])
    assert torch.equal(irrelevance_mask(annotation), expected)


# An image of 2 channels x 1 x 2 pixels, flattened as (c, h, w); logits z0 = w0 . x, z1 = 0.
IMAGE = InputSpec("images", (2, 1, 2), 2)
W0 = torch.tensor([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0]])
X_IMAGE = torch.tensor([[[[1.0, 0.0]], [[0.0, 0.0]]]])  # z0 = 1
# d(log p0 + log p1)/dx = (p1 - p0)(w0 - w1) with p1 - p0 = -tanh(1/2); pixel (0, 1) has 2 and 4
PIXEL_1 = math.tanh(0.5) ** 2 * (2.0**2 + 4.0**2)


@pytest.mark.parametrize(("annotation", "expected_sum"), [
    ([[[0.0, -1.0]]], PIXEL_1),           # the negative pixel, in both channels
    ([[[1.0, 0.0]]], PIXEL_1),            # positives only: the pixel outside them
    ([[[-0.5, 0.0]]], 0.5 * math.tanh(0.5) ** 2 * (1.0 + 9.0)),  # a soft negative
])
def test_image_penalty_by_hand_is_broadcast_over_channels(annotation, expected_sum):
    model = linear_model(W0)
    total = rrr_value(IMAGE, model, X_IMAGE, annotation, reduction="sum")
    mean = rrr_value(IMAGE, model, X_IMAGE, annotation, reduction="mean")
    penalised = 2 * irrelevance_mask(torch.tensor(annotation)).sum().item()  # 2 channels
    assert total.item() == pytest.approx(expected_sum, rel=1e-5)
    assert mean.item() == pytest.approx(expected_sum / penalised, rel=1e-5)


def test_raster_sequences_broadcast_over_the_channel_axis():
    spec = InputSpec("raster_sequences", (1, 2, 1, 2), 2)
    value = rrr_value(spec, linear_model(W0), X_IMAGE.unsqueeze(1), [[[[0.0, -1.0]]]], "sum")
    assert value.item() == pytest.approx(PIXEL_1, rel=1e-5)


def test_time_series_match_cell_for_cell_and_every_step_counts():
    spec = InputSpec("time_series", (2, 2), 2)
    # cells in (t, f) order: w0 = [1, 2, 3, 4]; x gives z0 = 1; cell (0, 1) and (1, 1) are negative
    value = rrr_value(spec, linear_model(W0), [[[1.0, 0.0], [0.0, 0.0]]],
                      [[[0.0, -1.0], [0.0, -1.0]]], "sum")
    assert value.item() == pytest.approx(math.tanh(0.5) ** 2 * (2.0**2 + 4.0**2), rel=1e-5)


def test_samples_without_penalised_cells_are_left_out_of_the_mean():
    spec = InputSpec("tabular", (4,), 2)
    X = torch.tensor([[1.0, 0.0, 0.0, 0.0]] * 3)
    annotation = [[0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [NAN, 1.0, 1.0, 1.0]]
    value = rrr_value(spec, linear_model(W0), X, annotation, "sum")
    assert value.item() == pytest.approx(math.tanh(0.5) ** 2 * 2.0**2, rel=1e-5)


def test_regression_penalises_the_gradient_of_the_summed_outputs():
    spec = InputSpec("tabular", (3,), 1, task="regression")
    model = linear_model(torch.tensor([[1.0, 2.0, 3.0]]))
    annotation = [[0.0, -1.0, -1.0]]
    assert rrr_value(spec, model, [[0.3, 0.1, 0.2]], annotation, "sum").item() == pytest.approx(13.0)
    assert rrr_value(spec, model, [[0.3, 0.1, 0.2]], annotation, "mean").item() == pytest.approx(6.5)


def test_all_missing_adds_nothing():
    spec = InputSpec("tabular", (4,), 2)
    value = rrr_value(spec, linear_model(W0), torch.ones(2, 4), torch.full((2, 4), NAN))
    assert value.item() == 0.0 and value.requires_grad


def test_missing_annotations_raise():
    spec = InputSpec("tabular", (4,), 2)
    X = torch.ones(1, 4, requires_grad=True)
    model = linear_model(W0)
    batch = ExplanationBatch(model=model, X=X, y=None, output=model(X), target=None, spec=spec)
    with pytest.raises(ValueError, match="needs annotations E"):
        RRRLoss()(batch)


def test_invalid_reduction_raises():
    with pytest.raises(ValueError, match="reduction"):
        plugins.resolve("losses", RRRLoss, {"reduction": "max"}, spec=InputSpec("tabular", (4,), 2))


@pytest.mark.parametrize(("kind", "shape"), [
    ("tabular", (4,)), ("time_series", (2, 2)), ("images", (2, 2, 2)), ("raster_sequences", (2, 1, 2, 2)),
])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gradcheck_float64(kind, shape, reduction):
    generator = torch.Generator().manual_seed(0)
    spec = InputSpec(kind, shape, 3)
    X = torch.randn(3, *shape, generator=generator, dtype=torch.float64)
    annotation = torch.randint(-1, 2, (3, *spec.annotation_shape), generator=generator).double()
    annotation.view(3, -1)[0, 0] = NAN
    annotation.view(3, -1)[2].clamp_(min=0.0)  # a sample annotated with positives only
    annotation.view(3, -1)[2, :2] = torch.tensor([1.0, 0.0])
    n_in = math.prod(shape)
    model = nn.Sequential(nn.Flatten(), nn.Linear(n_in, 5), nn.Softplus(), nn.Linear(5, 3)).double()
    names = [name for name, _ in model.named_parameters()]
    parameters = [p.detach().clone().requires_grad_(True) for p in model.parameters()]
    loss = RRRLoss(reduction=reduction)
    loss.setup(spec)

    def value(*params):
        inputs = X.clone().requires_grad_(True)
        output = torch.func.functional_call(model, dict(zip(names, params)), (inputs,))
        return loss(ExplanationBatch(model=model, X=inputs, y=None, output=output, target=None,
                                     spec=spec, annotation=annotation))

    assert torch.autograd.gradcheck(value, tuple(parameters))


SHAPES = {"tabular": (6,), "time_series": (4, 3), "images": (1, 8, 8), "raster_sequences": (3, 1, 8, 8)}


@pytest.mark.parametrize("kind", list(SHAPES))
def test_trains_through_the_estimator(kind):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, *SHAPES[kind])).astype(np.float32)
    y = np.arange(12) % 2
    spec = InputSpec(kind, SHAPES[kind], 2)
    E = rng.choice([-1.0, 0.0, 1.0], size=(12, *spec.annotation_shape)).astype(np.float32)
    net = ExplanationSupervisedClassifier(loss="rrr", max_epochs=2, batch_size=6,
                                          train_split=None, verbose=0, random_state=0).fit(X, y, E)
    terms = net.history[:, "train_explanation"]
    assert all(np.isfinite(terms)) and terms[0] > 0


def test_trains_a_regressor():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 4)).astype(np.float32)
    E = np.zeros((12, 4), dtype=np.float32)
    E[:, 3] = -1.0
    net = ExplanationSupervisedRegressor(loss="rrr", max_epochs=2, batch_size=6, train_split=None,
                                         verbose=0, random_state=0).fit(X, X[:, 0], E)
    assert np.isfinite(net.history[:, "train_explanation"]).all()


def decoy_tabular(n, seed):
    """Two weak true features and a strong label-coded decoy (feature 5), annotated E = -1."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    sign = np.where(y == 1, 1.0, -1.0)
    X = rng.normal(size=(n, 6))
    X[:, 0] += sign
    X[:, 1] += 0.5 * sign
    X[:, 5] = 3.0 * sign + 0.1 * rng.normal(size=n)
    E = np.zeros((n, 6), dtype=np.float32)
    E[:, 5] = -1.0
    return X.astype(np.float32), y, E


def decoy_gradient_share(net, X):
    """Share of |d sum_k log p_k / dX| that falls on the decoy feature."""
    inputs = torch.tensor(X, requires_grad=True)
    net.module_.eval()
    (gradient,) = torch.autograd.grad(torch.log_softmax(net.module_(inputs), 1).sum(), inputs)
    gradient = gradient.abs()
    return float(gradient[:, 5].sum() / gradient.sum())


def test_rrr_moves_gradient_mass_off_the_decoy_feature():
    X, y, E = decoy_tabular(120, seed=0)
    params = dict(max_epochs=5, lr=1e-2, train_split=None, verbose=0, random_state=0)
    baseline = ExplanationSupervisedClassifier(loss="none", **params).fit(X, y, E)
    supervised = ExplanationSupervisedClassifier(loss="rrr", **params).fit(X, y, E)
    share_baseline = decoy_gradient_share(baseline, X)
    share_supervised = decoy_gradient_share(supervised, X)
    assert share_baseline > 0.3
    assert share_supervised < 0.5 * share_baseline
    assert supervised.score(X, y) > 0.8


def test_fit_without_annotation_raises():
    X = np.zeros((4, 6), dtype=np.float32)
    with pytest.raises(ValueError, match="loss='rrr' needs annotations"):
        ExplanationSupervisedClassifier(loss="rrr", max_epochs=1, verbose=0).fit(X, [0, 1, 0, 1])
