"""Post-hoc explainers: agreement with Captum, exact values on linear models, options, the estimator."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from torch import nn

from xsup import ExplanationSupervisedClassifier, ExplanationSupervisedRegressor
from xsup.explainers import (
    DeepLift,
    DeepShap,
    FeatureAblation,
    FeaturePermutation,
    GradientShap,
    IntegratedGradients,
    Occlusion,
    RandomSaliency,
    ShapleySampling,
    SmoothGrad,
)
from xsup.explainers._posthoc import seeded
from xsup.explainers.captum_methods import grouped_feature_mask
from xsup.spec import InputSpec
from xsup import plugins

captum_attr = pytest.importorskip("captum.attr")
# The reference calls below go to Captum directly, which warns about what our explainers handle.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Input Tensor 0 did not already require gradients"),
    pytest.mark.filterwarnings("ignore:Setting forward, backward hooks"),
]

TARGET = torch.tensor([0, 1, 2, 1])


def relu_net(spec: InputSpec) -> nn.Module:
    """A float64 ReLU network with its nonlinearities as modules (as DeepLift needs)."""
    torch.manual_seed(0)
    size = int(np.prod(spec.sample_shape))
    return nn.Sequential(nn.Flatten(), nn.Linear(size, 8), nn.ReLU(), nn.Linear(8, 3)).double().eval()


def data(kind: str, shape: tuple[int, ...]) -> tuple[torch.Tensor, InputSpec]:
    X = torch.randn(4, *shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    return X, InputSpec(kind, shape, 3)


def linear_time_series() -> tuple[nn.Module, torch.Tensor, torch.Tensor, InputSpec]:
    """``f(X) = sum_tf W[c] * X`` on (N, 4, 3) inputs: every method's exact answer is known."""
    weight = torch.randn(3, 12, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3, dtype=torch.float64)).eval()
    with torch.no_grad():
        model[1].weight.copy_(weight)
    X, spec = data("time_series", (4, 3))
    contribution = (weight[TARGET] * X.reshape(4, -1)).reshape(4, 4, 3)  # w * x per cell
    return model, X, contribution, spec


def channel_sum(attribution: torch.Tensor) -> torch.Tensor:
    return attribution.abs().sum(dim=1)


# ----------------------------------------------------------------------------- agreement with Captum


def test_integrated_gradients_equals_captum_summed_over_channels():
    X, spec = data("images", (2, 4, 4))
    model = relu_net(spec)
    _, ours = IntegratedGradients(baseline="zeros", n_steps=20).explain(model, X, TARGET, spec)
    expected = captum_attr.IntegratedGradients(model).attribute(X, target=TARGET, n_steps=20)
    torch.testing.assert_close(ours, channel_sum(expected))
    assert ours.shape == (4, 4, 4)


def test_smoothgrad_equals_captum_noise_tunnel_with_the_same_seed():
    X, spec = data("time_series", (5, 3))
    model = relu_net(spec)
    _, ours = SmoothGrad(nt_samples=4, stdevs=0.5, random_state=3).explain(model, X, TARGET, spec)
    with seeded(3, X.device):
        expected = captum_attr.NoiseTunnel(captum_attr.Saliency(model)).attribute(
            X, nt_type="smoothgrad", nt_samples=4, stdevs=0.5, target=TARGET)
    torch.testing.assert_close(ours, expected)
    plain = captum_attr.Saliency(model).attribute(X, target=TARGET)
    assert not torch.allclose(ours, plain)
    _, noiseless = SmoothGrad(stdevs=0.0).explain(model, X, TARGET, spec)
    torch.testing.assert_close(noiseless, plain)


