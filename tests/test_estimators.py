"""The estimators on every input kind: shapes, annotations, training, explanation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xsup import ExplanationSupervisedClassifier, ExplanationSupervisedRegressor
from xsup.base import Explainer

# kind -> (X shape, E shape) for 24 samples
SHAPES = {
    "tabular": ((24, 6), (24, 6)),
    "time_series": ((24, 5, 3), (24, 5, 3)),
    "images": ((24, 2, 8, 8), (24, 8, 8)),
    "raster_sequences": ((24, 3, 1, 8, 8), (24, 3, 8, 8)),
}


def make_data(kind: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    x_shape, e_shape = SHAPES[kind]
    X = rng.normal(size=x_shape).astype(np.float32)
    y = np.array(["no", "yes"])[(X.reshape(len(X), -1)[:, 0] > 0).astype(int)]
    E = (rng.random(e_shape) > 0.7).astype(np.float32)
    return X, y, E


def small(**params):
    defaults = dict(max_epochs=2, batch_size=8, train_split=None, verbose=0, random_state=0)
    return {**defaults, **params}


@pytest.mark.parametrize("kind", list(SHAPES))
@pytest.mark.parametrize("loss", ["none", "gradia"])
def test_classifier_fits_predicts_and_explains_every_input_kind(kind, loss):
    X, y, E = make_data(kind)
    clf = ExplanationSupervisedClassifier(loss=loss, **small()).fit(X, y, E)
    assert set(clf.classes_) == {"no", "yes"}
    assert clf.predict(X).shape == (24,)
    assert set(clf.predict(X)) <= {"no", "yes"}
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    maps = clf.explain(X)
    assert maps.shape == E.shape
    assert maps.min() >= 0 and maps.max() <= 1 + 1e-6
    np.testing.assert_allclose(maps.reshape(24, -1).max(axis=1), 1.0, rtol=1e-4)
    assert 0 <= clf.score(X, y) <= 1


@pytest.mark.parametrize("kind", list(SHAPES))
def test_regressor_fits_predicts_and_explains_every_input_kind(kind):
    X, _, E = make_data(kind)
    y = X.reshape(len(X), -1)[:, :3].sum(axis=1)
    reg = ExplanationSupervisedRegressor(loss="gradia", **small()).fit(X, y, E)
    assert reg.predict(X).shape == (24,)
    assert reg.predict(X).dtype == np.float64
    assert reg.explain(X).shape == E.shape
    assert not hasattr(reg, "predict_proba")


def test_regressor_predicts_every_target_of_a_2d_y():
    X, _, _ = make_data("tabular")
    y = np.stack([X[:, 0], X[:, 1] * 2], axis=1)
    reg = ExplanationSupervisedRegressor(**small()).fit(X, y)
    assert reg.predict(X).shape == (24, 2)
    assert reg.explain(X, target=1).shape == (24, 6)
    with pytest.raises(ValueError, match="target must be output column"):
        reg.explain(X, target=2)


@pytest.mark.parametrize("kind", ["time_series", "raster_sequences"])
def test_missing_frames_and_missing_samples_train(kind):
    X, y, E = make_data(kind)
    E[0, 1] = np.nan  # a missing frame
    E[1] = np.nan  # a sample without any annotation
    E[2, -1] = 0  # an empty target frame counts as missing
    clf = ExplanationSupervisedClassifier(loss="gradia", **small()).fit(X, y, E)
    explanation = clf.history[:, "train_explanation"]
    assert np.all(np.isfinite(explanation)) and explanation[-1] > 0


def test_fit_without_annotations_trains_the_baseline():
    X, y, _ = make_data("images")
    clf = ExplanationSupervisedClassifier(**small()).fit(X, y)
    assert clf.history[-1, "train_explanation"] == 0


def test_explanation_term_is_logged_per_epoch_with_validation():
    X, y, E = make_data("images")
    clf = ExplanationSupervisedClassifier(
        loss="gradia", max_epochs=3, verbose=0, random_state=0
    ).fit(X, y, E)
    for key in ("train_explanation", "valid_explanation", "valid_acc", "train_loss"):
        values = clf.history[:, key]
        assert len(values) == 3 and all(np.isfinite(values))
    assert clf.history[-1, "valid_explanation"] > 0


def test_reconstruction_term_of_a_learned_interpolator_is_an_epoch_column():
    X, y, E = make_data("raster_sequences")
    E[::3, 1] = np.nan  # missing frames for the interpolator to fill
    clf = ExplanationSupervisedClassifier(
        loss="stes", interpolator="stes", interpolator__hidden=4, max_epochs=2, batch_size=8,
        verbose=0, random_state=0,
    ).fit(X, y, E)
    for prefix in ("train", "valid"):
        batches = [batch[f"{prefix}_reconstruction"] for batch in clf.history[-1, "batches"]
                   if f"{prefix}_reconstruction" in batch]
        sizes = [batch[f"{prefix}_batch_size"] for batch in clf.history[-1, "batches"]
                 if f"{prefix}_reconstruction" in batch]
        assert clf.history[-1, f"{prefix}_reconstruction"] == pytest.approx(
            np.average(batches, weights=sizes))
    without = ExplanationSupervisedClassifier(loss="stes", **small(max_epochs=1)).fit(X, y, E)
    assert "train_reconstruction" not in without.history[-1]


def test_explanation_term_decreases_during_supervised_training():
    X, y, E = make_data("images")
    clf = ExplanationSupervisedClassifier(
        loss="gradia", sigma1=5.0, lr=3e-3, **small(max_epochs=15)
    ).fit(X, y, E)
    explanation = clf.history[:, "train_explanation"]
    assert explanation[-1] < explanation[0]


def test_auto_choices_depend_on_the_input_kind():
    expected = {
        "tabular": ("MLP", "InputGradient"),
        "time_series": ("TCN", "InputGradient"),
        "images": ("CNN", "GradCAM"),
        "raster_sequences": ("CNNGRU", "GradCAM"),
    }
    for kind, (module, explainer) in expected.items():
        X, y, _ = make_data(kind)
        clf = ExplanationSupervisedClassifier(**small(max_epochs=1)).fit(X, y)
        assert type(clf.module_).__name__ == module
        assert type(clf.explainer_).__name__ == explainer


def test_plugin_options_reach_the_plugins():
    X, y, E = make_data("images")
    clf = ExplanationSupervisedClassifier(
        loss="gradia", explainer="gradcam", explainer__layer="encoder.0",
        module__channels=(4, 8), **small(max_epochs=1),
    ).fit(X, y, E)
    assert clf.explainer_.layer == "encoder.0"
    assert clf.module_.channels == (4, 8)
    assert clf.module_.head.in_features == 8


def test_explain_with_another_method_and_explicit_targets():
    X, y, _ = make_data("images")
    clf = ExplanationSupervisedClassifier(**small()).fit(X, y)
    by_gradient = clf.explain(X, method="gradient")
    by_gradcam = clf.explain(X)
    assert by_gradient.shape == by_gradcam.shape == (24, 8, 8)
    assert not np.allclose(by_gradient, by_gradcam)
    for_yes = clf.explain(X, target="yes")
    for_no = clf.explain(X, target=np.full(24, "no"))
    assert not np.allclose(for_yes, for_no)
    with pytest.raises(ValueError, match="not in classes_"):
        clf.explain(X, target="maybe")


def test_explain_leaves_no_hooks_and_no_gradients_behind():
    X, y, _ = make_data("raster_sequences")
    clf = ExplanationSupervisedClassifier(**small()).fit(X, y)
    clf.explain(X)
    for module in clf.module_.modules():
        assert not module._forward_hooks and not module._backward_hooks


def test_partial_fit_continues_training():
    X, y, E = make_data("images")
    clf = ExplanationSupervisedClassifier(loss="gradia", **small(max_epochs=1))
    clf.partial_fit(X, y, E)
    weights = clf.module_.head.weight.detach().clone()
    clf.partial_fit(X, y, E)
    assert len(clf.history) == 2
    assert not torch.equal(weights, clf.module_.head.weight)


def test_partial_fit_takes_all_classes_on_the_first_call():
    X, y, _ = make_data("tabular")
    clf = ExplanationSupervisedClassifier(**small(max_epochs=1))
    clf.partial_fit(X[y == "no"][:5].repeat(2, axis=0), np.full(10, "no"), classes=["no", "yes"])
    assert list(clf.classes_) == ["no", "yes"]
    clf.partial_fit(X, y)
    assert clf.predict_proba(X).shape == (24, 2)


def test_same_seed_gives_the_same_model():
    X, y, E = make_data("raster_sequences")
    first = ExplanationSupervisedClassifier(loss="gradia", **small()).fit(X, y, E)
    second = ExplanationSupervisedClassifier(loss="gradia", **small()).fit(X, y, E)
    for a, b in zip(first.module_.state_dict().values(), second.module_.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    np.testing.assert_array_equal(first.explain(X), second.explain(X))
    other = ExplanationSupervisedClassifier(loss="gradia", **small(random_state=1)).fit(X, y, E)
    assert not torch.equal(first.module_.head.weight, other.module_.head.weight)


def test_fitting_with_a_seed_leaves_the_global_random_state_alone():
    X, y, _ = make_data("tabular")
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ExplanationSupervisedClassifier(**small()).fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)


def test_torch_tensors_and_memmaps_are_accepted(tmp_path):
    X, y, E = make_data("images")
    clf = ExplanationSupervisedClassifier(loss="gradia", **small(max_epochs=1))
    clf.fit(torch.from_numpy(X), y, torch.from_numpy(E))
    path = tmp_path / "X.dat"
    mapped = np.memmap(path, dtype=np.float32, mode="w+", shape=X.shape)
    mapped[:] = X
    clf.fit(mapped, y, E)
    assert clf.explain(mapped).shape == E.shape


def test_boolean_annotations_and_user_modules():
    X, y, E = make_data("tabular")

    class TwoLayer(torch.nn.Module):
        def __init__(self, width: int = 4) -> None:
            super().__init__()
            self.layers = torch.nn.Sequential(
                torch.nn.Linear(6, width), torch.nn.ReLU(), torch.nn.Linear(width, 2)
            )

        def forward(self, X):
            return self.layers(X)

    clf = ExplanationSupervisedClassifier(
        module=TwoLayer, module__width=5, loss="gradia", **small()
    ).fit(X, y, E.astype(bool))
    assert clf.module_.layers[0].out_features == 5
    assert clf.explain(X).shape == (24, 6)


def test_a_non_differentiable_explainer_cannot_train():
    class Constant(Explainer):
        def explain(self, model, X, target, spec, *, create_graph=False):
            return model(X), torch.ones(len(X), *spec.annotation_shape)

    X, y, E = make_data("tabular")
    with pytest.raises(ValueError, match="not differentiable"):
        ExplanationSupervisedClassifier(loss="gradia", explainer=Constant, **small()).fit(X, y, E)
