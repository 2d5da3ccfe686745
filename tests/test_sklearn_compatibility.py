"""The estimators in the scikit-learn world: checks, clone, search, pipelines, routing, pickling."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import sklearn
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from xsup import ExplanationSupervisedClassifier, ExplanationSupervisedRegressor
from xsup.base import ExplanationLoss


#: Checks the estimators are known to fail, with the reason (reported as expected failures).
EXPECTED_FAILED_CHECKS = {
    "check_no_attributes_set_in_init": (
        "skorch's NeuralNet.__init__ sets its bookkeeping attributes history_, initialized_ and "
        "virtual_params_; fitted-ness is decided by __sklearn_is_fitted__ (module_), not by them."
    ),
    "check_sample_weight_equivalence_on_dense_data": (
        "minibatch training: a weight of 2 counts a sample twice within its batch, whereas a "
        "repeated sample changes the batches, the internal validation split and the number of "
        "optimiser steps (scikit-learn's SGD estimators fail this check for the same reason)."
    ),
}

#: Checks that compare outputs to 1e-7 relative tolerance across batch compositions.
FLOAT32_BATCH_CHECKS = {
    "check_methods_subset_invariance": (
        "outputs are computed in float32 by batched matrix products whose rounding depends on "
        "the batch's size (differences up to ~3e-7 relative), checked at rtol 1e-7."
    ),
    "check_methods_sample_order_invariance": (
        "outputs are computed in float32 by batched matrix products whose rounding depends on "
        "the batch's composition, checked at rtol 1e-7."
    ),
}


def expected_failed_checks(estimator):
    """The checks each estimator fails on purpose, with the reason."""
    failed = dict(EXPECTED_FAILED_CHECKS)
    if isinstance(estimator, ExplanationSupervisedRegressor):  # float outputs, not class labels
        failed.update(FLOAT32_BATCH_CHECKS)
    return failed


@parametrize_with_checks(
    [
        ExplanationSupervisedClassifier(verbose=0, random_state=0),
        ExplanationSupervisedRegressor(verbose=0, random_state=0),
    ],
    expected_failed_checks=expected_failed_checks,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_get_params_and_clone_round_trip_prefixed_parameters():
    clf = ExplanationSupervisedClassifier(
        loss="gradia", sigma1=3.0, alpha=0.1, k=0.2, module__channels=(4, 8),
        explainer__layer="encoder", loss__foo=1, iterator_train__shuffle=True, verbose=0,
    )
    params = clf.get_params(deep=False)
    for key, value in {
        "loss": "gradia", "sigma1": 3.0, "alpha": 0.1, "k": 0.2, "device": "auto",
        "module__channels": (4, 8), "explainer__layer": "encoder", "loss__foo": 1,
        "iterator_train__shuffle": True,
    }.items():
        assert params[key] == value
    twin = clone(clf)
    twin_params = twin.get_params(deep=False)
    assert twin_params.keys() == params.keys()
    assert all(twin_params[key] == params[key] for key in params if key != "train_split")
    twin.set_params(sigma1=0.5, explainer__layer="encoder.0", loss__foo=2)
    assert twin.sigma1 == 0.5 and twin.explainer__layer == "encoder.0" and twin.loss__foo == 2
    assert clf.sigma1 == 3.0


def test_unknown_prefixed_plugin_option_names_the_plugin():
    X = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    y = np.arange(16) % 2
    clf = ExplanationSupervisedClassifier(
        loss="gradia", loss__gama=5, max_epochs=1, verbose=0, train_split=None
    )
    with pytest.raises(ValueError, match="loss__gama: not a parameter of loss 'gradia'"):
        clf.fit(X, y, np.ones_like(X))


def image_task(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 1, 8, 8)).astype(np.float32)
    y = (X[:, 0, :4, :4].mean(axis=(1, 2)) > 0).astype(int)
    E = np.zeros((n, 8, 8), dtype=np.float32)
    E[:, :4, :4] = 1
    return X, y, E


class RecordingLoss(ExplanationLoss):
    """Records the annotations it is trained on (to check how E is sliced)."""

    seen: list = []

    def forward(self, batch):
        RecordingLoss.seen.append(batch.annotation.detach().cpu().numpy().copy())
        return batch.saliency.sum() * 0.0


def tagged_annotations(n):
    """Annotations whose top-left cell identifies the sample: (i + 1) / (n + 1)."""
    E = np.zeros((n, 8, 8), dtype=np.float32)
    E[:, 0, 0] = (np.arange(n) + 1) / (n + 1)
    return E


def net(**params):
    return ExplanationSupervisedClassifier(
        max_epochs=1, verbose=0, train_split=None, random_state=0, **params
    )


def ids_of(batch):
    return set(np.rint(batch[:, 0, 0] * 41 - 1).astype(int))


@pytest.mark.parametrize("routing", [False, True])
def test_cross_validate_slices_E_per_fold(routing):
    X, y, _ = image_task()
    E = tagged_annotations(len(X))
    folds = list(KFold(4).split(X))
    with sklearn.config_context(enable_metadata_routing=routing):
        RecordingLoss.seen = []
        cross_validate(net(loss=RecordingLoss), X, y, cv=KFold(4), params={"E": E})
    # one epoch of one batch (30 training samples < batch_size 32) per fold
    assert [ids_of(batch) for batch in RecordingLoss.seen] == [set(train) for train, _ in folds]


@pytest.mark.parametrize("routing", [False, True])
def test_grid_search_and_pipeline_route_E(routing):
    X, y, _ = image_task()
    E = tagged_annotations(len(X))
    pipeline = Pipeline([("identity", FunctionTransformer()), ("clf", net(loss=RecordingLoss))])
    search = GridSearchCV(pipeline, {"clf__sigma1": [0.5, 2.0]}, cv=KFold(2))
    RecordingLoss.seen = []
    with sklearn.config_context(enable_metadata_routing=routing):
        search.fit(X, y, **({"E": E} if routing else {"clf__E": E}))
    folds = [set(train) for train, _ in KFold(2).split(X)]
    # 2 candidates x 2 folds of 20 samples (one batch each), then the refit on all 40
    assert [ids_of(batch) for batch in RecordingLoss.seen[:4]] == folds * 2
    assert set().union(*map(ids_of, RecordingLoss.seen[4:])) == set(range(40))
    assert search.best_params_["clf__sigma1"] in (0.5, 2.0)


def test_grid_search_without_routing_fails_clearly_when_E_has_the_wrong_length():
    X, y, _ = image_task()
    search = GridSearchCV(net(loss="gradia"), {"sigma1": [1.0]}, cv=KFold(2))
    with pytest.raises(ValueError, match="E has shape"):
        search.fit(X, y, E=np.zeros((3, 8, 8)))


def test_pickle_round_trip_keeps_predictions_and_explanations():
    X, y, E = image_task()
    clf = net(loss="gradia").fit(X, y, E)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict(X), clf.predict(X))
    np.testing.assert_allclose(restored.explain(X), clf.explain(X), rtol=1e-6, atol=1e-7)
    assert restored.get_params()["device"] == "auto"
    restored.partial_fit(X, y, E)  # still trainable
    assert len(restored.history) == 2


def test_device_auto_resolves_without_changing_the_parameter():
    clf = ExplanationSupervisedClassifier()
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert clf.device == expected
    assert clf.get_params()["device"] == "auto"
    assert clone(clf).get_params()["device"] == "auto"


def test_metadata_routing_requests_E_without_set_fit_request():
    with sklearn.config_context(enable_metadata_routing=True):
        routing = ExplanationSupervisedClassifier().get_metadata_routing()
        assert routing.consumes("fit", ["E"]) == {"E"}


def test_set_params_explainer_on_a_fitted_estimator_rebuilds_the_explainer():
    from xsup.explainers import GradCAM, InputGradient

    X, y, _ = image_task(n=16)
    clf = ExplanationSupervisedClassifier(module="cnn", max_epochs=1, verbose=0,
                                          train_split=None).fit(X, y)
    assert isinstance(clf.explainer_, GradCAM)
    clf.set_params(explainer="gradient")
    assert isinstance(clf.explainer_, InputGradient) and clf.explainer == "gradient"
    assert clf.explain(X).shape == (16, 8, 8)


def test_a_pickle_written_before_explanation_scale_existed_still_loads_and_trains():
    X, y, E = image_task(16)
    fitted = ExplanationSupervisedClassifier(loss="gradia", max_epochs=1, train_split=None,
                                             verbose=0, random_state=0).fit(X, y, E)
    state = fitted.__getstate__()
    for name in ("explanation_scale", "explanation_scaler_", "plugins_checked_"):
        state.pop(name)
    old = ExplanationSupervisedClassifier.__new__(ExplanationSupervisedClassifier)
    old.__setstate__(state)
    np.testing.assert_array_equal(old.predict_proba(X), fitted.predict_proba(X))
    assert clone(old).get_params()["explanation_scale"] == "none"
    assert len(old.partial_fit(X, y, E).history) == 2
