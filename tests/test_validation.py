"""Bad input gets an error that names the argument, what was expected and what came."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from sklearn.exceptions import NotFittedError

from xsup import ExplanationSupervisedClassifier, ExplanationSupervisedRegressor
from xsup.plugins import PluginNotFoundError

rng = np.random.default_rng(0)
X_SEQ = rng.normal(size=(12, 4, 1, 6, 6)).astype(np.float32)
E_SEQ = np.ones((12, 4, 6, 6), dtype=np.float32)
Y = np.arange(12) % 2


def clf(**params):
    return ExplanationSupervisedClassifier(
        max_epochs=1, verbose=0, train_split=None, **params
    )


@pytest.fixture(scope="module")
def fitted():
    return clf(loss="gradia").fit(X_SEQ, Y, E_SEQ)


@pytest.mark.parametrize(
    "E, message",
    [
        (np.ones((12, 5, 6, 6)), r"E has shape \(12, 5, 6, 6\) but X \(12, 4, 1, 6, 6\) implies \(12, 4, 6, 6\)"),
        (np.ones((12, 4, 1, 6, 6)), r"implies \(12, 4, 6, 6\): one annotation frame of H x W per time step"),
        (np.ones((11, 4, 6, 6)), r"E has shape \(11, 4, 6, 6\)"),
        (np.full((12, 4, 6, 6), 2.0), r"E must lie in \[-1, 1\].*got values from 2 to 2"),
        (np.full((12, 4, 6, 6), np.inf), "E contains infinity; use NaN"),
    ],
)
def test_bad_annotations(E, message):
    with pytest.raises(ValueError, match=message):
        clf(loss="gradia").fit(X_SEQ, Y, E)


def test_annotations_of_strings_are_a_type_error():
    with pytest.raises(TypeError, match="E must hold numbers"):
        clf(loss="gradia").fit(X_SEQ, Y, np.full((12, 4, 6, 6), "a"))


@pytest.mark.parametrize(
    "X, error, message",
    [
        (np.where(np.arange(X_SEQ.size).reshape(X_SEQ.shape) == 7, np.nan, X_SEQ), ValueError, "X contains NaN"),
        (np.where(np.arange(X_SEQ.size).reshape(X_SEQ.shape) == 7, np.inf, X_SEQ), ValueError, "X contains"),
        (np.ones((12, 2, 3, 4, 5, 6)), ValueError, r"X must have 2 \(tabular \(F,\)\).*got shape \(12, 2, 3, 4, 5, 6\)"),
        (np.ones(12), ValueError, r"X must have 2 .*got shape \(12,\)\. Reshape your data"),
        (np.full((12, 3), "x"), TypeError, "X must hold real numbers"),
        (scipy.sparse.csr_matrix(np.ones((12, 3))), TypeError, "dense data is required"),
        ([[1.0, 2.0], [3.0]] * 6, ValueError, "X must be a rectangular array"),
        (np.ones((0, 3)), ValueError, "0 sample"),
        (np.ones((12, 0)), ValueError, "0 feature"),
    ],
)
def test_bad_inputs(X, error, message):
    with pytest.raises(error, match=message):
        clf().fit(X, Y)


def test_y_of_the_wrong_length():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf().fit(X_SEQ, Y[:-1], E_SEQ)


def test_y_with_a_single_class():
    with pytest.raises(ValueError, match="single class"):
        clf().fit(X_SEQ, np.zeros(12))


def test_missing_y():
    with pytest.raises(ValueError, match="requires y to be passed"):
        clf().fit(X_SEQ)


def test_continuous_y_for_a_classifier():
    with pytest.raises(ValueError, match="Unknown label type"):
        clf().fit(X_SEQ, np.linspace(0, 1, 12))


def test_loss_that_needs_annotations_without_E():
    with pytest.raises(ValueError, match=r"loss='gradia' needs annotations: pass E"):
        clf(loss="gradia").fit(X_SEQ, Y)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"sigma1": -1.0}, "sigma1 must be a finite non-negative number; got -1.0"),
        ({"sigma2": -0.5}, "sigma2 must be a finite non-negative number"),
        ({"alpha": -0.1}, "alpha must be a finite non-negative number"),
        ({"alpha": "high"}, "alpha must be a finite non-negative number; got 'high'"),
        ({"k": 1.5}, r"k must be a fraction in \[0, 1\]; got 1.5"),
        ({"k": -0.1}, r"k must be a fraction in \[0, 1\]"),
    ],
)
def test_hyperparameters_out_of_range(params, message):
    with pytest.raises(ValueError, match=message):
        clf(**params).fit(X_SEQ, Y, E_SEQ)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"loss": "gradai"}, "Unknown losses plugin 'gradai'. Did you mean 'gradia'"),
        ({"explainer": "gradcamm"}, "Unknown explainers plugin 'gradcamm'. Did you mean 'gradcam'"),
        ({"interpolator": "linearr"}, "Unknown interpolators plugin 'linearr'"),
        ({"module": "cnn_gur"}, "Unknown modules plugin 'cnn_gur'. Did you mean 'cnn_gru'"),
        ({"loss": "gradcam"}, "'gradcam' is a plugin of kind 'explainers', not 'losses'"),
    ],
)
def test_unknown_plugin_names(params, message):
    with pytest.raises(PluginNotFoundError, match=message):
        clf(**params).fit(X_SEQ, Y, E_SEQ)


def test_plugin_of_the_wrong_type():
    with pytest.raises(TypeError, match="loss must be a registered name"):
        clf(loss=3.5).fit(X_SEQ, Y, E_SEQ)


def test_module_for_another_input_kind():
    with pytest.raises(ValueError, match=r"module='mlp' takes tabular input; X is raster sequences"):
        clf(module="mlp").fit(X_SEQ, Y)


def test_gradcam_on_tabular_data():
    X = rng.normal(size=(12, 5)).astype(np.float32)
    with pytest.raises(ValueError, match="gradcam' needs spatial or temporal axes"):
        clf(loss="gradia", explainer="gradcam").fit(X, Y, np.ones((12, 5)))


def test_unknown_gradcam_layer():
    with pytest.raises(ValueError, match=r"explainer__layer='nope' is not a submodule of CNNGRU"):
        clf(loss="gradia", explainer="gradcam", explainer__layer="nope").fit(X_SEQ, Y, E_SEQ)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "explain", "score"])
def test_use_before_fit(method):
    args = (X_SEQ, Y) if method == "score" else (X_SEQ,)
    with pytest.raises(NotFittedError):
        getattr(clf(), method)(*args)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "explain"])
def test_input_unlike_the_training_data(fitted, method):
    with pytest.raises(ValueError, match=r"X has samples of shape \(4, 1, 8, 8\), but .* \(4, 1, 6, 6\)"):
        getattr(fitted, method)(rng.normal(size=(3, 4, 1, 8, 8)))


def test_tabular_input_with_other_features_uses_scikit_learns_message():
    model = clf().fit(rng.normal(size=(12, 3)), Y)
    with pytest.raises(ValueError, match="X has 4 features, but ExplanationSupervisedClassifier is expecting 3"):
        model.predict(rng.normal(size=(5, 4)))


def test_explain_with_unknown_method(fitted):
    with pytest.raises(PluginNotFoundError, match="Unknown explainers plugin 'integrated'"):
        fitted.explain(X_SEQ, method="integrated")


def test_regressor_with_a_3d_y():
    with pytest.raises(ValueError, match=r"y must have shape \(n_samples,\) or \(n_samples, n_targets\)"):
        ExplanationSupervisedRegressor(max_epochs=1, verbose=0).fit(X_SEQ, np.ones((12, 2, 2)))


@pytest.mark.parametrize(
    "params",
    [
        {"k": 0.0},
        {"k": 1.0},
        {"sigma1": 0.0, "alpha": 0},
        {"batch_size": -1},
        {"lr": np.float32(0.01)},
        {"random_state": np.random.RandomState(0)},
        {"device": "cpu"},
    ],
)
def test_values_at_the_edges_of_the_ranges_are_accepted(params):
    X = rng.normal(size=(12, 3)).astype(np.float32)
    model = clf(loss="rrr", **params).fit(X, Y, np.ones((12, 3)))
    assert model.predict(X).shape == (12,)


def test_a_memory_map_of_floats_is_passed_on_without_a_copy(tmp_path):
    from xsup.validation import check_input

    X = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float32, shape=(6, 3))
    X[:] = 1.0
    assert check_input(X) is X


def test_lengths_are_checked_before_the_values():
    from xsup.validation import check_consistent_samples

    with pytest.raises(ValueError, match="E has 3 samples but X has 2"):
        check_consistent_samples(np.ones((2, 4)), y=[0, 1], E=np.ones((3, 4)))
    with pytest.raises(TypeError, match="y must be array-like with one entry per sample; got 5"):
        check_consistent_samples(np.ones((2, 4)), y=5)


def test_one_target_for_all_samples_or_one_each():
    from xsup.validation import check_target_per_sample

    assert check_target_per_sample("a", 3).tolist() == ["a", "a", "a"]
    assert check_target_per_sample([2], 3).tolist() == [2, 2, 2]
    assert check_target_per_sample([0, 1, 0], 3).tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match=r"got shape \(1, 3\)"):
        check_target_per_sample([[0, 1, 0]], 3)
