"""Training rounds: prepare a round's folder, run it in its own process, read its results.

A round is the folder ``rounds/K/``. The server writes ``round.json`` (what
the round uses and how much feedback led to it), ``E.npy`` (the merged
annotations at that moment) and ``supervised.npy`` (the samples whose
annotations the loss sees: all of them, or only those rated "wrong reason",
as in GRADIA's reasonability matrix), then starts :mod:`xsup.app._train`
in a separate process. That process reports through ``state.json`` and
leaves ``saliency.npy``, ``outputs.npy`` and ``iou.npy`` behind. The round
history is the list of these folders.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from xsup.app._annotations import MERGES, AnnotationStore
from xsup.app._files import read_json, write_atomic, write_json

__all__ = ["ACTIVE", "RoundBusy", "Rounds", "UnknownRound"]

#: States of a round whose process is still at work.
ACTIVE = ("starting", "training", "explaining")


class RoundBusy(Exception):
    """Another round is still running (a project trains one round at a time)."""


class UnknownRound(LookupError):
    """No round has this number."""


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Rounds:
    """The rounds of one project.

    Parameters
    ----------
    store : AnnotationStore
        The project's annotations (and, through it, the project and its database).
    """

    def __init__(self, store: AnnotationStore) -> None:
        self.store = store
        self.project = store.project
        self._processes: dict[int, subprocess.Popen[bytes]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ reading
    def folder(self, round_: int) -> Path:
        """Folder of one round."""
        return self.project.rounds_folder / str(int(round_))

    def numbers(self) -> list[int]:
        """Numbers of the rounds that exist, ascending."""
        folder = self.project.rounds_folder
        if not folder.is_dir():
            return []
        return sorted(int(entry.name) for entry in folder.iterdir()
                      if entry.name.isdigit() and (entry / "round.json").is_file())

    def info(self, round_: int) -> dict[str, Any]:
        """What a round used and where it stands (``status``, progress, scores).

        Raises
        ------
        UnknownRound
            No such round.
        """
        folder = self.folder(round_)
        if not (folder / "round.json").is_file():
            raise UnknownRound(f"no such round: {round_}; rounds: "
                               f"{', '.join(map(str, self.numbers())) or 'none'}.")
        process = self._processes.get(round_)
        running = process is not None and process.poll() is None  # asked before the state is read
        info = read_json(folder / "round.json")
        try:
            info.update(read_json(folder / "state.json"))
        except FileNotFoundError:  # the process has not reported yet
            info["status"] = "starting"
        if process is None:  # started by an earlier server: its pid tells
            running = _alive(info.get("pid"))
        if info["status"] in ACTIVE and not running:
            info["status"] = "interrupted"
        return info

    def history(self) -> list[dict[str, Any]]:
        """Every round's :meth:`info`, oldest first."""
        return [self.info(k) for k in self.numbers()]

    def latest(self) -> int | None:
        """The newest round that finished, or None."""
        done = [k for k in self.numbers() if self.info(k)["status"] == "done"]
        return done[-1] if done else None

    def check_done(self, round_: Any) -> int:
        """``round_`` if that round finished, else raise ``ValueError`` (``TypeError``: not an int)."""
        if isinstance(round_, bool) or not isinstance(round_, int):
            raise TypeError(f"round must be an integer; got {round_!r}.")
        try:
            status = self.info(round_)["status"]
        except UnknownRound as unknown:
            raise ValueError(str(unknown)) from None
        if status != "done":
            raise ValueError(f"round {round_} has no results (it is {status}).")
        return round_

    def results(self, round_: int) -> dict[str, Any]:
        """Memory maps of a finished round's ``saliency``, ``outputs`` and ``iou``, and ``classes``."""
        folder = self.folder(round_)
        results: dict[str, Any] = {name: np.load(folder / f"{name}.npy", mmap_mode="r")
                                   for name in ("saliency", "outputs", "iou")}
        classes = folder / "classes.json"
        results["classes"] = read_json(classes) if classes.is_file() else None
        return results

    # ------------------------------------------------------------------ starting and stopping
    def _running(self) -> list[int]:
        return [k for k in self.numbers() if self.info(k)["status"] in ACTIVE]

    def _launch(self, round_: int) -> None:
        folder = self.folder(round_)
        with open(folder / "log.txt", "ab") as log:
            self._processes[round_] = subprocess.Popen(
                [sys.executable, "-m", "xsup.app._train", str(self.project.path), str(round_)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.project.path, start_new_session=True,
            )

    def start(self, *, annotators: list[str] | None = None, merge: str = "mean",
              wrong_reason_only: bool = False, source: str = "train") -> dict[str, Any]:
        """Prepare and start the next round; return its :meth:`info`.

        Parameters
        ----------
        annotators : list of str or None, default=None
            Layers (and raters) to use; None uses everyone's.
        merge : {"mean", "majority"}, default="mean"
            How layers are combined (see :func:`load_annotations`).
        wrong_reason_only : bool, default=False
            Supervise only the samples rated "wrong reason" on the latest
            finished round; the others train on the prediction loss alone.
        source : {"train", "model"}, default="train"
            Fit the project's estimator, or review the model in ``model/``.

        Raises
        ------
        RoundBusy
            A round is still running.
        ValueError
            A bad argument, or nothing to supervise.
        """
        if merge not in MERGES:
            raise ValueError(f"merge must be one of {', '.join(MERGES)}; got {merge!r}.")
        if source not in ("train", "model"):
            raise ValueError(f"source must be 'train' or 'model'; got {source!r}.")
        model = self.project.path / "model"
        if source == "model" and not (model / "params.pt").is_file():
            raise ValueError("the project has no model/params.pt to review "
                             "(add one with xsup.app.add_model).")
        if source == "train" and self.project.y is None:
            raise ValueError("the project has no labels y: create it with y to train rounds.")
        names = self.project.annotators() if annotators is None else list(annotators)
        with self._lock:
            if self._running():
                raise RoundBusy("a round is still running; wait for it or cancel it.")
            E = self.store.merged(names, merge)
            supervised = np.ones(self.project.n_samples, dtype=bool)
            if wrong_reason_only:
                supervised = self._rated_wrong(names if annotators is not None else None)
            numbers = self.numbers()
            round_ = numbers[-1] + 1 if numbers else 1
            previous = self.info(numbers[-1])["created"] if numbers else 0.0
            now = time.time()
            folder = self.folder(round_)
            folder.mkdir(parents=True)
            write_atomic(folder / "E.npy", lambda file: np.save(file, E, allow_pickle=False))
            np.save(folder / "supervised.npy", supervised, allow_pickle=False)
            marked = (np.isfinite(E) & (E != 0)).reshape(len(E), -1).any(axis=1)
            database = self.store.database
            write_json(folder / "round.json", {
                "round": round_, "created": now, "source": source, "annotators": names,
                "merge": merge, "wrong_reason_only": wrong_reason_only,
                "n_annotated": int(marked.sum()), "n_supervised": int((marked & supervised).sum()),
                "strokes": database.count_events("save", previous, now),
                "ratings": database.count_events("rating", previous, now),
                "estimator": self.project.estimator_config(),
            })
            with database.transaction() as connection:
                database.add_event(connection, "round", detail=str(round_))
            self._launch(round_)
        return self.info(round_)

    def _rated_wrong(self, raters: list[str] | None) -> np.ndarray:
        latest = self.latest()
        if latest is None:
            raise ValueError("no finished round has been rated yet: train a round, rate its "
                             "saliency maps, then supervise the 'wrong reason' samples.")
        mask = np.zeros(self.project.n_samples, dtype=bool)
        for rater, sample, _, rating in self.store.database.ratings(round_=latest):
            if rating == "wrong" and (raters is None or rater in raters):
                mask[sample] = True
        if not mask.any():
            raise ValueError(f"no sample of round {latest} is rated 'wrong reason'.")
        return mask

    def resume(self, round_: int) -> dict[str, Any]:
        """Run an interrupted, cancelled or failed round again (its checkpoints resume it)."""
        with self._lock:
            status = self.info(round_)["status"]
            if status not in ("interrupted", "cancelled", "failed"):
                raise ValueError(f"round {round_} is {status}; only an interrupted, cancelled "
                                 "or failed round can be resumed.")
            if self._running():
                raise RoundBusy("a round is still running; wait for it or cancel it.")
            write_json(self.folder(round_) / "state.json",
                       {"status": "starting", "time": time.time()})
            self._launch(round_)
        return self.info(round_)

    def cancel(self, round_: int) -> dict[str, Any]:
        """Stop a running round (its last checkpoint stays, so it can be resumed)."""
        info = self.info(round_)
        if info["status"] not in ACTIVE:
            raise ValueError(f"round {round_} is {info['status']}, not running.")
        process = self._processes.get(round_)
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        elif _alive(info.get("pid")):
            os.kill(info["pid"], 15)
        write_json(self.folder(round_) / "state.json",
                   {"status": "cancelled", "time": time.time()})
        return self.info(round_)

    def close(self) -> None:
        """Reap finished processes (running rounds go on and report through their files)."""
        for process in self._processes.values():
            process.poll()
