"""Crash-safe checkpoints: everything is restored, killed fits resume, folds never collide."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import warnings

import joblib
import numpy as np
import pytest
import torch
from skorch.callbacks import LoadInitState as SkorchLoadInitState
from sklearn.base import clone
from sklearn.model_selection import cross_validate

from xsup import ExplanationSupervisedClassifier, callbacks
from xsup.callbacks import Checkpoint, LoadInitState, fit_fingerprint
from xsup.tuning import tune


def raster_data(n: int = 24):
    """Raster sequences with one missing annotation frame (STES interpolates it)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3, 1, 6, 6)).astype(np.float32)
    y = (X[:, :, 0, :3, :3].mean(axis=(1, 2, 3)) > 0).astype(int)
    E = np.zeros((n, 3, 6, 6), dtype=np.float32)
    for i, corner in enumerate(rng.integers(0, 3, size=n)):
        E[i, :, corner : corner + 3, corner : corner + 3] = 1
    E[:, 1] = np.nan
    return X, y, E


def image_data(n: int = 24):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, 1, 8, 8)).astype(np.float32)
    y = (X[:, 0, :4, :4].mean(axis=(1, 2)) > 0).astype(int)
    E = np.zeros((n, 8, 8), dtype=np.float32)
    E[:, :4, :4] = 1
    E[:, 6:, 6:] = -1
    return X, y, E


# name -> (data, estimator options); each has learnable loss or interpolator parts
CASES = {
    "stes-decay-and-stes-interpolator": (
        raster_data, dict(loss="stes", interpolator="stes", interpolator__hidden=4),
    ),
    "res-learnable-imputation": (image_data, dict(loss="res", loss__imputation="learnable")),
}


def make(options: dict, **params) -> ExplanationSupervisedClassifier:
    defaults = dict(max_epochs=4, batch_size=8, verbose=0, random_state=0,
                    iterator_train__shuffle=True)
    return ExplanationSupervisedClassifier(**{**defaults, **options, **params})


def assert_same_state(first, second) -> None:
    """Module, criterion, loss, interpolator and optimizer states are bitwise equal."""
    for name in ("module_", "criterion_", "loss_", "interpolator_"):
        a, b = getattr(first, name).state_dict(), getattr(second, name).state_dict()
        assert a.keys() == b.keys(), name
        for key in a:
            assert torch.equal(a[key], b[key]), f"{name}{key}"
    a, b = first.optimizer_.state_dict(), second.optimizer_.state_dict()
    assert a["param_groups"] == b["param_groups"]
    assert a["state"].keys() == b["state"].keys()
    for index, state in a["state"].items():
        for key, value in state.items():
            other = b["state"][index][key]
            assert torch.equal(value, other) if torch.is_tensor(value) else value == other


def learnable_parameter_count(net) -> int:
    return sum(p.numel() for name in ("loss_", "interpolator_")
               for p in getattr(net, name).parameters())


@pytest.mark.parametrize("case", list(CASES))
def test_a_resumed_fit_ends_bitwise_equal_to_the_uninterrupted_fit(tmp_path, case):
    data, options = CASES[case]
    X, y, E = data()
    straight = make(options).fit(X, y, E)
    assert learnable_parameter_count(straight) > 0

    interrupted = make(options, max_epochs=2,
                       callbacks=[Checkpoint(monitor=None, dirname=str(tmp_path))])
    interrupted.fit(X, y, E)
    resumed = make(options, callbacks=[Checkpoint(monitor=None, dirname=str(tmp_path),
                                                  resume=True)]).fit(X, y, E)

    assert_same_state(straight, resumed)
    assert [row["epoch"] for row in resumed.history] == [1, 2, 3, 4]
    assert resumed.history[:2, "train_loss"] == interrupted.history[:, "train_loss"]
    assert resumed.history[:, "train_loss"] == straight.history[:, "train_loss"]
    assert resumed.max_epochs == 4  # given back after resuming


def test_load_init_state_restores_loss_interpolator_and_optimizer_then_trains_more_epochs(
    tmp_path,
):
    data, options = CASES["stes-decay-and-stes-interpolator"]
    X, y, E = data()
    straight = make(options).fit(X, y, E)
    cp = Checkpoint(monitor=None, dirname=str(tmp_path))
    make(options, max_epochs=2, callbacks=[cp]).fit(X, y, E)
    # LoadInitState listed first: it finds the checkpoint's directory by itself
    cp = Checkpoint(monitor=None, dirname=str(tmp_path))
    resumed = make(options, max_epochs=2, callbacks=[LoadInitState(cp), cp]).fit(X, y, E)
    assert [row["epoch"] for row in resumed.history] == [1, 2, 3, 4]
    assert_same_state(straight, resumed)


