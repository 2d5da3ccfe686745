"""The sample list: one row per sample, with review columns, filtered and sorted for browsing.

Reviewers browse rather than answer a queue: the list can be sorted by
disagreement between the model's saliency and the annotation (lowest IoU
first), by prediction error or by uncertainty, and filtered to the
unannotated, misclassified, unrated or rated samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xsup.app._annotations import AnnotationStore
from xsup.app._arrays import jsonable
from xsup.app._rounds import Rounds

__all__ = ["FILTERS", "SORTS", "round_columns", "sample_table"]

#: Orders of the list; all but "id" put missing values last.
SORTS = ("id", "iou", "error", "uncertainty", "unannotated")

#: Subsets of the list.
FILTERS = ("all", "unannotated", "partial", "annotated", "misclassified", "unrated", "right",
           "wrong", "unsure")

_STATUS_ORDER = {"unannotated": 0, "partial": 1, "annotated": 2}


def round_columns(rounds: Rounds, round_: int, y: np.ndarray | None) -> dict[str, np.ndarray]:
    """Per-sample ``prediction``, ``error``, ``uncertainty``, ``correct`` and ``iou`` of a round.

    For a classifier, ``error`` is one minus the probability of the true
    class and ``uncertainty`` one minus the highest probability; for a
    regressor, ``error`` is the absolute error of the first output.
    """
    results = rounds.results(round_)
    outputs = np.asarray(results["outputs"], dtype=np.float64)
    n = len(outputs)
    nan = np.full(n, np.nan)
    columns: dict[str, np.ndarray] = {"iou": np.asarray(results["iou"], dtype=np.float64)}
    classes = results["classes"]
    if classes is not None:
        predicted = np.asarray(classes, dtype=object)[outputs.argmax(axis=1)]
        columns["prediction"] = predicted
        columns["uncertainty"] = 1.0 - outputs.max(axis=1)
        if y is not None:
            lookup = {value: index for index, value in enumerate(classes)}
            true = np.array([lookup.get(value.item() if hasattr(value, "item") else value, -1)
                             for value in y])
            known = true >= 0
            columns["error"] = np.where(known, 1.0 - outputs[np.arange(n), np.maximum(true, 0)],
                                        np.nan)
            columns["correct"] = np.where(known, predicted == np.asarray(y, dtype=object), None)
        else:
            columns["error"], columns["correct"] = nan, np.full(n, None)
    else:
        columns["prediction"] = outputs[:, 0]
        columns["uncertainty"], columns["correct"] = nan, np.full(n, None)
        columns["error"] = nan if y is None else np.abs(outputs[:, 0] - np.asarray(y, float))
    return columns


def _order(values: np.ndarray, descending: bool) -> np.ndarray:
    key = np.where(np.isnan(values), np.inf, -values if descending else values)
    return np.argsort(key, kind="stable")


def sample_table(store: AnnotationStore, rounds: Rounds, *, annotator: str | None,
                 round_: int | None, sort: str = "id", filter_: str = "all") -> dict[str, Any]:
    """The list the page shows, as parallel columns over the selected samples.

    Parameters
    ----------
    store, rounds :
        The project's annotations and rounds.
    annotator : str or None
        Layer whose status is shown and whose ratings count; None: any layer.
    round_ : int or None
        Finished round whose review columns are added.
    sort : str, default="id"
        One of :data:`SORTS`.
    filter_ : str, default="all"
        One of :data:`FILTERS`.

    Raises
    ------
    ValueError
        An unknown ``sort`` or ``filter``, or one that needs a round when none is given.
    """
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}; got {sort!r}.")
    if filter_ not in FILTERS:
        raise ValueError(f"filter must be one of {', '.join(FILTERS)}; got {filter_!r}.")
    project = store.project
    status, version = store.status(annotator)
    status_array = np.array(status)
    columns: dict[str, np.ndarray] = {}
    if round_ is not None:
        columns = round_columns(rounds, round_, project.y)
        rating = np.full(project.n_samples, None, dtype=object)
        for _, sample, _, value in store.database.ratings(annotator=annotator, round_=round_):
            rating[sample] = value  # ordered by time: the latest wins
        columns["rating"] = rating
    elif sort in ("iou", "error", "uncertainty") or filter_ in FILTERS[4:]:
        raise ValueError(f"sort={sort!r} and filter={filter_!r} need a finished round; "
                         "train one first.")
    keep = np.ones(project.n_samples, dtype=bool)
    if filter_ in _STATUS_ORDER:
        keep = status_array == filter_
    elif filter_ == "misclassified":
        keep = np.array([value is False for value in columns["correct"]], dtype=bool)
    elif filter_ == "unrated":
        keep = np.array([value is None for value in columns["rating"]])
    elif filter_ != "all":
        keep = columns["rating"] == filter_
    ids = np.flatnonzero(keep)
    if sort == "unannotated":
        ranks = np.array([_STATUS_ORDER[value] for value in status_array[ids]], dtype=float)
        ids = ids[_order(ranks, descending=False)]
    elif sort != "id":
        ids = ids[_order(np.asarray(columns[sort][ids], dtype=float),
                         descending=sort != "iou")]
    table: dict[str, Any] = {
        "n_samples": project.n_samples, "kind": project.kind,
        "shape": list(project.sample_shape), "annotation_shape": list(project.annotation_shape),
        "round": round_, "sort": sort, "filter": filter_, "ids": ids.tolist(),
        "status": status_array[ids].tolist(), "version": np.asarray(version)[ids].tolist(),
        "label": None if project.y is None else jsonable(project.y[ids]),
    }
    for name, values in columns.items():
        table[name] = jsonable(values[ids]) if values.dtype != object else [
            value.item() if hasattr(value, "item") else value for value in values[ids]]
    return table
