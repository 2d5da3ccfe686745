"""Tests of xsup.tuning: search spaces, OptunaSearchCV/GridSearchCV with E, resumable studies."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time

import joblib
import numpy as np
import optuna
import pytest
import sklearn
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna_integration import OptunaSearchCV
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from skorch.dataset import ValidSplit

from xsup import ExplanationSupervisedClassifier
from xsup.metrics import explanation_scorer
from xsup.tuning import FoldPruningCallback, as_grid, load_study, resolve_storage, search_space
from xsup.tuning import tune

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 1, 6, 6)).astype("float32")
    y = (X[:, 0, :3, :3].mean(axis=(1, 2)) > 0).astype(int)
    E = -np.ones((n, 6, 6), dtype="float32")
    E[:, :3, :3] = 1
    return X, y, E


def _net(loss="gradia", **params):
    options = dict(max_epochs=1, train_split=None, verbose=0, random_state=0, batch_size=16)
    options.update(params)
    return ExplanationSupervisedClassifier(loss=loss, **options)


# --- search_space -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "loss, expected",
    [
        ("none", set()),
        ("gradia", {"sigma1"}),
        ("haics", {"sigma1"}),
        ("res", {"sigma1", "alpha", "loss__gamma"}),
        ("stes", {"sigma1", "alpha", "loss__decay"}),
        ("sgt", {"sigma1", "k"}),
        ("rrr", {"sigma1"}),
    ],
)
def test_search_space_per_loss(loss, expected):
    space = search_space(ExplanationSupervisedClassifier(loss=loss))
    assert set(space) == expected
    assert all(isinstance(d, optuna.distributions.BaseDistribution) for d in space.values())


def test_search_space_adds_interpolator_params_and_accepts_classes():
    from xsup import plugins

    space = search_space(
        ExplanationSupervisedClassifier(
            loss=plugins.get("losses", "stes"), interpolator="stes"
        )
    )
    assert {"sigma2", "interpolator__frame_dropout", "loss__decay"} <= set(space)


def test_search_space_inside_pipeline_takes_step_prefix():
    pipe = Pipeline([("scale", FunctionTransformer()), ("clf", _net("res"))])
    assert set(search_space(pipe)) == {"clf__sigma1", "clf__alpha", "clf__loss__gamma"}


def test_search_space_rejects_other_estimators():
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(TypeError, match="explanation-supervised"):
        search_space(LogisticRegression())


def test_as_grid_values():
    grid = as_grid(
        {
            "a": FloatDistribution(0.01, 100.0, log=True),
            "b": FloatDistribution(0.0, 1.0),
            "c": IntDistribution(1, 2),
            "d": CategoricalDistribution(["x", "y"]),
        },
        n=3,
    )
    assert grid == {"a": [0.01, 1.0, 100.0], "b": [0.0, 0.5, 1.0], "c": [1, 2], "d": ["x", "y"]}
    with pytest.raises(ValueError, match="n must be"):
        as_grid({}, n=1)


# --- scikit-learn and Optuna searches ---------------------------------------------------------


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning", "ignore::FutureWarning")
def test_optuna_search_cv_with_E_as_fit_param():
    X, y, E = _data()
    search = OptunaSearchCV(
        _net("gradia"), search_space(_net("gradia")), cv=2, n_trials=2, scoring="accuracy",
        random_state=0, verbose=0,
    )
    search.fit(X, y, E=E)
    assert len(search.trials_) == 2
    assert set(search.best_params_) == {"sigma1"}
    assert search.predict(X).shape == (len(X),)


def test_grid_search_in_pipeline_with_routed_E():
    X, y, E = _data()
    with sklearn.config_context(enable_metadata_routing=True):
        clf = _net("gradia").set_fit_request(E=True)
        pipe = Pipeline([("scale", FunctionTransformer()), ("clf", clf)])
        grid = as_grid(search_space(pipe), n=2)
        search = GridSearchCV(pipe, grid, cv=2, scoring=explanation_scorer("iou"))
        search.fit(X, y, E=E)
    assert len(search.cv_results_["params"]) == 2
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))


# --- tune -------------------------------------------------------------------------------------


def test_resolve_storage(tmp_path):
    assert resolve_storage(None) is None
    assert resolve_storage(tmp_path / "s.db") == f"sqlite:///{tmp_path / 's.db'}"
    assert isinstance(resolve_storage(tmp_path / "s.log"), optuna.storages.JournalStorage)
    assert resolve_storage("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    with pytest.raises(ValueError, match="journal file"):
        resolve_storage(tmp_path / "s.txt")


def test_tune_slices_E_per_fold_and_scores_explanations():
    X, y, E = _data()
    seen = []

    def scorer(estimator, X_test, y_test, E=None):
        seen.append((len(X_test), None if E is None else len(E)))
        return 0.5

    study = tune(_net(), X, y, E, n_trials=1, cv=3, scoring=scorer)
    assert seen == [(8, 8)] * 3
    assert study.best_value == 0.5
    assert len(study.best_trial.user_attrs["fold_scores"][0]) == 3


def test_tune_resumes_sqlite_study_without_losing_trials(tmp_path):
    X, y, E = _data()
    storage = tmp_path / "study.db"
    first = tune(_net(), X, y, E, n_trials=2, cv=2, storage=storage, random_state=0)
    before = {(t.number, t.value) for t in first.trials}
    assert len(before) == 2
    second = tune(_net(), X, y, E, n_trials=3, cv=2, storage=storage, random_state=1)
    after = {(t.number, t.value) for t in second.trials}
    assert before < after and len(after) == 3
    # the target is already reached: nothing more runs
    assert len(tune(_net(), X, y, E, n_trials=3, cv=2, storage=storage).trials) == 3


def test_tune_multi_objective_pareto_front():
    X, y, E = _data()
    study = tune(
        _net(), X, y, E, n_trials=3, cv=2, scoring=["accuracy", explanation_scorer("iou")],
        random_state=0,
    )
    assert len(study.directions) == 2
    assert 1 <= len(study.best_trials) <= 3
    assert all(len(t.values) == 2 for t in study.best_trials)


def test_tune_pruning_reports_one_step_per_epoch_and_fold(tmp_path):
    X, y, E = _data(n=40)
    net = _net(max_epochs=2, train_split=ValidSplit(4))
    study = tune(net, X, y, E, n_trials=2, cv=2, pruning=True,
                 storage=tmp_path / "study.journal", random_state=0)
    first = study.trials[0]
    assert sorted(first.intermediate_values) == [0, 1, 2, 3]
    assert all(value <= 0 for value in first.intermediate_values.values())  # negated losses


def test_fold_pruning_callback_checks_sign():
    trial = optuna.create_study().ask()
    with pytest.raises(ValueError, match="sign"):
        FoldPruningCallback(trial, "valid_loss", sign=2)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"n_trials": 0}, "n_trials"),
        ({"n_trials": 1, "n_jobs": 0}, "n_jobs"),
        ({"n_trials": 1, "directions": ["up"]}, "directions"),
        ({"n_trials": 1, "pruning": True, "scoring": ["accuracy", "accuracy"]}, "one objective"),
        ({"n_trials": 1, "pruning": True}, "train_split=None"),
        ({"n_trials": 1, "param_distributions": {}}, "empty"),
    ],
)
def test_tune_rejects_bad_options(options, message):
    X, y, E = _data()
    with pytest.raises(ValueError, match=message):
        tune(_net(), X, y, E, **options)


# --- many workers -----------------------------------------------------------------------------

_WORKER = textwrap.dedent(
    """
    import sys, time
    import numpy as np, optuna, torch
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from xsup import ExplanationSupervisedClassifier
    from xsup.tuning import tune
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 1, 6, 6)).astype("float32")
    y = (X[:, 0, :3, :3].mean(axis=(1, 2)) > 0).astype(int)
    E = -np.ones((24, 6, 6), dtype="float32"); E[:, :3, :3] = 1
    net = ExplanationSupervisedClassifier(loss="gradia", max_epochs=1, train_split=None,
                                          verbose=0, random_state=0, batch_size=16)
    def slow(estimator, X, y):
        time.sleep(float(sys.argv[2]))
        return float((estimator.predict(X) == y).mean())
    heartbeat = int(sys.argv[4]) if len(sys.argv) > 4 else None
    tune(net, X, y, E, n_trials=int(sys.argv[3]), cv=2, scoring=slow, storage=sys.argv[1],
         heartbeat_interval=heartbeat, grace_period=2 if heartbeat else None)
    """
)


def _complete(path):
    study = load_study(path)
    return {t.number: t.value for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))}


def test_killing_a_worker_loses_no_completed_trial(tmp_path):
    path = str(tmp_path / "shared.journal")
    target = 6
    victim = subprocess.Popen([sys.executable, "-c", _WORKER, path, "1.0", str(target)])
    survivor = subprocess.Popen([sys.executable, "-c", _WORKER, path, "0.05", str(target)])
    try:
        deadline = time.monotonic() + 60
        before = {}
        while time.monotonic() < deadline and not before:
            time.sleep(0.2)
            with contextlib.suppress(KeyError):  # the study is not created yet
                before = _complete(path)
        assert before, "no trial completed in time"
        os.kill(victim.pid, signal.SIGKILL)  # most likely in the middle of its slow trial
        assert victim.wait(timeout=10) == -signal.SIGKILL
        assert survivor.wait(timeout=60) == 0
    finally:
        for process in (victim, survivor):
            if process.poll() is None:
                process.kill()
                process.wait()
    after = _complete(path)
    assert before.items() <= after.items()
    assert len(after) >= target


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_heartbeat_fails_and_reruns_the_trial_of_a_killed_worker(tmp_path):
    path = str(tmp_path / "shared.db")
    victim = subprocess.Popen([sys.executable, "-c", _WORKER, path, "60", "1", "1"])
    try:
        deadline, running = time.monotonic() + 90, []
        while time.monotonic() < deadline and not running:
            time.sleep(0.2)
            with contextlib.suppress(KeyError):  # the study is not created yet
                running = [t for t in load_study(path).get_trials(
                    states=(optuna.trial.TrialState.RUNNING,)) if t.params]
        assert running, "the first worker never sampled a trial's parameters"
        os.kill(victim.pid, signal.SIGKILL)  # in its 60-second scorer: the trial stays RUNNING
        assert victim.wait(timeout=10) == -signal.SIGKILL
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    time.sleep(3)  # past the grace period of 2 s: the dead worker's last heartbeat is stale
    next_worker = subprocess.run([sys.executable, "-c", _WORKER, path, "0", "1", "1"], timeout=120)
    assert next_worker.returncode == 0
    study = load_study(path)
    stale = study.trials[running[0].number]
    assert stale.state == optuna.trial.TrialState.FAIL
    retried = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE
               and RetryHeartbeatStaleTrialCallback.retried_trial_number(t) == stale.number]
    assert len(retried) == 1 and retried[0].params == stale.params


def test_heartbeat_needs_a_database(tmp_path):
    storage = resolve_storage(tmp_path / "s.db", heartbeat_interval=5)
    assert isinstance(storage, optuna.storages.RDBStorage)
    assert storage.get_heartbeat_interval() == 5
    with pytest.raises(ValueError, match="journal storage has no heartbeat"):
        resolve_storage(tmp_path / "s.journal", heartbeat_interval=5)
    with pytest.raises(ValueError, match="heartbeat_interval needs a SQLite"):
        resolve_storage(None, heartbeat_interval=5)
    with pytest.raises(ValueError, match="grace_period=3 needs heartbeat_interval"):
        resolve_storage(tmp_path / "s.db", grace_period=3)
    with pytest.raises(ValueError, match="heartbeat_interval must be a positive"):
        resolve_storage(tmp_path / "s.db", heartbeat_interval=0)


# --- xsup tune ----------------------------------------------------------------------------------


def test_cli_tune_on_npz_resumes_and_prints_best_parameters(tmp_path, capsys):
    from xsup.cli.main import main

    X, y, E = _data()
    np.savez(tmp_path / "data.npz", X=X, y=y, E=E)
    argv = ["tune", "--npz", str(tmp_path / "data.npz"), "--loss", "gradia", "--epochs", "1",
            "--cv", "2", "--storage", str(tmp_path / "s.db")]
    assert main([*argv, "--trials", "1"]) == 0
    assert main([*argv, "--trials", "2"]) == 0
    out = capsys.readouterr().out
    assert "trials: 1" in out and "trials: 2" in out and "sigma1 = " in out


def test_cli_tune_reports_bad_input(tmp_path, capsys):
    from xsup.cli.main import main

    np.savez(tmp_path / "bad.npz", X=np.zeros((4, 3)))
    assert main(["tune", "--npz", str(tmp_path / "bad.npz")]) == 2
    assert "missing array(s) y" in capsys.readouterr().err
    assert main(["tune", "--loss", "nope", "--quick"]) == 2
    assert "--loss 'nope'" in capsys.readouterr().err


def test_tune_fits_folds_in_parallel_processes():
    X, y, E = _data()
    study = tune(_net(), X, y, E, n_trials=1, cv=2, n_jobs=2, random_state=0)
    assert study.trials[0].state == optuna.trial.TrialState.COMPLETE
    assert len(study.trials[0].user_attrs["fold_scores"][0]) == 2


# --- Dask cluster (joblib's "dask" backend, docs/scaling.md) ----------------------------------


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed", reason="needs dask.distributed (xsup[cluster])")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            yield client


@contextlib.contextmanager
def _on_dask(client):
    """joblib's dask backend; yields the list of tasks that ran on the cluster's workers."""
    from distributed import get_task_stream

    with get_task_stream(client) as tasks, joblib.parallel_config(backend="dask"):
        yield tasks.data


def test_grid_search_with_annotations_runs_on_a_dask_cluster(dask_client):
    X, y, E = _data()
    grid = {"sigma1": [0.1, 10.0]}
    local = GridSearchCV(_net(max_epochs=2), grid, cv=2).fit(X, y, E=E)
    with _on_dask(dask_client) as tasks:
        remote = GridSearchCV(_net(max_epochs=2), grid, cv=2, n_jobs=-1).fit(X, y, E=E)
    assert tasks, "no task ran on the Dask workers"
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"])
    assert remote.best_params_ == local.best_params_


def test_tune_fits_its_folds_on_a_dask_cluster(dask_client):
    X, y, E = _data()
    local = tune(_net(max_epochs=2), X, y, E, n_trials=2, cv=2, random_state=0)
    with _on_dask(dask_client) as tasks:
        remote = tune(_net(max_epochs=2), X, y, E, n_trials=2, cv=2, n_jobs=-1, random_state=0)
    assert tasks, "no task ran on the Dask workers"
    assert [t.params for t in remote.trials] == [t.params for t in local.trials]
    np.testing.assert_allclose([t.value for t in remote.trials], [t.value for t in local.trials])
