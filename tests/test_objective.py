"""The per-batch objective and what the estimators do with it: sample weights, forward options,
prediction nonlinearity, divergence, plugin output checks and the automatic explanation scale."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pytest
import torch
from torch import nn

from xsup import ExplanationSupervisedClassifier, ExplanationSupervisedRegressor, datasets
from xsup.base import Explainer, ExplanationLoss
from xsup.batch import ExplanationBatch
from xsup.explainers import InputGradient
from xsup.interpolators import NoInterpolation
from xsup.losses import GradiaLoss, RRRLoss
from xsup.objective import ExplanationObjective, ExplanationScale, per_sample_loss
from xsup.spec import InputSpec

rng = np.random.default_rng(0)
N = 24
X = rng.normal(size=(N, 6)).astype(np.float32)
Y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
E = np.zeros_like(X)
E[:, :2] = 1.0


def clf(**params) -> ExplanationSupervisedClassifier:
    settings = {"max_epochs": 3, "verbose": 0, "train_split": None, "random_state": 0,
                "batch_size": -1, "lr": 0.01}
    return ExplanationSupervisedClassifier(**{**settings, **params})


# ---------------------------------------------------------------------- the objective itself
def test_total_combines_the_terms_with_sigma1_and_sigma2():
    spec = InputSpec("tabular", (6,), 2)
    torch.manual_seed(0)
    objective = ExplanationObjective(nn.Linear(6, 2), nn.CrossEntropyLoss(), GradiaLoss(),
                                     InputGradient(), NoInterpolation(), spec, sigma1=3.0)
    terms = objective(torch.as_tensor(X[:8]), torch.as_tensor(Y[:8]), torch.as_tensor(Y[:8]),
                      torch.as_tensor(E[:8]), training=True)
    assert terms.reconstruction is None and terms.scale == 1.0
    torch.testing.assert_close(terms.total, terms.prediction + 3.0 * terms.explanation)
    assert terms.explanation.requires_grad and terms.non_finite_term() is None


def test_weighted_prediction_term_is_the_weighted_mean_of_per_sample_losses():
    criterion = nn.CrossEntropyLoss()
    output, y = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), torch.tensor([0, 0, 1])
    losses = per_sample_loss(criterion, output, y)
    torch.testing.assert_close(losses.mean(), criterion(output, y))
    assert criterion.reduction == "mean"  # restored
    spec = InputSpec("tabular", (2,), 2)
    objective = ExplanationObjective(nn.Identity(), criterion, RRRLoss(), InputGradient(),
                                     NoInterpolation(), spec)
    value = objective._prediction(output, y, torch.tensor([1.0, 0.0, 3.0]))
    torch.testing.assert_close(value, (losses[0] + 3 * losses[2]) / 4)
    with pytest.raises(TypeError, match="reduction='mean'"):
        per_sample_loss(nn.CrossEntropyLoss(reduction="sum"), output, y)


def test_batch_reduce_weights_annotated_rows_and_is_zero_without_any():
    spec = InputSpec("tabular", (1,), 2)
    batch = ExplanationBatch(None, None, None, None, None, spec,
                             sample_weight=torch.tensor([1.0, 3.0, 5.0]))
    values, rows = torch.tensor([1.0, 2.0, 100.0]), torch.tensor([True, True, False])
    assert batch.reduce(values, rows).item() == pytest.approx((1 + 6) / 4)
    assert batch.reduced
    assert batch.reduce(values, torch.zeros(3, dtype=torch.bool)).item() == 0.0


def test_explanation_scale_follows_the_ratio_of_the_terms():
    scale = ExplanationScale(momentum=0.5)
    assert scale.value == 1.0
    assert scale.update(1.0, 0.0) == 1.0  # an empty explanation term leaves it alone
    assert scale.update(2.0, 0.5) == 4.0
    assert scale.update(4.0, 0.5) == pytest.approx(3.0 / 0.5)


# ---------------------------------------------------------------------- sample weights
@pytest.mark.parametrize("loss", ["rrr", "gradia"])
def test_zero_sample_weights_behave_like_removing_those_samples(loss):
    """With one batch per epoch, weight 0 and removal give the same training steps."""
    kept = clf(loss=loss).fit(X[:16], Y[:16], E[:16])
    weights = np.r_[np.ones(16), np.zeros(8)]
    weighted = clf(loss=loss).fit(X, Y, E, sample_weight=weights)
    np.testing.assert_allclose(weighted.predict_proba(X), kept.predict_proba(X), atol=1e-5)
    unweighted = clf(loss=loss).fit(X, Y, E)
    assert np.abs(unweighted.predict_proba(X) - kept.predict_proba(X)).max() > 1e-4


def test_sample_weights_also_weigh_the_explanation_term():
    """Only the explanation term sees the weights when the prediction loss is switched off."""
    fitted = [clf(loss="gradia", sigma1=1.0).fit(X, Y, E, sample_weight=w).history[-1]
              for w in (np.ones(N), np.r_[np.ones(12), np.full(12, 1e-3)])]
    assert fitted[0]["train_explanation"] != fitted[1]["train_explanation"]


def test_sample_weights_need_a_loss_that_reduces_through_the_batch():
    class MeanOnly(ExplanationLoss):
        def forward(self, batch):
            return batch.cells().saliency.mean()

    with pytest.raises(TypeError, match="MeanOnly .*does not reduce .*ExplanationBatch.reduce"):
        clf(loss=MeanOnly).fit(X, Y, E, sample_weight=np.ones(N))
    clf(loss=MeanOnly).fit(X, Y, E)  # fine without weights


# ---------------------------------------------------------------------- prediction nonlinearity
def test_predict_nonlinearity_is_honoured():
    fitted = clf().fit(X, Y)
    logits = fitted.forward_outputs(X)
    np.testing.assert_allclose(fitted.predict_proba(X), torch.softmax(torch.tensor(logits), 1))
    raw = clf(predict_nonlinearity=None).fit(X, Y)
    np.testing.assert_allclose(raw.predict_proba(X), logits)
    flipped = clf(predict_nonlinearity=lambda out: -out).fit(X, Y)
    np.testing.assert_allclose(flipped.predict_proba(X), -logits)
    assert (flipped.predict(X) != fitted.predict(X)).all()
    y = X[:, 0] * 2.0
    regressor = ExplanationSupervisedRegressor(max_epochs=2, verbose=0, train_split=None,
                                               random_state=0)
    plain = regressor.fit(X, y).predict(X)
    shifted = regressor.set_params(predict_nonlinearity=lambda out: out + 10.0).fit(X, y)
    np.testing.assert_allclose(shifted.predict(X), plain + 10.0, rtol=1e-6)


# ---------------------------------------------------------------------- compile
def test_compile_trains_without_an_explanation_term_and_is_refused_with_one():
    images = rng.normal(size=(N, 1, 8, 8)).astype(np.float32)
    compiled = clf(compile=True, compile__backend="eager").fit(images, Y)
    assert type(compiled.module_).__name__ == "OptimizedModule"
    plain = clf().fit(images, Y)
    np.testing.assert_allclose(compiled.predict_proba(images), plain.predict_proba(images),
                               rtol=1e-5)
    np.testing.assert_allclose(compiled.explain(images), plain.explain(images), atol=1e-5)
    for loss in ("gradia", "rrr"):
        with pytest.raises(ValueError, match=rf"compile=True cannot train with loss='{loss}': "
                           "the explanation term needs a double backward"):
            clf(compile=True, loss=loss).fit(X, Y, E)
    with pytest.raises(ValueError, match="compile must be a bool; got .yes."):
        clf(compile="yes").fit(X, Y)


# ---------------------------------------------------------------------- divergence
class ExplodingCrossEntropy(nn.CrossEntropyLoss):
    """Cross-entropy that turns infinite from its third call on (a diverging fit)."""

    calls: ClassVar[int] = 0

    def forward(self, output, target):
        ExplodingCrossEntropy.calls += 1
        value = super().forward(output, target)
        return value * math.inf if ExplodingCrossEntropy.calls > 2 else value


def test_a_non_finite_term_stops_the_fit_naming_the_epoch_term_and_remedies():
    ExplodingCrossEntropy.calls = 0
    model = clf(criterion=ExplodingCrossEntropy, max_epochs=5)
    with pytest.raises(FloatingPointError,
                       match=r"Training diverged in epoch 3: the prediction term of a training "
                             r"batch is inf\. Remedies: lower lr \(now 0\.01\)"):
        model.fit(X, Y)
    assert len(model.history) == 3


class NaNLater(GradiaLoss):
    """GRADIA that returns NaN once the model has taken a step."""

    calls: ClassVar[int] = 0

    def forward(self, batch):
        NaNLater.calls += 1
        value = super().forward(batch)
        return value * math.nan if NaNLater.calls > 1 else value


def test_a_non_finite_explanation_term_names_sigma1():
    NaNLater.calls = 0
    with pytest.raises(FloatingPointError, match=r"epoch 2: the explanation term .* is nan\. "
                                                 r"Remedies: lower sigma1 \(now 1\.0\)"):
        clf(loss=NaNLater).fit(X, Y, E)


# ---------------------------------------------------------------------- plugin output checks
class VectorLoss(GradiaLoss):
    def forward(self, batch):
        return batch.cells().saliency.sum(dim=1)


class DetachedGradient(InputGradient):
    """Claims to be differentiable, but cuts the graph."""

    def explain(self, model, X, target, spec, *, create_graph=False):
        output, saliency = super().explain(model, X, target, spec, create_graph=create_graph)
        return output, saliency.detach()


class WrongShape(Explainer):
    differentiable: ClassVar[bool] = True

    def explain(self, model, X, target, spec, *, create_graph=False):
        return model(X), X.new_ones(len(X), 2)


def test_a_loss_returning_a_vector_is_refused_naming_the_plugin():
    with pytest.raises(TypeError, match=r"loss VectorLoss \(from .*\) returned shape \(24,\); an "
                                        "explanation loss must return a scalar tensor"):
        clf(loss=VectorLoss).fit(X, Y, E)


def test_a_detached_differentiable_explainer_is_refused():
    with pytest.raises(TypeError, match="explainer DetachedGradient .*no gradient path"):
        clf(loss="gradia", explainer=DetachedGradient).fit(X, Y, E)


def test_an_explainer_map_of_the_wrong_shape_is_refused():
    with pytest.raises(TypeError, match=r"WrongShape .* map of shape \(24, 2\); expected \(24, 6\)"):
        clf(loss="gradia", explainer=WrongShape).fit(X, Y, E)


def test_a_non_finite_first_value_is_blamed_on_the_loss():
    class Always(GradiaLoss):
        def forward(self, batch):
            return super().forward(batch) * math.nan

    with pytest.raises(ValueError, match="loss Always .*returned nan .*on the first batch"):
        clf(loss=Always).fit(X, Y, E)


# ---------------------------------------------------------------------- explanation scale
def test_auto_explanation_scale_lets_rrr_change_raster_sequence_models():
    """RRR's mean-reduced term is ~1e-8 on rasters: invisible at sigma1=1 unless rescaled."""
    Xr, yr, Er = datasets.make_spatiotemporal_events(40, random_state=0, positive_rate=0.5)
    Er = np.where(Er > 0, 1.0, np.where(np.isnan(Er), np.nan, -1.0)).astype("float32")
    settings = {"max_epochs": 2, "batch_size": 20, "train_split": None, "verbose": 0,
                "random_state": 0}
    base = ExplanationSupervisedClassifier(**settings).fit(Xr, yr).predict_proba(Xr)
    raw = ExplanationSupervisedClassifier(loss="rrr", **settings).fit(Xr, yr, Er)
    auto = ExplanationSupervisedClassifier(loss="rrr", explanation_scale="auto", **settings)
    auto.fit(Xr, yr, Er)
    assert np.abs(raw.predict_proba(Xr) - base).max() < 1e-4
    assert np.abs(auto.predict_proba(Xr) - base).max() > 1e-3
    assert auto.history[-1, "explanation_scale"] > 1e3
    assert "explanation_scale" not in raw.history[-1]
