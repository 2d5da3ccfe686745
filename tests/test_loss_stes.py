"""The STES loss: hinge, time decay, missing frames, per-sample decay, gradients, behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.func import functional_call

from xsup import ExplanationSupervisedClassifier
from xsup.batch import ExplanationBatch
from xsup.datasets import make_spatiotemporal_events
from xsup.interpolators import LinearInterpolation
from xsup.losses import STESLoss
from xsup.losses._decay import AdaptiveDecay, decay_weights
from xsup.metrics import explanation_iou
from xsup.spec import InputSpec
from xsup import plugins

NAN = float("nan")


def sequence_spec(n_steps: int = 3, cells: int = 2) -> InputSpec:
    """Time series with ``cells`` features: frames of ``cells`` cells."""
    return InputSpec("time_series", (n_steps, cells), 2)


def make_batch(saliency, annotation, spec: InputSpec) -> ExplanationBatch:
    return ExplanationBatch(
        model=None, X=None, y=None, output=None, target=None, spec=spec,
        annotation=torch.as_tensor(annotation, dtype=torch.float32),
        saliency=torch.as_tensor(saliency, dtype=torch.float32),
    )


def set_up(spec: InputSpec, **params) -> STESLoss:
    loss = STESLoss(**params)
    loss.setup(spec)
    return loss


def fix_decay_rate(loss: STESLoss, logit: float) -> None:
    """Make h_d output the constant ``logit``: rate = max_decay * sigmoid(logit)."""
    last = loss.decay_.mlp[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(logit)


# ---------------------------------------------------------------- hinge and distance
def test_hinge_subtracts_alpha_per_step_and_clips_at_zero():
    spec = sequence_spec()
    annotation = [[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]]
    saliency = [[[0.5, 0.5], [0.8, 0.0], [0.0, 1.0]]]  # per-step L1: 0.5, 0.1, 0
    batch = make_batch(saliency, annotation, spec)
    assert set_up(spec, decay="none")(batch).item() == pytest.approx(0.6)
    # alpha = 0.2: max(0.5 - 0.2, 0) + max(0.1 - 0.2, 0) + max(0 - 0.2, 0)
    assert set_up(spec, decay="none", alpha=0.2)(batch).item() == pytest.approx(0.3)
    assert set_up(spec, decay="none", alpha=0.6)(batch).item() == 0.0


def test_l2_distance_squares_the_differences():
    spec = sequence_spec(n_steps=2)
    batch = make_batch([[[0.5, 0.5], [0.0, 0.0]]], [[[1.0, 0.0], [1.0, 0.0]]], spec)
    # step 0: (0.25 + 0.25) / 2, step 1: (1 + 0) / 2
    assert set_up(spec, decay="none", distance="l2")(batch).item() == pytest.approx(0.75)


def test_negative_cells_ask_for_zero_saliency_and_nan_cells_are_skipped():
    spec = sequence_spec(n_steps=1, cells=3)
    batch = make_batch([[[1.0, 0.6, 0.9]]], [[[1.0, -1.0, NAN]]], spec)
    # known cells: |1 - 1| and |0.6 - 0| over 2 cells
    assert set_up(spec, decay="none")(batch).item() == pytest.approx(0.3)


# ---------------------------------------------------------------- decay shapes
@pytest.mark.parametrize(
    ("shape", "rate", "expected"),
    [
        ("exponential", math.log(2), [0.25, 0.5, 1.0]),
        ("exponential", 0.0, [1.0, 1.0, 1.0]),
        ("linear", 1.0, [0.0, 0.5, 1.0]),
        ("linear", 0.5, [0.5, 0.75, 1.0]),
        ("linear", 4.0, [0.0, 0.0, 1.0]),  # clipped at 0
        ("quadratic", 1.0, [0.0, 0.75, 1.0]),
        ("quadratic", 0.5, [0.5, 0.875, 1.0]),
    ],
)
def test_decay_shapes_match_hand_computed_weights(shape, rate, expected):
    weights = decay_weights(torch.tensor([rate]), 3, shape)
    torch.testing.assert_close(weights, torch.tensor([expected]))


def test_decay_weights_of_a_single_step_are_one():
    for shape in ("exponential", "linear", "quadratic"):
        assert decay_weights(torch.tensor([0.7]), 1, shape).tolist() == [[1.0]]


@pytest.mark.parametrize(
    ("shape", "weights"),
    [("exponential", [math.exp(-2), math.exp(-1), 1.0]), ("linear", [0.0, 0.5, 1.0]),
     ("quadratic", [0.0, 0.75, 1.0])],
)
def test_loss_weighs_each_step_by_the_decay(shape, weights):
    spec = sequence_spec()
    loss = set_up(spec, decay=shape, max_decay=2.0)
    fix_decay_rate(loss, 0.0)  # rate = 2 * sigmoid(0) = 1
    annotation = [[[1.0, 0.0]] * 3]
    saliency = [[[0.0, 0.0], [0.2, 0.0], [0.6, 0.0]]]  # per-step L1: 0.5, 0.4, 0.2
    expected = sum(w * d for w, d in zip(weights, [0.5, 0.4, 0.2]))
    assert loss(make_batch(saliency, annotation, spec)).item() == pytest.approx(expected, rel=1e-5)


def test_decay_none_weighs_every_step_one_and_has_no_parameters():
    loss = set_up(sequence_spec(), decay="none")
    assert list(loss.parameters()) == []
    torch.testing.assert_close(loss.step_weights(torch.rand(2, 3, 2)), torch.ones(2, 3))


def test_decay_rate_stays_within_zero_and_max_decay():
    decay = AdaptiveDecay(3, "exponential", max_decay=0.7, hidden=4)
    peaks = torch.rand(5, 3)
    for logit in (-1e4, 1e4):
        with torch.no_grad():
            decay.mlp[-1].weight.zero_()
            decay.mlp[-1].bias.fill_(logit)
        rate = decay.coefficient(peaks)
        assert bool(((rate >= 0) & (rate <= 0.7)).all())
        assert bool(torch.isfinite(decay(peaks)).all())


def test_each_sample_gets_its_own_decay_from_its_own_saliency():
    torch.manual_seed(0)
    loss = set_up(sequence_spec(), decay="exponential")
    steady = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]])  # peaks 1, 1, 1
    sudden = torch.tensor([[[0.0, 0.1], [0.0, 0.1], [1.0, 0.0]]])  # peaks 0.1, 0.1, 1
    together = loss.step_weights(torch.cat([steady, sudden]))
    assert not torch.allclose(together[0], together[1])
    torch.testing.assert_close(together[0], loss.step_weights(steady)[0])
    torch.testing.assert_close(together[1], loss.step_weights(sudden)[0])
    # each row follows phi with that sample's own rate
    rates = loss.decay_.coefficient(torch.tensor([[1.0, 1.0, 1.0], [0.1, 0.1, 1.0]]))
    torch.testing.assert_close(together, decay_weights(rates, 3, "exponential"))


# ---------------------------------------------------------------- which frames count
def test_missing_frames_add_nothing_without_interpolator():
    spec = sequence_spec()
    loss = set_up(spec, decay="none")
    saliency = [[[0.0, 1.0], [0.0, 1.0], [0.5, 0.5]]]
    for missing_frame in ([NAN, NAN], [0.0, 0.0]):  # all NaN, all zero
        annotation = [[[1.0, 0.0], missing_frame, [1.0, 0.0]]]
        # only steps 0 and 2 count: 1.0 + 0.5
        assert loss(make_batch(saliency, annotation, spec)).item() == pytest.approx(1.5)


def test_frames_filled_by_an_interpolator_are_supervised():
    spec = sequence_spec()
    annotation = torch.tensor([[[1.0, 0.0], [NAN, NAN], [0.0, 1.0]]])
    filled, _ = LinearInterpolation()(annotation, torch.tensor([[False, True, False]]))
    saliency = [[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]]
    # the filled step is (0.5, 0.5): L1 = (0.5 + 0.5) / 2
    loss = set_up(spec, decay="none")
    assert loss(make_batch(saliency, filled, spec)).item() == pytest.approx(0.5)


def test_samples_without_an_annotated_frame_leave_the_mean():
    spec = sequence_spec(n_steps=2)
    loss = set_up(spec, decay="none")
    saliency = [[[0.0, 1.0], [0.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]]
    annotation = [[[1.0, 0.0], [1.0, 0.0]], [[NAN, NAN], [0.0, 0.0]]]
    assert loss(make_batch(saliency, annotation, spec)).item() == pytest.approx(2.0)


def test_images_are_one_frame_with_weight_one():
    spec = InputSpec("images", (1, 2, 2), 2)
    loss = set_up(spec, alpha=0.1)
    batch = make_batch([[[1.0, 0.0], [0.5, 0.5]]], [[[1.0, 0.0], [0.0, 0.0]]], spec)
    assert loss(batch).item() == pytest.approx(0.25 - 0.1)
    assert list(loss.parameters()) == []


def test_tabular_data_and_bad_options_are_refused():
    with pytest.raises(ValueError, match="tabular"):
        STESLoss().setup(InputSpec("tabular", (4,), 2))
    spec = sequence_spec()
    for params, name in [({"decay": "cubic"}, "decay"), ({"distance": "l3"}, "distance"),
                         ({"alpha": -0.1}, "alpha"), ({"max_decay": 0.0}, "max_decay"),
                         ({"max_decay": math.inf}, "max_decay"), ({"hidden": 0}, "hidden")]:
        with pytest.raises(ValueError, match=name):
            plugins.resolve("losses", STESLoss, params, spec=spec)


def test_needs_annotations():
    spec = sequence_spec()
    batch = make_batch([[[0.0, 1.0]] * 3], [[[1.0, 0.0]] * 3], spec)
    batch.annotation = None
    with pytest.raises(ValueError, match="E=None"):
        set_up(spec)(batch)


# ---------------------------------------------------------------- gradients
GRADCHECK_SPEC = InputSpec("raster_sequences", (3, 1, 2, 2), 2)
GRADCHECK_ANNOTATION = torch.tensor(
    [[[[1, 0], [0, 0]], [[NAN, NAN], [NAN, NAN]], [[1, 1], [0, -1]]],
     [[[0, 1], [NAN, 0]], [[0, 1], [1, 0]], [[0, 0], [0, 1]]]], dtype=torch.float64)
GRADCHECK_SALIENCY = torch.tensor(
    [[[[0.9, 0.3], [0.2, 0.1]], [[0.4, 0.7], [0.3, 0.6]], [[0.8, 0.5], [0.1, 0.9]]],
     [[[0.2, 0.6], [0.5, 0.3]], [[0.7, 0.1], [0.4, 0.2]], [[0.3, 0.4], [0.6, 1.0]]]],
    dtype=torch.float64)


def loss_of(loss: STESLoss, saliency: torch.Tensor, parameters: dict) -> torch.Tensor:
    batch = ExplanationBatch(model=None, X=None, y=None, output=None, target=None,
                             spec=GRADCHECK_SPEC, annotation=GRADCHECK_ANNOTATION,
                             saliency=saliency)
    return functional_call(loss, parameters, (batch,))


@pytest.mark.parametrize("decay", ["exponential", "linear", "quadratic"])
def test_gradcheck_with_respect_to_the_decay_mlp(decay):
    torch.manual_seed(0)
    loss = set_up(GRADCHECK_SPEC, decay=decay, alpha=0.05, hidden=3).double()
    names, values = zip(*[(n, p.detach().clone().requires_grad_(True))
                          for n, p in loss.named_parameters()])

    def value(*parameters):
        return loss_of(loss, GRADCHECK_SALIENCY, dict(zip(names, parameters)))

    assert torch.autograd.gradcheck(value, values)


def test_gradcheck_with_respect_to_the_saliency():
    torch.manual_seed(0)
    loss = set_up(GRADCHECK_SPEC, decay="exponential", alpha=0.05, hidden=3).double()
    # h_d reads the per-step peaks detached; with its input layer zeroed, finite differences of
    # the saliency do not move the weights either, so both sides differentiate the same function.
    with torch.no_grad():
        loss.decay_.mlp[0].weight.zero_()
    saliency = GRADCHECK_SALIENCY.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda s: loss_of(loss, s, {}), (saliency,))


def test_the_decay_mlp_trains_with_the_model():
    X, y, E = make_spatiotemporal_events(16, random_state=0, n_steps=3, height=8, width=8,
                                         positive_rate=0.5)
    net = ExplanationSupervisedClassifier(
        loss="stes", max_epochs=2, batch_size=8, train_split=None, verbose=0, random_state=0,
        module__channels=(4,), module__hidden=4, lr=0.05,
    )
    net.fit(X, y, E)
    trained = {name: p.detach().clone() for name, p in net.loss_.named_parameters()}
    net.partial_fit(X, y, E)
    assert any(not torch.equal(trained[name], p) for name, p in net.loss_.named_parameters())


# ---------------------------------------------------------------- the estimator
@pytest.mark.parametrize(
    "options",
    [
        {"interpolator": "none"},  # STES-I
        {"interpolator": "linear", "loss__decay": "none"},  # STES-T
        {"interpolator": "nearest", "loss__decay": "linear"},
        {"interpolator": "stes", "interpolator__hidden": 4},
    ],
)
def test_ablations_and_interpolators_train(options):
    X, y, E = make_spatiotemporal_events(12, random_state=0, n_steps=3, height=8, width=8,
                                         positive_rate=0.5, missing_annotation_rate=0.4)
    net = ExplanationSupervisedClassifier(
        loss="stes", alpha=0.05, max_epochs=1, batch_size=6, train_split=None, verbose=0,
        random_state=0, module__channels=(4,), module__hidden=4, **options,
    ).fit(X, y, E)
    assert net.loss_.alpha == 0.05
    assert math.isfinite(net.history[-1, "train_explanation"])
    if options["interpolator"] == "stes":
        assert math.isfinite(net.history[-1, "batches", -1, "train_reconstruction"])


def test_stes_supervision_raises_explanation_iou_on_raster_sequences():
    """Trained with STES, Grad-CAM overlaps the annotated boxes more than without."""
    common = dict(n_steps=3, positive_rate=0.5)
    X, y, E = make_spatiotemporal_events(200, random_state=0, missing_annotation_rate=0.4, **common)
    X_test, y_test, E_test = make_spatiotemporal_events(100, random_state=1, **common)
    params = dict(max_epochs=20, lr=3e-3, sigma1=2.0, train_split=None, verbose=0,
                  random_state=1, module__channels=(8, 8), module__hidden=16)
    scores = {}
    for name, options in {
        "none": {"loss": "none"},
        "linear": {"loss": "stes", "interpolator": "linear"},
        "stes": {"loss": "stes", "interpolator": "stes", "interpolator__hidden": 8},
    }.items():
        net = ExplanationSupervisedClassifier(**options, **params).fit(X, y, E)
        scores[name] = (explanation_iou(net.explain(X_test), E_test), net.score(X_test, y_test))
    # measured: none 0.13, linear 0.23, stes 0.21; accuracy >= 0.95 for all three
    assert scores["linear"][0] > scores["none"][0] + 0.05, scores
    assert scores["stes"][0] > scores["none"][0] + 0.03, scores
    assert min(accuracy for _, accuracy in scores.values()) > 0.85, scores
    assert np.isfinite([iou for iou, _ in scores.values()]).all()
