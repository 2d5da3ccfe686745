"""Time-series saliency metrics (Ismail et al. 2020): weighted precision/recall, accuracy drop."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.linear_model import LogisticRegression

from xsup import ExplanationSupervisedClassifier
from xsup.metrics import accuracy_drop, saliency_precision_recall

NAN = np.nan


# ---------------------------------------------------------------- a literal, per-sample reference
def reference_curves(S, E, percentages, level="cell"):
    """The paper's definitions written as plain loops, one sample at a time."""
    precision, recall = [], []
    for p in percentages:
        p_sum = r_sum = 0.0
        p_count = r_count = 0
        for s, e in zip(np.abs(np.asarray(S, float)), np.asarray(E, float)):
            s = (s - s.min()) / (s.max() - s.min()) if s.max() > s.min() else np.zeros_like(s)
            flat = s.ravel()
            order = sorted(range(flat.size), key=lambda i: -flat[i])  # stable
            total, running, count = flat.sum(), 0.0, 0
            for index in order:
                running += flat[index]
                count += 1
                if running >= p / 100 * total - 1e-12:
                    break
            count = min(max(count, 1), flat.size - 1)
            chosen = np.zeros(flat.size, bool)
            chosen[order[:count]] = True
            chosen, truth = chosen.reshape(s.shape), e > 0
            if level == "cell":
                weight, chosen_units, true_units = s.ravel(), chosen.ravel(), truth.ravel()
            else:
                if level == "feature":
                    s, chosen, truth = s.T, chosen.T, truth.T
                k = max(1, max(row.sum() for row in truth))
                weight = np.array([np.sort(row)[::-1][:k].mean() for row in s])
                chosen_units, true_units = chosen.any(axis=1), truth.any(axis=1)
            tp = weight[chosen_units & true_units].sum()
            fp = weight[chosen_units & ~true_units].sum()
            fn = weight[~chosen_units & true_units].sum()
            if tp + fp > 0:
                p_sum, p_count = p_sum + tp / (tp + fp), p_count + 1
            if tp + fn > 0:
                r_sum, r_count = r_sum + tp / (tp + fn), r_count + 1
        precision.append(p_sum / p_count)
        recall.append(r_sum / r_count)
    return np.array(precision), np.array(recall)


def box_data(n=6, t=10, f=8, seed=0):
    rng = np.random.default_rng(seed)
    S = rng.random((n, t, f)) ** 3
    E = np.zeros((n, t, f))
    for i in range(n):
        t0, f0 = rng.integers(0, t - 4), rng.integers(0, f - 3)
        E[i, t0 : t0 + 4, f0 : f0 + 2] = 1  # 4 steps x 2 features: not square
    return S, E


# ---------------------------------------------------------------- hand-computed values
def test_cell_precision_recall_by_hand():
    # rescaled to [[1, 1/2], [1/6, 0]]; truth = first feature, weights 1 and 1/6
    S = [[[0.6, 0.3], [0.1, 0.0]]]
    E = [[[1, 0], [1, 0]]]
    result = saliency_precision_recall(S, E, percentages=[50, 80, 95])
    np.testing.assert_allclose(result["precision"], [1, 2 / 3, 0.7])
    np.testing.assert_allclose(result["recall"], [6 / 7, 6 / 7, 1])
    assert result["AUP"] == pytest.approx((1 + 2 / 3) / 2 * 0.3 + (2 / 3 + 0.7) / 2 * 0.15)
    assert result["AUR"] == pytest.approx(6 / 7 * 0.3 + (6 / 7 + 1) / 2 * 0.15)
    # sorted by recall (ties in percentage order): (6/7, 1), (6/7, 2/3), (1, 0.7)
    assert result["AUPR"] == pytest.approx((2 / 3 + 0.7) / 2 * (1 / 7))
    np.testing.assert_array_equal(result["percentages"], [50, 80, 95])


def test_precision_and_recall_average_only_samples_with_a_positive_denominator():
    # Sample 0 is perfect. Sample 1 has no annotated cell: its precision is 0 (counted),
    # its recall is undefined (not counted).
    S = np.array([[[1.0, 0.0, 0.0]], [[1.0, 0.5, 0.0]]])
    E = np.array([[[1, 0, 0]], [[0, 0, 0]]])
    result = saliency_precision_recall(S, E, percentages=[10, 90])
    np.testing.assert_allclose(result["precision"], [0.5, 0.5])
    np.testing.assert_allclose(result["recall"], [1.0, 1.0])


