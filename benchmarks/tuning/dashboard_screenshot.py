"""Take the screenshot of optuna-dashboard that docs/tuning.md shows, from a real study.

Runs a two-objective search (accuracy and explanation IoU) of RES on the
decoy digits of ``xsup tune --data digits --quick``, serves the stored study with
``optuna-dashboard`` on 127.0.0.1, and photographs the study page with a
headless Chromium. Needs the ``dashboard`` extra and a Chromium binary.

    python benchmarks/tuning/dashboard_screenshot.py [--out docs/tuning-dashboard.png]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Headless, offline Chromium: no GPU, no sandbox (root in containers), nothing fetched.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--window-size=1400,1100", "--virtual-time-budget=20000",
]


def run_study(path: Path, n_trials: int) -> None:
    """A real search, stored in the SQLite file ``path``."""
    import optuna

    from xsup import ExplanationSupervisedClassifier
    from xsup.cli.tune import load_data
    from xsup.metrics import explanation_scorer
    from xsup.tuning import tune

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X, y, E = load_data("digits", None, quick=True, seed=0)
    net = ExplanationSupervisedClassifier(loss="res", max_epochs=10, train_split=None, verbose=0,
                                          random_state=0)
    tune(net, X, y, E, n_trials=n_trials, cv=2, storage=path, study_name="res-decoy-digits",
         scoring=["accuracy", explanation_scorer("iou")], random_state=0)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def screenshot(storage: Path, out: Path, browser: str) -> None:
    """Serve ``storage`` with optuna-dashboard and save its study page as ``out``."""
    port = _free_port()
    command = shutil.which("optuna-dashboard", path=str(Path(sys.executable).parent))
    server = subprocess.Popen(
        [command or "optuna-dashboard", f"sqlite:///{storage}", "--host", "127.0.0.1", "--port",
         str(port), "--quiet"],
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/api/studies")
        subprocess.run(
            [browser, *CHROMIUM_FLAGS, f"--screenshot={out}",
             f"http://127.0.0.1:{port}/dashboard/studies/1"],
            check=True, capture_output=True, timeout=180,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "tuning-dashboard.png")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--browser", default=shutil.which("chromium") or "chromium")
    parser.add_argument("--storage", type=Path, default=None,
                        help="photograph this SQLite study instead of running a new one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        storage = args.storage
        if storage is None:
            storage = Path(folder) / "search.db"
            run_study(storage, args.trials)
        screenshot(storage.resolve(), args.out.resolve(), args.browser)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
