"""``tune``: an Optuna study over an explanation-supervised estimator, with E sliced per fold."""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import optuna
from joblib import Parallel, delayed
from sklearn import get_config
from sklearn.base import clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline

from xsup.tuning._pruning import FoldPruningCallback
from xsup.tuning._search_space import search_space
from xsup.validation import _is_lazy_array, check_tune_arguments

__all__ = ["resolve_storage", "tune"]

_JOURNAL_SUFFIXES = (".log", ".journal")
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")


def resolve_storage(
    storage: Any, *, heartbeat_interval: int | None = None, grace_period: int | None = None
) -> Any:
    """Turn a path or URL into what ``optuna.create_study(storage=...)`` takes.

    Parameters
    ----------
    storage : None, str, os.PathLike or optuna storage
        None: in memory. A path ending ``.db``, ``.sqlite`` or ``.sqlite3``:
        an embedded SQLite file. A path ending ``.log`` or ``.journal``: an
        append-only journal file (safe for several local processes). A URL
        (``"postgresql://..."``, ``"mysql://..."``, ``"sqlite:///..."``) or a
        storage object: passed through.
    heartbeat_interval : int or None, default=None
        Seconds between the heartbeats a running trial writes to a SQLite file
        or database URL (an ``optuna.storages.RDBStorage`` is built). A trial
        whose worker died (killed, out of memory, machine lost) stops beating;
        the next worker to start a trial marks it ``FAIL`` and re-runs its
        parameters (``RetryHeartbeatStaleTrialCallback``, at most 3 times).
        Without it such a trial stays ``RUNNING`` forever. Optuna's journal
        storage has no heartbeat: use a SQLite file or a database for it.
    grace_period : int or None, default=None
        Seconds without a heartbeat after which a trial is stale (Optuna's
        default: twice ``heartbeat_interval``). Needs ``heartbeat_interval``.

    Returns
    -------
    None, str or optuna.storages.BaseStorage

    Raises
    ------
    ValueError
        A path with another suffix; a heartbeat for storage that has none.

    Examples
    --------
    >>> resolve_storage("runs/study.db")  # doctest: +ELLIPSIS
    'sqlite:///.../runs/study.db'
    >>> type(resolve_storage(None))
    <class 'NoneType'>
    """
    if heartbeat_interval is not None or grace_period is not None:
        return _heartbeat_storage(storage, heartbeat_interval, grace_period)
    if storage is None or isinstance(storage, optuna.storages.BaseStorage):
        return storage
    if not isinstance(storage, (str, os.PathLike)):
        raise TypeError(
            f"storage must be None, a path, a database URL or an optuna storage; got "
            f"{type(storage).__name__}."
        )
    text = os.fspath(storage)
    if "://" in text:
        return text
    path = os.path.abspath(text)
    if path.endswith(_SQLITE_SUFFIXES):
        return f"sqlite:///{path}"
    if path.endswith(_JOURNAL_SUFFIXES):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(path))
    raise ValueError(
        f"storage {text!r}: expected a database URL (e.g. 'postgresql://...'), a SQLite file "
        f"ending {'/'.join(_SQLITE_SUFFIXES)} or a journal file ending "
        f"{'/'.join(_JOURNAL_SUFFIXES)}."
    )


def _heartbeat_storage(storage: Any, interval: int | None, grace: int | None) -> Any:
    """An RDB storage whose running trials beat, and whose stale trials are failed and retried."""
    for name, value in (("heartbeat_interval", interval), ("grace_period", grace)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 1):
            raise ValueError(f"{name} must be a positive whole number of seconds; got {value!r}.")
    if interval is None:
        raise ValueError(f"grace_period={grace!r} needs heartbeat_interval; got None.")
    url = resolve_storage(storage)
    if not isinstance(url, str):
        found = "in-memory storage" if url is None else type(url).__name__
        raise ValueError(
            "heartbeat_interval needs a SQLite file (.db) or a database URL, where Optuna "
            f"records heartbeats; got {found} (Optuna's journal storage has no heartbeat)."
        )
    with warnings.catch_warnings():  # Optuna marks the heartbeat experimental; asked for here
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            url, heartbeat_interval=interval, grace_period=grace,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                max_retry=3),
        )