def test_a_share_reached_exactly_stops_at_that_cell():
    # rescaled [1, .5, .5, 0]: 50% is the top cell exactly, 75% the top two.
    S = [[1.0, 0.5, 0.5, 0.0]]
    E = [[0, 1, 1, 0]]
    result = saliency_precision_recall(S, E, percentages=[50, 75])
    np.testing.assert_allclose(result["precision"], [0.0, 1 / 3])
    np.testing.assert_allclose(result["recall"], [0.0, 0.5])
    # 1.2 / 1.5 is 80% exactly, although 0.8 * 1.5 rounds to 1.2000000000000002
    rounded = saliency_precision_recall([[1.0, 0.2, 0.2, 0.1, 0.0]], [[1, 1, 0, 0, 0]],
                                        percentages=[50, 80])
    np.testing.assert_allclose(rounded["precision"], [1.0, 1.0])


def test_selection_keeps_at_least_one_and_at_most_all_but_one_cell():
    S = [[1.0, 0.5, 0.25, 0.0]]
    E = [[0, 0, 1, 1]]
    result = saliency_precision_recall(S, E, percentages=[0, 100])
    # 0%: the top cell alone (precision 0); 100%: three cells, the zero-saliency one left out
    np.testing.assert_allclose(result["precision"], [0.0, 0.25 / 1.75])
    np.testing.assert_allclose(result["recall"], [0.0, 1.0])


def test_time_and_feature_levels_by_hand():
    # 3 steps x 3 features; box = steps {0, 1} x feature {0} (2 x 1, not square).
    S = np.array([[[1.0, 0.9, 0.0], [0.2, 0.1, 0.0], [0.0, 0.8, 0.6]]])
    E = np.zeros_like(S)
    E[0, :2, 0] = 1
    # 50% of total 3.6 -> top 2 cells: (0,0)=1 and (0,1)=.9 -> step 0, features {0, 1}
    time = saliency_precision_recall(S, E, percentages=[10, 50], level="time")
    # K = 1 cell of the box per step: step scores = row maxima [1, .2, .8]
    # 10%: cell (0,0): step 0 selected -> TP 1, FN .2
    np.testing.assert_allclose(time["precision"], [1.0, 1.0])
    np.testing.assert_allclose(time["recall"], [1 / 1.2, 1 / 1.2])
    feature = saliency_precision_recall(S, E, percentages=[10, 50], level="feature")
    # K = 2 box cells per feature: feature scores = mean of the top two in each column:
    # f0 (1 + .2)/2 = .6, f1 (.9 + .8)/2 = .85, f2 (.6 + 0)/2 = .3
    np.testing.assert_allclose(feature["precision"], [1.0, 0.6 / 1.45])
    np.testing.assert_allclose(feature["recall"], [1.0, 1.0])


@pytest.mark.parametrize("level", ["cell", "time", "feature"])
def test_vectorised_curves_equal_the_literal_per_sample_definition(level):
    S, E = box_data()
    percentages = list(range(10, 100, 10))
    result = saliency_precision_recall(S, E, level=level)
    precision, recall = reference_curves(S, E, percentages, level)
    np.testing.assert_allclose(result["precision"], precision, atol=1e-12)
    np.testing.assert_allclose(result["recall"], recall, atol=1e-12)
    assert result["AUP"] == pytest.approx(np.trapezoid(precision, np.array(percentages) / 100))


# ---------------------------------------------------------------- properties
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, (3, 4, 5), elements=st.floats(0, 1)), arrays(np.bool_, (3, 4, 5)))
def test_recall_never_falls_as_the_share_grows(S, E):
    # The selection only grows with p while each sample's TP + FN stays the same.
    for level in ("cell", "time", "feature"):
        recall = saliency_precision_recall(S, E.astype(float), level=level)["recall"]
        assert (np.diff(recall) >= -1e-12).all()


def test_perfect_saliency_has_precision_one_everywhere():
    S, E = box_data()
    result = saliency_precision_recall(E * 0.7, E)
    np.testing.assert_allclose(result["precision"], 1.0)
    assert result["AUP"] == pytest.approx(0.8)  # 1 over [0.1, 0.9]
    assert (np.diff(result["recall"]) >= 0).all()


def test_saliency_scale_and_sign_do_not_matter():
    S, E = box_data(seed=3)
    base = saliency_precision_recall(S, E, level="time")
    scaled = saliency_precision_recall(-4 * S, E, level="time")
    np.testing.assert_allclose(scaled["precision"], base["precision"])
    np.testing.assert_allclose(scaled["recall"], base["recall"])


