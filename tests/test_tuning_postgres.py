"""Shared tuning storages: concurrent starts on each, and several ``xsup tune`` workers on PostgreSQL.

A throwaway PostgreSQL cluster is created with ``initdb`` in a temporary
folder and served on a Unix socket there (no TCP port), for this module only.
The tests that need it skip when no PostgreSQL server binaries or no psycopg
are installed; with ``XSUP_REQUIRE_POSTGRES=1`` (set by CI) they fail
instead, so that CI never skips them silently.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import optuna
import pytest

from xsup import ExplanationSupervisedClassifier
from xsup.tuning import load_study, tune
from xsup.tuning._storage import connect, storage_for_tune
from xsup.tuning._study import open_study

optuna.logging.set_verbosity(optuna.logging.WARNING)
State = optuna.trial.TrialState


def _server_binaries() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: on PATH, else the newest distribution install."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    found = glob.glob("/usr/lib/postgresql/*/bin/pg_ctl") + glob.glob("/usr/pgsql-*/bin/pg_ctl")
    found.sort(key=lambda path: [int(part) for part in re.findall(r"\d+", path)])
    return Path(found[-1]).parent if found else None


class PostgresServer:
    """A PostgreSQL cluster in a temporary folder, reached through a Unix socket in that folder.

    The server refuses to run as root, so under root it runs as the
    ``postgres`` user (or ``nobody``), which then owns the folder.
    """

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.folder = Path(tempfile.mkdtemp(prefix="xsup-pg-"))
        self.data = self.folder / "data"
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = next(name for name in ("postgres", "nobody") if _user_exists(name))
            shutil.chown(self.folder, self.user)

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        result = subprocess.run([*prefix, str(self.binaries / command[0]), *command[1:]],
                                capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            log = self.folder / "server.log"
            raise RuntimeError(f"{command[0]} failed: {result.stderr.strip()}\n"
                               f"{log.read_text() if log.exists() else ''}")

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "xsup", "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        options = f"-k {self.folder} -c listen_addresses='' -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w",
                  "-t", "60", "-o", options, "start")

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def create_database(self, name: str) -> str:
        """A new, empty database; its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(host=str(self.folder), user="xsup", dbname="postgres",
                             autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://xsup@/{name}?host={self.folder}"


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _unavailable(reason: str) -> None:
    if os.environ.get("XSUP_REQUIRE_POSTGRES"):
        pytest.fail(f"XSUP_REQUIRE_POSTGRES is set but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def postgres():
    """A running throwaway server for this module's tests."""
    binaries = _server_binaries()
    if binaries is None:
        _unavailable("no PostgreSQL server binaries (initdb, pg_ctl) found; install PostgreSQL "
                     "(e.g. apt-get install postgresql) to run the server tests")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable('the PostgreSQL tests need psycopg: pip install "xsup[postgres]"')
    server = PostgresServer(binaries)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _images(n=24):
    """n random 6x6 images labelled by their top-left quarter, which E marks as relevant."""
    X = np.random.default_rng(1).normal(size=(n, 1, 6, 6)).astype("float32")
    E = np.full((n, 6, 6), -1.0, dtype="float32")
    E[:, :3, :3] = 1
    return X, (X[:, 0, :3, :3].mean(axis=(1, 2)) > 0).astype(int), E


# --- in-process -------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "journal", "postgresql"])
def new_storage(request, tmp_path):
    """A maker of new, empty storages of one kind (a file path, or a database URL)."""
    if request.param == "postgresql":
        return request.getfixturevalue("postgres").create_database
    suffix = ".db" if request.param == "sqlite" else ".journal"
    return lambda name: tmp_path / f"{name}{suffix}"


def test_workers_starting_together_on_a_fresh_storage_all_start(new_storage):
    """Four workers open one study on a storage nobody created; plain Optuna crashes some."""
    for attempt in range(3):
        storage = new_storage(f"start{attempt}")
        barrier, errors, ids = threading.Barrier(4), [], []

        def start(storage=storage, barrier=barrier, errors=errors, ids=ids):
            barrier.wait()
            try:
                study = open_study(storage_for_tune(storage), "shared", ["maximize", "maximize"],
                                   metric_names=["accuracy", "explanation_iou"])
                ids.append(study._study_id)
            except Exception as error:  # noqa: BLE001 - every crash is the failure looked for
                errors.append(error)

        threads = [threading.Thread(target=start) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        assert len(ids) == 4 and len(set(ids)) == 1
        assert load_study(storage, "shared").metric_names == ["accuracy", "explanation_iou"]


def test_tune_resumes_a_postgres_study_without_replaying_seeded_trials(postgres):
    url = postgres.create_database("resume")
    X, y, E = _images()
    net = ExplanationSupervisedClassifier(loss="gradia", max_epochs=1, train_split=None,
                                          verbose=0, random_state=0, batch_size=16)
    for target in (2, 4):
        study = tune(net, X, y, E, n_trials=target, cv=2, storage=url, random_state=0)
    assert len({trial.params["sigma1"] for trial in study.trials}) == 4
    assert connect(url).get_heartbeat_interval() is None  # tune's storage beat, not the reader's
    assert study.metric_names == ["score"]


def test_a_missing_database_is_one_line_naming_the_storage(postgres):
    url = postgres.create_database("exists").replace("/exists?", "/missing?")
    with pytest.raises(ValueError, match=r"storage 'postgresql\+psycopg://xsup@/missing\?.*': "
                                         r'cannot open the database \(.*"missing" does not exist'):
        tune(ExplanationSupervisedClassifier(loss="gradia"), *_images(), n_trials=1, storage=url)


# --- several xsup tune processes ----------------------------------------------------------------


#: The ``xsup`` command, run by this interpreter.
_XSUP = "import sys; from xsup.cli.main import main; sys.exit(main(sys.argv[1:]))"


def _worker(argv: list[str], log: Path) -> subprocess.Popen:
    """An ``xsup tune`` process on one CPU thread, its output in ``log``."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-c", _XSUP, "tune", *argv],
                                stdout=out, stderr=subprocess.STDOUT, env=env)


def _kill_mid_trial(process: subprocess.Popen, storage, study_name: str):
    """SIGKILL a worker while one of its trials runs (parameters sampled); that trial."""
    worker = f"{socket.gethostname()}:{process.pid}"

    def running():
        with contextlib.suppress(KeyError):  # the study is not created yet
            trials = load_study(storage, study_name).get_trials(states=(State.RUNNING,))
            return [t for t in trials if t.user_attrs.get("worker") == worker and t.params]
        return []

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
        if not running():
            continue
        os.kill(process.pid, signal.SIGSTOP)  # frozen: a trial seen running now is mid-trial
        trials = running()
        if trials:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            return trials[0]
        os.kill(process.pid, signal.SIGCONT)
    raise AssertionError(f"worker {worker} was not caught in a trial (exit {process.poll()})")


def test_xsup_tune_workers_share_a_study_and_retry_the_trial_of_a_killed_one(postgres, tmp_path):
    """A worker is killed mid-trial; two more take over, a third joins late; target 12 reached."""
    url = postgres.create_database("workers")
    X, y, E = _images()
    np.savez(tmp_path / "data.npz", X=X, y=y, E=E)
    argv = ["--npz", str(tmp_path / "data.npz"), "--loss", "gradia", "--epochs", "1", "--cv",
            "2", "--storage", url, "--study-name", "shared", "--heartbeat", "2", "--trials", "12"]
    storage = connect(url)

    victim = _worker(argv, tmp_path / "victim.log")
    try:
        orphan = _kill_mid_trial(victim, storage, "shared")
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    time.sleep(5)  # past the grace period (twice the 2-s heartbeat): the orphan is stale now

    logs = [tmp_path / f"worker{index}.log" for index in range(3)]
    workers = [_worker(argv, log) for log in logs[:2]]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(
            t.user_attrs.get("worker") != orphan.user_attrs["worker"]
            for t in load_study(storage, "shared").get_trials(states=(State.COMPLETE,))):
        time.sleep(0.2)
    workers.append(_worker(argv, logs[2]))  # joins a study that is under way
    codes = [worker.wait(timeout=300) for worker in workers]
    outputs = [log.read_text() for log in logs]
    assert codes == [0, 0, 0], outputs
    for output in outputs:
        assert re.search(r"^dashboard: optuna-dashboard 'postgresql\+psycopg://", output, re.M)
        assert int(re.search(r"^trials: (\d+)", output, re.M)[1]) >= 13  # the killed one too

    trials = load_study(storage, "shared").trials
    by_state = {state: [t for t in trials if t.state == state] for state in State}
    complete, failed = by_state[State.COMPLETE], by_state[State.FAIL]
    summary = [(t.number, t.state.name, t.system_attrs.get("failed_trial")) for t in trials]
    assert 12 <= len(complete) <= 12 + 2, summary  # at most workers - 1 in flight past the target
    assert not by_state[State.RUNNING] and not by_state[State.WAITING], (summary, outputs)
    assert orphan.number in [t.number for t in failed]
    retries = {t.system_attrs.get("failed_trial"): t for t in complete}
    for stale in failed:  # every failed trial ran again with its parameters: nothing lost
        assert retries[stale.number].params == stale.params
    parameter_sets = [tuple(sorted(t.params.items())) for t in complete]
    assert len(set(parameter_sets)) == len(parameter_sets)  # one seed, no replayed trial
    assert optuna.get_all_study_names(storage) == ["shared"]
