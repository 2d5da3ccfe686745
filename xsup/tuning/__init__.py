"""Hyperparameter search for explanation-supervised estimators with Optuna.

:func:`search_space` reads the distributions the estimator's plugins declare
(for ``OptunaSearchCV``, or :func:`as_grid` for ``GridSearchCV``);
:func:`tune` runs a resumable, optionally multi-objective Optuna study that
cross-validates with each fold's annotations; any number of workers, on one
machine or many, join one study through a shared storage (:func:`load_study`
reads it while they run).
"""

try:
    import optuna  # noqa: F401
except ImportError as error:  # an optional dependency: say how to get it
    raise ImportError('xsup.tuning needs Optuna: pip install "xsup[tune]"') from error

from xsup.tuning._pruning import FoldPruningCallback
from xsup.tuning._sampler import TrialSeededSampler
from xsup.tuning._search_space import SHARED_NAMES, as_grid, search_space
from xsup.tuning._storage import resolve_storage
from xsup.tuning._study import load_study
from xsup.tuning._tune import tune

__all__ = [
    "SHARED_NAMES",
    "FoldPruningCallback",
    "TrialSeededSampler",
    "as_grid",
    "load_study",
    "resolve_storage",
    "search_space",
    "tune",
]
