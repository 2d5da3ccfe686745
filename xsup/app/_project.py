"""The project folder: the samples, their labels, the estimator to train, and where the rest goes.

A project is a folder that :func:`create_project` writes::

    project.json        kind and shapes of the data, feature names (written once)
    X.npy               the inputs, memory-mapped when served
    y.npy               the labels (when given)
    estimator.json      the estimator that "train next round" fits (see set_estimator)
    annotations/NAME/   one file per annotated sample and annotator (see AnnotationStore)
    app.db              ratings, events and an index of the annotations (SQLite, WAL)
    rounds/K/           one folder per training round
    model/              optional: a model fitted elsewhere (params.pt; see add_model)
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from xsup.app._files import NAME_PATTERN, check_name, read_json, write_json

__all__ = ["FORMAT", "KIND_BY_NDIM", "Project", "create_project"]

#: Value of ``format`` in ``project.json``.
FORMAT = "xsup-app-project/1"

#: Input kind by the number of dimensions of X (samples included), as the estimators take them.
KIND_BY_NDIM = {2: "tabular", 3: "time_series", 4: "images", 5: "raster_sequences"}

#: Rows of X copied at a time when a project is written, so a memory-mapped X is never loaded whole.
_CHUNK_BYTES = 64 * 2**20


def annotation_shape(kind: str, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape of one sample's annotation: the sample's shape without its channel axis."""
    if kind == "images":
        return sample_shape[1:]
    if kind == "raster_sequences":
        return (sample_shape[0], *sample_shape[2:])
    return sample_shape


class Project:
    """An opened project folder (read-only description; the stores write the rest).

    Parameters
    ----------
    path : path-like
        A folder written by :func:`create_project`.

    Raises
    ------
    ValueError
        ``path`` is not such a folder.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).resolve()
        manifest = self.path / "project.json"
        if not manifest.is_file():
            raise ValueError(f"{path} is not an xsup app project: it has no project.json "
                             "(write one with xsup.app.create_project).")
        meta = read_json(manifest)
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"{manifest}: not an xsup app project file (format "
                             f"{meta.get('format') if isinstance(meta, dict) else None!r}, "
                             f"expected {FORMAT!r}).")
        self.kind: str = meta["kind"]
        self.x_shape: tuple[int, ...] = tuple(meta["x_shape"])
        self.n_samples: int = self.x_shape[0]
        self.sample_shape: tuple[int, ...] = self.x_shape[1:]
        self.annotation_shape: tuple[int, ...] = annotation_shape(self.kind, self.sample_shape)
        self.has_labels: bool = bool(meta["has_labels"])
        self.feature_names: list[str] | None = None
        if meta.get("feature_names") is not None:
            try:
                self.feature_names = _as_feature_names(meta["feature_names"], self.kind,
                                                       self.x_shape)
            except ValueError as error:
                raise ValueError(f"{manifest}: {error}") from None

    @property
    def n_frames(self) -> int | None:
        """Frames per sample of a raster sequence; None for the other kinds."""
        return self.sample_shape[0] if self.kind == "raster_sequences" else None

    @cached_property
    def X(self) -> np.ndarray:
        """The inputs, memory-mapped read-only."""
        X = np.load(self.path / "X.npy", mmap_mode="r", allow_pickle=False)
        if X.shape != self.x_shape:
            raise ValueError(f"{self.path / 'X.npy'} has shape {X.shape}; project.json says "
                             f"{self.x_shape}.")
        return X

    @cached_property
    def y(self) -> np.ndarray | None:
        """The labels, or None for a project created without them."""
        if not self.has_labels:
            return None
        return np.load(self.path / "y.npy", allow_pickle=False)

    def check_sample(self, index: Any) -> int:
        """Return ``index`` as an int if it names a sample, else raise ``ValueError``."""
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"sample index must be an int; got {type(index).__name__}.")
        if not 0 <= index < self.n_samples:
            raise ValueError(f"sample index must be in [0, {self.n_samples - 1}]; got {index}.")
        return int(index)

    def annotation_folder(self, annotator: str) -> Path:
        """Folder of one annotator's layer (the name is checked, never a path)."""
        return self.path / "annotations" / check_name(annotator)

    def annotators(self) -> list[str]:
        """Names of the annotators with a layer, sorted."""
        folder = self.path / "annotations"
        if not folder.is_dir():
            return []
        return sorted(entry.name for entry in folder.iterdir()
                      if entry.is_dir() and NAME_PATTERN.fullmatch(entry.name))

    @property
    def database(self) -> Path:
        """The SQLite file of ratings, events and the annotation index."""
        return self.path / "app.db"

    @property
    def rounds_folder(self) -> Path:
        """Folder that holds one sub-folder per training round."""
        return self.path / "rounds"

    def estimator_config(self) -> dict[str, Any]:
        """``{"estimator": "classifier" | "regressor", "params": {...}}`` from ``estimator.json``."""
        return read_json(self.path / "estimator.json")


def _as_inputs(X: Any) -> np.ndarray:
    """X as an array (a memory map stays one), checked for the kinds the estimators take."""
    if hasattr(X, "detach"):  # a torch tensor
        X = X.detach().cpu().numpy()
    array = X if isinstance(X, np.ndarray) else np.asarray(X)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"X must hold real numbers; got dtype {array.dtype}.")
    if array.ndim not in KIND_BY_NDIM:
        raise ValueError("X must have 2 (tabular), 3 (time series), 4 (images) or 5 (raster "
                         f"sequences) dimensions; got shape {array.shape}.")
    if 0 in array.shape:
        raise ValueError(f"X must not be empty; got shape {array.shape}.")
    return array