def test_random_saliency_scores_below_the_annotation():
    S, E = box_data(n=20)
    good = saliency_precision_recall(E + 0.05 * S, E)
    noise = saliency_precision_recall(S, E)
    assert good["AUPR"] > noise["AUPR"] and good["AUP"] > noise["AUP"]


# ---------------------------------------------------------------- edge cases
def test_all_zero_saliency_warns_and_scores_zero():
    _, E = box_data()
    with pytest.warns(UndefinedMetricWarning, match="no sample has a positive denominator"):
        result = saliency_precision_recall(np.zeros_like(E), E)
    assert result["AUP"] == 0 and result["AUR"] == 0
    quiet = saliency_precision_recall(np.zeros_like(E), E, zero_division=NAN)
    assert np.isnan(quiet["precision"]).all() and np.isnan(quiet["AUPR"])


def test_empty_boxes_give_zero_precision_and_undefined_recall():
    S, _ = box_data()
    with pytest.warns(UndefinedMetricWarning, match="recall"):
        result = saliency_precision_recall(S, np.zeros_like(S))
    np.testing.assert_allclose(result["precision"], 0.0)
    np.testing.assert_allclose(result["recall"], 0.0)


def test_samples_with_missing_annotations_are_left_out():
    S, E = box_data()
    partial = E.copy()
    partial[0] = NAN
    expected = saliency_precision_recall(S[1:], E[1:])
    result = saliency_precision_recall(S, partial)
    np.testing.assert_allclose(result["precision"], expected["precision"])
    with pytest.warns(UndefinedMetricWarning, match="every sample's E is missing"):
        missing = saliency_precision_recall(S, np.full_like(E, NAN))
    assert np.isnan(missing["AUP"]) and np.isnan(missing["recall"]).all()


def test_accepts_torch_tensors_and_reads_memory_maps_in_chunks(tmp_path):
    S, E = box_data(n=300, t=6, f=4)  # more samples than one chunk
    expected = saliency_precision_recall(S, E, level="feature")
    memmap = np.lib.format.open_memmap(tmp_path / "S.npy", mode="w+", dtype=S.dtype, shape=S.shape)
    memmap[:] = S
    chunked = saliency_precision_recall(memmap, torch.as_tensor(E), level="feature")
    np.testing.assert_allclose(chunked["precision"], expected["precision"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"level": "row"}, "level must be"),
        ({"percentages": [50]}, "at least 2"),
        ({"percentages": [50, 20]}, "strictly increasing"),
        ({"percentages": [10, 120]}, "between 0 and 100"),
        ({"zero_division": "nan"}, "zero_division"),
    ],
)
def test_bad_options_raise_value_errors_naming_them(kwargs, match):
    S, E = box_data()
    with pytest.raises(ValueError, match=match):
        saliency_precision_recall(S, E, **kwargs)


def test_input_errors_name_the_problem():
    S, E = box_data()
    with pytest.raises(ValueError, match=r"S has shape \(6, 10, 8\) but E has shape"):
        saliency_precision_recall(S, E[:, :5])
    with pytest.raises(ValueError, match=r"needs time series maps of shape \(N, T, F\)"):
        saliency_precision_recall(S[..., None], E[..., None], level="time")
    S[0, 0, 0] = NAN
    with pytest.raises(ValueError, match="S contains NaN"):
        saliency_precision_recall(S, E)


# ---------------------------------------------------------------- accuracy drop
def first_cell_sign(inputs):
    """A 'model' that reads the first cell of each sample only."""
    return (np.asarray(inputs).reshape(len(inputs), -1)[:, 0] > 0).astype(int)


def test_accuracy_drop_by_hand():
    X = np.array([[2.0, 0.0, 0.0, 0.0], [-2.0, 0.0, 0.0, 0.0]])
    y = [1, 0]
    right = accuracy_drop(first_cell_sign, X, y, [[1, 0, 0, 0]] * 2, replacement=-1.0,
                          percentages=[0, 50, 100])
    np.testing.assert_allclose(right["accuracy"], [1.0, 0.5, 0.5])
    assert right["AUC"] == pytest.approx((1 + 0.5) / 2 * 0.5 + 0.5 * 0.5)
    wrong = accuracy_drop(first_cell_sign, X, y, [[0, 1, 1, 1]] * 2, replacement=-1.0,
                          percentages=[0, 50, 100])
    np.testing.assert_allclose(wrong["accuracy"], [1.0, 1.0, 0.5])
    assert wrong["AUC"] > right["AUC"]  # lower is better