class RowView:
    """Rows ``index`` of a lazily read array (a memory map, say), read only when indexed.

    A cross-validation fold of data bigger than memory: the estimator reads
    it batch by batch, like the array it comes from.

    Examples
    --------
    >>> view = RowView(np.arange(10).reshape(5, 2), np.array([4, 1]))
    >>> view.shape, view[1].tolist(), view[0:2].tolist()
    ((2, 2), [2, 3], [[8, 9], [2, 3]])
    """

    def __init__(self, array: Any, index: np.ndarray) -> None:
        self.array = array
        self.index = np.asarray(index)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.index), *self.array.shape[1:])

    @property
    def ndim(self) -> int:
        return int(self.array.ndim)

    @property
    def dtype(self) -> Any:
        return self.array.dtype

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, key: Any) -> Any:
        rows = self.index[key]
        return self.array[int(rows)] if np.ndim(rows) == 0 else self.array[rows]


def _take(a: Any, index: np.ndarray) -> Any:
    """Rows ``index`` of an array-like (array, DataFrame or list; a view of a memory map)."""
    if _is_lazy_array(a):
        return RowView(a, index)
    if hasattr(a, "iloc"):
        return a.iloc[index]
    if isinstance(a, (list, tuple)):
        return np.asarray(a)[index]
    return a[index]


def _suggest(trial: optuna.trial.Trial, name: str, distribution: Any) -> Any:
    """Sample one parameter from an Optuna distribution through the trial's public API."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if isinstance(distribution, FloatDistribution):
        return trial.suggest_float(
            name, distribution.low, distribution.high, log=distribution.log,
            step=distribution.step,
        )
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(
            name, distribution.low, distribution.high, log=distribution.log,
            step=distribution.step,
        )
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    raise TypeError(
        f"param_distributions[{name!r}] must be an optuna Float/Int/CategoricalDistribution; "
        f"got {type(distribution).__name__}."
    )


def _takes_E(scorer: Callable[..., Any]) -> bool:
    """Whether a scorer accepts annotations as ``E=``."""
    try:
        return "E" in inspect.signature(scorer).parameters
    except (TypeError, ValueError):
        return False


def _final(estimator: Any) -> tuple[Any, str]:
    """The last step of (nested) Pipelines and the prefix its fit parameters take."""
    prefix = ""
    while isinstance(estimator, Pipeline):
        name, estimator = estimator.steps[-1]
        prefix += f"{name}__"
    return estimator, prefix


def _fit_params(estimator: Any, E: Any) -> dict[str, Any]:
    if E is None:
        return {}
    if isinstance(estimator, Pipeline) and not get_config()["enable_metadata_routing"]:
        return {_final(estimator)[1] + "E": E}
    return {"E": E}


def _fit_and_score(
    estimator: Any, X: Any, y: Any, E: Any, train: np.ndarray, test: np.ndarray,
    scorers: list[Callable[..., Any]],
) -> list[float]:
    """Fit on one fold's training rows (with their annotations) and score its test rows."""
    E_train = None if E is None else _take(E, train)
    estimator.fit(_take(X, train), _take(y, train), **_fit_params(estimator, E_train))
    X_test, y_test = _take(X, test), _take(y, test)
    E_test = None if E is None else _take(E, test)
    return [
        float(scorer(estimator, X_test, y_test, E=E_test) if _takes_E(scorer)
              else scorer(estimator, X_test, y_test))
        for scorer in scorers
    ]


def _check_positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return int(value)


