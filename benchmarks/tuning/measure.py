"""Measure what issue-level claims about tuning with several workers rest on; write results.md.

- Replayed parameter sets: a seeded study resumed three times, and 2 or 3
  seeded workers started together on one storage, with Optuna's plain
  per-process seeding (``TPESampler(seed=0)``, what ``tune`` used before) and
  with ``tune``'s per-trial seeding.
- Concurrent starts: 3 processes opening one study on a fresh SQLite file or
  PostgreSQL database at the same instant, 10 tries each, with Optuna's
  ``create_study(load_if_exists=True)`` and with ``tune``'s start.
- PostgreSQL: 3 ``xsup tune`` workers, target 12, one SIGKILLed mid-trial,
  against 1 worker alone.

Needs PostgreSQL server binaries (as the tests do). Run from the repository:

    python benchmarks/tuning/measure.py [--tries 10]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _load_test_module():
    """The PostgreSQL server helpers of the tests (a throwaway cluster in a temporary folder)."""
    spec = importlib.util.spec_from_file_location(
        "tuning_postgres_tests", ROOT / "tests" / "test_tuning_postgres.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# A worker: imports first, then waits for the common start instant given on the command line.
_SEARCH = """
import sys, time, numpy as np, optuna
optuna.logging.set_verbosity(optuna.logging.ERROR)
from xsup import ExplanationSupervisedClassifier
from xsup.tuning import tune
storage, plain, target, pause = sys.argv[1], sys.argv[2] == "plain", int(sys.argv[3]), float(sys.argv[4])
X = np.random.default_rng(0).normal(size=(24, 1, 6, 6)).astype("float32")
y = (X[:, 0, :3, :3].mean(axis=(1, 2)) > 0).astype(int)
E = np.full((24, 6, 6), -1.0, dtype="float32"); E[:, :3, :3] = 1
net = ExplanationSupervisedClassifier(loss="gradia", max_epochs=1, train_split=None, verbose=0,
                                      random_state=0, batch_size=16)
def waiting(estimator, X, y):  # a fold that also waits, as for an accelerator
    time.sleep(pause)
    return float((estimator.predict(X) == y).mean())
time.sleep(max(0.0, float(sys.argv[5]) - time.time()))
tune(net, X, y, E, n_trials=target, cv=2, storage=storage, random_state=0, scoring=waiting,
     heartbeat_interval=2 if "://" in storage else "auto",
     sampler=optuna.samplers.TPESampler(seed=0) if plain else None)
"""

_START = """
import sys, time, optuna
optuna.logging.set_verbosity(optuna.logging.CRITICAL)
from xsup.tuning._storage import storage_for_tune
from xsup.tuning._study import open_study
url, plain, start = sys.argv[1], sys.argv[2] == "plain", float(sys.argv[3])
time.sleep(max(0.0, start - time.time()))
if plain:
    optuna.create_study(storage=url, study_name="s", load_if_exists=True)
else:
    open_study(storage_for_tune(url), "s", ["maximize"], metric_names=["accuracy"])
