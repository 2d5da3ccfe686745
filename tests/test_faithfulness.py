"""ERASER comprehensiveness and sufficiency (AOPC) on every input kind, and the pointing game."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.linear_model import LogisticRegression

from xsup import ExplanationSupervisedClassifier
from xsup.metrics import aopc_comprehensiveness, aopc_sufficiency, pointing_hit_rate

NAN = np.nan


def reads(cell):
    """predict_proba of a model whose class-1 probability is 1 when X[cell] > 0, else 0."""

    def predict_proba(inputs):
        p = (np.asarray(inputs)[(slice(None), *cell)] > 0).astype(float)
        return np.stack([1 - p, p], axis=1)

    return predict_proba


def two_of_four(inputs):
    """Class-1 probability = the share of positive values among the first two of four cells."""
    p = (np.asarray(inputs)[:, :2] > 0).mean(axis=1)
    return np.stack([1 - p, p], axis=1)


# ---------------------------------------------------------------- hand-computed values
def test_comprehensiveness_by_hand():
    X = np.ones((1, 4))
    result = aopc_comprehensiveness(two_of_four, X, [[0.9, 0.8, 0.1, 0.0]], percentages=[25, 50])
    np.testing.assert_allclose(result["drop"], [0.5, 1.0])  # one, then both cells read
    assert result["AOPC"] == pytest.approx(0.75)
    elsewhere = aopc_comprehensiveness(two_of_four, X, [[0.0, 0.1, 0.8, 0.9]],
                                       percentages=[25, 50])
    assert elsewhere["AOPC"] == 0.0


def test_sufficiency_by_hand():
    X = np.ones((1, 4))
    kept = aopc_sufficiency(two_of_four, X, [[0.9, 0.8, 0.1, 0.0]], percentages=[25, 50])
    np.testing.assert_allclose(kept["drop"], [0.5, 0.0])  # top cell alone, then both
    assert kept["AOPC"] == pytest.approx(0.25)
    wrong = aopc_sufficiency(two_of_four, X, [[0.0, 0.1, 0.8, 0.9]], percentages=[25, 50])
    assert wrong["AOPC"] == pytest.approx(1.0)


def test_drop_is_measured_on_the_class_predicted_for_the_intact_input():
    X = -np.ones((1, 4))  # predicted class 0 with probability 1
    result = aopc_comprehensiveness(two_of_four, X, [[0.9, 0.8, 0.1, 0.0]], percentages=[25],
                                    baseline=1.0)
    assert result["AOPC"] == pytest.approx(0.5)  # class 0 loses 1/2 (class 1 would gain)


def test_sufficiency_can_be_negative():
    X = np.array([[1.0, -1.0, 0.0, 0.0]])  # class-1 probability 1/2; ties pick class 0
    result = aopc_sufficiency(two_of_four, X, [[0.0, 1.0, 0.0, 0.0]], percentages=[25],
                              baseline=-1.0)
    assert result["AOPC"] == pytest.approx(-0.5)  # class 0 becomes sure: 1/2 -> 1


def test_bins_take_the_ceiling_of_the_share_of_cells():
    seen = []

    def predict_proba(inputs):
        seen.append(int((np.asarray(inputs) == 0).sum()))
        return np.tile([0.5, 0.5], (len(inputs), 1))

    aopc_comprehensiveness(predict_proba, np.ones((1, 8)), [np.arange(8.0)])
    assert seen == [0, 1, 1, 1, 2, 4]  # intact, then 1, 5, 10, 20, 50% of 8 cells


def test_ties_are_taken_in_cell_order():
    result = aopc_comprehensiveness(two_of_four, np.ones((1, 4)), np.zeros((1, 4)),
                                    percentages=[25, 50])
    np.testing.assert_allclose(result["drop"], [0.5, 1.0])


# ---------------------------------------------------------------- input kinds
@pytest.mark.parametrize(
    ("shape", "cell", "peak"),
    [
        ((3, 4), (2,), (2,)),  # tabular (N, F)
        ((3, 4, 2), (3, 1), (3, 1)),  # time series (N, T, F)
        ((3, 2, 2, 2), (1, 0, 1), (0, 1)),  # images (N, C, H, W): maps (N, H, W)
        ((3, 2, 2, 2, 2), (1, 1, 1, 0), (1, 1, 0)),  # rasters (N, T, C, H, W): maps (N, T, H, W)
    ],
)
def test_every_input_kind_with_maps_shaped_like_E(shape, cell, peak):
    X = np.ones(shape)
    map_shape = (shape[0],) + {2: shape[1:], 3: shape[1:], 4: shape[2:],
                               5: shape[1:2] + shape[3:]}[len(shape)]
    S = np.zeros(map_shape)
    S[(slice(None), *peak)] = 1.0
    predict_proba = reads(cell)
    comprehensiveness = aopc_comprehensiveness(predict_proba, X, S, percentages=[1])
    sufficiency = aopc_sufficiency(predict_proba, X, S, percentages=[1])
    assert comprehensiveness["AOPC"] == 1.0  # the pixel's every channel is removed
    assert sufficiency["AOPC"] == 0.0  # keeping the pixel keeps all of its channels


def test_baseline_broadcasts_per_channel():
    X = np.ones((2, 2, 2, 2))
    S = np.ones((2, 2, 2))
    seen = []

    def predict_proba(inputs):
        seen.append(np.asarray(inputs).copy())
        return np.tile([0.5, 0.5], (len(inputs), 1))

    aopc_comprehensiveness(predict_proba, X, S, percentages=[100],
                           baseline=np.array([-1.0, -2.0])[:, None, None])
    assert (seen[1][:, 0] == -1).all() and (seen[1][:, 1] == -2).all()


def test_faithful_saliency_beats_random_saliency():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 10))
    y = (X[:, :3].sum(axis=1) > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    faithful = np.abs(clf.coef_[0] * X)
    random = rng.random(X.shape)
    assert aopc_comprehensiveness(clf, X, faithful)["AOPC"] > \
        aopc_comprehensiveness(clf, X, random)["AOPC"] + 0.05
    assert aopc_sufficiency(clf, X, faithful)["AOPC"] < \
        aopc_sufficiency(clf, X, random)["AOPC"] - 0.05


def test_with_an_explanation_supervised_classifier_and_torch_inputs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 1, 6, 6)).astype(np.float32)
    y = (X[:, 0, :3, :3].mean(axis=(1, 2)) > 0).astype(int)
    clf = ExplanationSupervisedClassifier(max_epochs=1, train_split=None, verbose=0,
                                          random_state=0).fit(X, y)
    S = clf.explain(X)
    result = aopc_comprehensiveness(clf, torch.as_tensor(X), torch.as_tensor(S))
    assert result["drop"].shape == (5,) and np.isfinite(result["AOPC"])
    assert -1 <= aopc_sufficiency(clf, X, S)["AOPC"] <= 1


def test_input_errors_name_the_problem():
    X = np.ones((2, 4))
    with pytest.raises(ValueError, match=r"needs saliency maps of shape \(2, 4\)"):
        aopc_comprehensiveness(two_of_four, X, np.ones((2, 5)))
    with pytest.raises(TypeError, match="predict_proba method"):
        aopc_sufficiency(object(), X, np.ones((2, 4)))
    with pytest.raises(ValueError, match="one row of class probabilities"):
        aopc_sufficiency(lambda inputs: np.ones(len(inputs)), X, np.ones((2, 4)))
    with pytest.raises(ValueError, match="percentages"):
        aopc_sufficiency(two_of_four, X, np.ones((2, 4)), percentages=[50, 10])
    with pytest.raises(ValueError, match="baseline has shape"):
        aopc_sufficiency(two_of_four, X, np.ones((2, 4)), baseline=np.zeros(3))
    with pytest.raises(ValueError, match="S contains NaN"):
        aopc_sufficiency(two_of_four, X, np.full((2, 4), NAN))


# ---------------------------------------------------------------- pointing game
def test_pointing_hit_rate_by_hand():
    S = [[0.2, 0.9, 0.1, 0.0], [0.9, 0.2, 0.1, 0.0]]
    E = [[0, 1, 1, 0], [0, 1, 1, 0]]
    assert pointing_hit_rate(S, E) == 0.5


def test_pointing_ties_share_the_hit_and_constant_maps_score_chance():
    S = [[0.5, 0.5, 0.5, 0.5], [1.0, 1.0, 0.0, 0.0]]
    E = [[1, 0, 0, 0], [1, 0, 0, 0]]
    assert pointing_hit_rate(S, E) == pytest.approx((1 / 4 + 1 / 2) / 2)


def test_pointing_counts_frames_of_raster_sequences_with_a_positive_annotation():
    S = np.zeros((1, 3, 2, 2))
    S[0, :, 0, 0] = 1.0  # every frame peaks at (0, 0)
    E = np.zeros((1, 3, 2, 2))
    E[0, 0, 0, 0] = 1  # frame 0: hit
    E[0, 1, 1, 1] = 1  # frame 1: miss
    E[0, 2] = -1  # frame 2: only negatives: skipped
    assert pointing_hit_rate(S, E) == 0.5
    assert pointing_hit_rate(torch.as_tensor(S), torch.as_tensor(E)) == 0.5


def test_pointing_ignores_nan_and_negative_cells():
    S = [[1.0, 0.5, 0.0], [1.0, 0.5, 0.0]]
    E = [[NAN, 1, 0], [-1, 1, 0]]
    assert pointing_hit_rate(S, E) == 0.0


def test_pointing_without_positive_annotation_is_nan_with_a_warning():
    with pytest.warns(UndefinedMetricWarning, match="no frame of E has a positive"):
        assert np.isnan(pointing_hit_rate([[1.0, 0.0]], [[NAN, -1]]))


def test_pointing_input_errors():
    with pytest.raises(ValueError, match="S has shape"):
        pointing_hit_rate(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError, match="at least one more"):
        pointing_hit_rate(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="S contains NaN"):
        pointing_hit_rate([[NAN, 1.0]], [[1, 0]])
