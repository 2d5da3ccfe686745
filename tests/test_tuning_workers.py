"""Tuning with several workers: seeding that never replays, safe concurrent starts, bad arguments.

Concurrent starts on every storage and the server-backed scenarios (several
``xsup tune`` processes on PostgreSQL, a worker killed mid-trial) are in
test_tuning_postgres.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import optuna
import pytest

from xsup import ExplanationSupervisedClassifier
from xsup.cli.main import main
from xsup.metrics import explanation_scorer
from xsup.tuning import TrialSeededSampler, load_study, resolve_storage, tune
from xsup.tuning._storage import dashboard_command, storage_for_tune

optuna.logging.set_verbosity(optuna.logging.WARNING)
COMPLETE = optuna.trial.TrialState.COMPLETE


def _images(n=24):
    """n random 6x6 images labelled by their top-left quarter, which E marks as relevant."""
    X = np.random.default_rng(0).normal(size=(n, 1, 6, 6)).astype("float32")
    E = np.full((n, 6, 6), -1.0, dtype="float32")
    E[:, :3, :3] = 1
    return X, (X[:, 0, :3, :3].mean(axis=(1, 2)) > 0).astype(int), E


def _classifier(**params):
    return ExplanationSupervisedClassifier(**{
        "loss": "gradia", "max_epochs": 1, "train_split": None, "verbose": 0, "random_state": 0,
        "batch_size": 16, **params})


def _parameter_sets(study):
    return [tuple(sorted(t.params.items())) for t in study.get_trials(states=(COMPLETE,))]


# --- seeding: reproducible, never replayed ----------------------------------------------------


def test_a_seeded_resume_samples_new_parameters_and_equals_an_uninterrupted_run(tmp_path):
    X, y, E = _images()
    storage = tmp_path / "study.db"
    for target in (2, 3, 5):  # the same seed each time, as a rerun of the same script has
        resumed = tune(_classifier(), X, y, E, n_trials=target, cv=2, storage=storage,
                       random_state=0)
    assert len(set(_parameter_sets(resumed))) == 5
    uninterrupted = tune(_classifier(), X, y, E, n_trials=5, cv=2, random_state=0)
    assert _parameter_sets(uninterrupted) == _parameter_sets(resumed)


def test_workers_sharing_a_seed_sample_different_parameters(tmp_path):
    """Three workers with one seed ask for trials in turn, as processes started together do."""
    url = resolve_storage(tmp_path / "study.db")
    optuna.create_study(storage=url, study_name="s")
    workers = [optuna.load_study(study_name="s", storage=url, sampler=TrialSeededSampler(7))
               for _ in range(3)]
    drawn = []
    for _ in range(4):
        for study in workers:
            trial = study.ask()
            drawn.append((trial.suggest_float("sigma1", 0.01, 100.0, log=True),
                          trial.suggest_int("k", 1, 10 ** 6)))
            study.tell(trial, 0.0)
    assert len(set(drawn)) == len(drawn) == 12
    # the per-process seeding it replaces: every worker draws what the others draw
    optuna.create_study(storage=url, study_name="plain")
    plain = [optuna.load_study(study_name="plain", storage=url,
                               sampler=optuna.samplers.TPESampler(seed=7)) for _ in range(2)]
    assert len({study.ask().suggest_float("x", 0.0, 1.0) for study in plain}) == 1


def test_trial_seeded_sampler_checks_its_arguments():
    with pytest.raises(TypeError, match="random_state must be None or an integer seed"):
        TrialSeededSampler("0")
    with pytest.raises(TypeError, match="seed must be an integer seed; got None"):
        TrialSeededSampler(None)
    with pytest.raises(TypeError, match="make_sampler must be a callable"):
        TrialSeededSampler(0, make_sampler=3)
    study = optuna.create_study(sampler=TrialSeededSampler(0, make_sampler=lambda seed: seed))
    with pytest.raises(TypeError, match=r"make_sampler\(\d+\) must return an optuna sampler"):
        study.ask()


def test_trial_seeded_sampler_wraps_another_sampler():
    made = []

    def random_sampler(seed):
        made.append(seed)
        return optuna.samplers.RandomSampler(seed=seed)

    sampler = TrialSeededSampler(3, make_sampler=random_sampler)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=3)
    assert made == [sampler.trial_seed(n) for n in range(3)]
    assert len({trial.params["x"] for trial in study.trials}) == 3


# --- reading a stored study -------------------------------------------------------------------


def test_load_study_names_the_missing_study(tmp_path):
    storage = tmp_path / "s.db"
    tune(_classifier(), *_images(), n_trials=1, cv=2, storage=storage, study_name="mine")
    with pytest.raises(KeyError, match="no study named 'other' in storage .*; it holds 'mine'"):
        load_study(storage, "other")
    assert len(load_study(storage, "mine").trials) == 1


# --- what the study says about itself ---------------------------------------------------------


def test_the_study_names_its_objectives_and_describes_the_search(tmp_path):
    X, y, E = _images()
    study = tune(_classifier(), X, y, E, n_trials=1, cv=2, storage=tmp_path / "s.db",
                 scoring=["accuracy", explanation_scorer("iou")], random_state=0)
    assert study.metric_names == ["accuracy", "explanation_iou"]
    attrs = load_study(tmp_path / "s.db").user_attrs
    assert attrs["estimator"] == "ExplanationSupervisedClassifier"
    assert attrs["estimator_params"]["loss"] == "gradia"
    assert attrs["estimator_params"]["max_epochs"] == 1
    assert set(attrs["search_space"]) == {"sigma1"}
    assert attrs["n_samples"] == 24 and attrs["cv"].startswith("StratifiedKFold(n_splits=2")
    assert study.trials[0].user_attrs["worker"].endswith(f":{__import__('os').getpid()}")


def test_a_study_with_other_directions_is_refused(tmp_path):
    X, y, E = _images()
    tune(_classifier(), X, y, E, n_trials=1, cv=2, storage=tmp_path / "s.db")
    with pytest.raises(ValueError, match=r"optimises \['maximize'\], but the scoring asks for "
                                         r"\['maximize', 'maximize'\]; choose another"):
        tune(_classifier(), X, y, E, n_trials=2, cv=2, storage=tmp_path / "s.db",
             scoring=["accuracy", "accuracy"])


def test_the_heartbeat_is_on_for_databases_unless_turned_off(tmp_path):
    storage = storage_for_tune(tmp_path / "s.db")
    assert storage.get_heartbeat_interval() == 60
    assert storage_for_tune(tmp_path / "s.db", heartbeat_interval=None).heartbeat_interval is None
    assert storage_for_tune(tmp_path / "t.db", heartbeat_interval=5, grace_period=7).grace_period == 7
    assert isinstance(storage_for_tune(tmp_path / "s.journal"), optuna.storages.JournalStorage)
    assert storage_for_tune(None) is None


def test_a_worker_goes_on_when_another_failed_its_trial(tmp_path):
    """A paused worker's trial failed as stale by another one: the worker warns and goes on."""
    X, y, E = _images()
    path = tmp_path / "s.db"
    calls = []

    def scorer(estimator, X_test, y_test):
        calls.append(1)
        if len(calls) == 1:  # what another worker's stale-trial check does to this trial
            study = load_study(path)
            (running,) = study.get_trials(states=(optuna.trial.TrialState.RUNNING,))
            study._storage.set_trial_state_values(running._trial_id, optuna.trial.TrialState.FAIL)
            study.enqueue_trial(running.params)
        return 0.5

    with pytest.warns(RuntimeWarning, match="another worker marked trial 0 of this one FAIL"):
        study = tune(_classifier(), X, y, E, n_trials=2, cv=2, storage=path, scoring=scorer,
                     random_state=0)
    states = [trial.state for trial in study.trials]
    assert states.count(optuna.trial.TrialState.FAIL) == 1 and states.count(COMPLETE) == 2
    assert study.trials[1].params == study.trials[0].params  # the queued retry ran first


