"""Training through Accelerate (single process on the CPU) keeps the explanation term."""

from __future__ import annotations

import contextlib
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from sklearn.base import clone

accelerate = pytest.importorskip("accelerate")
from accelerate.state import AcceleratorState  # noqa: E402
from skorch.hf import AccelerateMixin  # noqa: E402

from xsup import (  # noqa: E402
    ExplanationAccelerateMixin,
    ExplanationSupervisedClassifier,
    ExplanationSupervisedRegressor,
)
from xsup.losses.rrr import RRRLoss  # noqa: E402
from xsup.objective import double_backward_context  # noqa: E402


class AcceleratedClassifier(ExplanationAccelerateMixin, ExplanationSupervisedClassifier):
    """What a user writes to train on several GPUs."""


class AcceleratedRegressor(ExplanationAccelerateMixin, ExplanationSupervisedRegressor):
    """The regressor works the same way."""


class NaiveClassifier(AccelerateMixin, ExplanationSupervisedClassifier):
    """skorch's mixin alone: its training step would skip the explanation term."""


@pytest.fixture(autouse=True)
def fresh_accelerator_state():
    """Accelerate keeps one state per process; each test builds its own Accelerator."""
    AcceleratorState._reset_state(True)
    yield
    AcceleratorState._reset_state(True)


def _accelerator(**kwargs):
    return accelerate.Accelerator(cpu=True, **kwargs)


def _shortcut_data():
    """Feature 1 copies feature 0; E says 0 should matter and 1 should not."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(96, 5)).astype("float32")
    X[:, 1] = X[:, 0]
    y = (X[:, 0] > 0).astype(int)
    E = np.zeros_like(X)
    E[:, 0], E[:, 1] = 1, -1
    return X, y, E


PARAMS = dict(loss="rrr", sigma1=10.0, lr=1e-2, max_epochs=8, train_split=None, verbose=0,
              random_state=0)


def test_accelerated_step_calls_and_logs_the_explanation_term(monkeypatch):
    calls = []
    original = RRRLoss.forward

    def counting(self, batch):
        calls.append(batch.create_graph)
        return original(self, batch)

    monkeypatch.setattr(RRRLoss, "forward", counting)
    X, y, E = _shortcut_data()
    clf = AcceleratedClassifier(accelerator=_accelerator(), **{**PARAMS, "max_epochs": 2})
    clf.fit(X, y, E)
    assert len(calls) == 2 * 3  # 96 samples, batch 32, 2 epochs
    assert all(calls)  # the training step builds the graph of the saliency map
    explanation = clf.history[:, "train_explanation"]
    assert len(explanation) == 2 and all(value > 0 for value in explanation)


def test_accelerated_fit_matches_the_plain_estimator():
    X, y, E = _shortcut_data()
    plain = ExplanationSupervisedClassifier(device="cpu", **PARAMS).fit(X, y, E)
    accelerated = AcceleratedClassifier(accelerator=_accelerator(), **PARAMS).fit(X, y, E)
    np.testing.assert_allclose(accelerated.explain(X), plain.explain(X), atol=1e-5)
    np.testing.assert_allclose(accelerated.history[:, "train_explanation"],
                               plain.history[:, "train_explanation"], rtol=1e-4)


def test_accelerated_fit_moves_saliency_off_the_forbidden_feature():
    X, y, E = _shortcut_data()
    unsupervised = ExplanationSupervisedClassifier(device="cpu", **{**PARAMS, "loss": "none"})
    before = unsupervised.fit(X, y, E).explain(X, method="gradient").mean(axis=0)
    clf = AcceleratedClassifier(accelerator=_accelerator(), **PARAMS).fit(X, y, E)
    after = clf.explain(X, method="gradient").mean(axis=0)
    assert after[1] < 0.1 < before[1]
    assert clf.score(X, y) > 0.9


def test_bf16_autocast_trains_images_through_gradcam():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(32, 1, 8, 8)).astype("float32")
    y = (X[:, 0, :4, :4].mean(axis=(1, 2)) > 0).astype(int)
    E = np.zeros((32, 8, 8), dtype="float32")
    E[:, :4, :4] = 1
    clf = AcceleratedClassifier(
        accelerator=_accelerator(mixed_precision="bf16"),
        **{**PARAMS, "loss": "gradia", "max_epochs": 2, "sigma1": 1.0},
    ).fit(X, y, E)
    assert np.isfinite(clf.history[:, "train_loss"]).all()
    assert all(value > 0 for value in clf.history[:, "train_explanation"])
    maps = clf.explain(X)
    assert maps.shape == (32, 8, 8) and np.isfinite(maps).all()


def test_regressor_trains_under_accelerate():
    X, _, E = _shortcut_data()
    y = X[:, 0] * 2
    reg = AcceleratedRegressor(accelerator=_accelerator(), **{**PARAMS, "max_epochs": 2})
    assert reg.fit(X, y, E).predict(X).shape == (96,)
    assert "train_explanation" in reg.history[-1]


def test_fp16_is_refused_for_gradient_based_losses():
    X, y, E = _shortcut_data()
    clf = AcceleratedClassifier(accelerator=_accelerator(mixed_precision="fp16"), **PARAMS)
    with pytest.raises(ValueError, match="mixed_precision='fp16'.*bf16"):
        clf.fit(X, y, E)


def test_skorch_accelerate_mixin_alone_is_refused():
    X, y, E = _shortcut_data()
    with pytest.raises(TypeError, match="ExplanationAccelerateMixin"):
        NaiveClassifier(accelerator=_accelerator(), **PARAMS).fit(X, y, E)


def test_clone_round_trips_the_accelerator():
    clf = AcceleratedClassifier(accelerator=_accelerator(), **PARAMS)
    params = clone(clf).get_params(deep=False)
    assert params["accelerator"] is clf.accelerator and params["loss"] == "rrr"


def test_verbose_zero_prints_nothing(capsys):
    X, y, E = _shortcut_data()
    AcceleratedClassifier(accelerator=_accelerator(), **{**PARAMS, "max_epochs": 1}).fit(X, y, E)
    assert capsys.readouterr().out == ""


def test_cudnn_is_switched_off_for_recurrent_modules_placed_on_cuda(monkeypatch):
    """The check looks at where the parameters are, so it holds when Accelerate placed them."""
    X = np.random.default_rng(0).normal(size=(16, 6, 2)).astype("float32")
    clf = ExplanationSupervisedClassifier(module="lstm", max_epochs=1, verbose=0, device=None,
                                          train_split=None).fit(X, np.arange(16) % 2)
    assert isinstance(double_backward_context(clf.module_), contextlib.nullcontext)
    on_gpu = [SimpleNamespace(device=torch.device("cuda", 0))]
    monkeypatch.setattr(clf.module_, "parameters", lambda recurse=True: iter(on_gpu))
    before = torch.backends.cudnn.enabled
    with double_backward_context(clf.module_):
        assert torch.backends.cudnn.enabled is False
    assert torch.backends.cudnn.enabled == before
