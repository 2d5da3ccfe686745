"""RES: Algorithm 1's threshold, eq. (8) on tiny tensors, imputation, gradients, training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from xsup import ExplanationSupervisedClassifier
from xsup.batch import ExplanationBatch
from xsup.losses import RESLoss
from xsup.losses._imputation import AnnotationImputation, default_kernel_sigma
from xsup.losses._threshold import adaptive_threshold
from xsup.spec import InputSpec
from xsup import plugins

NAN = float("nan")
TABULAR = InputSpec("tabular", (4,), 2)
IMAGES = InputSpec("images", (1, 3, 3), 2)


def make_batch(spec, annotation, saliency):
    return ExplanationBatch(model=None, X=None, y=None, output=None, target=None, spec=spec,
                            annotation=torch.as_tensor(annotation),
                            saliency=torch.as_tensor(saliency))


def res(spec, **params):
    loss = RESLoss(**params)
    loss.setup(spec)
    return loss


def brute_force_threshold(values, codes):
    """Algorithm 1 written out: visit the candidates, count every constraint directly."""
    negatives = sorted(v for v, c in zip(values, codes) if c < 0)
    positives = sorted((v for v, c in zip(values, codes) if c > 0), reverse=True)
    best_value, best_count = 0.0, 0
    for candidate in negatives + positives:
        count = sum(v <= candidate for v in negatives) + sum(v >= candidate for v in positives)
        if count > best_count:
            best_value, best_count = candidate, count
    return best_value


# ---------------------------------------------------------------- threshold (Algorithm 1)
rows = st.integers(1, 12).flatmap(lambda m: st.tuples(
    st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]) | st.floats(0, 1, width=32),
             min_size=m, max_size=m),
    st.lists(st.sampled_from([-1, 0, 1]), min_size=m, max_size=m),
))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(batch=st.lists(rows, min_size=1, max_size=4))
def test_threshold_equals_brute_force_over_candidates(batch):
    width = max(len(values) for values, _ in batch)
    M = torch.zeros(len(batch), width)
    codes = torch.zeros(len(batch), width, dtype=torch.long)
    for i, (values, row_codes) in enumerate(batch):
        M[i, : len(values)] = torch.tensor(values)
        codes[i, : len(values)] = torch.tensor(row_codes)
    threshold = adaptive_threshold(M, codes > 0, codes < 0)
    for i, (values, row_codes) in enumerate(batch):
        stored = M[i, : len(values)].tolist()  # compare on the float32 values the function saw
        assert threshold[i].item() == brute_force_threshold(stored, row_codes)


@pytest.mark.parametrize(("values", "codes", "expected"), [
    ([0.3, 0.7, 0.9], [1, 1, 1], 0.3),          # no negatives: the smallest positive keeps them all
    ([0.3, 0.7, 0.9], [-1, -1, -1], 0.9),       # no positives: the largest negative
    ([0.3, 0.7, 0.9], [0, 0, 0], 0.0),          # nothing annotated: Algorithm 1's initial value
    ([0.2, 0.2, 0.6], [1, -1, -1], 0.2),        # a tie at 0.2 satisfies both; 0.6 only equals it
    ([0.9, 0.1, 0.5, 0.4], [-1, 1, 1, -1], 0.4),  # every candidate satisfies 2: the first visited
])
def test_threshold_edge_cases(values, codes, expected):
    codes = torch.tensor([codes])
    threshold = adaptive_threshold(torch.tensor([values]), codes > 0, codes < 0)
    assert threshold.item() == pytest.approx(expected)


def test_threshold_has_no_gradient():
    M = torch.rand(2, 5, requires_grad=True)
    codes = torch.tensor([[1, -1, 0, 1, -1], [0, 0, 1, 1, -1]])
    assert not adaptive_threshold(M, codes > 0, codes < 0).requires_grad


# ---------------------------------------------------------------- eq. (8) by hand
def test_robust_term_by_hand_with_selective_penalisation():
    loss = res(TABULAR, imputation="none")
    # a = 0.1 (the negative); cell 3 is unannotated and ignored whatever its saliency
    expected = ((1 - math.tanh(4.0)) + (1 - math.tanh(3.5)) + 1.0) / 3
    for unannotated in (0.0, 0.5, 1.0):
        value = loss(make_batch(TABULAR, [[1.0, 1.0, -1.0, 0.0]], [[0.9, 0.8, 0.1, unannotated]]))
        assert value.item() == pytest.approx(expected, rel=1e-5)


def test_slack_alpha_is_a_hinge():
    annotation, saliency = [[1.0, 1.0, -1.0, NAN]], [[0.9, 0.8, 0.1, 0.5]]
    robust = ((1 - math.tanh(4.0)) + (1 - math.tanh(3.5)) + 1.0) / 3
    value = res(TABULAR, imputation="none", alpha=0.1)(make_batch(TABULAR, annotation, saliency))
    assert value.item() == pytest.approx(robust - 0.1, rel=1e-5)
    inside = torch.tensor(saliency, requires_grad=True)
    zero = res(TABULAR, imputation="none", alpha=0.5)(make_batch(TABULAR, annotation, inside))
    assert zero.item() == 0.0
    zero.backward()
    assert torch.all(inside.grad == 0)


def test_gamma_sets_the_slope():
    value = res(TABULAR, imputation="none", gamma=1.0)(
        make_batch(TABULAR, [[1.0, 0.0, -1.0, 0.0]], [[0.6, 0.0, 0.2, 0.0]]))
    # a = 0.2 (the negative, count 2): errors 1 - tanh(0.4) and |tanh(0) + 1|
    assert value.item() == pytest.approx((1 - math.tanh(0.4) + 1.0) / 2, rel=1e-5)


def test_samples_without_negatives_or_positives_and_soft_weights():
    annotation = [[0.5, 1.0, 0.0, 0.0], [-1.0, -1.0, 0.0, 0.0], [NAN, 0.0, 0.0, 0.0]]
    saliency = [[0.4, 0.8, 0.0, 0.0], [0.2, 0.6, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]]
    value = res(TABULAR, imputation="none")(make_batch(TABULAR, annotation, saliency))
    first = (0.5 * 1.0 + 1.0 * (1 - math.tanh(2.0))) / 1.5       # a = 0.4, the smallest positive
    second = ((1 - math.tanh(2.0)) + 1.0) / 2                      # a = 0.6, the largest negative
    assert value.item() == pytest.approx((first + second) / 2, rel=1e-5)  # sample 3 adds nothing


def test_gaussian_imputation_by_hand():
    annotation = -torch.ones(1, 3, 3)
    annotation[0, 1, 1] = 1.0
    saliency = torch.full((1, 3, 3), 0.5)
    value = res(IMAGES)(make_batch(IMAGES, annotation, saliency))
    edge = math.exp(-1 / (2 * default_kernel_sigma(3) ** 2))  # blurred, divided by the peak
    imputation = (0.5 + 4 * abs(0.5 - edge) + 4 * abs(0.5 - edge**2)) / 9
    assert value.item() == pytest.approx(1.0 + imputation, rel=1e-5)  # a = 0.5: every error is 1


def test_imputation_scope_all_compares_unannotated_cells_too():
    annotation = torch.zeros(1, 3, 3)
    annotation[0, 1, 1] = 1.0
    saliency = torch.full((1, 3, 3), 0.5)
    selective = res(IMAGES, imputation_scope="annotated")(make_batch(IMAGES, annotation, saliency))
    everywhere = res(IMAGES, imputation_scope="all")(make_batch(IMAGES, annotation, saliency))
    robust = 1 - math.tanh(0.0)
    edge = math.exp(-1 / (2 * default_kernel_sigma(3) ** 2))
    assert selective.item() == pytest.approx(robust + 0.5, rel=1e-5)
    assert everywhere.item() == pytest.approx(
        robust + (0.5 + 4 * abs(0.5 - edge) + 4 * abs(0.5 - edge**2)) / 9, rel=1e-5)


def test_kernel_options_change_the_blur():
    annotation = torch.zeros(1, 5, 5)
    annotation[0, 2, 2] = 1.0
    narrow = AnnotationImputation(3, 0.5, learnable=False)(annotation)
    wide = AnnotationImputation(5, 2.0, learnable=False)(annotation)
    assert narrow[0, 2, 3].item() == pytest.approx(math.exp(-1 / (2 * 0.5**2)), rel=1e-5)
    assert narrow[0, 0, 0].item() == 0.0
    assert wide[0, 0, 0].item() == pytest.approx(math.exp(-8 / (2 * 2.0**2)), rel=1e-5)


def test_threshold_scope_batch_pools_the_samples():
    annotation = [[1.0, -1.0, 0.0, 0.0], [1.0, -1.0, 0.0, 0.0]]
    saliency = [[0.9, 0.1, 0.0, 0.0], [0.3, 0.2, 0.0, 0.0]]
    per_sample = res(TABULAR, imputation="none")(make_batch(TABULAR, annotation, saliency))
    pooled = res(TABULAR, imputation="none", threshold_scope="batch")(
        make_batch(TABULAR, annotation, saliency))
    # per sample a = 0.1 and 0.2; pooled, the negative 0.2 is the first candidate satisfying 4
    expected_sample = ((1 - math.tanh(4.0) + 1) + (1 - math.tanh(0.5) + 1)) / 4
    expected_pooled = ((1 - math.tanh(3.5) + 1 - math.tanh(0.5)) + (1 - math.tanh(0.5) + 1)) / 4
    assert per_sample.item() == pytest.approx(expected_sample, rel=1e-5)
    assert pooled.item() == pytest.approx(expected_pooled, rel=1e-5)


def test_raster_sequences_use_the_target_step_only():
    spec = InputSpec("raster_sequences", (2, 1, 3, 3), 2)
    loss = res(spec)
    annotation = torch.zeros(1, 2, 3, 3)
    annotation[0, 1, 1, 1], annotation[0, 1, 0, 0] = 1.0, -1.0
    saliency = torch.rand(1, 2, 3, 3, generator=torch.Generator().manual_seed(0))
    value = loss(make_batch(spec, annotation, saliency))
    other = annotation.clone()
    other[0, 0] = -1.0  # an earlier frame changes nothing
    changed = saliency.clone()
    changed[0, 0] = 0.0
    assert loss(make_batch(spec, other, changed)).item() == pytest.approx(value.item())
    image = res(IMAGES)(make_batch(IMAGES, annotation[:, 1], saliency[:, 1]))
    assert value.item() == pytest.approx(image.item())


def test_missing_annotation_adds_nothing():
    saliency = torch.rand(2, 3, 3, requires_grad=True)
    value = res(IMAGES)(make_batch(IMAGES, torch.full((2, 3, 3), NAN), saliency))
    assert value.item() == 0.0 and value.requires_grad


# ---------------------------------------------------------------- gradients
def _gradcheck_batch(spec, generator):
    annotation = torch.randint(-1, 2, (2, *spec.annotation_shape), generator=generator).double()
    annotation[0, 0, 0] = NAN
    annotation[:, 1, 1] = 1.0
    saliency = torch.rand(2, *spec.annotation_shape, generator=generator, dtype=torch.float64)
    return annotation, saliency.requires_grad_(True)


def _holding_threshold_cells(annotation, saliency):
    """Map free saliency to one whose threshold cells stay fixed.

    The threshold is a constant of the step (found without gradient) but it
    equals one annotated cell's value: a finite difference on that cell would
    also move the threshold, so those cells are held and the rest checked.
    """
    codes = torch.nan_to_num(annotation, nan=0.0).flatten(start_dim=1)
    flat = saliency.detach().flatten(start_dim=1)
    thresholds = torch.cat([
        adaptive_threshold(flat, codes > 0, codes < 0),
        adaptive_threshold(flat.reshape(1, -1), codes.reshape(1, -1) > 0, codes.reshape(1, -1) < 0),
    ])
    fixed = saliency.detach().clone()  # gradcheck perturbs its input in place
    held = torch.isin(fixed, thresholds)
    return lambda free: torch.where(held, fixed, free)


@pytest.mark.parametrize("params", [
    {"imputation": "gaussian"}, {"imputation": "gaussian", "imputation_scope": "all"},
    {"imputation": "gaussian", "threshold_scope": "batch", "alpha": 0.05}, {"imputation": "none"},
])
def test_gradcheck_float64(params):
    spec = InputSpec("images", (1, 4, 4), 2)
    annotation, saliency = _gradcheck_batch(spec, torch.Generator().manual_seed(0))
    hold = _holding_threshold_cells(annotation, saliency)
    loss = res(spec, **params).double()
    assert torch.autograd.gradcheck(
        lambda s: loss(make_batch(spec, annotation, hold(s))), (saliency,))


def test_gradcheck_float64_learnable_imputation_parameters():
    spec = InputSpec("images", (1, 4, 4), 2)
    generator = torch.Generator().manual_seed(1)
    annotation, saliency = _gradcheck_batch(spec, generator)
    hold = _holding_threshold_cells(annotation, saliency)
    loss = res(spec, imputation="learnable").double()
    noise = 0.05 * torch.randn(loss.imputer_.weight.shape, generator=generator, dtype=torch.float64)
    weight = (loss.imputer_.weight.detach() + noise).requires_grad_(True)
    bias = torch.tensor([0.05], dtype=torch.float64, requires_grad=True)

    def value(s, w, b):
        parameters = {"imputer_.weight": w, "imputer_.bias": b}
        batch = make_batch(spec, annotation, hold(s))
        return torch.func.functional_call(loss, parameters, (batch,))

    assert torch.autograd.gradcheck(value, (saliency, weight, bias))


# ---------------------------------------------------------------- options and estimator
@pytest.mark.parametrize(("params", "match"), [
    ({"gamma": 0.0}, "gamma"), ({"alpha": -0.1}, "alpha"), ({"imputation": "median"}, "imputation"),
    ({"kernel_size": 4}, "kernel_size"), ({"kernel_sigma": -1.0}, "kernel_sigma"),
    ({"threshold_scope": "epoch"}, "threshold_scope"),
    ({"imputation_scope": "x"}, "imputation_scope"),
])
def test_invalid_options_raise(params, match):
    with pytest.raises(ValueError, match=match):
        plugins.resolve("losses", RESLoss, params, spec=IMAGES)


@pytest.mark.parametrize("kind", ["tabular", "time_series"])
def test_imputation_needs_two_dimensional_maps(kind):
    spec = InputSpec(kind, (5, 3) if kind == "time_series" else (3,), 2)
    with pytest.raises(ValueError, match="imputation='none'"):
        RESLoss().setup(spec)
    RESLoss(imputation="none").setup(spec)


def test_unset_loss_raises():
    with pytest.raises(RuntimeError, match="setup"):
        RESLoss()(make_batch(TABULAR, [[1.0, 0.0, 0.0, 0.0]], [[0.5, 0.5, 0.5, 0.5]]))


def test_search_space_names_gamma_alpha_sigma1():
    assert set(RESLoss.search_space()) == {"gamma", "alpha", "sigma1"}


SHAPES = {"tabular": (6,), "time_series": (4, 3), "images": (1, 8, 8), "raster_sequences": (3, 1, 8, 8)}


@pytest.mark.parametrize(("kind", "imputation"), [
    ("images", "gaussian"), ("images", "learnable"), ("raster_sequences", "gaussian"),
    ("tabular", "none"), ("time_series", "none"),
])
def test_trains_through_the_estimator(kind, imputation):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, *SHAPES[kind])).astype(np.float32)
    y = np.arange(12) % 2
    spec = InputSpec(kind, SHAPES[kind], 2)
    E = rng.choice([-1.0, 0.0, 1.0], size=(12, *spec.annotation_shape)).astype(np.float32)
    net = ExplanationSupervisedClassifier(loss="res", loss__imputation=imputation, alpha=0.01,
                                          max_epochs=2, batch_size=6, train_split=None, verbose=0,
                                          random_state=0).fit(X, y, E)
    assert net.loss_.alpha == 0.01  # the estimator's alpha reaches the loss
    terms = net.history[:, "train_explanation"]
    assert all(np.isfinite(terms)) and terms[0] > 0
    if imputation == "learnable":
        names = {name for name, _ in net.get_all_learnable_params()}
        assert {"imputer_.weight", "imputer_.bias"} <= names
        assert net.loss_.imputer_.bias.item() != 0.0  # trained jointly with the model


def test_fit_without_annotation_raises():
    X = np.zeros((4, 1, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match="loss='res' needs annotations"):
        ExplanationSupervisedClassifier(loss="res", max_epochs=1, verbose=0).fit(X, [0, 1, 0, 1])


def test_batch_without_annotation_raises():
    batch = make_batch(TABULAR, [[1.0, 0.0, 0.0, 0.0]], [[0.5, 0.5, 0.5, 0.5]])
    batch.annotation = None
    with pytest.raises(ValueError, match="needs annotations E"):
        res(TABULAR, imputation="none")(batch)
