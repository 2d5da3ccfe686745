"""Input-perturbation analysis (Robin et al.): planted receptive fields are recovered."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import log_loss, mean_squared_error

from xsup import ExplanationSupervisedClassifier
from xsup.analysis import PerturbationResult, perturbation_analysis


class PlantedField(torch.nn.Module):
    """Reads channel 0 of the last ``lags`` frames within ``radius`` of ``centre``, nothing else.

    ``metric="chebyshev"`` reads a (2r+1) x (2r+1) square, ``"euclidean"`` the
    pixels whose rounded distance is at most r. ``weights`` gives every read
    pixel its own fixed weight (an order-sensitive model); by default all
    pixels weigh alike (the field's mean). Outputs two logits (classification)
    or the score itself (regression).
    """

    def __init__(self, size, radius, lags, *, centre=None, metric="chebyshev", weighted=False,
                 regression=False):
        super().__init__()
        centre = centre or ((size - 1) // 2, (size - 1) // 2)
        rows, cols = np.meshgrid(np.arange(size) - centre[0], np.arange(size) - centre[1],
                                 indexing="ij")
        if metric == "chebyshev":
            inside = np.maximum(np.abs(rows), np.abs(cols)) <= radius
        else:
            inside = np.floor(np.sqrt(rows**2 + cols**2) + 0.5) <= radius
        weights = np.random.default_rng(1).uniform(-1, 1, (size, size)) if weighted else np.ones(
            (size, size))
        weights = np.where(inside, weights, 0.0)
        self.register_buffer("weights", torch.tensor(weights / np.abs(weights).sum(),
                                                     dtype=torch.float32))
        self.lags, self.regression = lags, regression

    def score(self, x):
        frames = x[:, -self.lags:, 0] if x.ndim == 5 else x[:, None, 0]
        return (frames * self.weights).sum(dim=(-2, -1)).mean(dim=1)

    def forward(self, x):
        s = self.score(x)
        return s[:, None] if self.regression else torch.stack([-20 * s, 20 * s], dim=1)


def _sequences(n=160, steps=6, size=9, channels=1, seed=0):
    return np.random.default_rng(seed).normal(size=(n, steps, channels, size, size)).astype(
        np.float32)


def _labels(model, X):
    with torch.no_grad():
        return (model.score(torch.as_tensor(X)) > 0).numpy().astype(int)


@pytest.mark.parametrize(("radius", "lags"), [(0, 1), (1, 2), (2, 4)])
def test_reach_recovers_planted_radius_and_lags_exactly(radius, lags):
    model = PlantedField(9, radius, lags)
    X = _sequences()
    result = perturbation_analysis(model, X, _labels(model, X), task="classification",
                                   n_repeats=3, random_state=0)
    assert (result.spatial_reach, result.temporal_reach) == (radius, lags)
    # Rings and lags the model never reads leave the error exactly unchanged.
    assert np.all(result.spatial.increase[radius + 1:] == 0)
    assert np.all(result.temporal.increase[lags:] == 0)
    assert np.all(result.spatial.increase[: radius + 1] > 0)


def test_euclidean_rings_recover_a_disc_shaped_field():
    model = PlantedField(11, 3, 2, metric="euclidean")
    X = _sequences(size=11)
    result = perturbation_analysis(model, X, _labels(model, X), task="classification",
                                   metric="euclidean", n_repeats=2, random_state=0)
    assert result.spatial_reach == 3
    assert result.spatial.positions.tolist() == list(range(8))  # corner: sqrt(50) -> 7


def test_target_pixel_off_centre_moves_the_rings():
    model = PlantedField(9, 1, 1, centre=(2, 6))
    X = _sequences()
    y = _labels(model, X)
    off = perturbation_analysis(model, X, y, task="classification", target_pixel=(2, 6),
                                analyses=["spatial"], random_state=0)
    per_sample = perturbation_analysis(model, X, y, task="classification",
                                       target_pixel=np.tile([2, 6], (len(X), 1)),
                                       analyses=["spatial"], random_state=0)
    assert off.spatial_reach == per_sample.spatial_reach == 1
    np.testing.assert_array_equal(off.spatial.errors, per_sample.spatial.errors)
    assert off.temporal is None


def test_per_sample_target_pixels_measure_each_sample_from_its_own_target():
    # The model reads pixel (1, 1) only. Half the samples name it as their target
    # (distance 0), the other half name (3, 3), from which it lies at distance 2.
    class Pixel(torch.nn.Module):
        def forward(self, x):
            s = x[:, 0, 1, 1]
            return torch.stack([-10 * s, 10 * s], dim=1)

    X = _sequences(n=100, size=5)[:, 0]
    y = (X[:, 0, 1, 1] > 0).astype(int)
    targets = np.where(np.arange(100)[:, None] < 50, [1, 1], [3, 3])
    result = perturbation_analysis(Pixel(), X, y, task="classification", target_pixel=targets,
                                   random_state=0)
    increase = result.spatial.increase
    assert result.spatial.positions.tolist() == [0, 1, 2, 3]
    assert increase[0] > 0 and increase[2] > 0
    assert increase[1] == increase[3] == 0
    assert result.spatial_reach == 2


def test_regression_uses_mean_squared_error_from_baseline():
    model = PlantedField(9, 1, 3, regression=True)
    X = _sequences()
    with torch.no_grad():
        y = model.score(torch.as_tensor(X)).numpy() + 0.1
    result = perturbation_analysis(model, X, y, task="regression", n_repeats=2, random_state=0)
    assert result.error == "MSE" and result.task == "regression"
    assert result.baseline_error == pytest.approx(0.01, rel=1e-4)
    assert (result.spatial_reach, result.temporal_reach) == (1, 3)


def test_swapping_two_samples_gives_the_hand_computed_error():
    # Output = last step's feature 0; with two samples a shuffle either keeps them
    # (error 0) or swaps them (squared error (a - b)^2 for both).
    class LastStep(torch.nn.Module):
        def forward(self, x):
            return x[:, -1, 0]

    X = np.array([[[0.0], [1.0]], [[0.0], [4.0]]], dtype=np.float32)  # (2, T=2, F=1)
    y = X[:, -1, 0]
    result = perturbation_analysis(LastStep(), X, y, task="regression", n_repeats=8,
                                   random_state=3)
    errors = result.temporal.errors
    assert set(np.unique(errors[:, 0])) <= {0.0, 9.0} and 9.0 in errors[:, 0]
    np.testing.assert_array_equal(errors[:, 1], 0.0)  # lag 2 is never read
    assert result.temporal.increase[0] == pytest.approx(errors[:, 0].mean())
    assert result.temporal_reach == 1


def test_classification_error_is_sklearn_log_loss():
    model = PlantedField(9, 1, 1)
    X = _sequences(n=40)
    y = np.random.default_rng(5).integers(0, 2, len(X))  # labels the model cannot fit
    result = perturbation_analysis(model, X, y, task="classification", random_state=0,
                                   n_repeats=1)
    with torch.no_grad():
        proba = torch.softmax(model(torch.as_tensor(X)).double(), dim=1).numpy()
    assert result.baseline_error == pytest.approx(log_loss(y, proba))


def test_windows_of_several_frames_still_recover_the_lags():
    model = PlantedField(7, 1, 3)
    X = _sequences(size=7, steps=8)
    result = perturbation_analysis(model, X, _labels(model, X), task="classification",
                                   analyses=["temporal"], window=3, random_state=0)
    assert result.temporal.positions.tolist() == [1, 2, 3, 4, 5, 6]
    assert result.temporal_reach == 3


def test_position_shuffle_sees_order_but_not_pooling():
    X = _sequences(size=7)
    pooled, weighted = PlantedField(7, 2, 2), PlantedField(7, 2, 2, weighted=True)
    kwargs = {"task": "classification", "shuffle": "positions", "window": 2, "random_state": 0}
    blind = perturbation_analysis(pooled, X, _labels(pooled, X), **kwargs)
    seen = perturbation_analysis(weighted, X, _labels(weighted, X), **kwargs)
    # A mean over the field ignores where its pixels sit; weighted pixels do not.
    assert np.allclose(blind.spatial.increase, 0, atol=1e-6)
    assert seen.spatial_reach == 2
    # Both average the 2 frames: reordering them (window at lag 1) changes nothing, while
    # the window at lag 2 swaps a read frame with an unread one.
    for result in (blind, seen):
        assert result.temporal.increase[0] == pytest.approx(0, abs=1e-6)
        assert result.temporal.increase[1] > 0
        assert result.temporal_reach == 2


def test_same_seed_same_curves_and_settings_are_recorded():
    model = PlantedField(7, 1, 2)
    X = _sequences(size=7)
    y = _labels(model, X)
    first = perturbation_analysis(model, X, y, task="classification", random_state=4)
    again = perturbation_analysis(model, torch.as_tensor(X), y, task="classification",
                                  random_state=4)
    other = perturbation_analysis(model, X, y, task="classification", random_state=5)
    np.testing.assert_array_equal(first.spatial.errors, again.spatial.errors)
    np.testing.assert_array_equal(first.temporal.errors, again.temporal.errors)
    assert not np.array_equal(first.spatial.errors, other.spatial.errors)
    assert first.settings["n_repeats"] == 5 and first.settings["metric"] == "chebyshev"


def test_memory_mapped_input_gives_the_same_curves(tmp_path):
    model = PlantedField(7, 1, 2)
    X = _sequences(size=7, n=40)
    mapped = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float32,
                                       shape=X.shape)
    mapped[:] = X
    y = _labels(model, X)
    kwargs = {"task": "classification", "n_repeats": 2, "random_state": 0, "batch_size": 16}
    expected = perturbation_analysis(model, X, y, **kwargs)
    result = perturbation_analysis(model, np.load(tmp_path / "X.npy", mmap_mode="r"), y, **kwargs)
    np.testing.assert_array_equal(result.spatial.errors, expected.spatial.errors)
    np.testing.assert_array_equal(result.temporal.errors, expected.temporal.errors)


def test_significance_follows_the_documented_threshold():
    model = PlantedField(7, 2, 3)
    X = _sequences(size=7, n=60)
    y = np.random.default_rng(2).integers(0, 2, len(X))  # noisy: increases vary by repeat
    result = perturbation_analysis(model, X, y, task="classification", n_repeats=4,
                                   tolerance=0.1, n_std=1.5, random_state=0)
    for curve in (result.spatial, result.temporal):
        increases = curve.errors - result.baseline_error
        mean, std = increases.mean(axis=0), increases.std(axis=0, ddof=1)
        threshold = np.maximum(0.1 * max(mean.max(), 0), 1.5 * std / 2)
        np.testing.assert_array_equal(curve.significant, mean > threshold)
        expected = curve.positions[curve.significant].max() if curve.significant.any() else None
        assert curve.reach == expected


def test_images_get_spatial_and_time_series_temporal_analysis_only():
    model = PlantedField(9, 1, 1)
    images = _sequences()[:, 0]
    result = perturbation_analysis(model, images, _labels(model, images), task="classification",
                                   random_state=0)
    assert result.spatial_reach == 1 and result.temporal is None

    class Recent(torch.nn.Module):
        def forward(self, x):
            s = x[:, -2:].sum(dim=(1, 2))
            return torch.stack([-s, s], dim=1)

    series = np.random.default_rng(0).normal(size=(80, 10, 3)).astype(np.float32)
    y = (series[:, -2:].sum(axis=(1, 2)) > 0).astype(int)
    result = perturbation_analysis(Recent(), series, y, task="classification", random_state=0)
    assert result.temporal_reach == 2 and result.spatial is None


def test_training_mode_of_a_module_is_restored():
    model = PlantedField(7, 1, 1).train()
    X = _sequences(size=7, n=20)
    perturbation_analysis(model, X, _labels(model, X), task="classification", n_repeats=1)
    assert model.training


class ToyStringClassifier(ClassifierMixin, BaseEstimator):
    """A fitted scikit-learn classifier with string classes reading the centre pixel."""

    def fit(self, X, y):
        self.classes_ = np.array(["high", "low"])
        return self

    def predict_proba(self, X):
        p = 1 / (1 + np.exp(-10 * np.asarray(X)[:, 0, 4, 4]))
        return np.stack([p, 1 - p], axis=1)


def test_estimator_probabilities_are_scored_against_its_classes():
    X = _sequences()[:, 0]
    y = np.where(X[:, 0, 4, 4] > 0, "high", "low")
    result = perturbation_analysis(ToyStringClassifier().fit(X, y), X, y, random_state=0)
    assert result.task == "classification" and result.spatial_reach == 0


def test_trained_cnn_gru_reach_is_within_one_of_the_planted_field():
    # The label depends on the 3 x 3 pixels (radius 1) around the centre of the last
    # 2 frames. Channel 1 marks the field (identical in every sample, so shuffling
    # it changes nothing): the backbone pools over space and needs it to find the centre.
    rng = np.random.default_rng(3)
    steps, size, centre = 4, 7, 3
    marker = np.zeros((size, size), dtype=np.float32)
    marker[centre - 1 : centre + 2, centre - 1 : centre + 2] = 1

    def make(n):
        X = np.empty((n, steps, 2, size, size), dtype=np.float32)
        X[:, :, 0] = rng.normal(size=(n, steps, size, size))
        X[:, :, 1] = marker
        field = X[:, -2:, 0, centre - 1 : centre + 2, centre - 1 : centre + 2]
        return X, (field.mean(axis=(1, 2, 3)) > 0).astype(int)

    (X, y), (X_test, y_test) = make(500), make(300)
    clf = ExplanationSupervisedClassifier(
        module="cnn_gru", module__channels=(8, 8), module__hidden=8, batch_size=64,
        max_epochs=15, lr=1e-2, train_split=None, verbose=0, random_state=3,
    ).fit(X, y)
    assert clf.score(X_test, y_test) > 0.75
    result = perturbation_analysis(clf, X_test, y_test, n_repeats=3, random_state=3)
    assert abs(result.spatial_reach - 1) <= 1
    assert abs(result.temporal_reach - 2) <= 1


@pytest.mark.parametrize(
    ("X", "kwargs", "error", "match"),
    [
        (np.zeros((4, 3), np.float32), {}, ValueError, "X must hold time series"),
        (np.zeros((4, 5, 2), np.float32), {"analyses": ["spatial"]}, ValueError,
         r"analyses must be a non-empty selection of \['temporal'\]"),
        (np.zeros((4, 1, 5, 5), np.float32), {"analyses": []}, ValueError, "analyses"),
        (np.zeros((4, 5, 2), np.float32), {"distances": [0, 1]}, ValueError,
         "distances is for the spatial analysis"),
        (np.zeros((4, 1, 5, 5), np.float32), {"lags": [1]}, ValueError,
         "lags is for the temporal analysis"),
        (np.zeros((4, 1, 5, 5), np.float32), {"metric": "manhattan"}, ValueError,
         "metric must be one of 'chebyshev', 'euclidean'; got 'manhattan'"),
        (np.zeros((4, 1, 5, 5), np.float32), {"shuffle": "frames"}, ValueError, "shuffle must"),
        (np.zeros((4, 1, 5, 5), np.float32), {"n_repeats": 0}, ValueError,
         "n_repeats must be an int of at least 1; got 0"),
        (np.zeros((4, 1, 5, 5), np.float32), {"tolerance": 1.5}, ValueError,
         "tolerance must be a number of at least 0 and at most 1; got 1.5"),
        (np.zeros((4, 1, 5, 5), np.float32), {"n_std": -1}, ValueError, "n_std"),
        (np.zeros((4, 1, 5, 5), np.float32), {"batch_size": 2.5}, ValueError, "batch_size"),
        (np.zeros((4, 1, 5, 5), np.float32), {"distances": [0, 3]}, ValueError,
         r"distances must be distinct integers from 0 to 2 for this X; got \[0, 3\]"),
        (np.zeros((4, 1, 5, 5), np.float32), {"distances": [0.5]}, ValueError,
         "distances must be a non-empty sequence of integers"),
        (np.zeros((4, 6, 2), np.float32), {"lags": [0, 1]}, ValueError,
         "lags must be distinct integers from 1 to 6"),
        (np.zeros((4, 6, 2), np.float32), {"window": 7}, ValueError,
         "window must be an int of at least 1 and at most 6; got 7"),
        (np.zeros((4, 6, 2), np.float32), {"shuffle": "positions"}, ValueError,
         "window must be at least 2 with shuffle=.positions."),
        (np.zeros((4, 1, 5, 5), np.float32), {"target_pixel": (5, 0)}, ValueError,
         r"target_pixel must lie inside the 5 x 5 frames; got \[\[5, 0\]\]"),
        (np.zeros((4, 1, 5, 5), np.float32), {"target_pixel": (1.0, 2.0)}, ValueError,
         "target_pixel must be a"),
        (np.zeros((4, 1, 5, 5), np.float32), {"target_pixel": np.zeros((3, 2), int)}, ValueError,
         r"shape \(4, 2\)"),
        (np.zeros((1, 6, 2), np.float32), {}, ValueError,
         "shuffle='samples' needs at least 2 samples in X; got 1"),
        (np.full((4, 6, 2), np.nan, np.float32), {}, ValueError, "NaN"),
    ],
)
def test_bad_arguments_are_named(X, kwargs, error, match):
    class Mean(torch.nn.Module):
        def forward(self, x):
            s = x.reshape(len(x), -1).mean(dim=1)
            return torch.stack([-s, s], dim=1)

    y = np.zeros(len(X), dtype=int)
    with pytest.raises(error, match=match):
        perturbation_analysis(Mean(), X, y, task="classification", **kwargs)


def test_bad_models_and_targets_are_named():
    X = _sequences(n=10, size=5)
    model = PlantedField(5, 1, 1)
    with pytest.raises(ValueError, match="task .needed for an nn.Module. must be one of"):
        perturbation_analysis(model, X, np.zeros(10, int))
    with pytest.raises(TypeError, match="model must be a fitted xsup estimator"):
        perturbation_analysis(object(), X, np.zeros(10, int))
    with pytest.raises(ValueError, match=r"y must hold one target per sample of X \(10\); got 9"):
        perturbation_analysis(model, X, np.zeros(9, int), task="classification")
    with pytest.raises(ValueError, match=r"y must hold class labels among \[0, 1\]"):
        perturbation_analysis(model, X, np.full(10, 2), task="classification")
    with pytest.raises(ValueError, match=r"logits of shape \(N, n_classes\).*got shape \(10, 1\)"):
        perturbation_analysis(PlantedField(5, 1, 1, regression=True), X, np.zeros(10, int),
                              task="classification")
    with pytest.raises(ValueError, match="task must be None or 'classification'"):
        perturbation_analysis(ToyStringClassifier().fit(X, None), X[:, 0], np.full(10, "low"),
                              task="regression")


def test_result_is_a_small_dataclass():
    result = perturbation_analysis(PlantedField(5, 0, 1, regression=True), _sequences(20, 3, 5),
                                   np.zeros(20), task="regression", n_repeats=1, random_state=0)
    assert isinstance(result, PerturbationResult)
    assert result.spatial.errors.shape == (1, 3) and result.temporal.errors.shape == (1, 3)
    assert result.baseline_error == pytest.approx(mean_squared_error(
        np.zeros(20), PlantedField(5, 0, 1, regression=True).score(torch.as_tensor(
            _sequences(20, 3, 5))).numpy()))