# --- one-line errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options, error, message",
    [
        ({"timeout": -1}, ValueError, r"timeout must be a positive number of seconds or None; "
                                      r"got -1\."),
        ({"timeout": 0}, ValueError, "timeout must be a positive number"),
        ({"timeout": float("nan")}, ValueError, "timeout must be a positive number"),
        ({"timeout": "abc"}, TypeError, r"timeout must be .*; got str 'abc'\."),
        ({"random_state": "x"}, TypeError, r"random_state must be None or an integer seed in "
                                           r"\[0, 4294967295\]; got str 'x'\."),
        ({"random_state": -1}, ValueError, "random_state must be None or an integer seed"),
        ({"random_state": 1.5}, TypeError, "random_state must be None or an integer seed"),
        ({"storage": "missing_folder/study.db"}, ValueError,
         r"storage 'missing_folder/study.db': folder 'missing_folder' does not exist"),
        ({"storage": "sqlite:///missing_folder/study.db"}, ValueError,
         r"storage 'sqlite:///missing_folder/study.db': folder 'missing_folder' does not exist"),
        ({"storage": "missing_folder/study.journal"}, ValueError,
         "folder 'missing_folder' does not exist"),
        ({"storage": "nodriver://x/y"}, ValueError,
         r"storage 'nodriver://x/y': cannot open the database \(Can't load plugin"),
        ({"heartbeat_interval": "often"}, ValueError,
         r"heartbeat_interval must be 'auto', None or a positive whole number"),
        ({"heartbeat_interval": 0, "storage": "s.db"}, ValueError,
         "heartbeat_interval must be a positive whole number of seconds or None; got 0"),
        ({"grace_period": 5}, ValueError, "grace_period=5 needs a SQLite file or a database"),
    ],
)
def test_tune_refuses_bad_arguments_in_one_line(options, error, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match=message) as caught:
        tune(_classifier(), *_images(), n_trials=1, **options)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "missing_folder").exists()


