"""Cross-validation folds of ``tune``: rows taken without copying lazy arrays, fits and scores."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn import get_config
from sklearn.pipeline import Pipeline

from xsup.validation import _is_lazy_array

__all__ = ["RowView", "final_step", "fit_and_score"]


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


def _takes_E(scorer: Callable[..., Any]) -> bool:
    """Whether a scorer accepts annotations as ``E=``."""
    try:
        return "E" in inspect.signature(scorer).parameters
    except (TypeError, ValueError):
        return False


def final_step(estimator: Any) -> tuple[Any, str]:
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
        return {final_step(estimator)[1] + "E": E}
    return {"E": E}


def fit_and_score(
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
