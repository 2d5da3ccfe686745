"""load_decoy_digits: split, decoy in training only, annotations, options; it fools a CNN."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from xsup import ExplanationSupervisedClassifier
from xsup.datasets import load_decoy_digits


def decoded(X, size=2, origin=(6, 0)):
    """The label a 2 x 2 pattern patch codes: its lit quadrants, as bits, minus one."""
    row, col = origin
    patch = X[:, 0, row : row + size, col : col + size] > 0.5
    half = (size + 1) // 2
    quadrants = [patch[:, :half, :half], patch[:, :half, half:], patch[:, half:, :half],
                 patch[:, half:, half:]]
    bits = [q.all(axis=(1, 2)) & (q.size > 0) for q in quadrants]
    return sum(bit.astype(int) << q for q, bit in enumerate(bits)) - 1


def are_original_digits(X):
    """Whether every image of X is one of the bundled digits, untouched."""
    originals = {row.tobytes() for row in (load_digits().images / 16.0).astype(np.float32)}
    return all(image[0].tobytes() in originals for image in X)


@pytest.fixture(scope="module")
def default_data():
    return load_decoy_digits(random_state=0)


def test_shapes_dtypes_and_a_stratified_split(default_data):
    X, y, E, X_test, y_test, E_test = default_data
    assert X.shape == (1257, 1, 8, 8) and X_test.shape == (540, 1, 8, 8)
    assert E.shape == (1257, 8, 8) and E_test.shape == (540, 8, 8)
    assert X.dtype == X_test.dtype == E.dtype == E_test.dtype == np.float32
    assert y.dtype == y_test.dtype == np.int64
    assert X.min() >= 0.0 and X.max() == 1.0
    assert np.bincount(y).min() >= 120 and np.bincount(y_test).min() >= 50
    assert sorted(np.concatenate([y, y_test]).tolist()) == sorted(load_digits().target.tolist())


def test_every_training_patch_codes_its_label(default_data):
    X, y, *_ = default_data
    np.testing.assert_array_equal(decoded(X), y)
    np.testing.assert_array_equal(X[y == 0, 0, 6:, :2][0], [[1, 0], [0, 0]])
    np.testing.assert_array_equal(X[y == 9, 0, 6:, :2][0], [[0, 1], [0, 1]])  # 10 = 0b1010


def test_shuffled_test_patches_carry_no_information(default_data):
    *_, X_test, y_test, _ = default_data
    codes = decoded(X_test)
    assert sorted(codes.tolist()) == sorted(y_test.tolist())  # the test labels, reordered
    assert np.mean(codes == y_test) < 0.2


def test_absent_test_decoy_leaves_the_test_images_clean(default_data):
    *_, X_shuffled, y_shuffled, _ = default_data
    _, _, _, X_test, y_test, E_test = load_decoy_digits(random_state=0, test_decoy="absent")
    np.testing.assert_array_equal(y_test, y_shuffled)
    np.testing.assert_array_equal(X_test[:, :, :6], X_shuffled[:, :, :6])
    assert are_original_digits(X_test) and not are_original_digits(X_shuffled)
    assert (E_test >= 0).all()


def test_without_training_decoy_the_training_images_are_clean_and_the_rest_unchanged(
    default_data,
):
    X_clean, y_clean, E_clean, X_test, y_test, E_test = load_decoy_digits(
        random_state=0, train_decoy=False
    )
    X, y, E, X_test_default, _, E_test_default = default_data
    np.testing.assert_array_equal(y_clean, y)
    np.testing.assert_array_equal(X_clean[:, :, :6], X[:, :, :6])
    assert are_original_digits(X_clean) and (E_clean >= 0).all()
    np.testing.assert_array_equal(X_test, X_test_default)
    np.testing.assert_array_equal(E_test, E_test_default)


def test_annotations_mark_strokes_positive_and_the_decoy_negative(default_data):
    X, _, E, X_test, _, E_test = default_data
    for images, masks in ((X, E), (X_test, E_test)):
        np.testing.assert_array_equal(masks[:, 6:, :2], -1.0)
        strokes = (images[:, 0] > 0.5).astype(np.float32)
        np.testing.assert_array_equal(masks[:, :6], strokes[:, :6])
        np.testing.assert_array_equal(masks[:, 6:, 2:], strokes[:, 6:, 2:])
    _, _, E_low, *_ = load_decoy_digits(random_state=0, stroke_threshold=0.1)
    assert (E_low == 1).sum() > (E == 1).sum()


def test_a_share_of_training_images_is_annotated_the_rest_missing():
    _, y, E, _, _, E_test = load_decoy_digits(random_state=0, annotated_fraction=0.25)
    missing = np.isnan(E).all(axis=(1, 2))
    assert np.isnan(E[missing]).all() and not np.isnan(E[~missing]).any()
    assert (~missing).sum() == round(0.25 * len(y))
    assert not np.isnan(E_test).any()


@pytest.mark.parametrize(
    ("position", "origin"),
    [("top_left", (0, 0)), ("top_right", (0, 5)), ("bottom_left", (5, 0)),
     ("bottom_right", (5, 5)), ((2, 4), (2, 4))],
)
def test_patch_size_and_position(position, origin):
    X, y, E, *_ = load_decoy_digits(random_state=0, patch_size=3, patch_position=position)
    row, col = origin
    expected = np.zeros((8, 8), dtype=bool)
    expected[row : row + 3, col : col + 3] = True
    np.testing.assert_array_equal(E == -1, np.broadcast_to(expected, E.shape))
    np.testing.assert_array_equal(decoded(X, size=3, origin=origin), y)


def test_random_corners_use_all_four_corners_in_train_and_test():
    X, y, E, X_test, _, E_test = load_decoy_digits(random_state=0, patch_position="random_corner")
    for masks in (E, E_test):
        corners = np.stack([masks[:, :2, :2], masks[:, :2, 6:], masks[:, 6:, :2],
                            masks[:, 6:, 6:]], axis=1)
        decoy_in = (corners == -1).all(axis=(2, 3))
        np.testing.assert_array_equal(decoy_in.sum(axis=1), 1)
        assert (decoy_in.mean(axis=0) > 0.15).all()
        assert (masks == -1).sum(axis=(1, 2)).tolist() == [4] * len(masks)


def test_intensity_code_is_the_decoy_mnist_grey_level():
    X, y, *_ = load_decoy_digits(random_state=0, code="intensity", patch_size=1)
    np.testing.assert_allclose(X[:, 0, 7, 0], 1 - y / 10, atol=1e-6)


def test_an_int_seed_gives_the_same_data_and_another_seed_another_split(default_data):
    again = load_decoy_digits(random_state=0)
    for a, b in zip(default_data, again):
        np.testing.assert_array_equal(a, b)
    other = load_decoy_digits(random_state=1)
    assert not np.array_equal(default_data[1], other[1])


def test_split_sizes():
    X, _, _, X_test, _, _ = load_decoy_digits(random_state=0, test_size=200, train_size=100)
    assert len(X) == 100 and len(X_test) == 200


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"code": "colour"}, "code must be one of pattern, intensity"),
        ({"patch_size": 1}, r"patch_size must be in \[2, 4\]"),
        ({"patch_size": 5, "code": "intensity"}, r"patch_size must be in \[1, 4\]"),
        ({"patch_position": "centre"}, "patch_position must be one of top_left"),
        ({"patch_position": (7, 0)}, r"patch_position .* in \[0, 6\]"),
        ({"test_decoy": "random"}, "test_decoy must be one of shuffled, absent"),
        ({"train_decoy": "yes"}, "train_decoy"),
        ({"annotated_fraction": 1.5}, "annotated_fraction"),
        ({"stroke_threshold": 1.0}, "stroke_threshold"),
        ({"test_size": 0}, "test_size must be a float in"),
        ({"test_size": 1.0}, "test_size"),
        ({"train_size": 1797}, "train_size"),
    ],
)
def test_bad_options_are_rejected(arguments, message):
    with pytest.raises(ValueError, match=message):
        load_decoy_digits(**arguments)


def _shuffled_test_accuracy(train_decoy):
    X, y, _, X_test, y_test, _ = load_decoy_digits(random_state=0, train_decoy=train_decoy)
    clf = ExplanationSupervisedClassifier(loss="none", max_epochs=5, train_split=None,
                                          verbose=0, random_state=0).fit(X, y)
    return float(np.mean(clf.predict(X_test) == y_test))


def test_the_decoy_fools_the_unsupervised_default_cnn():
    fooled = _shuffled_test_accuracy(train_decoy=True)
    control = _shuffled_test_accuracy(train_decoy=False)
    assert control > 0.9
    assert fooled < control - 0.2
