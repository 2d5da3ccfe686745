"""Explanation metrics (IoU, RES precision/recall/F1) and the true skill statistic."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import jaccard_score, recall_score

from xsup.metrics import (
    explanation_iou,
    explanation_precision_recall_f1,
    true_skill_statistic,
)

NAN = np.nan


@pytest.fixture
def two_frames() -> tuple[np.ndarray, np.ndarray]:
    """Two images of 4 cells.

    Image 0: attended {0, 1, 2}, annotated {0, 1}: intersection 2, union 3.
    Image 1: attended {3},       annotated {0, 1, 2}: intersection 0, union 4.
    micro = 2 / 7, macro = (2/3 + 0) / 2 = 1/3.
    """
    S = np.array([[0.9, 0.8, 0.7, 0.1], [0.0, 0.2, 0.4, 1.0]])
    E = np.array([[1, 1, 0, 0], [1, 1, 1, 0]], dtype=float)
    return S, E


def test_iou_micro_pools_intersection_and_union_over_frames(two_frames):
    assert explanation_iou(*two_frames) == pytest.approx(2 / 7)


def test_iou_macro_averages_per_frame_iou(two_frames):
    assert explanation_iou(*two_frames, average="macro") == pytest.approx(1 / 3)


def test_iou_micro_equals_sklearn_jaccard_on_the_annotated_cells():
    rng = np.random.default_rng(0)
    S = rng.random((5, 3, 6, 6))
    E = (rng.random((5, 3, 6, 6)) < 0.3).astype(float)
    expected = jaccard_score(E.ravel() > 0, S.ravel() > 0.5)
    assert explanation_iou(S, E) == pytest.approx(expected)


def test_metrics_read_memory_maps_chunk_by_chunk(tmp_path):
    rng = np.random.default_rng(1)
    shape = (600, 2, 4, 4)  # more samples than one chunk
    S = np.lib.format.open_memmap(tmp_path / "S.npy", mode="w+", dtype=np.float32, shape=shape)
    E = np.lib.format.open_memmap(tmp_path / "E.npy", mode="w+", dtype=np.float32, shape=shape)
    S[:] = rng.random(shape)
    E[:] = rng.choice([-1.0, 0.0, 1.0], size=shape)
    dense_S, dense_E = np.array(S), np.array(E)
    for average in ("micro", "macro"):
        assert explanation_iou(S, E, average=average) == explanation_iou(
            dense_S, dense_E, average=average
        )
    assert explanation_iou(S, E) == pytest.approx(
        jaccard_score(dense_E.ravel() > 0, dense_S.ravel() > 0.5)
    )


def test_iou_of_raster_sequences_is_per_frame_for_macro():
    # One sequence of two frames: frame 0 perfect (IoU 1), frame 1 half (IoU 1/2).
    S = np.array([[[[1.0, 0.0]], [[1.0, 1.0]]]])  # (1, 2, 1, 2)
    E = np.array([[[[1.0, 0.0]], [[1.0, 0.0]]]])
    assert explanation_iou(S, E, average="macro") == pytest.approx(0.75)
    assert explanation_iou(S, E, average="micro") == pytest.approx(2 / 3)


def test_iou_skips_missing_frames():
    # Frame 1 is missing (all NaN) and frame 2 is unannotated (all zero): both are skipped,
    # although the saliency there would add to the union.
    S = np.array([[[[1.0, 0.0]], [[1.0, 1.0]], [[1.0, 1.0]]]])
    E = np.array([[[[1.0, 0.0]], [[NAN, NAN]], [[0.0, 0.0]]]])
    assert explanation_iou(S, E) == pytest.approx(1.0)
    assert explanation_iou(S, E, average="macro") == pytest.approx(1.0)


def test_iou_ignores_nan_cells_of_an_annotated_frame():
    S = np.array([[1.0, 1.0, 1.0]])
    E = np.array([[1.0, NAN, 0.0]])  # the attended NaN cell counts nowhere
    assert explanation_iou(S, E) == pytest.approx(1 / 2)


def test_iou_binarises_strictly_above_the_threshold():
    S = np.array([[0.5, 0.6]])
    E = np.array([[1.0, 1.0]])
    assert explanation_iou(S, E) == pytest.approx(1 / 2)
    assert explanation_iou(S, E, threshold=0.4) == pytest.approx(1.0)


def test_iou_counts_soft_positive_weights_as_annotated():
    S = np.array([[1.0, 0.0]])
    E = np.array([[0.3, -0.5]])
    assert explanation_iou(S, E) == pytest.approx(1.0)


def test_iou_accepts_torch_tensors(two_frames):
    S, E = two_frames
    value = explanation_iou(torch.tensor(S, requires_grad=True), torch.tensor(E))
    assert value == pytest.approx(2 / 7)


def test_iou_without_annotated_frames_is_nan_with_a_warning():
    with pytest.warns(UndefinedMetricWarning, match="no annotated frame"):
        value = explanation_iou(np.ones((2, 3)), np.full((2, 3), NAN))
    assert np.isnan(value)


def test_shape_mismatch_names_s_and_e_and_both_shapes():
    with pytest.raises(ValueError, match=r"S has shape \(2, 3\) but E has shape \(2, 4\)"):
        explanation_iou(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"S has shape \(1, 2\) but E has shape \(2, 1\)"):
        explanation_precision_recall_f1(np.zeros((1, 2)), np.zeros((2, 1)))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"average": "weighted"}, "average"), ({"threshold": float("nan")}, "threshold")],
)
def test_bad_options_raise_value_errors_naming_them(two_frames, kwargs, match):
    with pytest.raises(ValueError, match=match):
        explanation_iou(*two_frames, **kwargs)
    with pytest.raises(ValueError, match=match):
        explanation_precision_recall_f1(*two_frames, **kwargs)


def test_non_finite_saliency_is_rejected():
    with pytest.raises(ValueError, match="S contains NaN"):
        explanation_iou(np.array([[NAN, 1.0]]), np.array([[1.0, 0.0]]))


def test_false_positives_come_only_from_negative_annotations():
    # Attended: cells 0, 1 (E = 1), 2 (E = 0, unannotated: free), 3 (E = -1: a false positive).
    # Missed: cell 4 (E = 1). TP 2, FP 1, FN 1.
    S = np.array([[1.0, 1.0, 1.0, 1.0, 0.0, 0.0]])
    E = np.array([[1.0, 1.0, 0.0, -1.0, 1.0, -1.0]])
    precision, recall, f1 = explanation_precision_recall_f1(S, E)
    assert (precision, recall, f1) == pytest.approx((2 / 3, 2 / 3, 2 / 3), rel=1e-5)


def test_precision_recall_micro_pools_counts_and_macro_averages_scores():
    # Image 0: TP 1, FP 0, FN 0 -> P 1, R 1, F1 1.
    # Image 1: TP 1, FP 3, FN 1 -> P 1/4, R 1/2, F1 1/3.
    S = np.array([[1.0, 0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 1.0, 1.0, 1.0]])
    E = np.array([[1.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, -1.0, -1.0, -1.0]])
    micro = explanation_precision_recall_f1(S, E)  # TP 2, FP 3, FN 1
    assert micro == pytest.approx((2 / 5, 2 / 3, 2 * (2 / 5) * (2 / 3) / (2 / 5 + 2 / 3)), rel=1e-5)
    macro = explanation_precision_recall_f1(S, E, average="macro")
    assert macro == pytest.approx(((1 + 1 / 4) / 2, (1 + 1 / 2) / 2, (1 + 1 / 3) / 2), rel=1e-5)


def test_precision_recall_use_the_reference_epsilon():
    precision, recall, f1 = explanation_precision_recall_f1(np.array([[1.0]]), np.array([[1.0]]))
    assert precision == pytest.approx(1 / (1 + 1e-6), abs=0)
    assert recall < 1.0
    assert f1 == pytest.approx(1.0, abs=1e-5)


def test_precision_recall_skip_missing_frames():
    S = np.array([[[[1.0, 1.0]], [[1.0, 1.0]]]])
    E = np.array([[[[1.0, -1.0]], [[NAN, NAN]]]])  # only frame 0 counts: TP 1, FP 1
    precision, recall, _ = explanation_precision_recall_f1(S, E)
    assert precision == pytest.approx(1 / 2, rel=1e-5)
    assert recall == pytest.approx(1.0, rel=1e-5)


def test_tss_is_true_positive_rate_minus_false_positive_rate():
    y_true = [0, 0, 0, 0, 1, 1, 1]
    y_pred = [0, 0, 0, 1, 1, 1, 0]
    expected = recall_score(y_true, y_pred) - (1 - recall_score(y_true, y_pred, pos_label=0))
    assert true_skill_statistic(y_true, y_pred) == pytest.approx(2 / 3 - 1 / 4)
    assert true_skill_statistic(y_true, y_pred) == pytest.approx(expected)


def test_tss_is_one_when_perfect_and_minus_one_when_inverted():
    y = np.array([0, 1, 0, 1])
    assert true_skill_statistic(y, y) == 1.0
    assert true_skill_statistic(y, 1 - y) == -1.0


def test_tss_accepts_torch_tensors_and_string_labels():
    assert true_skill_statistic(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0])) == 0.5
    y_true = ["quiet", "flare", "flare", "quiet"]
    y_pred = ["quiet", "flare", "quiet", "quiet"]
    assert true_skill_statistic(y_true, y_pred, pos_label="flare") == 0.5


def test_tss_rejects_more_than_two_classes():
    with pytest.raises(ValueError, match="binary"):
        true_skill_statistic([0, 1, 2], [0, 1, 2])


def test_tss_rejects_probabilities():
    with pytest.raises(ValueError, match="y_pred looks continuous"):
        true_skill_statistic([0, 1], [0.2, 0.7])


def test_tss_rejects_a_pos_label_that_is_not_a_label():
    with pytest.raises(ValueError, match="pos_label"):
        true_skill_statistic(["a", "b"], ["a", "b"])


def test_tss_without_positives_warns_and_counts_the_rate_as_zero():
    with pytest.warns(UndefinedMetricWarning, match="true positive rate"):
        assert true_skill_statistic([0, 0, 0, 0], [0, 1, 0, 0]) == pytest.approx(-0.25)