def test_plain_skorch_checkpoint_files_would_lose_the_learnable_loss(tmp_path):
    fit_dir, latest, _, _ = _checkpointed_fit(tmp_path, "stes-decay-and-stes-interpolator")
    assert sorted(os.listdir(latest)) == [
        "criterion.pt", "history.json", "interpolator.pt", "loss.pt", "optimizer.pt",
        "params.pt", "rng_state.pt",
    ]
    assert torch.load(latest / "criterion.pt", weights_only=True) == {}  # nothing in it
    assert torch.load(latest / "loss.pt", weights_only=True)
    assert [p.name for p in fit_dir.iterdir() if p.is_dir()] == [latest.name]


def test_resuming_a_finished_fit_trains_nothing_and_loads_with_weights_only(
    tmp_path, monkeypatch
):
    data, options = CASES["res-learnable-imputation"]
    X, y, E = data()
    finished = make(options, max_epochs=2, callbacks=[
        Checkpoint(monitor=None, dirname=str(tmp_path))]).fit(X, y, E)
    calls = []
    load = torch.load

    def recording_load(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording_load)
    again = make(options, max_epochs=2, callbacks=[
        Checkpoint(monitor=None, dirname=str(tmp_path), resume=True)]).fit(X, y, E)
    assert len(again.history) == 2
    assert_same_state(finished, again)
    assert calls and all(flag is True for flag in calls)
    valid_loss = dict(again.callbacks_)["valid_loss"]
    assert valid_loss.best_score_ == min(again.history[:, "valid_loss"])


def test_folds_get_separate_directories_and_never_load_each_other(tmp_path):
    X, y, E = image_data(32)
    folds = [np.arange(0, 24), np.arange(8, 32)]
    template = make({"loss": "gradia"}, max_epochs=1, train_split=None,
                    callbacks=[Checkpoint(monitor=None, dirname=str(tmp_path))])
    fitted = [clone(template).fit(X[rows], y[rows], E[rows]) for rows in folds]
    assert len(list(tmp_path.glob("fit-*/latest"))) == 2

    cp = Checkpoint(monitor=None, dirname=str(tmp_path))
    rows = folds[1]
    resumed = clone(template).set_params(max_epochs=0, callbacks=[LoadInitState(cp), cp])
    resumed.fit(X[rows], y[rows], E[rows])
    weight = resumed.module_.state_dict()
    assert all(torch.equal(v, fitted[1].module_.state_dict()[k]) for k, v in weight.items())
    assert not all(torch.equal(v, fitted[0].module_.state_dict()[k]) for k, v in weight.items())


def test_parallel_cross_validation_folds_write_their_own_checkpoints(tmp_path):
    X, y, E = image_data(32)
    net = make({"loss": "gradia"}, max_epochs=1, train_split=None,
               callbacks=[Checkpoint(monitor=None, dirname=str(tmp_path))])
    with joblib.parallel_config(backend="threading"):
        cross_validate(net, X, y, params={"E": E}, cv=2, n_jobs=2)
    directories = sorted(tmp_path.glob("fit-*"))
    assert len(directories) == 2
    for directory in directories:
        latest = directory / (directory / "latest").read_text()
        assert json.loads((latest / "history.json").read_text())[-1]["epoch"] == 1


def test_every_tuning_trial_and_fold_checkpoints_into_its_own_directory(tmp_path):
    X, y, E = image_data(16)
    net = make({"loss": "gradia"}, max_epochs=1, train_split=None,
               callbacks=[Checkpoint(monitor=None, dirname=str(tmp_path))])
    tune(net, X, y, E, n_trials=2, cv=2, random_state=0)
    assert len(list(tmp_path.glob("fit-*/latest"))) == 4


