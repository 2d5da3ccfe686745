"""Crash-safe checkpoints that restore a whole explanation-supervised fit, and resuming from them.

skorch's :class:`~skorch.callbacks.Checkpoint` saves the module, the optimizer,
the prediction criterion and the history. An explanation-supervised net has
more learnable state: the parts of its loss (RES-L's imputation convolutions,
STES's decay MLP) and of its interpolator (the STES interpolator), registered
as ``loss_`` and ``interpolator_``. :class:`Checkpoint` saves them too, writes
each checkpoint so that a process killed at any instant leaves the previous
one intact, keeps every fit (CV fold, tuning trial) in its own directory, and
resumes a fit with ``resume=True``.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from contextlib import suppress
from typing import Any

import torch
from skorch.callbacks import Checkpoint as SkorchCheckpoint
from skorch.callbacks import LoadInitState as SkorchLoadInitState
from skorch.callbacks import ProgressBar
from skorch.utils import noop

from xsup._fingerprint import fit_fingerprint

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "IncompleteCheckpointWarning",
    "LoadInitState",
    "ProgressBar",
    "fit_fingerprint",
    "warn_incomplete_checkpoints",
]

#: Learnable plugin parts of a net, saved by :class:`Checkpoint` as ``f_<name>`` files.
PLUGIN_PARTS = ("loss", "interpolator")


class CheckpointError(ValueError):
    """A checkpoint file or folder that cannot be loaded; the message names it."""


class IncompleteCheckpointWarning(UserWarning):
    """A checkpoint callback that does not save every learnable part of the net."""


def warn_incomplete_checkpoints(net: Any) -> None:
    """Warn about skorch checkpoints that would save and restore only part of what a net learns.

    skorch's own :class:`~skorch.callbacks.Checkpoint` saves the module, the
    optimizer and the prediction criterion. A loss or interpolator with
    learnable parameters (STES's decay MLP and learned interpolator, RES-L's
    imputation) is saved only when the checkpoint is given ``f_loss`` /
    ``f_interpolator``; otherwise a ``LoadInitState`` restore silently starts
    them from scratch. :class:`Checkpoint` saves them by default.
    """
    learnable = [
        name for name in PLUGIN_PARTS
        if any(p.numel() for p in getattr(getattr(net, f"{name}_", None), "parameters", list)())
    ]
    for label, callback in getattr(net, "callbacks_", []):
        if not isinstance(callback, SkorchCheckpoint) or isinstance(callback, Checkpoint):
            continue
        missing = [name for name in learnable if getattr(callback, f"f_{name}", None) is None]
        if missing:
            parts = " and ".join(f"{name}_ ({type(getattr(net, name + '_')).__name__})"
                                 for name in missing)
            options = ", ".join(f"f_{name}='{name}.pt'" for name in missing)
            warnings.warn(
                f"callbacks: skorch's Checkpoint {label!r} does not save the learnable {parts}, so "
                f"restoring from it (LoadInitState) would start them from scratch; use "
                f"xsup.callbacks.Checkpoint, or pass {options}.",
                IncompleteCheckpointWarning,
                stacklevel=2,
            )

#: Name of the file that names the directory of the last complete checkpoint.
LATEST = "latest"

def _fsync(path: str) -> None:
    """Flush a file (or, where the system allows, a directory entry) to disk."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) if os.path.isdir(path) else os.O_RDONLY
    with suppress(OSError):
        descriptor = os.open(path, flags)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _random_states() -> dict[str, torch.Tensor]:
    states = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        states.update({f"cuda:{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    return states


def _set_random_states(states: Mapping[str, torch.Tensor]) -> None:
    torch.set_rng_state(states["cpu"])
    cuda = [states[key] for key in sorted(states) if key.startswith("cuda:")]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


class Checkpoint(SkorchCheckpoint):
    """skorch's ``Checkpoint`` that saves everything a fit learns and survives being killed.

    Besides skorch's files (``params.pt``, ``optimizer.pt``, ``criterion.pt``,
    ``history.json``) it saves the learnable parts of the explanation loss
    (``loss.pt``) and of the interpolator (``interpolator.pt``) and torch's
    random number generator states (``rng_state.pt``), so that a resumed
    seeded fit continues exactly as the uninterrupted one would have.

    Each checkpoint is written into a fresh directory, flushed to disk, and
    only then made current by atomically replacing the small file
    ``latest`` that names it; older checkpoint directories are removed
    afterwards. A process killed at any instant (SIGKILL, out of memory, a
    preempted job) thus leaves the last complete checkpoint loadable.

    With ``separate_fits=True`` (default) every fit writes under
    ``dirname/fit-<fingerprint>`` where the fingerprint hashes the training
    data and the hyperparameters (:func:`fit_fingerprint`): parallel CV folds
    and tuning trials sharing one callback configuration never overwrite or
    load each other's files, and the same fit run again finds its own.

    Parameters
    ----------
    monitor : str, callable or None, default="valid_loss_best"
        When to save, as in skorch (``None``: after every epoch).
    f_params, f_optimizer, f_criterion, f_loss, f_interpolator, f_history : str or None
        File names of the module, optimizer, prediction criterion, explanation
        loss, interpolator and history; None leaves one out. They may hold
        skorch's format fields (``"params_{last_epoch[epoch]}.pt"``).
    f_rng_state : str or None, default="rng_state.pt"
        File of torch's random number generator states; restored on resume
        only for a net with ``random_state`` set (its fit runs on a forked
        generator, so the caller's random state is left alone).
    f_pickle : str or None, default=None
        File for the whole pickled net.
    fn_prefix : str, default=""
        Prefix of every file name.
    dirname : str, default=""
        Directory of the checkpoints (the working directory when empty).
    event_name : str or None, default="event_cp"
        History column recording whether an epoch was saved.
    sink : callable, default=noop
        Receives a line per checkpoint (e.g. ``print``).
    load_best : bool, default=False
        Load the last checkpoint when training ends (with a ``monitor``).
    use_safetensors : bool, default=False
        Save module states with safetensors (then ``f_optimizer=None``).
    resume : bool, default=False
        At the start of the first training after the net is initialised,
        load this fit's last checkpoint if there is one, and train only the
        epochs that are missing from ``max_epochs`` (a fit that had finished
        trains none). Without a checkpoint, train from scratch.
    separate_fits : bool, default=True
        Write under ``dirname/fit-<fingerprint>``; False writes directly into
        ``dirname`` (one fit per directory is then the user's business).
    **kwargs
        ``f_<name>`` for further torch components ``net.<name>_``.

    Attributes
    ----------
    fit_dirname_ : str
        Directory of the fit being trained (set when training begins).

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from xsup import ExplanationSupervisedClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(16, 4)).astype("float32"); y = (X[:, 0] > 0).astype(int)
    >>> folder = tempfile.mkdtemp()
    >>> def make():
    ...     cp = Checkpoint(monitor=None, dirname=folder, resume=True)
    ...     return ExplanationSupervisedClassifier(max_epochs=3, train_split=None, verbose=0,
    ...                                            random_state=0, callbacks=[cp])
    >>> len(make().set_params(max_epochs=2).fit(X, y).history)  # interrupted after 2 epochs
    2
    >>> [row["epoch"] for row in make().fit(X, y).history]  # resumed: trains epoch 3 only
    [1, 2, 3]
    """

    def __init__(
        self,
        monitor: Any = "valid_loss_best",
        f_params: str | None = "params.pt",
        f_optimizer: str | None = "optimizer.pt",
        f_criterion: str | None = "criterion.pt",
        f_loss: str | None = "loss.pt",
        f_interpolator: str | None = "interpolator.pt",
        f_rng_state: str | None = "rng_state.pt",
        f_history: str | None = "history.json",
        f_pickle: str | None = None,
        fn_prefix: str = "",
        dirname: str = "",
        event_name: str | None = "event_cp",
        sink: Any = noop,
        load_best: bool = False,
        use_safetensors: bool = False,
        resume: bool = False,
        separate_fits: bool = True,
        **kwargs: Any,
    ) -> None:
        self.f_loss = f_loss
        self.f_interpolator = f_interpolator
        self.f_rng_state = f_rng_state
        self.resume = resume
        self.separate_fits = separate_fits
        super().__init__(
            monitor=monitor, f_params=f_params, f_optimizer=f_optimizer,
            f_criterion=f_criterion, f_history=f_history, f_pickle=f_pickle,
            fn_prefix=fn_prefix, dirname=dirname, event_name=event_name, sink=sink,
            load_best=load_best, use_safetensors=use_safetensors, **kwargs,
        )

    # ------------------------------------------------------------------ where the files are
    def _files(self) -> dict[str, Any]:
        """The ``f_*`` files that skorch's ``save_params`` and ``load_params`` handle, by option."""
        return {
            key: getattr(self, key) for key in dir(self)
            if key.startswith("f_") and key not in ("f_history_", "f_rng_state")
        }

    def initialize(self) -> Checkpoint:
        """Check that every file is a name (a crash-safe checkpoint writes files it renames)."""
        for key, value in {**self._files(), "f_rng_state": self.f_rng_state}.items():
            if value is not None and not isinstance(value, str):
                raise TypeError(
                    f"Checkpoint({key}=...) must be a file name or None; got "
                    f"{type(value).__name__}."
                )
        self.resumed_ = False
        self.max_epochs_to_restore_ = None
        return super().initialize()

    def bind(self, net: Any, X: Any = None, y: Any = None) -> str:
        """Set and create :attr:`fit_dirname_`, the directory of the fit on ``(X, y)``."""
        directory = self.dirname
        if self.separate_fits:
            directory = os.path.join(directory, f"fit-{fit_fingerprint(net, X, y)}")
        os.makedirs(directory or ".", exist_ok=True)
        self.fit_dirname_ = directory
        return directory

    def _fit_dirname(self) -> str:
        directory = getattr(self, "fit_dirname_", None)
        if directory is None:
            if not self.separate_fits:
                return self.dirname
            raise ValueError(
                "Checkpoint(separate_fits=True) has not seen the training data yet, so it "
                "cannot tell which directory holds this fit: list it before skorch's "
                "LoadInitState in callbacks, or use xsup.callbacks.LoadInitState."
            )
        return directory

    def latest_dirname(self) -> str:
        """Directory of the last complete checkpoint of this fit.

        Raises
        ------
        FileNotFoundError
            This fit has no complete checkpoint yet.
        """
        directory = self._fit_dirname()
        pointer = os.path.join(directory, LATEST)
        with open(pointer, encoding="utf-8") as file:
            name = file.read().strip()
        if not name.startswith("epoch-") or os.path.basename(name) != name or name in (".", ".."):
            raise CheckpointError(
                f"checkpoint pointer {pointer} names {name!r}, not a checkpoint folder beside it "
                "(epoch-...); the file is damaged or was edited: delete it to train from scratch."
            )
        return os.path.join(directory, name)

    def _format_in(self, directory: str, net: Any, f: Any, idx: int) -> Any:
        if not isinstance(f, str):
            return f
        last_epoch = net.history[idx] if net.history else {}
        last_batch = net.history[idx, "batches", -1] if net.history else {}
        name = self.fn_prefix + f.format(net=net, last_epoch=last_epoch, last_batch=last_batch)
        return os.path.join(directory, name)

    @property
    def f_history_(self) -> str | None:  # type: ignore[override]
        """History file of the last complete checkpoint (read by skorch's ``load_params``)."""
        if self.f_history is None:
            return None
        return os.path.join(self.latest_dirname(), self.fn_prefix + self.f_history)

    def get_formatted_files(self, net: Any) -> dict[str, Any]:
        """Files of the last complete checkpoint, formatted for the epoch it was taken at."""
        directory = self.latest_dirname()
        idx = -1
        if self.event_name is not None and net.history:
            flags = [row.get(self.event_name) for row in net.history]
            idx = max((i for i, flag in enumerate(flags) if flag), default=-1)
        return {key: self._format_in(directory, net, val, idx)
                for key, val in self._files().items()}

    # ------------------------------------------------------------------ saving
    def save_model(self, net: Any) -> None:
        """Write a complete checkpoint into a new directory, then make it the latest.

        Unlike skorch's, a file that cannot be written raises instead of being
        reported to ``sink`` and skipped.
        """
        directory = self._fit_dirname()
        os.makedirs(directory or ".", exist_ok=True)
        target = tempfile.mkdtemp(prefix=f"epoch-{len(net.history):06d}-", dir=directory or ".")
        files = {key: self._format_in(target, net, value, -1)
                 for key, value in self._files().items() if value is not None}
        pickled = files.pop("f_pickle", None)
        net.save_params(**files, use_safetensors=self.use_safetensors)
        if self.f_rng_state is not None:
            torch.save(_random_states(), self._format_in(target, net, self.f_rng_state, -1))
        if pickled is not None:
            with open(pickled, "wb") as file:
                pickle.dump(net, file)
        for name in os.listdir(target):
            _fsync(os.path.join(target, name))
        _fsync(target)
        pointer = os.path.join(directory, LATEST)
        with open(pointer + ".tmp", "w", encoding="utf-8") as file:
            file.write(os.path.basename(target))
            file.flush()
            os.fsync(file.fileno())
        os.replace(pointer + ".tmp", pointer)
        _fsync(directory or ".")
        current = os.path.basename(target)
        for name in os.listdir(directory or "."):
            path = os.path.join(directory, name)
            if name.startswith("epoch-") and name != current and os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)

    # ------------------------------------------------------------------ loading
    def restore(self, net: Any) -> bool:
        """Load the last complete checkpoint of the bound fit into ``net``.

        Loads every file :meth:`get_formatted_files` names (module, optimizer,
        criterion, loss, interpolator, history) through skorch's
        ``load_params`` (``torch.load(..., weights_only=True)`` unless the net's
        ``torch_load_kwargs`` say otherwise), the random number generator states
        of a seeded net, and the best scores that skorch's scoring callbacks
        compare new epochs with.

        Returns
        -------
        bool
            False when the fit has no complete checkpoint yet.
        """
        try:
            directory = self.latest_dirname()
        except FileNotFoundError:
            return False
        if not net.initialized_:
            net.initialize()
        if self.f_history is not None:  # first: the other files are named after its epochs
            _load_file(net, "f_history", self.f_history_)
        for key, path in self.get_formatted_files(net).items():
            if key not in ("f_history", "f_pickle") and path is not None:
                _load_file(net, key, path, use_safetensors=self.use_safetensors)
        if self.f_rng_state is not None and getattr(net, "random_state", None) is not None:
            path = self._format_in(directory, net, self.f_rng_state, -1)
            with suppress(FileNotFoundError):
                _set_random_states(_read(path, lambda: torch.load(
                    path, map_location="cpu", weights_only=True)))
        _restore_best_scores(net)
        return True

    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        """Find this fit's directory; with ``resume=True`` load its last checkpoint."""
        self.bind(net, X, y)
        if not self.resume or self.resumed_:
            return
        self.resumed_ = True
        if self.restore(net):
            self.max_epochs_to_restore_ = net.max_epochs
            net.max_epochs = max(0, net.max_epochs - len(net.history))
            self._sink(f"Resumed after epoch {len(net.history)} from "
                       f"{self.latest_dirname()}.", net.verbose)

    def on_epoch_begin(self, net: Any, **kwargs: Any) -> None:
        """Give back ``max_epochs`` once skorch has read how many epochs remain."""
        self._restore_max_epochs(net)

    def on_train_end(self, net: Any, **kwargs: Any) -> None:
        """Give back ``max_epochs``; load the best checkpoint if ``load_best``."""
        self._restore_max_epochs(net)
        super().on_train_end(net, **kwargs)

    def _restore_max_epochs(self, net: Any) -> None:
        if getattr(self, "max_epochs_to_restore_", None) is not None:
            net.max_epochs = self.max_epochs_to_restore_
            self.max_epochs_to_restore_ = None


def _read(path: str, load: Any) -> Any:
    """``load()``, with a failure to read ``path`` reported as a :class:`CheckpointError` naming it."""
    try:
        return load()
    except FileNotFoundError:
        raise
    except (OSError, EOFError, RuntimeError, ValueError, pickle.UnpicklingError) as error:
        reason = f"{type(error).__name__}: {error}".strip().rstrip(":")
        raise CheckpointError(
            f"checkpoint file {path} cannot be loaded ({reason}); it is truncated, empty or not "
            "a checkpoint: delete its folder to train from scratch."
        ) from error


def _load_file(net: Any, key: str, path: str, **kwargs: Any) -> None:
    """Load one checkpoint file into ``net`` through skorch's ``load_params``."""
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint file {path} is missing; the checkpoint is incomplete.")
    _read(path, lambda: net.load_params(**{key: path}, **kwargs))


def _restore_best_scores(net: Any) -> None:
    """Let scoring callbacks compare new epochs with the best one of a loaded history."""
    for _, callback in getattr(net, "callbacks_", []):
        name = getattr(callback, "name_", None) or getattr(callback, "name", None)
        if not hasattr(callback, "best_score_") or not isinstance(name, str):
            continue
        best = [i for i, row in enumerate(net.history) if row.get(f"{name}_best")]
        if best:
            callback.best_score_ = net.history[best[-1], name]


class LoadInitState(SkorchLoadInitState):
    """skorch's ``LoadInitState`` that restores everything an xsup :class:`Checkpoint` saves.

    At the start of training it loads the checkpoint's last complete state
    (module, optimizer, criterion, loss, interpolator, history and, for a
    seeded net, the random number generator states), then trains
    ``max_epochs`` more epochs, as skorch's does. Its place in ``callbacks``
    does not matter. For "finish the planned epochs" use
    ``Checkpoint(resume=True)`` instead.

    Parameters
    ----------
    checkpoint : Checkpoint
        The checkpoint to load from (any skorch checkpoint works as in skorch).
    use_safetensors : bool, default=False
        As in skorch, for a skorch checkpoint.
    """

    def on_train_begin(self, net: Any, X: Any = None, y: Any = None, **kwargs: Any) -> None:
        """Load the checkpoint once per initialisation of the net."""
        if not isinstance(self.checkpoint, Checkpoint):
            super().on_train_begin(net, X=X, y=y, **kwargs)
            return
        self.checkpoint.bind(net, X, y)
        if not self.did_load_:
            self.did_load_ = True
            self.checkpoint.restore(net)

