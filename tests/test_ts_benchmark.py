"""make_ts_benchmark and sample_ts_process: box geometry, labels, processes, determinism, checks."""

from __future__ import annotations

import numpy as np
import pytest

from xsup.datasets import (
    TS_BENCHMARK_KINDS,
    TS_PROCESSES,
    make_ts_benchmark,
    sample_ts_process,
)

#: kind -> (time size, feature size, time starts, feature starts) on the 50 x 50 grid, written
#: from the benchmark's description; a set lists every start a box may take.
GEOMETRY = {
    "middle": (30, 30, {10}, {10}),
    "small_middle": (14, 14, {18}, {18}),
    "moving_middle": (30, 30, set(range(20)), set(range(20))),
    "moving_small_middle": (15, 15, set(range(35)), set(range(35))),
    "rare_time": (6, 40, {22}, {5}),
    "moving_rare_time": (6, 40, set(range(44)), set(range(10))),
    "rare_feature": (40, 6, {5}, {22}),
    "moving_rare_feature": (40, 6, set(range(10)), set(range(44))),
    "positional_time": (20, 20, {1, 29}, set(range(30))),
    "positional_feature": (20, 20, set(range(30)), {1, 29}),
}


def test_the_ten_kinds_and_seven_processes_are_listed():
    assert set(TS_BENCHMARK_KINDS) == set(GEOMETRY)
    assert TS_PROCESSES == (
        "gaussian", "autoregressive", "continuous_autoregressive", "gaussian_process",
        "harmonic", "narma", "pseudo_periodic",
    )


@pytest.mark.parametrize("process", TS_PROCESSES)
def test_every_process_gives_float32_series_int_labels_and_a_box_mask(process):
    X, y, E, boxes = make_ts_benchmark("middle", process, 12, random_state=0)
    assert X.shape == E.shape == (12, 50, 50)
    assert X.dtype == E.dtype == np.float32 and np.isfinite(X).all()
    assert y.shape == (12,) and y.dtype == np.int64 and set(np.unique(y)) == {0, 1}
    assert boxes.shape == (12, 4) and boxes.dtype == np.int64
    assert set(np.unique(E)) == {0.0, 1.0}


@pytest.mark.parametrize("kind", TS_BENCHMARK_KINDS)
def test_box_geometry_follows_the_benchmark(kind):
    time_size, feature_size, time_starts, feature_starts = GEOMETRY[kind]
    _, y, E, boxes = make_ts_benchmark(kind, n_samples=600, random_state=0)
    np.testing.assert_array_equal(boxes[:, 1] - boxes[:, 0], time_size)
    np.testing.assert_array_equal(boxes[:, 3] - boxes[:, 2], feature_size)
    assert set(boxes[:, 0].tolist()) == time_starts  # every allowed start is drawn, no other
    assert set(boxes[:, 2].tolist()) == feature_starts
    assert (boxes[:, [1, 3]] <= 50).all()
    for sample in (0, 1, 2):
        t0, t1, f0, f1 = boxes[sample]
        expected = np.zeros((50, 50), dtype=np.float32)
        expected[t0:t1, f0:f1] = 1
        np.testing.assert_array_equal(E[sample], expected)


@pytest.mark.parametrize(
    ("kind", "column"), [("positional_time", 0), ("positional_feature", 2)]
)
def test_positional_kinds_code_the_class_by_the_position_along_their_axis(kind, column):
    X, y, E, boxes = make_ts_benchmark(kind, n_samples=200, random_state=0)
    np.testing.assert_array_equal(boxes[:, column], np.where(y == 1, 1, 29))
    inside = E > 0
    for label in (0, 1):  # the box is raised for both classes
        assert X[y == label][inside[y == label]].mean() == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("process", ["gaussian", "autoregressive", "harmonic"])
def test_the_box_adds_the_shift_for_class_one_and_subtracts_it_for_class_zero(process):
    X, y, E, _ = make_ts_benchmark("middle", process, 200, random_state=0, shift=2.0)
    background = sample_ts_process(process, 200, random_state=1)[:, 10:40, 10:40].mean()
    inside = E > 0
    assert X[y == 1][inside[y == 1]].mean() - background == pytest.approx(2.0, abs=0.1)
    assert X[y == 0][inside[y == 0]].mean() - background == pytest.approx(-2.0, abs=0.1)
    assert X[~inside].mean() - background == pytest.approx(0.0, abs=0.1)


def test_gaussian_background_is_standard_normal_without_extra_noise():
    X, _, E, _ = make_ts_benchmark("small_middle", n_samples=200, random_state=0)
    outside = X[E == 0]
    assert outside.mean() == pytest.approx(0.0, abs=0.02)
    assert outside.std() == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("n_samples", [101, 200])
def test_classes_are_balanced(n_samples):
    _, y, _, _ = make_ts_benchmark("middle", n_samples=n_samples, random_state=3)
    assert y.sum() == n_samples // 2
    assert not (np.diff(y) == 0).all()  # shuffled, not sorted


