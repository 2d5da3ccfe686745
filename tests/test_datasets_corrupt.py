"""corrupt_annotations: each kind on every annotation shape of the data contract, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xsup.datasets import CORRUPTIONS, corrupt_annotations

#: One square region per frame, a negative corner cell, and a missing cell, in every E shape.
SHAPES = {"tabular": (3, 12), "time_series": (3, 6, 7), "images": (3, 8, 8),
          "raster_sequences": (3, 4, 8, 8)}


def _annotations(kind: str) -> np.ndarray:
    E = np.zeros(SHAPES[kind], dtype=np.float32)
    if E.ndim == 2:
        E[:, 4:8] = 1.0
        E[:, 0] = -1.0
    else:
        E[..., 2:5, 3:6] = 1.0
        E[..., 0, 0] = -1.0
    E[1, ..., -1] = np.nan
    return E


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("kind", [k for k in CORRUPTIONS if k != "boxes"])
def test_level_zero_leaves_every_shape_unchanged(shape, kind):
    E = _annotations(shape)
    corrupted = corrupt_annotations(E, kind, 0, random_state=0)
    assert corrupted.dtype == np.float32 and corrupted.shape == E.shape
    np.testing.assert_array_equal(corrupted, E)
    assert corrupted is not E


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_every_kind_keeps_values_in_range_missing_cells_and_negative_cells(shape, kind):
    E = _annotations(shape)
    level = 0.5 if kind in ("drop", "missing") else 1
    corrupted = corrupt_annotations(E, kind, level, random_state=1)
    assert corrupted.shape == E.shape
    assert np.isnan(corrupted[np.isnan(E)]).all()
    finite = corrupted[np.isfinite(corrupted)]
    assert finite.min() >= -1.0 and finite.max() <= 1.0
    if kind != "missing":
        assert (corrupted[np.isfinite(corrupted)] != E[np.isfinite(corrupted)]).any()
        assert (corrupted[..., 0, 0] == -1.0).all() if E.ndim > 2 else (corrupted[:, 0] == -1).all()


def test_dilate_and_erode_grow_and_shrink_the_region_by_whole_cells():
    E = np.zeros((1, 9, 9), dtype=np.float32)
    E[0, 3:6, 3:6] = 1.0
    grown = corrupt_annotations(E, "dilate", 2)  # a diamond of radius 2 around each cell
    np.testing.assert_array_equal(np.argwhere(grown[0] == 1).min(axis=0), [1, 1])
    assert (grown[0] == 1).sum() == 49 - 4 * 3  # a 7 x 7 square less three cells per corner
    assert grown[0, 1, 2] == 0 and grown[0, 1, 3] == 1 and grown[0, 2, 2] == 1
    shrunk = corrupt_annotations(E, "erode", 1)
    assert np.argwhere(shrunk[0] == 1).tolist() == [[4, 4]]
    assert not corrupt_annotations(E, "erode", 2).any()  # a 3 x 3 region vanishes


def test_a_grown_or_shifted_region_leaves_negative_cells_negative():
    E = np.zeros((1, 5, 5), dtype=np.float32)
    E[0, 2, 2], E[0, 2, 3] = 1.0, -1.0
    grown = corrupt_annotations(E, "dilate", 1)
    assert grown[0, 2, 3] == -1.0 and grown[0, 1, 2] == 1.0 and grown[0, 1, 1] == 0.0
    for seed in range(8):
        shifted = corrupt_annotations(E, "shift", 1, random_state=seed)
        assert shifted[0, 2, 3] == -1.0 and (shifted == 1).sum() <= 1


def test_dilation_of_soft_values_takes_the_neighbourhood_maximum():
    E = np.zeros((1, 1, 5), dtype=np.float32)
    E[0, 0, 2] = 0.4
    assert corrupt_annotations(E, "dilate", 1)[0, 0].tolist() == pytest.approx(
        [0.0, 0.4, 0.4, 0.4, 0.0])


def test_boxes_fill_each_frames_bounding_box_plus_the_margin():
    E = np.zeros((1, 2, 8, 8), dtype=np.float32)
    E[0, 0, 2, 2] = E[0, 0, 4, 5] = 1.0  # frame 1 stays empty
    boxes = corrupt_annotations(E, "boxes", 0)
    assert (boxes[0, 0, 2:5, 2:6] == 1).all() and boxes[0, 0].sum() == 12
    assert not boxes[0, 1].any()
    wide = corrupt_annotations(E, "boxes", 3)
    assert wide[0, 0].sum() == 8 * 8  # clipped at the border


def test_shift_moves_every_frame_of_a_sample_by_the_same_offset():
    E = _annotations("raster_sequences")[:1]
    shifted = corrupt_annotations(E, "shift", 2, random_state=5)
    before = np.argwhere(E[0, 0] == 1).mean(axis=0)
    moves = [np.argwhere(shifted[0, t] == 1).mean(axis=0) - before for t in range(4)]
    assert all(np.array_equal(move, moves[0]) for move in moves)
    assert np.abs(moves[0]).max() == 2


def test_shift_past_the_border_drops_the_cells_that_leave():
    E = np.zeros((50, 6), dtype=np.float32)
    E[:, 2:4] = 1.0
    shifted = corrupt_annotations(E, "shift", 3, random_state=0)
    assert shifted.sum(axis=1).tolist() == [1.0] * 50  # one cell lands on the far edge


def test_drop_zeroes_an_exact_share_of_each_samples_positive_cells():
    E = _annotations("images")
    dropped = corrupt_annotations(E, "drop", 1 / 3, random_state=0)
    for sample in range(3):
        assert (dropped[sample] == 1).sum() == 6 and (dropped[sample] == 0).sum() == (
            E[sample] == 0).sum() + 3
    assert np.isnan(dropped).sum() == np.isnan(E).sum()


@pytest.mark.parametrize(("shape", "units"), [("raster_sequences", 12), ("images", 3),
                                              ("tabular", 3)])
def test_missing_marks_an_exact_share_of_frames_or_samples(shape, units):
    E = np.ones(SHAPES[shape], dtype=np.float32)
    missing = corrupt_annotations(E, "missing", 2 / 3, random_state=0)
    axes = tuple(range(2 if shape == "raster_sequences" else 1, E.ndim))
    whole = np.isnan(missing).all(axis=axes)
    assert whole.sum() == round(2 / 3 * units) and np.isnan(missing).any(axis=axes).sum() == whole.sum()


def test_the_same_seed_gives_the_same_corruption_and_another_seed_another():
    E = _annotations("raster_sequences")
    for kind in ("shift", "drop", "missing"):
        first = corrupt_annotations(E, kind, 0.5 if kind != "shift" else 1, random_state=3)
        again = corrupt_annotations(E, kind, 0.5 if kind != "shift" else 1, random_state=3)
        np.testing.assert_array_equal(first, again)
    draws = {corrupt_annotations(E, "drop", 0.5, random_state=s).tobytes() for s in range(4)}
    assert len(draws) > 1


def test_torch_tensors_are_accepted():
    E = torch.as_tensor(_annotations("images"))
    assert isinstance(corrupt_annotations(E, "dilate", 1), np.ndarray)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"kind": "blur", "level": 1}, "kind must be one of dilate, erode"),
    ({"kind": "dilate", "level": 1.5}, "level must be an int >= 0 with kind='dilate'"),
    ({"kind": "shift", "level": -1}, "level must be an int >= 0 with kind='shift'"),
    ({"kind": "drop", "level": 1.5}, r"level must be a real number in \[0, 1\] with kind='drop'"),
    ({"kind": "missing", "level": True}, "level must be a real number in"),
])
def test_bad_kind_or_level_is_a_value_error_naming_it(kwargs, message):
    with pytest.raises(ValueError, match=message):
        corrupt_annotations(_annotations("images"), **kwargs)


def test_bad_annotations_are_a_value_error_naming_E():
    with pytest.raises(ValueError, match=r"E must have shape .* got shape \(4,\)"):
        corrupt_annotations(np.zeros(4), "dilate", 1)
    with pytest.raises(ValueError, match=r"E must hold values in \[-1, 1\]"):
        corrupt_annotations(np.full((2, 3), 2.0), "dilate", 1)
    with pytest.raises(ValueError, match="E must be an array of real numbers"):
        corrupt_annotations([["a"]], "dilate", 1)