def test_deeplift_equals_captum_and_applies_the_rescale_rule():
    X, spec = data("raster_sequences", (2, 2, 3, 3))
    model = relu_net(spec)
    _, ours = DeepLift(baseline=0.5).explain(model, X, TARGET, spec)
    expected = captum_attr.DeepLift(model).attribute(X, baselines=0.5, target=TARGET)
    torch.testing.assert_close(ours, expected.abs().sum(dim=2))
    # One ReLU unit: z(x) = 2, z(baseline) = -1, so the multiplier is (2 - 0) / (2 - (-1)) = 2/3,
    # where the gradient would give 1.
    unit = nn.Sequential(nn.Linear(2, 1), nn.ReLU(), nn.Linear(1, 1)).double()
    with torch.no_grad():
        unit[0].weight.copy_(torch.tensor([[1.0, 2.0]]))
        unit[0].bias.fill_(0.0)
        unit[2].weight.fill_(1.0)
    x = torch.tensor([[0.0, 1.0]], dtype=torch.float64)
    baseline = torch.tensor([0.0, -0.5], dtype=torch.float64)
    _, saliency = DeepLift(baseline=baseline).explain(
        unit, x, torch.tensor([0]), InputSpec("tabular", (2,), 1))
    torch.testing.assert_close(saliency, torch.tensor([[0.0, 2.0 * 1.5 * 2 / 3]], dtype=torch.float64))


def test_gradient_shap_equals_captum_with_the_same_seed_and_baselines():
    X, spec = data("images", (1, 4, 4))
    model = relu_net(spec)
    _, ours = GradientShap(random_state=5).explain(model, X, TARGET, spec)
    with seeded(5, X.device) as generator:
        baselines = torch.rand((5, 1, 4, 4), generator=generator).double()
        expected = captum_attr.GradientShap(model).attribute(
            X, baselines=baselines, n_samples=5, stdevs=0.09, target=TARGET)
    torch.testing.assert_close(ours, channel_sum(expected))


