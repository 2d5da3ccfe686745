"""Hyperparameter search for explanation-supervised estimators with Optuna.

:func:`search_space` reads the distributions the estimator's plugins declare
(for ``OptunaSearchCV``, or :func:`as_grid` for ``GridSearchCV``);
:func:`tune` runs a resumable, optionally multi-objective Optuna study that
cross-validates with each fold's annotations.
"""

try:
    import optuna  # noqa: F401
except ImportError as error:  # an optional dependency: say how to get it
    raise ImportError('xsup.tuning needs Optuna: pip install "xsup[tune]"') from error

from xsup.tuning._pruning import FoldPruningCallback
from xsup.tuning._search_space import SHARED_NAMES, as_grid, search_space
from xsup.tuning._tune import resolve_storage, tune

__all__ = [
    "SHARED_NAMES",
    "FoldPruningCallback",
    "as_grid",
    "resolve_storage",
    "search_space",
    "tune",
]
