"""Explanation scorers in scikit-learn searches and cross-validation, with E routed to them."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import sklearn
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from xsup import ExplanationSupervisedClassifier
from xsup.metrics import (
    ExplanationScorer,
    explanation_iou,
    explanation_precision_recall_f1,
    explanation_scorer,
    pointing_hit_rate,
    saliency_precision_recall,
)


def tabular_task(n=40, seed=0):
    """Two informative features; E marks them, with a few cells per sample flipped to -1 or 0."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    E = np.zeros((n, 6), dtype=np.float32)
    E[:, :2] = 1
    E[rng.random((n, 6)) < 0.3] = -1  # differs per sample: a wrong slice of E shows
    return X, y, E


def net(**params):
    return ExplanationSupervisedClassifier(
        max_epochs=1, train_split=None, verbose=0, random_state=0, **params
    )


class SelfExplaining:
    """A fitted 'estimator' whose saliency maps are its (transformed) inputs."""

    def fit(self, X, y=None):
        return self

    def explain(self, X, method=None, target=None):
        self.calls = getattr(self, "calls", []) + [(np.asarray(X), method, target)]
        return np.asarray(X)


# ---------------------------------------------------------------- the scorer alone
@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("iou", lambda S, E: explanation_iou(S, E)),
        ("precision", lambda S, E: explanation_precision_recall_f1(S, E)[0]),
        ("recall", lambda S, E: explanation_precision_recall_f1(S, E)[1]),
        ("f1", lambda S, E: explanation_precision_recall_f1(S, E)[2]),
        ("pointing", pointing_hit_rate),
        ("aup", lambda S, E: saliency_precision_recall(S, E)["AUP"]),
        ("aur", lambda S, E: saliency_precision_recall(S, E)["AUR"]),
        ("aupr", lambda S, E: saliency_precision_recall(S, E)["AUPR"]),
    ],
)
def test_named_metrics_score_the_explanations_against_E(metric, expected):
    rng = np.random.default_rng(0)
    X = rng.random((5, 6, 4))
    E = rng.choice([-1.0, 0.0, 1.0], size=X.shape)
    score = explanation_scorer(metric)(SelfExplaining(), X, None, E=E)
    assert isinstance(score, float) and score == pytest.approx(expected(X, E))


def test_metric_options_and_callable_metrics_are_passed_through():
    X = np.array([[0.9, 0.8], [0.9, 0.1]])
    E = np.array([[1, 0], [1, 0]])
    assert explanation_scorer("iou")(SelfExplaining(), X, None, E=E) == pytest.approx(2 / 3)
    assert explanation_scorer("iou", average="macro")(SelfExplaining(), X, None, E=E) == 0.75
    assert explanation_scorer("iou", threshold=0.85)(SelfExplaining(), X, None, E=E) == 1.0

    def agreement(S, E, weight=1.0):
        return weight * float(np.mean((S > 0.5) == (E > 0)))

    assert explanation_scorer(agreement, weight=2.0)(SelfExplaining(), X, None, E=E) == 1.5


def test_pipelines_are_unwrapped_and_their_transforms_applied():
    X = np.array([[0.2, 0.4], [0.1, 0.0]])
    final = SelfExplaining()
    pipeline = Pipeline([("double", FunctionTransformer(lambda Z: 2 * Z)), ("clf", final)])
    nested = Pipeline([("inner", pipeline.fit(X))]).fit(X)
    score = explanation_scorer("iou")(nested, X, None, E=[[0, 1], [0, 0]])
    np.testing.assert_array_equal(final.calls[-1][0], 2 * X)
    assert score == pytest.approx(1.0)  # doubled: only 0.8 is above 0.5


def test_explainer_method_and_target_are_forwarded():
    X, E = np.ones((2, 3)), np.ones((2, 3))
    estimator = SelfExplaining()
    explanation_scorer("iou", method="integrated_gradients")(estimator, X, [1, 0], E=E)
    assert estimator.calls[-1][1:] == ("integrated_gradients", None)
    explanation_scorer("iou", target="true")(estimator, X, [1, 0], E=E)
    assert estimator.calls[-1][2].tolist() == [1, 0]