def tune(
    estimator: Any,
    X: Any,
    y: Any,
    E: Any = None,
    *,
    n_trials: int,
    param_distributions: dict[str, Any] | None = None,
    storage: Any = None,
    study_name: str | None = None,
    cv: Any = 3,
    scoring: Any = None,
    directions: str | Sequence[str] | None = None,
    pruning: bool = False,
    pruning_monitor: str = "valid_loss",
    sampler: Any = None,
    pruner: Any = None,
    n_jobs: int = 1,
    timeout: float | None = None,
    random_state: int | None = None,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    show_progress_bar: bool = False,
) -> optuna.Study:
    """Search hyperparameters with Optuna, cross-validating with each fold's annotations.

    Each trial samples ``param_distributions`` (default:
    :func:`~xsup.tuning.search_space` of the estimator), fits a clone with
    those parameters on every CV training fold with that fold's rows of ``E``,
    and scores the test fold. The trial's value is the mean score over the
    folds (per-fold scores are kept in ``trial.user_attrs["fold_scores"]``).

    Parameters
    ----------
    estimator : estimator or Pipeline
        An explanation-supervised estimator, or a Pipeline ending in one.
    X, y : array-like
        Inputs and targets; any array with ``shape`` and fancy ``__getitem__``
        (e.g. ``np.memmap``) is indexed per fold without a full copy.
    E : array-like or None
        Annotations, sliced with the same fold indices as ``X``.
    n_trials : int
        Target number of finished (complete or pruned) trials in the study. A
        study resumed from ``storage`` that already holds some runs only the
        missing ones; with several workers on one study, the workers stop
        once the study holds that many finished trials.
    param_distributions : dict or None
        Parameter name to Optuna distribution, replacing the default space.
    storage : None, str, os.PathLike or optuna storage
        See :func:`resolve_storage`: in memory (default), a SQLite file
        (``.db``), a journal file (``.log``/``.journal``, for several local
        processes) or a database URL (many machines).
    study_name : str or None
        Name of the study in ``storage``; default ``"xsup-tune"`` with a
        storage (so that re-running resumes it), a fresh name in memory.
    cv : int, CV splitter or iterable, default=3
        As in scikit-learn (stratified K-fold for classifiers).
    scoring : None, str, callable, or a list of them
        One scorer (None: the estimator's ``score``) for a single-objective
        study, or several (e.g. ``["accuracy", explanation_scorer("iou")]``)
        for a multi-objective one whose Pareto front is ``study.best_trials``.
        A scorer whose signature has ``E`` receives the test fold's annotations.
    directions : str, list of str or None
        ``"maximize"``/``"minimize"`` per scorer; default maximise all
        (scikit-learn scorers are greater-is-better).
    pruning : bool, default=False
        Prune unpromising trials from the per-epoch ``pruning_monitor``
        (single objective only; needs skorch's ``train_split`` for a
        ``valid_*`` column). Fold ``f``'s epoch ``e`` is reported as step
        ``f * max_epochs + e``; a column ending in ``loss`` is negated for a
        maximising study. Folds then run one after another.
    pruning_monitor : str, default="valid_loss"
        History column reported to the pruner.
    sampler, pruner : optuna sampler / pruner or None
        Defaults: ``TPESampler(seed=random_state)`` and ``MedianPruner()``.
    n_jobs : int, default=1
        Folds fitted in parallel through joblib (``-1``: all cores). The
        backend is joblib's current one (loky processes by default; a Dask or
        Ray cluster within ``joblib.parallel_config(backend=...)``). Trials
        run one after another in this process; more workers share a study
        through ``storage``.
    timeout : float or None
        Stop starting trials after this many seconds.
    random_state : int or None
        Seed of the default sampler.
    heartbeat_interval, grace_period : int or None
        Heartbeat of running trials in a SQLite or database ``storage`` (see
        :func:`resolve_storage`): a trial left ``RUNNING`` by a dead worker is
        marked ``FAIL`` by the next worker that starts a trial, and its
        parameters are tried again.
    show_progress_bar : bool, default=False
        Show Optuna's progress bar over this call's trials (on stderr). Optuna
        also logs a line per finished trial at its default verbosity.

    Returns
    -------
    optuna.Study
        ``study.best_params`` / ``study.best_value`` (one objective) or
        ``study.best_trials`` (several).

    Raises
    ------
    ValueError
        Bad ``n_trials``, ``n_jobs``, ``directions``, ``pruning`` with several
        objectives, or an empty search space.

    Examples
    --------
    >>> import numpy as np
    >>> from xsup import ExplanationSupervisedClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(24, 1, 6, 6)).astype("float32")
    >>> y = (X[:, 0, :3, :3].mean(axis=(1, 2)) > 0).astype(int)
    >>> E = np.zeros((24, 6, 6)); E[:, :3, :3] = 1
    >>> net = ExplanationSupervisedClassifier(loss="gradia", max_epochs=1, train_split=None,
    ...                                       verbose=0, random_state=0)
    >>> study = tune(net, X, y, E, n_trials=2, cv=2, random_state=0)
    >>> len(study.trials), sorted(study.best_params)
    (2, ['sigma1'])
    """
    n_trials = _check_positive_int("n_trials", n_trials)
    check_tune_arguments(X, y, E, param_distributions, cv)
    if not (isinstance(n_jobs, (int, np.integer)) and not isinstance(n_jobs, bool)
            and (n_jobs >= 1 or n_jobs == -1)):
        raise ValueError(f"n_jobs must be a positive integer or -1; got {n_jobs!r}.")
    space = dict(search_space(estimator) if param_distributions is None else param_distributions)
    if not space:
        raise ValueError(
            "the search space is empty: the estimator's plugins declare no hyperparameters "
            "(e.g. loss='none'); pass param_distributions."
        )
    scoring_list = list(scoring) if isinstance(scoring, (list, tuple)) else [scoring]
    if not scoring_list:
        raise ValueError("scoring must name at least one scorer; got an empty list.")
    scorers = [check_scoring(estimator, scoring=s) for s in scoring_list]
    if directions is None:
        directions = ["maximize"] * len(scorers)
    elif isinstance(directions, str):
        directions = [directions]
    directions = list(directions)
    if len(directions) != len(scorers) or not set(directions) <= {"maximize", "minimize"}:
        raise ValueError(
            f"directions must hold 'maximize' or 'minimize' once per scorer ({len(scorers)}); "
            f"got {directions!r}."
        )
    if pruning and len(scorers) > 1:
        raise ValueError("pruning works with one objective only; got several scorers.")
    final, prefix = _final(estimator)
    if pruning and pruning_monitor.startswith("valid_") and final.train_split is None:
        raise ValueError(
            f"pruning monitors {pruning_monitor!r}, which needs a validation split; the "
            "estimator has train_split=None (set train_split or pruning_monitor='train_loss')."
        )
    splitter = check_cv(cv, y, classifier=is_classifier(estimator))
    folds = list(splitter.split(X, y))
    storage = resolve_storage(
        storage, heartbeat_interval=heartbeat_interval, grace_period=grace_period
    )
    if study_name is None and storage is not None:
        study_name = "xsup-tune"
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        directions=directions,
        sampler=sampler if sampler is not None else optuna.samplers.TPESampler(seed=random_state),
        pruner=pruner if pruner is not None else optuna.pruners.MedianPruner(),
        load_if_exists=True,
    )
    sign = -1 if pruning_monitor.endswith("loss") and directions[0] == "maximize" else 1
    max_epochs = int(getattr(final, "max_epochs", 1))

    def objective(trial: optuna.trial.Trial) -> float | list[float]:
        params = {name: _suggest(trial, name, dist) for name, dist in space.items()}
        if pruning:
            scores = []
            for fold, (train, test) in enumerate(folds):
                model = clone(estimator).set_params(**params)
                callback = FoldPruningCallback(
                    trial, pruning_monitor, offset=fold * max_epochs, sign=sign
                )
                callbacks = list(_final(model)[0].callbacks or [])
                model.set_params(**{prefix + "callbacks": [*callbacks, callback]})
                scores.append(_fit_and_score(model, X, y, E, train, test, scorers))
        else:
            scores = Parallel(n_jobs=n_jobs)(
                delayed(_fit_and_score)(
                    clone(estimator).set_params(**params), X, y, E, train, test, scorers
                )
                for train, test in folds
            )
        per_objective = np.asarray(scores, dtype=float).T
        trial.set_user_attr("fold_scores", per_objective.tolist())
        means = [float(np.mean(values)) for values in per_objective]
        return means[0] if len(means) == 1 else means

    finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    remaining = n_trials - len(study.get_trials(deepcopy=False, states=finished))
    if remaining > 0:
        study.optimize(
            objective,
            n_trials=remaining,
            timeout=timeout,
            callbacks=[optuna.study.MaxTrialsCallback(n_trials, states=finished)],
            show_progress_bar=show_progress_bar,
        )
    return study