def test_deep_shap_equals_captum_on_a_given_baseline_distribution():
    X, spec = data("tabular", (6,))
    model = relu_net(spec)
    baselines = torch.rand(3, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    _, ours = DeepShap(baseline=baselines).explain(model, X, TARGET, spec)
    expected = captum_attr.DeepLiftShap(model).attribute(X, baselines=baselines, target=TARGET)
    torch.testing.assert_close(ours, expected.abs())


def test_occlusion_default_windows_equal_captum():
    X, spec = data("time_series", (5, 3))
    model = relu_net(spec)
    _, ours = Occlusion(baseline="zeros").explain(model, X, TARGET, spec)
    expected = captum_attr.Occlusion(model).attribute(
        X, sliding_window_shapes=(1, 3), strides=(1, 3), baselines=0.0, target=TARGET).double()
    torch.testing.assert_close(ours, expected.abs())
    assert torch.equal(ours, ours[:, :, :1].expand_as(ours))  # one value per time step
    X, spec = data("images", (2, 8, 8))
    model = relu_net(spec)
    _, ours = Occlusion(baseline="zeros").explain(model, X, TARGET, spec)
    expected = captum_attr.Occlusion(model).attribute(
        X, sliding_window_shapes=(2, 4, 4), strides=(2, 2, 2), baselines=0.0, target=TARGET).double()
    torch.testing.assert_close(ours, channel_sum(expected))


def test_feature_ablation_is_per_cell_and_equals_captum():
    X, spec = data("images", (2, 3, 3))
    model = relu_net(spec)
    _, ours = FeatureAblation().explain(model, X, TARGET, spec)
    expected = captum_attr.FeatureAblation(model).attribute(X, baselines=0.0, target=TARGET)
    torch.testing.assert_close(ours, channel_sum(expected))


def test_feature_permutation_groups_time_steps_and_equals_captum():
    X, spec = data("time_series", (5, 3))
    model = relu_net(spec)
    _, ours = FeaturePermutation(random_state=0).explain(model, X, TARGET, spec)
    mask = torch.arange(5).reshape(1, 5, 1).expand(1, 5, 3).contiguous()
    with seeded(0, X.device):
        expected = captum_attr.FeaturePermutation(model).attribute(X, target=TARGET, feature_mask=mask)
    torch.testing.assert_close(ours, expected.abs())
    assert torch.equal(ours, ours[:, :, :1].expand_as(ours))


def test_shapley_sampling_equals_captum_with_the_same_seed():
    X, spec = data("raster_sequences", (2, 1, 4, 4))
    model = relu_net(spec)
    _, ours = ShapleySampling(n_samples=3, random_state=1).explain(model, X, TARGET, spec)
    with seeded(1, X.device):
        expected = captum_attr.ShapleyValueSampling(model).attribute(
            X, baselines=0.0, target=TARGET, feature_mask=grouped_feature_mask(spec), n_samples=3).double()
    torch.testing.assert_close(ours, expected.abs().sum(dim=2))


# ----------------------------------------------------------------------------- exact values


def test_integrated_gradients_with_zero_baseline_is_abs_w_times_x_on_a_linear_model():
    model, X, contribution, spec = linear_time_series()
    _, saliency = IntegratedGradients(baseline="zeros").explain(model, X, TARGET, spec)
    torch.testing.assert_close(saliency, contribution.abs())


def test_attribution_methods_are_exact_on_a_linear_model():
    model, X, contribution, spec = linear_time_series()
    per_cell = contribution.abs()
    per_step = contribution.sum(dim=2, keepdim=True).abs().expand_as(contribution)
    float32 = {"rtol": 1e-5, "atol": 1e-6}  # Captum accumulates these two in float32
    for explainer, expected, tolerance in (
        (DeepLift(baseline="zeros"), per_cell, {}),
        (DeepShap(baseline="zeros"), per_cell, {}),
        (GradientShap(baseline="zeros", stdevs=0.0), per_cell, {}),
        (FeatureAblation(), per_cell, {}),
        (Occlusion(baseline="zeros"), per_step, float32),
        (ShapleySampling(n_samples=2), per_step, float32),
    ):
        _, saliency = explainer.explain(model, X, TARGET, spec)
        assert saliency.dtype == X.dtype
        torch.testing.assert_close(saliency, expected, msg=type(explainer).__name__, **tolerance)


def test_uniform_baseline_is_one_seeded_draw_in_the_unit_interval_shared_by_samples():
    model, _, _, spec = linear_time_series()
    X = torch.full((4, 4, 3), 2.0, dtype=torch.float64)
    weight = model[1].weight[TARGET].reshape(4, 4, 3).detach()
    _, saliency = IntegratedGradients(random_state=0).explain(model, X, TARGET, spec)
    baseline = X - saliency / weight.abs()           # |w (x - b)| with x = 2 > b
    assert bool(((baseline >= 0) & (baseline < 1)).all())
    torch.testing.assert_close(baseline, baseline[:1].expand_as(baseline))
    again = IntegratedGradients(random_state=0).explain(model, X, TARGET, spec)[1]
    other = IntegratedGradients(random_state=1).explain(model, X, TARGET, spec)[1]
    assert torch.equal(saliency, again) and not torch.allclose(saliency, other)


def test_random_state_leaves_the_global_generators_alone():
    X, spec = data("tabular", (6,))
    model = relu_net(spec)
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    GradientShap(random_state=0).explain(model, X, TARGET, spec)
    ShapleySampling(n_samples=2, random_state=0).explain(model, X, TARGET, spec)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], numpy_state[1])


def test_regression_output_columns_and_one_dimensional_outputs():
    X, spec = data("tabular", (6,))
    model = relu_net(spec)
    column = torch.full((4,), 2)
    _, saliency = IntegratedGradients(baseline="zeros").explain(model, X, column, spec)
    expected = captum_attr.IntegratedGradients(model).attribute(X, target=column)
    torch.testing.assert_close(saliency, expected.abs())
    single = nn.Sequential(nn.Flatten(), nn.Linear(6, 1), nn.Flatten(0)).double()
    output, saliency = Occlusion(baseline="zeros").explain(single, X, column, spec)
    assert output.shape == (4,) and saliency.shape == (4, 6)