"""


def _launch(script: str, argument_lists: list[list[str]], lead: float) -> list:
    """One process per argument list, all released at the same instant, ``lead`` s from now."""
    start = str(time.time() + lead)
    return [subprocess.Popen([sys.executable, "-c", script, *arguments, start], env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for arguments in argument_lists]


def _together(script: str, argument_lists: list[list[str]], lead: float) -> list[int]:
    """Exit codes of processes started together (see :func:`_launch`)."""
    return [process.wait(timeout=600) for process in _launch(script, argument_lists, lead)]


def _replays(study) -> dict:
    import optuna

    sets = [tuple(sorted(t.params.items()))
            for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))]
    return {"trials": len(sets), "distinct": len(set(sets)), "replayed": len(sets) - len(set(sets))}


def measure_replays(folder: Path) -> dict:
    """Replayed parameter sets on resume and with seeded workers, plain seeding against ours."""
    import numpy as np
    import optuna

    from xsup import ExplanationSupervisedClassifier
    from xsup.tuning import load_study, tune

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    X = np.random.default_rng(0).normal(size=(24, 1, 6, 6)).astype("float32")
    y = (X[:, 0, :3, :3].mean(axis=(1, 2)) > 0).astype(int)
    E = np.full((24, 6, 6), -1.0, dtype="float32")
    E[:, :3, :3] = 1
    net = ExplanationSupervisedClassifier(loss="gradia", max_epochs=1, train_split=None,
                                          verbose=0, random_state=0, batch_size=16)
    results = {}
    for seeding in ("plain", "per-trial"):
        path = folder / f"resume-{seeding}.db"
        for target in (3, 6, 9, 12):  # started four times with the same seed
            sampler = optuna.samplers.TPESampler(seed=0) if seeding == "plain" else None
            study = tune(net, X, y, E, n_trials=target, cv=2, storage=path, random_state=0,
                         sampler=sampler)
        results[f"resume, {seeding}"] = _replays(study)
        for workers in (2, 3):
            path = folder / f"workers{workers}-{seeding}.journal"
            arguments = [[str(path), "plain" if seeding == "plain" else "ours", "12", "0"]] * workers
            codes = _together(_SEARCH, arguments, lead=20.0)
            results[f"{workers} workers, {seeding}"] = {**_replays(load_study(path)),
                                                        "exit_codes": codes}
    return results


def measure_starts(server, tries: int) -> dict:
    """Crashed concurrent starts out of ``tries``, per storage and way of starting."""
    results = {}
    for kind in ("sqlite", "postgresql"):
        for way in ("plain", "ours"):
            crashes = 0
            for attempt in range(tries):
                if kind == "sqlite":
                    url = f"sqlite:///{tempfile.mkdtemp()}/fresh.db"
                else:
                    url = server.create_database(f"start_{way}_{attempt}")
                codes = _together(_START, [[url, way]] * 3, lead=6.0)
                crashes += any(code != 0 for code in codes)
            results[f"{kind}, {way}"] = {"tries": tries, "tries_with_a_crash": crashes}
    return results


def _cli(argv: list[str], log: Path) -> subprocess.Popen:
    code = "import sys; from xsup.cli.main import main; sys.exit(main(sys.argv[1:]))"
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-c", code, "tune", *argv], env=ENV,
                                stdout=out, stderr=subprocess.STDOUT)


def measure_workers(server, tests, folder: Path, kind: str) -> dict:
    """1 and 3 workers (one killed mid-trial) on PostgreSQL, target 12.

    ``kind="cpu"``: ``xsup tune`` processes training on the CPU. ``"waiting"``:
    ``tune`` processes whose folds also wait 1.5 s, as trials that wait on an
    accelerator or another machine do.
    """
    import optuna

    from xsup.tuning import load_study
    from xsup.tuning._storage import connect

    results = {}
    for workers in (1, 3):
        url = server.create_database(f"{kind}{workers}")
        began = time.monotonic()
        if kind == "cpu":
            argv = ["--data", "digits", "--quick", "--loss", "gradia", "--epochs", "100",
                    "--cv", "2", "--trials", "12", "--storage", url, "--study-name", "xsup-tune",
                    "--heartbeat", "2"]
            processes = [_cli(argv, folder / f"{kind}{workers}-{i}.log") for i in range(workers)]
        else:
            processes = _launch(_SEARCH, [[url, "ours", "12", "1.5"]] * workers, lead=0.0)
        killed = None
        if workers > 1:  # once a few trials are done, kill the first worker in its trial
            storage = connect(url)
            complete = 0
            while complete < 3:
                time.sleep(0.2)
                with contextlib.suppress(KeyError):  # the study is not created yet
                    complete = len(load_study(storage).get_trials(
                        states=(optuna.trial.TrialState.COMPLETE,)))
            killed = tests._kill_mid_trial(processes[0], storage, "xsup-tune").number
        codes = [process.wait(timeout=1800) for process in processes]
        wall = time.monotonic() - began
        trials = load_study(url).trials
        states = [trial.state.name for trial in trials]
        complete = [t for t in trials if t.state.name == "COMPLETE"]
        sets = [tuple(sorted(t.params.items())) for t in complete]
        durations = [(t.datetime_complete - t.datetime_start).total_seconds() for t in complete]
        results[f"{kind}, {workers} worker(s)"] = {
            "wall_seconds": round(wall, 1),
            "mean_trial_seconds": round(sum(durations) / len(durations), 2),
            "COMPLETE": states.count("COMPLETE"), "FAIL": states.count("FAIL"),
            "RUNNING": states.count("RUNNING"), "duplicates": len(sets) - len(set(sets)),
            "killed_trial": killed,
            "retried_as": [t.number for t in complete if killed is not None
                           and t.system_attrs.get("failed_trial") == killed],
            "exit_codes": codes,
        }
    return results


def _table(rows: dict, columns: list[str]) -> list[str]:
    lines = ["| case | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    return lines


def write_report(results: dict) -> None:
    lines = [
        "# Tuning with several workers: replays, concurrent starts, PostgreSQL workers",
        "",
        f"One run of `python benchmarks/tuning/measure.py` ({results['settings']}).",
        "",
        "## Replayed parameter sets",
        "",
        "GRADIA's `sigma1` on 24 random 6x6 images, 1 epoch, 2 folds, `random_state=0`.",
        "Resume: one SQLite study run to 3, 6, 9 and 12 trials by four calls with the same",
        "seed. Workers: 2 or 3 processes started at the same instant on one journal file,",
        "target 12. `plain`: Optuna's `TPESampler(seed=0)` per process (what `tune` did);",
        "`per-trial`: `tune`'s default, a sampler seeded from the seed and the trial number.",
        "",
        *_table(results["replays"], ["trials", "distinct", "replayed"]),
        "",
        "## Concurrent starts on a fresh storage",
        "",
        "3 processes open one study at the same instant on a new SQLite file or PostgreSQL",
        "database; a try counts when any of them crashes. `plain`:",
        "`optuna.create_study(load_if_exists=True)`; `ours`: `tune`'s start.",
        "",
        *_table(results["starts"], ["tries", "tries_with_a_crash"]),
        "",
        "## PostgreSQL: 3 workers, one killed, against 1 worker",
        "",
        "Target 12 on a local PostgreSQL server, heartbeat every 2 s (grace period 4 s). With",
        "3 workers the first is SIGKILLed in a trial once the study holds 3 complete trials;",
        "its trial is failed after the grace period and retried. `cpu`: `xsup tune --data",
        "digits --quick --loss gradia --epochs 100 --cv 2` processes; `waiting`: `tune` on",
        "24 images whose two folds also wait 1.5 s each, as trials that wait on an",
        "accelerator or a remote machine do. Wall time runs from the first start to the last",
        "exit, process start-up included.",
        "",
        *_table(results["workers"], ["wall_seconds", "mean_trial_seconds", "COMPLETE", "FAIL", "RUNNING",
                                     "duplicates", "killed_trial", "retried_as", "exit_codes"]),
        "",
    ]
    (HERE / "results.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=10)
    parser.add_argument("--parts", nargs="+", default=["replays", "starts", "workers"],
                        choices=["replays", "starts", "workers"],
                        help="measure only these; the others are kept from results.json")
    args = parser.parse_args()
    tests = _load_test_module()
    binaries = tests._server_binaries()
    if binaries is None:
        sys.exit("no PostgreSQL server binaries found (initdb, pg_ctl)")
    import optuna
    import torch

    previous = HERE / "results.json"
    results = json.loads(previous.read_text()) if previous.exists() else {}
    results["settings"] = (f"Python {platform.python_version()}, torch {torch.__version__}, "
                           f"Optuna {optuna.__version__}, {os.cpu_count()} CPU cores")
    server = tests.PostgresServer(binaries)
    server.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            for part in args.parts:
                if part == "replays":
                    results["replays"] = measure_replays(Path(folder))
                elif part == "starts":
                    results["starts"] = measure_starts(server, args.tries)
                else:
                    results["workers"] = {
                        **measure_workers(server, tests, Path(folder), "cpu"),
                        **measure_workers(server, tests, Path(folder), "waiting"),
                    }
                previous.write_text(json.dumps(results, indent=2) + "\n")
    finally:
        server.stop()
    write_report(results)
    print((HERE / "results.md").read_text())


if __name__ == "__main__":
    main()
