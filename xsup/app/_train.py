"""One training round, run as its own process: ``python -m xsup.app._train PROJECT ROUND``.

The server prepares ``rounds/K/`` (``round.json``, the annotations ``E.npy``
and which samples to supervise, ``supervised.npy``) and starts this module;
the two meet only through files. The round fits the project's estimator with
an :class:`xsup.callbacks.Checkpoint` after every epoch (so a killed round
resumes where it stopped), reports its progress in ``state.json``, saves the
model's parameters, then computes the saliency maps, predictions and
per-sample IoU that the review screen shows.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from skorch.callbacks import Callback

from xsup.app._estimator import build_estimator, load_model
from xsup.app._files import read_json, write_atomic, write_json
from xsup.app._project import Project

__all__ = ["EXPLAIN_BATCH", "Progress", "main", "run_round", "write_state"]

#: Samples explained at a time, so the saliency of a large project is never held whole.
EXPLAIN_BATCH = 256

#: Seconds between two progress reports within an epoch.
_REPORT_EVERY = 0.5


def write_state(folder: Path, *, durable: bool = False, **state: Any) -> None:
    """Replace the round's ``state.json`` (the server reads it to show progress).

    Progress reports are not flushed to disk (a lost one is harmless); the
    final state of a round is (``durable=True``).
    """
    write_json(folder / "state.json", {"time": time.time(), "pid": os.getpid(), **state},
               durable=durable)


class Progress(Callback):
    """A skorch callback that reports epochs and batches to ``state.json``.

    Parameters
    ----------
    folder : pathlib.Path
        The round's folder.
    max_epochs : int
        Epochs the fit trains in all (a resumed fit trains the missing ones).
    n_batches : int
        Training batches per epoch.
    """

    def __init__(self, folder: Path, max_epochs: int, n_batches: int) -> None:
        self.folder = folder
        self.max_epochs = max_epochs
        self.n_batches = n_batches

    def initialize(self) -> Progress:
        """Forget the time of the last report."""
        self.reported_ = 0.0
        self.batch_ = 0
        return self

    def _report(self, net: Any, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self.reported_ < _REPORT_EVERY:
            return
        self.reported_ = now
        row = net.history[-1] if len(net.history) else {}
        write_state(self.folder, status="training", epoch=len(net.history),
                    max_epochs=self.max_epochs, batch=self.batch_, n_batches=self.n_batches,
                    train_loss=row.get("train_loss"))

    def on_epoch_begin(self, net: Any, **kwargs: Any) -> None:
        """Count batches from zero."""
        self.batch_ = 0

    def on_batch_end(self, net: Any, training: bool = False, **kwargs: Any) -> None:
        """Report the batch, at most twice a second."""
        if training:
            self.batch_ += 1
            self._report(net, force=False)

    def on_epoch_end(self, net: Any, **kwargs: Any) -> None:
        """Report the finished epoch."""
        self._report(net, force=True)


def _fit(project: Project, folder: Path, meta: dict[str, Any]) -> Any:
    """Fit the project's estimator on the round's annotations; save its parameters."""
    from xsup.callbacks import Checkpoint

    if project.y is None:
        raise ValueError("the project has no labels y: create it with y to train rounds.")
    E = np.load(folder / "E.npy", mmap_mode="r")
    supervised = np.load(folder / "supervised.npy")
    E_train = np.where(supervised.reshape(-1, *[1] * (E.ndim - 1)), E, np.nan).astype(np.float32)
    net = build_estimator(project, meta["estimator"])  # as recorded when the round began
    batches = -(-project.n_samples // max(1, int(net.batch_size)))
    checkpoint = Checkpoint(monitor=None, dirname=str(folder / "checkpoints"), resume=True)
    net.set_params(verbose=0, callbacks=[Progress(folder, int(net.max_epochs), batches),
                                         checkpoint])
    net.fit(project.X, project.y, E_train)
    model = folder / "model"
    model.mkdir(exist_ok=True)
    for key, name in (("f_params", "params.pt"), ("f_loss", "loss.pt"),
                      ("f_interpolator", "interpolator.pt")):
        write_atomic(model / name, lambda file, key=key: net.save_params(**{key: file}))
    history = json.dumps(net.history.to_list(), default=str).encode()
    write_atomic(model / "history.json", lambda file: file.write(history))
    return net


def _explain(project: Project, folder: Path, net: Any) -> dict[str, Any]:
    """Saliency, predictions and per-sample IoU of every sample; the round's scores."""
    from xsup.metrics import explanation_iou

    E = np.load(folder / "E.npy", mmap_mode="r")
    n = project.n_samples
    saliency = np.lib.format.open_memmap(folder / "saliency.partial.npy", mode="w+",
                                         dtype=np.float16, shape=E.shape)
    iou = np.full(n, np.nan, dtype=np.float32)
    classifier = hasattr(net, "predict_proba") and hasattr(net, "classes_")
    outputs = []
    for start in range(0, n, EXPLAIN_BATCH):
        write_state(folder, status="explaining", done=start, total=n)
        X = np.asarray(project.X[start : start + EXPLAIN_BATCH])
        S = net.explain(X)
        saliency[start : start + len(X)] = S
        outputs.append(net.predict_proba(X) if classifier else net.predict(X).reshape(len(X), -1))
        with warnings.catch_warnings():  # unannotated samples: NaN, as wanted
            warnings.simplefilter("ignore")
            for offset in range(len(X)):
                iou[start + offset] = explanation_iou(S[offset : offset + 1],
                                                      E[start + offset : start + offset + 1],
                                                      average="macro")
    saliency.flush()
    del saliency
    (folder / "saliency.partial.npy").replace(folder / "saliency.npy")
    output = np.concatenate(outputs).astype(np.float32)
    np.save(folder / "outputs.npy", output, allow_pickle=False)
    np.save(folder / "iou.npy", iou, allow_pickle=False)
    scores: dict[str, Any] = {"mean_iou": _finite(np.nanmean(iou)) if np.isfinite(iou).any()
                              else None, "n_iou": int(np.isfinite(iou).sum())}
    if classifier:
        classes = [value.item() for value in np.asarray(net.classes_)]
        write_json(folder / "classes.json", classes, durable=False)
        if project.y is not None:
            predicted = np.asarray(net.classes_)[output.argmax(axis=1)]
            scores["accuracy"] = float(np.mean(predicted == project.y))
    history = getattr(net, "history", None)
    if history is not None and len(history) and "valid_acc" in history[-1]:
        scores["valid_acc"] = _finite(history[-1, "valid_acc"])
    return scores


def _finite(value: Any) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None


def run_round(project_path: str | Path, round_: int) -> None:
    """Train (or load) the round's model, explain every sample, and record the outcome."""
    project = Project(project_path)
    folder = project.rounds_folder / str(round_)
    meta = read_json(folder / "round.json")
    started = time.time()
    write_state(folder, status="training", epoch=0, max_epochs=None)
    net = load_model(project, project.path / "model") if meta["source"] == "model" \
        else _fit(project, folder, meta)
    scores = _explain(project, folder, net)
    write_state(folder, status="done", scores=scores, seconds=time.time() - started,
                durable=True)


def main(argv: list[str] | None = None) -> int:
    """Run one round; on failure record a one-line reason in ``state.json`` and return 1."""
    args = sys.argv[1:] if argv is None else argv
    project_path, round_ = args[0], int(args[1])
    folder = Project(project_path).rounds_folder / str(round_)
    try:
        run_round(project_path, round_)
    except Exception as error:  # noqa: BLE001 - any failure goes to the page (traceback: log.txt)
        traceback.print_exc()
        message = f"{type(error).__name__}: {error}".splitlines()[0]
        write_state(folder, status="failed", message=message, durable=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