# ----------------------------------------------------------------------------- the random control


def test_random_saliency_permutes_the_base_values_per_sample():
    X, spec = data("time_series", (5, 3))
    model = relu_net(spec)
    _, maps = RandomSaliency(random_state=0).explain(model, X, TARGET, spec)
    base = captum_attr.Saliency(model).attribute(X, target=TARGET)
    assert maps.shape == (4, 5, 3)
    torch.testing.assert_close(maps.flatten(1).sort(dim=1).values, base.flatten(1).sort(dim=1).values)
    assert not torch.equal(maps, base)
    orders = maps.flatten(1).argsort(dim=1)
    assert len({tuple(order.tolist()) for order in orders}) == 4  # each sample its own order
    assert torch.equal(maps, RandomSaliency(random_state=0).explain(model, X, TARGET, spec)[1])


def test_random_saliency_without_base_draws_uniform_values():
    X, spec = data("raster_sequences", (3, 2, 4, 4))
    model = relu_net(spec)
    output, maps = RandomSaliency(base=None, random_state=0).explain(model, X, TARGET, spec)
    assert output.shape == (4, 3) and maps.shape == (4, 3, 4, 4) and maps.dtype == X.dtype
    assert bool(((maps >= 0) & (maps < 1)).all())
    assert abs(maps.mean().item() - 0.5) < 0.1
    explainer = RandomSaliency(base=IntegratedGradients(baseline="zeros"), random_state=0)
    assert explainer.explain(model, X, TARGET, spec)[1].shape == (4, 3, 4, 4)
    with pytest.raises(TypeError, match="explainer__base"):
        plugins.resolve("explainers", RandomSaliency, {"base": 3}, spec=spec)


# ----------------------------------------------------------------------------- options and errors


@pytest.mark.parametrize("explainer, message", [
    (IntegratedGradients(baseline="ones"), "explainer__baseline"),
    (IntegratedGradients(baseline=np.zeros(5)), r"explainer__baseline.*\(6,\)"),
    (IntegratedGradients(n_steps=0), "explainer__n_steps"),
    (IntegratedGradients(integration_method="simpson"), "explainer__integration_method"),
    (SmoothGrad(stdevs=-1.0), "explainer__stdevs"),
    (SmoothGrad(nt_type="smooth"), "explainer__nt_type"),
    (DeepShap(n_baselines=1), "explainer__n_baselines"),
    (Occlusion(window=(7,)), "explainer__window"),
    (Occlusion(stride=0), "explainer__stride"),
    (FeatureAblation(feature_mask=np.zeros(6)), "explainer__feature_mask"),
    (ShapleySampling(perturbations_per_eval=0), "explainer__perturbations_per_eval"),
    (GradientShap(random_state="seed"), "explainer__random_state"),
])
def test_bad_options_raise_value_errors_naming_them(explainer, message):
    """Options are checked when the explainer is resolved, their fit to the data when it explains."""
    X, spec = data("tabular", (6,))
    with pytest.raises(ValueError, match=message):
        plugins.resolve("explainers", explainer, spec=spec).explain(relu_net(spec), X, TARGET, spec)


def test_bad_targets_raise_value_errors():
    X, spec = data("tabular", (6,))
    model = relu_net(spec)
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        IntegratedGradients().explain(model, X, torch.tensor([0, 1, 2, 3]), spec)
    with pytest.raises(ValueError, match="one integer output column per sample"):
        Occlusion().explain(model, X, torch.zeros(3, dtype=torch.long), spec)


def test_feature_permutation_needs_two_samples():
    X, spec = data("tabular", (6,))
    with pytest.raises(ValueError, match="at least 2 samples"):
        FeaturePermutation().explain(relu_net(spec), X[:1], TARGET[:1], spec)


