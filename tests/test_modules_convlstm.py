"""The convlstm backbone: shapes, how far each step lets it look, both estimators, Grad-CAM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xsup import ExplanationSupervisedClassifier, ExplanationSupervisedRegressor
from xsup.modules import ConvLSTM


def test_outputs_one_row_per_sample_with_either_readout():
    X = torch.randn(3, 4, 2, 7, 9)
    for readout in ("mean", "flatten"):
        model = ConvLSTM((4, 2, 7, 9), n_outputs=5, hidden=(4, 6), readout=readout)
        assert tuple(model(X).shape) == (3, 5)
        assert tuple(model.last_state(X).shape) == (3, 6, 7, 9)
    assert ConvLSTM((4, 2, 7, 9), 5, hidden=(6,), readout="flatten").head.in_features == 6 * 63


@pytest.mark.parametrize("kernel_size", [1, 3, 5])
def test_each_step_back_in_time_widens_the_reach_by_half_a_kernel(kernel_size):
    torch.manual_seed(0)
    n_steps, size, centre = 4, 21, 10
    model = ConvLSTM((n_steps, 1, size, size), 1, channels=4, hidden=(4,),
                     kernel_size=kernel_size).double()
    X = torch.randn(1, n_steps, 1, size, size, dtype=torch.float64, requires_grad=True)
    model.last_state(X)[0, :, centre, centre].sum().backward()
    for step in range(n_steps):
        lag = n_steps - step  # 1 for the last frame
        reach = 1 + lag * (kernel_size // 2)  # the encoder's 3 x 3, then one gate conv per step
        rows, cols = np.nonzero(X.grad[0, step, 0].abs().numpy() > 0)
        assert max(np.abs(rows - centre).max(), np.abs(cols - centre).max()) == reach


def test_classifier_and_regressor_train_and_explain_every_frame():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3, 1, 8, 8)).astype("float32")
    signal = X[:, -1, 0, 3:5, 3:5].mean(axis=(1, 2))
    options = {"module": "convlstm", "module__hidden": (4,), "module__channels": 4,
               "max_epochs": 2, "train_split": None, "verbose": 0, "random_state": 0}
    classifier = ExplanationSupervisedClassifier(**options).fit(X, (signal > 0).astype(int))
    assert classifier.predict_proba(X).shape == (40, 2)
    maps = classifier.explain(X[:5])  # Grad-CAM on the frame encoder
    assert maps.shape == (5, 3, 8, 8) and np.isfinite(maps).all()
    regressor = ExplanationSupervisedRegressor(**options).fit(X, signal)
    assert regressor.predict(X).shape == (40,)


def test_a_kernel_size_that_is_not_offered_is_refused_by_name():
    with pytest.raises(ValueError, match="module__kernel_size must be one of 1, 3, 5, 7"):
        ExplanationSupervisedClassifier(module="convlstm", module__kernel_size=4, max_epochs=1,
                                        verbose=0).fit(np.zeros((4, 2, 1, 6, 6), "float32"),
                                                       [0, 1, 0, 1])
