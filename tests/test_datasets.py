"""make_spatiotemporal_events: shapes, labels, annotations, determinism, options."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from xsup.datasets import make_spatiotemporal_events


def test_default_shapes_and_dtypes():
    X, y, E = make_spatiotemporal_events(50, random_state=0)
    assert X.shape == (50, 4, 1, 16, 16) and X.dtype == np.float32
    assert y.shape == (50,) and y.dtype == np.int64
    assert E.shape == (50, 4, 16, 16) and E.dtype == np.float32
    assert np.isfinite(X).all()


def test_custom_sizes():
    X, y, E = make_spatiotemporal_events(
        12, random_state=0, n_steps=6, n_channels=3, height=24, width=32
    )
    assert X.shape == (12, 6, 3, 24, 32)
    assert E.shape == (12, 6, 24, 32)


@pytest.mark.parametrize(("n_samples", "rate"), [(200, 0.18), (100, 0.5), (30, 0.01)])
def test_positive_rate_gives_an_exact_number_of_positives(n_samples, rate):
    _, y, _ = make_spatiotemporal_events(n_samples, random_state=1, positive_rate=rate)
    assert set(np.unique(y)) == {0, 1}
    assert y.sum() == max(1, round(rate * n_samples))


def test_an_int_seed_gives_the_same_data_and_another_seed_other_data():
    first = make_spatiotemporal_events(20, random_state=7)
    again = make_spatiotemporal_events(20, random_state=7)
    other = make_spatiotemporal_events(20, random_state=8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


def test_numpy_generators_and_random_states_are_accepted():
    X, _, _ = make_spatiotemporal_events(5, random_state=np.random.default_rng(0))
    X2, _, _ = make_spatiotemporal_events(5, random_state=np.random.RandomState(0))
    assert X.shape == X2.shape == (5, 4, 1, 16, 16)


def test_every_frame_has_a_box_around_the_region_negatives_included():
    _, y, E = make_spatiotemporal_events(100, random_state=0)
    assert set(np.unique(E)) == {0.0, 1.0}
    area = (E > 0).mean(axis=(2, 3))
    assert (area > 0).all() and (area < 0.6).all()
    assert (area[y == 0] > 0).all()


def test_the_label_lives_in_the_region_not_in_the_frame_mean():
    X, y, E = make_spatiotemporal_events(600, random_state=0)
    frame_mean = X.mean(axis=(1, 2, 3, 4))
    assert 0.4 < roc_auc_score(y, frame_mean) < 0.6
    # The region's growth: unsigned intensity inside the box, last frame minus first frame.
    inside = (np.abs(X[:, :, 0]) * E).sum(axis=(2, 3)) / E.sum(axis=(2, 3))
    assert roc_auc_score(y, inside[:, -1] - inside[:, 0]) > 0.95


def test_missing_annotation_rate_blanks_an_exact_share_of_whole_frames():
    _, _, E = make_spatiotemporal_events(40, random_state=0, missing_annotation_rate=0.25)
    nan_cells = np.isnan(E)
    missing = nan_cells.all(axis=(2, 3))
    assert missing.sum() == 40
    assert (nan_cells.any(axis=(2, 3)) == missing).all()  # no partly missing frame
    assert set(np.unique(E[~missing])) == {0.0, 1.0}


def test_no_missing_frames_by_default():
    _, _, E = make_spatiotemporal_events(20, random_state=0)
    assert not np.isnan(E).any()


def test_shortcut_marks_the_corner_of_positive_samples_only():
    X, y, E = make_spatiotemporal_events(60, random_state=0, shortcut=True)
    corner = X[:, :, :, :2, :2]
    assert (corner[y == 1] == np.float32(1.1)).all()
    assert np.abs(corner[y == 0]).max() < 0.8
    # Same scenes and annotations as without the shortcut, except for the patch.
    X0, y0, E0 = make_spatiotemporal_events(60, random_state=0)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(E, E0)
    X[:, :, :, :2, :2] = X0[:, :, :, :2, :2]
    np.testing.assert_array_equal(X, X0)


def test_shortcut_agreement_zero_codes_the_other_label():
    X, y, _ = make_spatiotemporal_events(60, random_state=0, shortcut=True, shortcut_agreement=0.0)
    patched = (X[:, :, :, :2, :2] == np.float32(1.1)).all(axis=(1, 2, 3, 4))
    np.testing.assert_array_equal(patched, y == 0)


def test_annotate_shortcut_marks_the_corner_as_not_mattering():
    _, _, E = make_spatiotemporal_events(
        30, random_state=0, shortcut=True, annotate_shortcut=True, missing_annotation_rate=0.5
    )
    missing = np.isnan(E).all(axis=(2, 3))
    assert (E[~missing][:, :2, :2] == -1).all()
    assert (E[~missing][:, 2:, 2:] >= 0).all()


def test_annotate_shortcut_without_shortcut_changes_nothing():
    _, _, E = make_spatiotemporal_events(10, random_state=0, annotate_shortcut=True)
    assert E.min() == 0.0


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("n_samples", 0),
        ("n_steps", 1),
        ("n_channels", 0),
        ("height", 4),
        ("width", 2.5),
        ("positive_rate", 0.0),
        ("positive_rate", 1.0),
        ("n_distractors", -1),
        ("noise", -0.1),
        ("noise", float("inf")),
        ("box_margin", -1),
        ("missing_annotation_rate", 1.5),
        ("shortcut", "yes"),
        ("shortcut_agreement", -0.1),
        ("annotate_shortcut", 1),
        ("random_state", "seed"),
    ],
)
def test_bad_options_raise_value_errors_naming_the_option(option, value):
    kwargs = {"n_samples": 10, option: value}
    with pytest.raises(ValueError, match=option):
        make_spatiotemporal_events(**kwargs)


def test_unknown_options_are_rejected():
    with pytest.raises(TypeError, match="n_frames"):
        make_spatiotemporal_events(10, n_frames=4)
