"""Temporal Saliency Rescaling: hand-computed maps, batched == loop, options, errors, estimator use."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from torch import nn

from xsup import ExplanationSupervisedClassifier, plugins
from xsup.base import Explainer
from xsup.bench._tsr_timing import measure_tsr_speedup, tsr_loop
from xsup.explainers import GradCAM, InputGradient, TemporalSaliencyRescaling
from xsup.explainers.tsr import minmax_rescale
from xsup.spec import InputSpec
from xsup.testing import tiny_backbone


class InputTimesGradient(Explainer):
    """|x · df/dx| summed over channels: |w x| for a linear model, so TSR can be done by hand."""

    def explain(self, model, X, target, spec, *, create_graph=False):
        X = X.detach().requires_grad_(True)
        output = model(X)
        (gradient,) = torch.autograd.grad(output.gather(1, target.reshape(-1, 1)).sum(), X)
        saliency = (X * gradient).abs().detach()
        if spec.kind == "raster_sequences":
            saliency = saliency.sum(dim=2)
        return output, saliency


class RecordingGradient(InputGradient):
    """Input gradients that record the batch size of every call (TSR explains with a copy)."""

    sizes: list[int] = []

    def explain(self, model, X, target, spec, *, create_graph=False):
        RecordingGradient.sizes.append(len(X))
        return super().explain(model, X, target, spec, create_graph=create_graph)


def linear_model(weight: list[list[float]]) -> nn.Module:
    rows = torch.tensor(weight, dtype=torch.float64)
    model = nn.Sequential(nn.Flatten(), nn.Linear(rows.shape[1], rows.shape[0], bias=False)).double()
    with torch.no_grad():
        model[1].weight.copy_(rows)
    return model.eval()


# One time series, T = 3 steps, F = 2 features; R = |w x| for the target row of w.
X_HAND = torch.tensor([[[1.0, 2.0], [3.0, 0.0], [-1.0, 1.0]]], dtype=torch.float64)
W_HAND = [[1.0, 1.0, 2.0, 5.0, 0.5, -2.0], [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]]
SPEC_HAND = InputSpec("time_series", (3, 2), 2)


def hand_tsr(target: list[int], **options) -> torch.Tensor:
    X = X_HAND.expand(len(target), -1, -1)
    tsr = TemporalSaliencyRescaling(base=InputTimesGradient(), **options)
    return tsr.explain(linear_model(W_HAND), X, torch.tensor(target), SPEC_HAND)[1]


def test_tsr_matches_hand_computed_maps_of_a_linear_model():
    # Target 0: R = [[1, 2], [6, 0], [0.5, 2]]; masking a step with 0 removes its row, so
    # delta = [3, 6, 2.5] -> rescaled [1/7, 1, 0]; steps 0 and 1 are above 0.1 and their
    # feature relevances are the cells of R. Target 1: R = [[0, 0], [0, 0], [1, 1]].
    maps = hand_tsr([0, 1], threshold=0.1, threshold_mode="absolute")
    expected = torch.tensor([[[1 / 7, 2 / 7], [6.0, 0.0], [0.0, 0.0]],
                             [[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]]], dtype=torch.float64)
    torch.testing.assert_close(maps, expected)


def test_steps_below_the_threshold_get_the_below_threshold_score():
    paper = hand_tsr([0], threshold=0.5, threshold_mode="absolute")
    reference = hand_tsr([0], threshold=0.5, threshold_mode="absolute", below_threshold_score=0.1)
    torch.testing.assert_close(paper[0], torch.tensor([[0.0, 0.0], [6.0, 0.0], [0.0, 0.0]],
                                                      dtype=torch.float64))
    torch.testing.assert_close(reference[0], torch.tensor([[0.1 / 7, 0.1 / 7], [6.0, 0.0], [0.0, 0.0]],
                                                          dtype=torch.float64))


def test_quantile_threshold_and_feature_normalisation():
    # The 0.55 quantile of [1/7, 1, 0] is 1/7 + 0.1 * (1 - 1/7) > 1/7: only step 1 is kept,
    # and min-max rescaling its feature relevances [6, 0] gives [1, 0].
    maps = hand_tsr([0], normalize_features=True)
    torch.testing.assert_close(maps[0], torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]],
                                                     dtype=torch.float64))


def test_first_element_mask_value():
    # Masking with x[0, 0] = 1: delta = [1, 9, 0] -> [1/9, 1, 0]; feature relevances
    # step 0: [0 (already 1), |1 - 2|], step 1: [|2 - 6|, |5 - 0|].
    maps = hand_tsr([0], threshold=0.0, threshold_mode="absolute", mask_value="first")
    torch.testing.assert_close(maps[0], torch.tensor([[0.0, 1 / 9], [4.0, 5.0], [0.0, 0.0]],
                                                     dtype=torch.float64))


def test_raster_sequences_mask_every_channel_of_a_pixel():
    # T = 2 frames of C = 2 channels, 1 x 2 pixels; R[t, w] = sum_c |x[t, c, w]| (weights 1).
    X = torch.tensor([[[[[1.0, 2.0]], [[3.0, -1.0]]], [[[0.0, 1.0]], [[2.0, 0.0]]]]],
                     dtype=torch.float64)
    spec = InputSpec("raster_sequences", (2, 2, 1, 2), 1)
    tsr = TemporalSaliencyRescaling(base=InputTimesGradient(), threshold=0.5, threshold_mode="absolute")
    _, maps = tsr.explain(linear_model([[1.0] * 8]), X, torch.tensor([0]), spec)
    # delta = [7, 3] -> [1, 0]; masking pixel w of frame 0 in both channels removes R[0, w].
    torch.testing.assert_close(maps, torch.tensor([[[[4.0, 3.0]], [[0.0, 0.0]]]], dtype=torch.float64))


LOOP_OPTIONS = [
    {},
    {"chunk_size": 7, "mask_value": "first", "below_threshold_score": 0.1, "normalize_features": True},
    {"chunk_size": 13, "threshold": 0.3, "threshold_mode": "absolute", "mask_value": -1.5},
]


@pytest.mark.parametrize("kind,shape", [("time_series", (6, 4)), ("raster_sequences", (3, 2, 4, 4))])
@pytest.mark.parametrize("options", LOOP_OPTIONS)
def test_batched_tsr_equals_the_per_step_loop(kind, shape, options):
    torch.manual_seed(0)
    spec = InputSpec(kind, shape, 3)
    model = tiny_backbone(spec).double().eval()
    X = torch.randn(5, *shape, dtype=torch.float64)
    target = torch.arange(5) % 3
    tsr = TemporalSaliencyRescaling(**options)
    output, batched = tsr.explain(model, X, target, spec)
    looped = tsr_loop(tsr, model, X, target, spec)
    assert batched.shape == (5, *spec.annotation_shape)
    assert bool(batched.abs().max() > 0)
    torch.testing.assert_close(batched, looped, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(output, model(X))


def test_chunk_size_bounds_the_inputs_of_each_base_call():
    torch.manual_seed(0)
    spec = InputSpec("time_series", (6, 4), 3)
    model = nn.Sequential(nn.Flatten(), nn.Linear(24, 5), nn.Tanh(), nn.Linear(5, 3)).eval()
    RecordingGradient.sizes = []
    tsr = TemporalSaliencyRescaling(base=RecordingGradient(), chunk_size=8, threshold=0.0, threshold_mode="absolute")
    tsr.explain(model, torch.randn(5, 6, 4), torch.zeros(5, dtype=torch.long), spec)
    # Step 1: 5 * (6 + 1) = 35 inputs -> 8, 8, 8, 8, 3; step 2: every step but each sample's
    # least relevant one, 5 * 5 steps * 4 features = 100 inputs -> 12 calls of 8 and one of 4.
    assert RecordingGradient.sizes == [8, 8, 8, 8, 3] + [8] * 12 + [4]


def test_minmax_rescale_handles_constant_rows():
    values = torch.tensor([[2.0, 4.0, 3.0], [5.0, 5.0, 5.0], [0.0, 0.0, 0.0]])
    expected = torch.tensor([[0.0, 1.0, 0.5], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    torch.testing.assert_close(minmax_rescale(values), expected)


@pytest.mark.parametrize("kind,shape", [("tabular", (6,)), ("images", (2, 8, 8))])
def test_inputs_without_time_axis_are_declined(kind, shape):
    spec = InputSpec(kind, shape, 3)
    model = tiny_backbone(spec).eval()
    with pytest.raises(ValueError, match="time axis"):
        TemporalSaliencyRescaling().explain(model, torch.randn(2, *shape), torch.zeros(2), spec)
    with pytest.raises(ValueError, match="time axis"):
        TemporalSaliencyRescaling().setup(spec)


@pytest.mark.parametrize("options,error,match", [
    ({"threshold": 1.5}, ValueError, "threshold must be a number in"),
    ({"threshold": -0.1, "threshold_mode": "absolute"}, ValueError, "threshold must be"),
    ({"threshold": "high"}, ValueError, "threshold must be"),
    ({"threshold_mode": "mean"}, ValueError, "threshold_mode must be one of"),
    ({"mask_value": "last"}, ValueError, "mask_value must be a finite number or 'first'"),
    ({"mask_value": float("nan")}, TypeError, "mask_value must be a finite number"),
    ({"below_threshold_score": -0.1}, ValueError, "below_threshold_score"),
    ({"normalize_features": "yes"}, TypeError, "normalize_features must be a bool"),
    ({"chunk_size": 0}, ValueError, "chunk_size must be an int >= 1"),
    ({"chunk_size": 2.5}, ValueError, "chunk_size must be an int >= 1"),
    ({"base": 42}, TypeError, "base must be a registered explainer name"),
    ({"base": nn.Linear(2, 2)}, TypeError, "base must be"),
    ({"base": "no_such_explainer"}, plugins.PluginNotFoundError, "no_such_explainer"),
])
def test_bad_options_raise(options, error, match):
    spec = InputSpec("time_series", (3, 2), 2)
    with pytest.raises(error, match=match):
        plugins.resolve("explainers", TemporalSaliencyRescaling, options, spec=spec).explain(
            linear_model(W_HAND).float(), torch.randn(2, 3, 2), torch.zeros(2, dtype=torch.long), spec)


def test_base_given_as_name_class_or_instance_gives_the_same_maps():
    torch.manual_seed(0)
    spec = InputSpec("time_series", (6, 4), 3)
    model = tiny_backbone(spec).eval()
    X, target = torch.randn(3, 6, 4), torch.arange(3)
    maps = [TemporalSaliencyRescaling(base=base).explain(model, X, target, spec)[1]
            for base in ("gradient", InputGradient, InputGradient())]
    torch.testing.assert_close(maps[0], maps[1])
    torch.testing.assert_close(maps[0], maps[2])


def test_nested_base_parameters_round_trip():
    tsr = TemporalSaliencyRescaling(base=GradCAM(layer="blocks"))
    assert tsr.get_params()["base__layer"] == "blocks"
    tsr.set_params(base__layer="blocks.0", threshold=0.4)
    assert tsr.base.layer == "blocks.0" and tsr.threshold == 0.4
    cloned = clone(tsr)
    assert cloned.base is not tsr.base and cloned.get_params()["base__layer"] == "blocks.0"


def test_estimator_uses_tsr_as_explainer_and_by_name():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 5, 3)).astype(np.float32)
    y = (X[:, 2, 1] > 0).astype(int)
    clf = ExplanationSupervisedClassifier(explainer="tsr", explainer__base="gradient",
                                          explainer__threshold=0.5, max_epochs=1, batch_size=8,
                                          train_split=None, verbose=0, random_state=0).fit(X, y)
    assert isinstance(clf.explainer_, TemporalSaliencyRescaling)
    assert clf.explainer_.threshold == 0.5 and clf.explainer_.base == "gradient"
    default = clf.explain(X)
    by_name = clf.explain(X, method="tsr", base="gradient", threshold=0.5)
    assert default.shape == (16, 5, 3) and np.isfinite(default).all()
    assert default.min() >= 0 and np.allclose(default.reshape(16, -1).max(axis=1), 1.0)
    np.testing.assert_allclose(by_name, default)


def test_measure_tsr_speedup_reports_both_timings():
    result = measure_tsr_speedup(n=2, t=4, f=3, seed=1)
    for key in ("loop_seconds", "batched_seconds", "speedup", "max_abs_difference", "n", "t", "f"):
        assert key in result
    assert (result["n"], result["t"], result["f"]) == (2, 4, 3)
    assert result["speedup"] == pytest.approx(result["loop_seconds"] / result["batched_seconds"])
    assert result["max_abs_difference"] < 1e-4
    assert result["batched_calls"] == 2 and result["loop_calls"] > 2 * 4
