"""Same seed on CPU => the same fitted model, for losses with randomness or learnable parts.

tests/test_estimators.py checks the module weights of a gradia fit on raster sequences;
these cases add the losses that draw random numbers (sgt), learn parts of their own (res
with learned imputation, stes with its decay MLP and learned interpolator), a regressor,
and the default internal validation split with shuffled training batches.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xsup import ExplanationSupervisedClassifier, ExplanationSupervisedRegressor


def data(kind: str, n: int = 24):
    rng = np.random.default_rng(0)
    shape = {"tabular": (n, 6), "time_series": (n, 5, 3), "images": (n, 1, 8, 8),
             "raster_sequences": (n, 3, 1, 6, 6)}[kind]
    X = rng.normal(size=shape).astype(np.float32)
    y = (X.reshape(n, -1)[:, 0] > 0).astype(int)
    e_shape = shape[:2] + shape[3:] if kind == "raster_sequences" else (
        (n, *shape[2:]) if kind == "images" else shape)
    E = np.where(rng.random(e_shape) > 0.6, 1.0, -1.0).astype(np.float32)
    if kind == "raster_sequences":
        E[:, 1] = np.nan  # a missing frame for the interpolator
    return X, y, E


CASES = {
    "sgt-tabular": ("tabular", dict(loss="sgt")),
    "rrr-time-series": ("time_series", dict(loss="rrr")),
    "res-learned-imputation-images": ("images", dict(loss="res", loss__imputation="learnable")),
    "stes-learned-interpolator": (
        "raster_sequences", dict(loss="stes", interpolator="stes", interpolator__hidden=4),
    ),
}


def fitted_state(net) -> dict[str, torch.Tensor]:
    """Every tensor the fit produced: module, loss, interpolator and optimizer state."""
    state = {}
    for name in ("module_", "loss_", "interpolator_"):
        state.update({f"{name}{k}": v for k, v in getattr(net, name).state_dict().items()})
    for index, values in net.optimizer_.state_dict()["state"].items():
        state.update({f"optimizer.{index}.{k}": torch.as_tensor(v) for k, v in values.items()})
    return state


def assert_bitwise_equal(first, second) -> None:
    a, b = fitted_state(first), fitted_state(second)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert first.history[:, "train_loss"] == second.history[:, "train_loss"]


@pytest.mark.parametrize("case", list(CASES))
def test_same_seed_gives_bitwise_the_same_fit(case):
    kind, options = CASES[case]
    X, y, E = data(kind)
    params = dict(max_epochs=2, batch_size=8, verbose=0, random_state=0,
                  iterator_train__shuffle=True, **options)
    first = ExplanationSupervisedClassifier(**params).fit(X, y, E)
    second = ExplanationSupervisedClassifier(**params).fit(X, y, E)
    assert "valid_loss" in first.history[-1]  # the internal split and shuffling took part
    assert_bitwise_equal(first, second)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))


def test_a_different_seed_gives_a_different_sgt_fit():
    X, y, _ = data("tabular")
    params = dict(loss="sgt", max_epochs=1, batch_size=8, verbose=0)
    first = ExplanationSupervisedClassifier(random_state=0, **params).fit(X, y)
    other = ExplanationSupervisedClassifier(random_state=1, **params).fit(X, y)
    a, b = fitted_state(first), fitted_state(other)
    assert not all(torch.equal(a[key], b[key]) for key in a)


def test_same_seed_gives_the_same_regressor_and_partial_fits():
    X, _, E = data("time_series")
    y = X[:, :, 0].sum(axis=1)
    params = dict(loss="gradia", max_epochs=1, batch_size=8, verbose=0, random_state=0)
    first = ExplanationSupervisedRegressor(**params).fit(X, y, E).partial_fit(X, y, E)
    second = ExplanationSupervisedRegressor(**params).fit(X, y, E).partial_fit(X, y, E)
    assert_bitwise_equal(first, second)
