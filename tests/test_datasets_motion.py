"""make_spatiotemporal_events: regions that drift and grow, and the limits of both."""

from __future__ import annotations

import numpy as np
import pytest

from xsup.datasets import make_spatiotemporal_events


def _box_centres(E: np.ndarray) -> np.ndarray:
    """``(N, T, 2)`` centre of each frame's box."""
    rows = np.arange(E.shape[2])[None, None, :, None]
    cols = np.arange(E.shape[3])[None, None, None, :]
    inside = E > 0
    count = inside.sum(axis=(2, 3))
    return np.stack([(inside * rows).sum(axis=(2, 3)) / count,
                     (inside * cols).sum(axis=(2, 3)) / count], axis=-1)


def test_without_motion_the_boxes_stay_in_place():
    _, _, E = make_spatiotemporal_events(40, random_state=0)
    centres = _box_centres(E)
    assert np.abs(centres - centres[:, :1]).max() < 1.0


@pytest.mark.parametrize("drift", [1.0, 2.0])
def test_drifting_boxes_move_about_drift_pixels_per_frame_in_a_straight_line(drift):
    _, _, E = make_spatiotemporal_events(60, random_state=1, drift=drift)
    centres = _box_centres(E)
    steps = np.diff(centres, axis=1)
    assert abs(np.median(np.hypot(steps[..., 0], steps[..., 1])) - drift) < 0.5
    travelled = centres[:, -1] - centres[:, 0]  # a straight line: the steps add up
    assert abs(np.median(np.hypot(travelled[:, 0], travelled[:, 1])) - 3 * drift) < 0.5


def test_growth_widens_the_boxes_and_below_one_narrows_them():
    for growth, sign in ((1.5, 1), (0.6, -1)):
        _, y, E = make_spatiotemporal_events(40, random_state=2, growth=growth)
        area = (E > 0).sum(axis=(2, 3)).astype(float)
        negatives = area[y == 0]
        assert (np.sign(negatives[:, -1] - negatives[:, 0]) == sign).mean() > 0.9


def test_motion_keeps_the_labels_and_changes_the_scenes():
    X, y, _ = make_spatiotemporal_events(30, random_state=4)
    X_moving, y_moving, E_moving = make_spatiotemporal_events(30, random_state=4, drift=2.0,
                                                              growth=1.2)
    np.testing.assert_array_equal(y, y_moving)
    assert not np.allclose(X, X_moving)
    assert (E_moving > 0).any(axis=(2, 3)).all()  # the region stays inside every frame


def test_a_drift_or_growth_that_leaves_the_frame_is_a_value_error():
    with pytest.raises(ValueError, match=r"drift must keep the region inside the 16 x 16 frames "
                                         r"over 4 frames: at most 2\.95 pixels per frame"):
        make_spatiotemporal_events(10, drift=3.0)
    with pytest.raises(ValueError, match=r"growth must leave the region inside"):
        make_spatiotemporal_events(10, growth=3.0)
    for name in ("drift", "growth"):
        with pytest.raises(ValueError, match=f"{name} must be a real number"):
            make_spatiotemporal_events(10, **{name: -1.0})
    with pytest.raises(ValueError, match=r"growth must be a real number in \(0, inf\)"):
        make_spatiotemporal_events(10, growth=0.0)