def _as_labels(y: Any, n_samples: int) -> np.ndarray:
    """y as a 1-D array numpy can store without pickling (numbers, booleans or strings)."""
    array = np.asarray(y.detach().cpu().numpy() if hasattr(y, "detach") else y)
    if array.dtype == object:
        if not all(isinstance(value, str) for value in array.ravel()):
            raise TypeError("y must hold numbers, booleans or strings; got Python objects.")
        array = array.astype(str)
    if array.dtype.kind not in "biufU":
        raise TypeError(f"y must hold numbers, booleans or strings; got dtype {array.dtype}.")
    if array.shape != (n_samples,):
        raise ValueError(f"y must have shape ({n_samples},), one label per sample of X; "
                         f"got {array.shape}.")
    return array


def _as_feature_names(names: Any, kind: str, shape: tuple[int, ...]) -> list[str]:
    if kind not in ("tabular", "time_series"):
        raise ValueError(f"feature_names name the features of tabular data or time series; "
                         f"X holds {kind.replace('_', ' ')}.")
    names = [names] if isinstance(names, str) else list(names)
    if (len(names) != shape[-1] or not all(isinstance(n, str) and n for n in names)
            or len(set(names)) != len(names)):
        raise ValueError(f"feature_names must be {shape[-1]} distinct non-empty strings, one per "
                         f"feature of X with shape {tuple(shape)}; got {names!r}.")
    return names


def _write_inputs(path: Path, X: np.ndarray) -> None:
    """Copy X into ``path`` as ``.npy`` in chunks of rows (float32 unless X is already floating)."""
    dtype = X.dtype if X.dtype.kind == "f" else np.dtype("float32")
    out = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=X.shape)
    rows = max(1, _CHUNK_BYTES // max(1, X[:1].nbytes))
    for start in range(0, len(X), rows):
        out[start : start + rows] = X[start : start + rows]
    out.flush()
    del out


def create_project(
    path: str | os.PathLike[str], X: Any, y: Any = None, E: Any = None, *,
    annotator: str = "default", feature_names: Any = None,
) -> Path:
    """Write a new annotation project folder that ``xsup app`` serves.

    Parameters
    ----------
    path : path-like
        A folder that does not exist yet, or an empty one.
    X : array-like
        Inputs ``(N, F)``, ``(N, T, F)``, ``(N, C, H, W)`` or
        ``(N, T, C, H, W)`` (numpy, memory-mapped or torch); copied to
        ``X.npy`` in chunks, as float32 unless already floating.
    y : array-like of shape (N,), optional
        Labels (numbers, booleans or strings); needed to train rounds.
    E : array-like, optional
        Existing annotations shaped like a saliency map: ``(N, F)``,
        ``(N, T, F)``, ``(N, H, W)`` or ``(N, T, H, W)``; 1 should matter,
        -1 should not, 0 not annotated, NaN missing. Samples with at least one
        non-NaN value become version 1 of ``annotator``'s layer.
    annotator : str, default="default"
        Layer that receives ``E``.
    feature_names : sequence of str, optional
        Names of the F features of tabular data or time series, shown by the
        page under the pointer (default: their numbers).

    Returns
    -------
    pathlib.Path
        The project folder.

    Raises
    ------
    ValueError
        ``path`` holds files, or an array has the wrong shape or values.
    TypeError
        An array holds values of the wrong type.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from xsup.app import create_project, load_annotations
    >>> X = np.zeros((3, 1, 4, 4), dtype="float32")
    >>> E = np.full((3, 4, 4), np.nan, dtype="float32"); E[0] = 1
    >>> folder = create_project(tempfile.mkdtemp() + "/digits", X, y=[0, 1, 0], E=E)
    >>> load_annotations(folder)[:, 0, 0]
    array([ 1., nan, nan], dtype=float32)
    """
    from xsup.app._annotations import AnnotationStore
    from xsup.app._estimator import DEFAULT_ESTIMATOR

    check_name(annotator)
    folder = Path(path)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ValueError(f"path {str(path)!r} already holds files; create_project writes a new "
                         "project into a missing or empty folder.")
    X = _as_inputs(X)
    kind = KIND_BY_NDIM[X.ndim]
    labels = None if y is None else _as_labels(y, len(X))
    expected = (len(X), *annotation_shape(kind, tuple(X.shape[1:])))
    names = None if feature_names is None else _as_feature_names(feature_names, kind, X.shape)
    if E is not None:
        E = np.asarray(E.detach().cpu().numpy() if hasattr(E, "detach") else E)
        if E.shape != expected:
            raise ValueError(f"E must have shape {expected} for {kind} X of shape {X.shape} "
                             f"(a saliency map's shape, no channel axis); got {E.shape}.")
    folder.mkdir(parents=True, exist_ok=True)
    _write_inputs(folder / "X.npy", X)
    if labels is not None:
        np.save(folder / "y.npy", labels, allow_pickle=False)
    write_json(folder / "estimator.json", DEFAULT_ESTIMATOR)
    write_json(folder / "project.json", {
        "format": FORMAT, "kind": kind, "x_shape": list(X.shape),
        "has_labels": labels is not None,
        **({} if names is None else {"feature_names": names}),
    })
    project = Project(folder)
    if E is not None:
        store = AnnotationStore(project)
        try:
            store.import_layer(annotator, E)
        finally:
            store.close()
    return folder