def test_scorer_without_E_explains_how_to_route_it():
    with pytest.raises(ValueError, match=r"no annotations E.*enable_metadata_routing=True"):
        explanation_scorer("iou")(SelfExplaining(), np.ones((2, 3)), [0, 1])


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: explanation_scorer("iuo"), ValueError, "Did you mean 'iou'"),
        (lambda: explanation_scorer("iou", treshold=0.4), TypeError, "Invalid options"),
        (lambda: explanation_scorer("iou", target="label"), ValueError, "target must be"),
    ],
)
def test_invalid_scorer_options_fail_at_creation(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_call_errors_name_the_problem():
    scorer = explanation_scorer("iou")
    with pytest.raises(TypeError, match="explain"):
        scorer(StandardScaler().fit(np.ones((2, 3))), np.ones((2, 3)), None, E=np.ones((2, 3)))
    with pytest.raises(ValueError, match="E holds 3 samples but X holds 2"):
        scorer(SelfExplaining(), np.ones((2, 3)), None, E=np.ones((3, 3)))
    with pytest.raises(ValueError, match="y is None"):
        explanation_scorer(target="true")(SelfExplaining(), np.ones((2, 3)), None,
                                          E=np.ones((2, 3)))


def test_scorer_requests_E_for_score_and_pickles():
    scorer = explanation_scorer("f1", average="macro")
    assert isinstance(scorer, ExplanationScorer)
    assert scorer.get_metadata_routing().consumes("score", ["E", "sample_weight"]) == {"E"}
    assert repr(scorer) == "explanation_scorer('f1', average='macro')"
    restored = pickle.loads(pickle.dumps(scorer))
    X, E = np.array([[0.9, 0.1]]), np.array([[1, -1]])
    assert restored(SelfExplaining(), X, None, E=E) == scorer(SelfExplaining(), X, None, E=E)


# ---------------------------------------------------------------- in scikit-learn, routing on
def test_cross_validate_gives_the_scorer_each_test_folds_annotations():
    X, y, E = tabular_task()
    with sklearn.config_context(enable_metadata_routing=True):
        result = cross_validate(
            net(loss="gradia"), X, y, cv=KFold(2), params={"E": E}, return_estimator=True,
            scoring={"accuracy": "accuracy", "iou": explanation_scorer("iou")},
        )
    for (_, test), estimator, score in zip(KFold(2).split(X), result["estimator"],
                                           result["test_iou"]):
        assert score == pytest.approx(explanation_iou(estimator.explain(X[test]), E[test]))
    assert np.isfinite(result["test_accuracy"]).all()


def test_grid_search_selects_on_explanation_quality_in_parallel_through_a_pipeline():
    X, y, E = tabular_task()
    pipeline = Pipeline([("scale", StandardScaler()), ("clf", net(loss="gradia"))])
    search = GridSearchCV(
        pipeline, {"clf__sigma1": [0.0, 5.0]}, cv=KFold(2), n_jobs=2, refit="f1",
        scoring={"accuracy": "accuracy", "f1": explanation_scorer("f1", average="macro")},
        error_score="raise",
    )
    with sklearn.config_context(enable_metadata_routing=True):
        search.fit(X, y, E=E)
    f1 = search.cv_results_["mean_test_f1"]
    assert np.isfinite(f1).all() and np.isfinite(search.cv_results_["mean_test_accuracy"]).all()
    assert search.best_index_ == int(np.argmax(f1))
    # the refitted pipeline scores on E like any fitted one
    with sklearn.config_context(enable_metadata_routing=True):
        assert 0 <= search.score(X, y, E=E) <= 1


def test_without_routing_scorers_never_get_E_and_say_so():
    X, y, E = tabular_task()
    search = GridSearchCV(net(loss="gradia"), {"sigma1": [1.0]}, cv=KFold(2),
                          scoring=explanation_scorer("iou"), error_score="raise")
    with sklearn.config_context(enable_metadata_routing=False):
        with pytest.raises(ValueError, match="metadata routing enabled"):
            search.fit(X, y, E=E)