def test_an_int_seed_gives_the_same_data_and_another_seed_other_data():
    first = make_ts_benchmark("moving_middle", "narma", 20, random_state=7)
    again = make_ts_benchmark("moving_middle", "narma", 20, random_state=7)
    other = make_ts_benchmark("moving_middle", "narma", 20, random_state=8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(first[3], other[3])


def test_other_grid_sizes_scale_the_boxes():
    X, _, E, boxes = make_ts_benchmark(
        "middle", n_samples=4, random_state=0, n_steps=20, n_features=30
    )
    assert X.shape == E.shape == (4, 20, 30)
    np.testing.assert_array_equal(boxes, np.tile([4, 16, 6, 24], (4, 1)))
    _, _, _, boxes = make_ts_benchmark(
        "moving_rare_time", n_samples=300, random_state=0, n_steps=10, n_features=10
    )
    assert (boxes[:, 1] <= 10).all() and (boxes[:, 3] <= 10).all()
    assert set((boxes[:, 1] - boxes[:, 0]).tolist()) == {1}


def test_autoregressive_lag_one_autocorrelation_is_point_nine():
    X = sample_ts_process("autoregressive", 2000, random_state=0, noise=0.0, n_features=5)
    later = X[:, 20:]  # past the start from zero
    lag1 = np.corrcoef(later[:, :-1].ravel(), later[:, 1:].ravel())[0, 1]
    assert lag1 == pytest.approx(0.9, abs=0.01)
    assert later.std() == pytest.approx(0.5 / np.sqrt(1 - 0.81), rel=0.05)


def test_harmonic_has_frequency_two_and_the_noise_its_standard_deviation():
    times = np.linspace(0.0, 3.0, 50)
    clean = sample_ts_process("harmonic", 2, noise=0.0, n_features=3, times=times)
    expected = np.broadcast_to(np.sin(4 * np.pi * times)[None, :, None], clean.shape)
    np.testing.assert_allclose(clean, expected, atol=1e-6)
    shifted = sample_ts_process("harmonic", 1, noise=0.0, n_features=1, times=times + 0.5)
    np.testing.assert_allclose(shifted[0, :, 0], clean[0, :, 0], atol=1e-5)  # period 0.5
    noisy = sample_ts_process("harmonic", 100, random_state=0, n_features=3, times=times)
    assert (noisy - clean[:1]).std() == pytest.approx(0.3, abs=0.01)


def test_narma_differs_across_series_by_default_and_not_with_fixed_inputs():
    X = sample_ts_process("narma", 3, random_state=0, noise=0.0)
    assert np.isfinite(X).all() and 0.0 < X.min() and X.max() < 2.0
    assert np.abs(X[0] - X[1]).max() > 0.1
    assert np.abs(X[0, :, 0] - X[0, :, 1]).max() > 0.1
    fixed = sample_ts_process("narma", 3, random_state=0, noise=0.0, fixed_narma_inputs=True)
    other_seed = sample_ts_process("narma", 3, random_state=1, noise=0.0, fixed_narma_inputs=True)
    np.testing.assert_array_equal(fixed, np.broadcast_to(fixed[:1, :, :1], fixed.shape))
    np.testing.assert_array_equal(fixed, other_seed)


def test_gaussian_process_has_unit_variance_and_matern_correlation():
    times = np.arange(0.0, 5.0, 0.5)
    X = sample_ts_process("gaussian_process", 3000, random_state=0, noise=0.0,
                          n_steps=10, n_features=2, times=times)
    assert X.var() == pytest.approx(1.0, abs=0.05)
    lag = np.corrcoef(X[:, :-1].ravel(), X[:, 1:].ravel())[0, 1]
    distance = np.sqrt(3) * 0.5
    assert lag == pytest.approx((1 + distance) * np.exp(-distance), abs=0.02)


def test_continuous_autoregressive_is_nearly_flat_so_the_noise_dominates():
    X = sample_ts_process("continuous_autoregressive", 50, random_state=0, noise=0.0)
    assert np.abs(X).max() < 0.05
    noisy = sample_ts_process("continuous_autoregressive", 50, random_state=0)
    assert noisy.std() == pytest.approx(0.3, abs=0.01)


def test_pseudo_periodic_draws_the_amplitude_at_every_point():
    crest = np.full(10, np.pi / 4)  # sin(2 t) = 1
    X = sample_ts_process("pseudo_periodic", 500, random_state=0, noise=0.0, n_steps=10,
                          times=crest)
    assert X.mean() == pytest.approx(1.0, abs=0.02)
    assert X.std() == pytest.approx(0.5, abs=0.02)


def test_uninformative_samples_carry_no_box():
    X = sample_ts_process("gaussian", 400, random_state=0)
    assert X.shape == (400, 50, 50) and X.dtype == np.float32
    assert np.abs(X.mean(axis=0)).max() < 0.25  # no cell is shifted
    X = sample_ts_process("autoregressive", 400, random_state=0, n_steps=30, n_features=4)
    assert X.shape == (400, 30, 4)


def test_irregular_time_grids_differ_between_samples():
    X = sample_ts_process("harmonic", 2, random_state=0, noise=0.0, n_features=1)
    assert np.abs(X[0] - X[1]).max() > 0.1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"kind": "box"}, "kind must be one of middle, small_middle"),
        ({"kind": "middle", "process": "arima"}, "process must be one of gaussian, autoregressive"),
        ({"kind": "middle", "n_samples": 0}, "n_samples"),
        ({"kind": "middle", "n_steps": 5}, "n_steps"),
        ({"kind": "middle", "n_features": 5.0}, "n_features"),
        ({"kind": "middle", "shift": 0.0}, "shift"),
        ({"kind": "middle", "noise": -1.0}, "noise"),
        ({"kind": "middle", "fixed_narma_inputs": 1}, "fixed_narma_inputs"),
        ({"kind": "middle", "random_state": "seed"}, "random_state"),
    ],
)
def test_make_ts_benchmark_rejects_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        make_ts_benchmark(**arguments)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"process": "white"}, "process must be one of"),
        ({"n_steps": 1}, "n_steps"),
        ({"times": np.arange(10.0)}, r"times must have shape \(50,\)"),
        ({"times": np.arange(50.0)[::-1].copy()}, "non-decreasing"),
        ({"times": np.full(50, np.nan)}, "finite"),
    ],
)
def test_sample_ts_process_rejects_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        sample_ts_process(**arguments)
