"""``tune``: an Optuna study over an explanation-supervised estimator, with E sliced per fold."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna
from joblib import Parallel, delayed
from sklearn.base import clone, is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv

from xsup.tuning._attributes import estimator_attributes, metric_names, worker_name
from xsup.tuning._checks import check_positive_int, check_random_state, check_timeout
from xsup.tuning._folds import RowView, _take  # noqa: F401 - also imported from this module
from xsup.tuning._folds import final_step, fit_and_score
from xsup.tuning._pruning import FoldPruningCallback
from xsup.tuning._sampler import TrialSeededSampler
from xsup.tuning._search_space import search_space
from xsup.tuning._storage import storage_for_tune
from xsup.tuning._study import open_study
from xsup.validation import check_tune_arguments

__all__ = ["tune"]

_FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


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


def _check_directions(directions: Any, n_scorers: int) -> list[str]:
    if directions is None:
        return ["maximize"] * n_scorers
    directions = [directions] if isinstance(directions, str) else list(directions)
    if len(directions) != n_scorers or not set(directions) <= {"maximize", "minimize"}:
        raise ValueError(
            f"directions must hold 'maximize' or 'minimize' once per scorer ({n_scorers}); "
            f"got {directions!r}."
        )
    return directions


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
    heartbeat_interval: int | str | None = "auto",
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
        processes) or a database URL such as
        ``"postgresql+psycopg://user@host/db"`` (many machines; the
        ``postgres`` extra). Workers started together on a fresh file or
        database all start: the first creates the tables and the study, the
        others join it.
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
        maximising study. Folds then run one after another (``n_jobs=1``).
    pruning_monitor : str, default="valid_loss"
        History column reported to the pruner (with ``pruning=True`` only).
    sampler, pruner : optuna sampler / pruner or None
        Defaults: ``TrialSeededSampler(random_state)``, a TPE sampler seeded
        per trial (see :class:`TrialSeededSampler`; ``TPESampler()`` when
        ``random_state`` is None), and ``MedianPruner()`` (a pruner is
        taken with ``pruning=True`` only).
    n_jobs : int, default=1
        Folds fitted in parallel through joblib (``-1``: all cores). The
        backend is joblib's current one (loky processes by default; a Dask or
        Ray cluster within ``joblib.parallel_config(backend=...)``). Trials
        run one after another in this process; more workers share a study
        through ``storage``.
    timeout : float or None
        Stop starting trials after this many seconds (> 0).
    random_state : int or None
        Seed of the default sampler, in ``[0, 2**32 - 1]``. Trial ``n`` draws
        from a seed derived from ``(random_state, n)``: one uninterrupted run
        is reproducible, and a resumed study or several workers with the same
        seed never re-sample a tried parameter set because of the seed.
    heartbeat_interval : "auto", int or None, default="auto"
        Seconds between the heartbeats of a running trial in a SQLite or
        database ``storage`` (see :func:`resolve_storage`): a trial left
        ``RUNNING`` by a dead worker is marked ``FAIL`` by the next worker that
        starts a trial, and its parameters are tried again. ``"auto"``: 60
        seconds for a SQLite file or database, off for the others; None: off.
    grace_period : int or None
        Seconds without a heartbeat after which a trial is stale (default:
        twice the interval).
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
        Bad ``n_trials``, ``n_jobs``, ``timeout``, ``random_state``,
        ``directions``, ``pruning`` with several objectives, an empty search
        space, a storage that cannot be opened, or a stored study of that name
        with other directions.
    TypeError
        ``timeout`` or ``random_state`` of the wrong type.
    ImportError
        The database driver of a ``storage`` URL is not installed.

    Notes
    -----
    The study stores names for its objectives (``study.metric_names``), the
    estimator, its parameters, the search space and the folds as study user
    attributes, and each trial's ``worker`` (``host:pid``), for
    ``optuna-dashboard`` to show. With several workers, the study may end
    with up to ``workers - 1`` finished trials more than ``n_trials``: each
    checks the target after its own trial.

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
    n_trials = check_positive_int("n_trials", n_trials)
    timeout = check_timeout(timeout)
    random_state = check_random_state(random_state)
    check_tune_arguments(X, y, E, param_distributions, cv)
    if not (isinstance(n_jobs, (int, np.integer)) and not isinstance(n_jobs, bool)
            and (n_jobs >= 1 or n_jobs == -1)):
        raise ValueError(f"n_jobs must be a positive integer or -1; got {n_jobs!r}.")
    _check_pruning_options(pruning, pruning_monitor, pruner, n_jobs)
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
    directions = _check_directions(directions, len(scorers))
    if pruning and len(scorers) > 1:
        raise ValueError("pruning works with one objective only; got several scorers.")
    final, prefix = final_step(estimator)
    if pruning and pruning_monitor.startswith("valid_") and final.train_split is None:
        raise ValueError(
            f"pruning monitors {pruning_monitor!r}, which needs a validation split; the "
            "estimator has train_split=None (set train_split or pruning_monitor='train_loss')."
        )
    splitter = check_cv(cv, y, classifier=is_classifier(estimator))
    try:
        folds = list(splitter.split(X, y))
    except ValueError as error:
        raise ValueError(
            f"cv={cv!r} cannot split the {len(X)} samples ({error}); pass a smaller cv or "
            "tune on more samples."
        ) from None
    storage = storage_for_tune(storage, heartbeat_interval, grace_period)
    if study_name is None and storage is not None:
        study_name = "xsup-tune"
    if sampler is None:
        sampler = (optuna.samplers.TPESampler() if random_state is None
                   else TrialSeededSampler(random_state))
    study = open_study(
        storage, study_name, directions, sampler=sampler,
        pruner=pruner if pruner is not None else optuna.pruners.MedianPruner(),
        metric_names=metric_names(scoring_list),
        user_attrs=estimator_attributes(estimator, final, space, splitter, len(X)),
    )
    sign = -1 if pruning_monitor.endswith("loss") and directions[0] == "maximize" else 1
    max_epochs = int(getattr(final, "max_epochs", 1))
    worker = worker_name()

    def objective(trial: optuna.trial.Trial) -> float | list[float]:
        params = {name: _suggest(trial, name, dist) for name, dist in space.items()}
        trial.set_user_attr("worker", worker)
        if pruning:
            scores = []
            for fold, (train, test) in enumerate(folds):
                model = clone(estimator).set_params(**params)
                callback = FoldPruningCallback(
                    trial, pruning_monitor, offset=fold * max_epochs, sign=sign
                )
                callbacks = list(final_step(model)[0].callbacks or [])
                model.set_params(**{prefix + "callbacks": [*callbacks, callback]})
                scores.append(fit_and_score(model, X, y, E, train, test, scorers))
        else:
            scores = Parallel(n_jobs=n_jobs)(
                delayed(fit_and_score)(
                    clone(estimator).set_params(**params), X, y, E, train, test, scorers
                )
                for train, test in folds
            )
        per_objective = np.asarray(scores, dtype=float).T
        trial.set_user_attr("fold_scores", per_objective.tolist())
        means = [float(np.mean(values)) for values in per_objective]
        return means[0] if len(means) == 1 else means

    _optimize(study, _Watched(objective), n_trials, timeout, show_progress_bar)
    return study


def _check_pruning_options(pruning: bool, monitor: str, pruner: Any, n_jobs: int) -> None:
    """Refuse pruning options that would have no effect."""
    if not pruning and (pruner is not None or monitor != "valid_loss"):
        given = "pruner" if pruner is not None else f"pruning_monitor={monitor!r}"
        raise ValueError(f"{given} takes effect only with pruning=True; pass pruning=True or "
                         "leave it out.")
    if pruning and n_jobs != 1:
        raise ValueError(
            f"n_jobs={n_jobs!r} cannot fit folds in parallel with pruning=True, which reports "
            "each fold's epochs in turn; pass n_jobs=1 or pruning=False."
        )


class _Watched:
    """The objective, remembering its last trial and whether it raised an error of its own."""

    def __init__(self, objective: Any) -> None:
        self.objective = objective
        self.number: int | None = None
        self.raised = False

    def __call__(self, trial: optuna.trial.Trial) -> Any:
        self.number, self.raised = trial.number, False
        try:
            return self.objective(trial)
        except (optuna.TrialPruned, optuna.exceptions.UpdateFinishedTrialError):
            raise
        except BaseException:
            self.raised = True
            raise

    def taken_over(self, study: optuna.Study) -> bool:
        """Whether another worker failed the last trial (stale heartbeat) while it ran."""
        if self.raised or self.number is None:
            return False
        trial = next(t for t in study.get_trials(deepcopy=False) if t.number == self.number)
        return trial.state == optuna.trial.TrialState.FAIL


def _optimize(
    study: optuna.Study, objective: _Watched, n_trials: int, timeout: float | None,
    show_progress_bar: bool,
) -> None:
    """Run trials until the study holds ``n_trials`` finished ones (or ``timeout`` passes).

    A trial that another worker failed as stale (this worker was paused
    longer than the grace period) is retried by the study; this worker goes on.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        remaining = n_trials - len(study.get_trials(deepcopy=False, states=_FINISHED))
        left = None if deadline is None else deadline - time.monotonic()
        if remaining <= 0 or (left is not None and left <= 0):
            return
        try:
            study.optimize(
                objective, n_trials=remaining, timeout=left,
                callbacks=[optuna.study.MaxTrialsCallback(n_trials, states=_FINISHED)],
                show_progress_bar=show_progress_bar,
            )
            return
        except (optuna.exceptions.UpdateFinishedTrialError, ValueError):
            if not objective.taken_over(study):
                raise
            warnings.warn(
                f"another worker marked trial {objective.number} of this one FAIL (no heartbeat "
                "for the grace period) and queued its parameters again; raise grace_period if "
                "workers pause that long.", RuntimeWarning, stacklevel=3,
            )
