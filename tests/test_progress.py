"""Training, tuning and benchmarks tell the user how far they are."""

from __future__ import annotations

import io

import numpy as np

from xsup import ExplanationSupervisedClassifier
from xsup.bench._common import Progress
from xsup.callbacks import ProgressBar
from xsup.tuning import tune


def data(n: int = 24):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    E = np.zeros_like(X)
    E[:, 0] = 1
    return X, y, E


def test_verbose_training_prints_a_row_per_epoch_with_the_explanation_term(capsys):
    X, y, E = data()
    ExplanationSupervisedClassifier(loss="gradia", max_epochs=2, random_state=0).fit(X, y, E)
    lines = capsys.readouterr().out.splitlines()
    assert "train_explanation" in lines[0] and "valid_loss" in lines[0]
    assert [line.split()[0] for line in lines[2:]] == ["1", "2"]


def test_a_progress_bar_shows_the_batches_of_each_epoch(capsys):
    X, y, E = data()
    ExplanationSupervisedClassifier(
        loss="gradia", max_epochs=1, batch_size=4, train_split=None, verbose=0,
        random_state=0, callbacks=[ProgressBar()],
    ).fit(X, y, E)
    err = capsys.readouterr().err
    assert "/6 [" in err and "it/s" in err  # a tqdm bar over the 6 batches


def test_tuning_can_show_a_progress_bar_over_trials(capsys):
    X, y, E = data()
    net = ExplanationSupervisedClassifier(loss="gradia", max_epochs=1, train_split=None,
                                          verbose=0, random_state=0)
    tune(net, X, y, E, n_trials=2, cv=2, random_state=0, show_progress_bar=True)
    assert "2/2" in capsys.readouterr().err


def test_benchmark_steps_are_numbered():
    stream = io.StringIO()
    progress = Progress(2, stream=stream)
    progress.step("data")
    progress.step("fit")
    assert [line.split()[0] for line in stream.getvalue().splitlines()] == ["[1/2]", "[2/2]"]