def test_resolve_storage_passes_urls_and_picks_the_installed_postgres_driver(tmp_path):
    assert resolve_storage("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    plain = resolve_storage("postgres://u@h/db")
    assert plain in ("postgresql://u@h/db", "postgresql+psycopg://u@h/db")
    assert resolve_storage(f"sqlite:///{tmp_path}/s.db") == f"sqlite:///{tmp_path}/s.db"
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="folder '.*file' is not a folder"):
        resolve_storage(tmp_path / "file" / "s.db")


def test_dashboard_command_shows_files_and_urls_without_passwords(tmp_path):
    assert dashboard_command(tmp_path / "s.db") == f"optuna-dashboard {tmp_path / 's.db'}"
    assert dashboard_command("postgresql+psycopg://ann:secret@db/x") == (
        "optuna-dashboard 'postgresql+psycopg://ann:***@db/x'")
    assert dashboard_command(None) is None


# --- xsup tune ----------------------------------------------------------------------------------


@pytest.fixture
def npz(tmp_path):
    X, y, E = _images()
    np.savez(tmp_path / "data.npz", X=X, y=y, E=E)
    return str(tmp_path / "data.npz")


def test_cli_tune_takes_every_plugin_kind_and_shows_the_dashboard_command(npz, tmp_path, capsys):
    storage = tmp_path / "s.db"
    argv = ["tune", "--npz", npz, "--loss", "gradia", "--explainer", "gradient", "--module",
            "cnn", "--interpolator", "none", "--epochs", "1", "--cv", "2", "--trials", "1",
            "--storage", str(storage), "--study-name", "cli"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"dashboard: optuna-dashboard {storage}" in out.splitlines()[0]
    params = load_study(storage, "cli").user_attrs["estimator_params"]
    assert (params["explainer"], params["module"], params["interpolator"]) == (
        "gradient", "cnn", "none")
    assert load_study(storage, "cli").user_attrs["estimator_params"]["random_state"] == 0
    assert load_study(storage, "cli").metric_names == ["accuracy"]


@pytest.mark.parametrize(
    "options, message",
    [
        (["--explainer", "gradcan"], r"--explainer 'gradcan': Unknown explainers plugin "
                                     r"'gradcan'\. Did you mean 'gradcam'"),
        (["--interpolator", "cubic"], "--interpolator 'cubic': Unknown interpolators plugin"),
        (["--module", "resnet"], "--module 'resnet': Unknown modules plugin"),
        (["--out", "{file}"], r"--out .*taken\.txt: expected a folder for the plots; it is a "
                              r"file\."),
        (["--out", "{file}/plots"], r"it is a file \(.*taken\.txt is a file\)"),
        (["--storage", "missing_folder/s.db"], r"--storage 'missing_folder/s\.db': folder "
                                               r"'missing_folder' does not exist"),
        (["--storage", "{dir}/s.journal", "--heartbeat", "5"],
         r"--heartbeat 5: needs --storage naming a SQLite file"),
        (["--seed", "x"], r"argument --seed: must be a non-negative integer; got 'x'"),
        (["--heartbeat", "-1"], r"argument --heartbeat: must be a non-negative integer"),
        (["--config", "{config}"], r"--config .*config\.json: unknown parameter 'sigmaa'"),
    ],
)
def test_cli_tune_refuses_bad_options_before_any_work(options, message, npz, tmp_path, capsys,
                                                      monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken.txt").write_text("a file")
    (tmp_path / "config.json").write_text('{"sigmaa": 1.0}')
    options = [o.format(file=tmp_path / "taken.txt", dir=tmp_path, config=tmp_path / "config.json")
               for o in options]
    storage = tmp_path / "never.db"
    argv = ["tune", "--npz", npz, "--loss", "gradia", "--storage", str(storage), *options]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may be trained: no training warnings either
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("xsup tune: error: ")
    assert __import__("re").search(message, err), err
    assert not storage.exists()  # refused before the study (or anything else) was created