def test_accuracy_drop_masks_the_saliency_share_not_a_cell_count():
    # rescaled [1, 1/3, 1/3, 0] (total 5/3); truth-reading cell 0 is masked at every p>0
    X = np.array([[1.0, 1.0, 1.0, 1.0]])
    calls = []

    def predict(inputs):
        calls.append(np.asarray(inputs).copy())
        return np.zeros(len(inputs), int)

    accuracy_drop(predict, X, [0], [[0.9, 0.5, 0.5, 0.3]], replacement=0.0,
                  percentages=[0, 50, 70, 100])
    masked = [int((c == 0).sum()) for c in calls]
    assert masked == [0, 1, 2, 4]  # 50%: 1 cell (60%); 70%: 2 cells (80%); 100%: all


def test_accuracy_drop_draws_the_replacement_once_and_shares_it():
    X = np.ones((3, 2, 2))
    draws = []

    def draw():
        draws.append(1)
        return np.full((2, 2), -5.0)

    seen = []

    def predict(inputs):
        seen.append(np.asarray(inputs).copy())
        return np.zeros(len(inputs), int)

    accuracy_drop(predict, X, [0, 0, 0], np.arange(12.0).reshape(3, 2, 2), replacement=draw)
    assert draws == [1]
    assert (seen[-1] == -5).all() and (seen[0] == 1).all()


def test_accuracy_drop_broadcasts_pixel_saliency_over_channels():
    X = np.ones((1, 2, 2, 2))  # one image, 2 channels
    seen = []

    def predict(inputs):
        seen.append(np.asarray(inputs).copy())
        return np.zeros(len(inputs), int)

    S = np.array([[[1.0, 0.0], [0.0, 0.0]]])
    accuracy_drop(predict, X, [0], S, replacement=0.0, percentages=[0, 50])
    assert (seen[1][0, :, 0, 0] == 0).all() and seen[1].sum() == 6  # both channels of pixel 0


def test_accuracy_drop_with_a_scikit_learn_classifier_and_per_sample_replacement():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    clf = LogisticRegression().fit(X, y)
    contribution = np.abs(clf.coef_[0] * X)
    uninformative = rng.normal(size=X.shape)
    informed = accuracy_drop(clf, X, y, contribution, replacement=uninformative)
    random = accuracy_drop(clf, X, y, rng.random(X.shape), replacement=uninformative)
    assert informed["accuracy"][0] == pytest.approx(clf.score(X, y))
    assert informed["AUC"] < random["AUC"]
    assert informed["accuracy"][-1] == random["accuracy"][-1]


def test_accuracy_drop_with_an_explanation_supervised_classifier():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 6, 3)).astype(np.float32)
    y = (X[:, 2:4, 0].mean(axis=1) > 0).astype(int)
    clf = ExplanationSupervisedClassifier(max_epochs=1, train_split=None, verbose=0,
                                          random_state=0).fit(X, y)
    result = accuracy_drop(clf, X, y, clf.explain(X), replacement=np.zeros((6, 3)))
    assert result["accuracy"][0] == pytest.approx(clf.score(X, y))
    assert result["accuracy"][-1] == pytest.approx(clf.score(np.zeros_like(X), y))
    assert 0 <= result["AUC"] <= 1


def test_accuracy_drop_input_errors():
    X, y = np.ones((2, 4)), [0, 1]
    with pytest.raises(ValueError, match=r"needs saliency maps of shape \(2, 4\)"):
        accuracy_drop(first_cell_sign, X, y, np.ones((2, 3)), replacement=0.0)
    with pytest.raises(ValueError, match="does not broadcast"):
        accuracy_drop(first_cell_sign, X, y, np.ones((2, 4)), replacement=np.zeros(3))
    with pytest.raises(ValueError, match="one label per sample"):
        accuracy_drop(first_cell_sign, X, [0], np.ones((2, 4)), replacement=0.0)
    with pytest.raises(TypeError, match="predict method"):
        accuracy_drop(object(), X, y, np.ones((2, 4)), replacement=0.0)
    with pytest.raises(ValueError, match="replacement contains NaN"):
        accuracy_drop(first_cell_sign, X, y, np.ones((2, 4)), replacement=NAN)