def test_estimator_joins_a_last_batch_of_one_sample_to_the_batch_before(fitted):
    X, classifier, _ = fitted
    tail = np.concatenate([X, X[:1]])  # 9 samples in batches of 4: the last would hold 1
    maps = classifier.explain(tail, method="feature_permutation", random_state=0)
    assert maps.shape == (9, *classifier.input_spec_.annotation_shape)
    assert np.isfinite(maps).all()
    # the first 4 samples form the same batch as before, so their maps do not move
    assert np.allclose(maps[:4], classifier.explain(X, method="feature_permutation",
                                                    random_state=0)[:4])
    with pytest.raises(ValueError, match="at least 2 samples; got 1"):
        classifier.explain(X[:1], method="feature_permutation")


def test_missing_captum_raises_an_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "captum.attr", None)
    X, spec = data("tabular", (6,))
    with pytest.raises(ImportError, match=r'pip install "xsup\[explain\]"'):
        IntegratedGradients().explain(relu_net(spec), X, TARGET, spec)


# ----------------------------------------------------------------------------- through the estimator

SHAPES = {"tabular": (6,), "time_series": (5, 3), "images": (2, 8, 8), "raster_sequences": (3, 1, 8, 8)}
CHEAP = {"integrated_gradients": {"n_steps": 8}, "smoothgrad": {"nt_samples": 2},
         "shapley_sampling": {"n_samples": 2}, "gradient_shap": {"n_samples": 2},
         "feature_ablation": {"perturbations_per_eval": 16}}
METHODS = ("integrated_gradients", "smoothgrad", "deeplift", "gradient_shap", "deep_shap", "occlusion",
           "feature_ablation", "feature_permutation", "shapley_sampling", "random")


@pytest.fixture(scope="module", params=list(SHAPES))
def fitted(request):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, *SHAPES[request.param])).astype(np.float32)
    y = np.arange(8) % 2
    options = dict(max_epochs=1, batch_size=4, train_split=None, verbose=0, random_state=0)
    classifier = ExplanationSupervisedClassifier(**options).fit(X, y)
    regressor = ExplanationSupervisedRegressor(**options).fit(X, rng.normal(size=(8, 2)).astype(np.float32))
    return X, classifier, regressor


def test_every_method_explains_every_kind_through_the_estimator(fitted):
    X, classifier, regressor = fitted
    expected = (8, *classifier.input_spec_.annotation_shape)
    for method in METHODS:
        options = {**CHEAP.get(method, {}), "random_state": 0}
        maps = classifier.explain(X, method=method, **options)
        assert maps.shape == expected, method
        assert np.isfinite(maps).all() and maps.min() >= 0 and np.allclose(maps.max(axis=tuple(
            range(1, maps.ndim))), 1.0), method
    maps = regressor.explain(X, method="integrated_gradients", target=1, baseline="zeros", n_steps=8)
    assert maps.shape == expected and np.isfinite(maps).all()
    again = classifier.explain(X, method="integrated_gradients", baseline="zeros", n_steps=8)
    assert np.allclose(again, classifier.explain(X, method="integrated_gradients", baseline=0.0, n_steps=8))


# ----------------------------------------------------------------------------- through an estimator
@pytest.mark.parametrize("method", ["smoothgrad", "integrated_gradients", "gradient_shap",
                                    "occlusion", "feature_permutation", "random"])
def test_a_seeded_estimator_explains_the_same_way_on_every_call(method):
    from xsup import ExplanationSupervisedClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 3, 4)).astype(np.float32)
    y = np.arange(12) % 2
    fitted = ExplanationSupervisedClassifier(max_epochs=1, train_split=None, verbose=0,
                                             random_state=0).fit(X, y)
    first, second = fitted.explain(X, method=method), fitted.explain(X, method=method)
    np.testing.assert_array_equal(first, second)
    other = fitted.explain(X, method=method, random_state=1)  # an explicit seed wins
    np.testing.assert_array_equal(other, fitted.explain(X, method=method, random_state=1))
    assert not np.array_equal(first, other)