def test_a_checkpoint_without_separate_fits_writes_into_the_working_directory(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    X, y, _ = image_data(16)
    cp = Checkpoint(monitor=None, separate_fits=False)
    make({}, max_epochs=2, train_split=None, callbacks=[cp]).fit(X, y)
    latest = (tmp_path / "latest").read_text()
    assert [p.name for p in tmp_path.glob("epoch-*")] == [latest]
    assert (tmp_path / latest / "params.pt").exists()
    again = make({}, max_epochs=2, train_split=None,
                 callbacks=[Checkpoint(monitor=None, separate_fits=False, resume=True)])
    assert len(again.fit(X, y).history) == 2


def test_fingerprint_tells_hyperparameters_and_data_apart_but_not_epochs():
    X, y, _ = image_data(8)
    net = make({"loss": "gradia"})
    base = fit_fingerprint(net, X, y)
    assert fit_fingerprint(clone(net).set_params(max_epochs=9, verbose=1), X, y) == base
    assert fit_fingerprint(clone(net).set_params(sigma1=2.0), X, y) != base
    assert fit_fingerprint(net, X[::-1].copy(), y) != base
    assert fit_fingerprint(net, {"X": X, "E": None}, y) != base


def test_large_arrays_are_fingerprinted_on_evenly_spaced_rows(monkeypatch):
    from xsup import _fingerprint

    monkeypatch.setattr(_fingerprint, "_HASHED_BYTES", 1024)
    X = np.random.default_rng(0).normal(size=(4000, 8)).astype(np.float32)
    net = make({})
    fold = np.arange(0, 3000)
    assert fit_fingerprint(net, X[fold]) == fit_fingerprint(net, X[fold].copy())
    assert fit_fingerprint(net, X[fold]) != fit_fingerprint(net, X[fold + 1000])


def test_skorch_load_init_state_listed_before_the_checkpoint_is_refused(tmp_path):
    X, y, E = image_data(16)
    cp = Checkpoint(monitor=None, dirname=str(tmp_path))
    net = make({"loss": "gradia"}, max_epochs=1, callbacks=[SkorchLoadInitState(cp), cp])
    with pytest.raises(ValueError, match="has not seen the training data yet"):
        net.fit(X, y, E)


def test_a_checkpoint_file_that_is_not_a_name_is_refused():
    X, y, _ = image_data(16)
    net = make({}, max_epochs=1, callbacks=[Checkpoint(f_loss=open(os.devnull, "wb"))])
    with pytest.raises(TypeError, match="f_loss=...\\) must be a file name or None"):
        net.fit(X, y)


KILLED_SCRIPT = """
import json, sys, time
import numpy as np, torch
from skorch.callbacks import Callback
from xsup import ExplanationSupervisedClassifier, callbacks
from xsup.callbacks import Checkpoint

torch.set_num_threads(1)
folder, pause = sys.argv[1], float(sys.argv[2])


class Report(Callback):
    def on_train_begin(self, net, **kwargs):
        print("begin", len(net.history), flush=True)

    def on_epoch_end(self, net, **kwargs):
        print("finished", len(net.history), flush=True)
        time.sleep(pause)


rng = np.random.default_rng(0)
X = rng.normal(size=(16, 3, 1, 6, 6)).astype(np.float32)
y = (X[:, :, 0, :3, :3].mean(axis=(1, 2, 3)) > 0).astype(int)
E = np.zeros((16, 3, 6, 6), dtype=np.float32)
E[:, :, :3, :3] = 1
E[:, 1] = np.nan
net = ExplanationSupervisedClassifier(
    loss="stes", interpolator="stes", interpolator__hidden=4, max_epochs=6, batch_size=8,
    verbose=0, random_state=0,
    callbacks=[Checkpoint(monitor=None, dirname=folder, resume=True), Report()],
).fit(X, y, E)
with open(folder + "/done.json", "w") as file:
    json.dump({"epoch": net.history[:, "epoch"], "train_loss": net.history[:, "train_loss"]}, file)
"""


def test_a_fit_killed_with_sigkill_resumes_without_losing_finished_epochs(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(KILLED_SCRIPT))
    folder = tmp_path / "checkpoints"
    command = [sys.executable, str(script), str(folder)]
    process = subprocess.Popen([*command, "0.3"], stdout=subprocess.PIPE, text=True)
    finished = 0
    try:
        for line in process.stdout:
            if line.startswith("finished"):
                finished = int(line.split()[1])
            if finished >= 2:
                break
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert 2 <= finished < 6

    (fit_dir,) = folder.glob("fit-*")
    latest = fit_dir / (fit_dir / "latest").read_text()
    saved = json.loads((latest / "history.json").read_text())
    assert len(saved) >= finished  # every epoch reported finished was checkpointed

    resumed = subprocess.run([*command, "0"], capture_output=True, text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.splitlines()[0] == f"begin {len(saved)}"
    assert f"finished {len(saved) + 1}" in resumed.stdout.splitlines()
    done = json.loads((folder / "done.json").read_text())
    assert done["epoch"] == list(range(1, 7))
    assert done["train_loss"][: len(saved)] == [row["train_loss"] for row in saved]


# ---------------------------------------------------------------------- skorch's own checkpoint
def test_skorch_checkpoint_without_the_plugin_files_warns_that_it_would_reset_them(tmp_path):
    from skorch.callbacks import Checkpoint as SkorchCheckpoint

    data, options = CASES["stes-decay-and-stes-interpolator"]
    X, y, E = data()
    plain = SkorchCheckpoint(monitor=None, dirname=str(tmp_path / "plain"))
    with pytest.warns(callbacks.IncompleteCheckpointWarning,
                      match=r"Checkpoint 'Checkpoint' does not save the learnable loss_ \(STESLoss\) "
                            r"and interpolator_ \(STESInterpolator\).*f_loss='loss.pt', "
                            r"f_interpolator='interpolator.pt'"):
        make(options, max_epochs=1, callbacks=[plain]).fit(X, y, E)
    complete = SkorchCheckpoint(monitor=None, dirname=str(tmp_path / "complete"),
                                f_loss="loss.pt", f_interpolator="interpolator.pt")
    ours = Checkpoint(monitor=None, dirname=str(tmp_path / "ours"))
    for callback in (complete, ours):
        with warnings.catch_warnings():
            warnings.simplefilter("error", callbacks.IncompleteCheckpointWarning)
            make(options, max_epochs=1, callbacks=[callback]).fit(X, y, E)


def test_skorch_checkpoint_of_a_net_without_learnable_plugin_parts_is_quiet(tmp_path):
    from skorch.callbacks import Checkpoint as SkorchCheckpoint

    X, y, E = image_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error", callbacks.IncompleteCheckpointWarning)
        make({"loss": "gradia"}, max_epochs=1, callbacks=[
            SkorchCheckpoint(monitor=None, dirname=str(tmp_path))]).fit(X, y, E)


# ---------------------------------------------------------------------- damaged checkpoints
def _checkpointed_fit(tmp_path, case="res-learnable-imputation"):
    """One epoch of ``case`` with xsup's Checkpoint: fit folder, latest checkpoint, options, data."""
    data, options = CASES[case]
    X, y, E = data()
    make(options, max_epochs=1, callbacks=[Checkpoint(monitor=None, dirname=str(tmp_path))]
         ).fit(X, y, E)
    (fit_dir,) = tmp_path.glob("fit-*")
    return fit_dir, fit_dir / (fit_dir / "latest").read_text(), options, (X, y, E)


def _resume(tmp_path, options, data):
    return make(options, max_epochs=2, callbacks=[
        Checkpoint(monitor=None, dirname=str(tmp_path), resume=True)]).fit(*data)


@pytest.mark.parametrize("damage", ["empty", "truncated", "missing"])
@pytest.mark.parametrize("name", ["params.pt", "loss.pt", "history.json"])
def test_a_damaged_checkpoint_file_is_named_in_a_one_line_error(tmp_path, damage, name):
    fit_dir, latest, options, data = _checkpointed_fit(tmp_path)
    path = latest / name
    content = path.read_bytes()
    if damage == "missing":
        path.unlink()
    else:
        path.write_bytes(b"" if damage == "empty" else content[: len(content) // 2])
    with pytest.raises(callbacks.CheckpointError) as error:
        _resume(tmp_path, options, data)
    message = str(error.value)
    assert "\n" not in message and str(path) in message
    assert ("is missing" if damage == "missing" else "cannot be loaded") in message


@pytest.mark.parametrize("pointer", ["../..", "..", "/etc", "", "epoch-1/../../x"])
def test_a_latest_pointer_outside_the_checkpoint_folder_is_refused(tmp_path, pointer):
    fit_dir, _, options, data = _checkpointed_fit(tmp_path)
    (fit_dir / "latest").write_text(pointer)
    with pytest.raises(callbacks.CheckpointError, match=r"checkpoint pointer .*latest names "):
        _resume(tmp_path, options, data)
