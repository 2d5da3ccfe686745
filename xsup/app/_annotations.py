"""Per-annotator annotation layers on disk, with version numbers, and the merged ``E``.

Each annotator has a layer, ``annotations/NAME/``, holding one compressed
``.npz`` file per annotated sample: the annotation (float32, shaped like the
sample's saliency map), its version number and, for raster sequences, which
frames were filled by interpolation rather than drawn. A save replaces the
file atomically (:func:`~xsup.app._files.write_atomic`) inside a database
transaction that checks the version the writer started from, so a stale
writer gets :class:`StaleVersion` instead of overwriting newer work.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xsup.app._database import Database
from xsup.app._files import fsync_directory, remove_stale_temporaries, write_atomic
from xsup.app._project import Project

__all__ = ["MERGES", "Annotation", "AnnotationStore", "StaleVersion", "annotation_status",
           "export_annotations", "load_annotations"]

#: How :func:`load_annotations` combines several annotators' values of one cell.
MERGES = ("mean", "majority")


class StaleVersion(Exception):
    """A save started from an older version than the one on disk.

    Attributes
    ----------
    current : int
        The version on disk.
    """

    def __init__(self, current: int, expected: int) -> None:
        super().__init__(f"the annotation is at version {current}; this save started from "
                         f"version {expected}.")
        self.current = current


@dataclass(frozen=True)
class Annotation:
    """One sample's annotation in one layer.

    Attributes
    ----------
    data : numpy.ndarray
        float32 values in [-1, 1] or NaN, shaped like the sample's saliency map.
    version : int
        0 before the first save, then one more per save.
    filled : numpy.ndarray
        bool per frame of a raster sequence: filled by interpolation, not drawn
        (empty for the other kinds).
    """

    data: np.ndarray
    version: int
    filled: np.ndarray


def annotation_status(data: np.ndarray, framed: bool) -> str:
    """``"unannotated"``, ``"partial"`` (some frames of a sequence without marks) or ``"annotated"``."""
    marked = np.isfinite(data) & (data != 0)
    if not marked.any():
        return "unannotated"
    if framed and not marked.reshape(len(data), -1).any(axis=1).all():
        return "partial"
    return "annotated"


class AnnotationStore:
    """Read and write the annotation layers of a project.

    Parameters
    ----------
    project : Project
        The opened project.
    database : Database, optional
        Its database, when the caller already opened it.
    clean : bool, default=False
        Also delete the temporary files of saves a killed writer left behind.
        Only the project's one server does: another process's cleaning could
        delete the file of a save that server is making.
    """

    def __init__(self, project: Project, database: Database | None = None, *,
                 clean: bool = False) -> None:
        self.project = project
        self._owns_database = database is None
        self.database = database if database is not None else Database(project.database)
        self._framed = project.kind == "raster_sequences"
        self.reconcile(clean=clean)

    def close(self) -> None:
        """Close the database if this store opened it."""
        if self._owns_database:
            self.database.close()

    # ------------------------------------------------------------------ files
    def file(self, annotator: str, sample: int) -> Path:
        """The file of one sample in one layer (it may not exist)."""
        return self.project.annotation_folder(annotator) / f"{sample}.npz"

    def empty(self) -> Annotation:
        """Version 0: every cell missing (NaN)."""
        frames = self.project.n_frames or 0
        return Annotation(np.full(self.project.annotation_shape, np.nan, dtype=np.float32), 0,
                          np.zeros(frames, dtype=bool))

    def read(self, annotator: str, sample: int) -> Annotation:
        """The current annotation of ``sample`` in ``annotator``'s layer (version 0 if none)."""
        sample = self.project.check_sample(sample)
        try:
            with np.load(self.file(annotator, sample), allow_pickle=False) as record:
                return Annotation(record["data"], int(record["version"]), record["filled"])
        except FileNotFoundError:
            return self.empty()

    def _version_on_disk(self, annotator: str, sample: int) -> int:
        try:
            with np.load(self.file(annotator, sample), allow_pickle=False) as record:
                return int(record["version"])
        except FileNotFoundError:
            return 0

    def check_data(self, data: Any) -> np.ndarray:
        """``data`` as float32 of the annotation shape with values in [-1, 1] or NaN, else raise."""
        array = np.asarray(data, dtype=np.float32)
        if array.shape != self.project.annotation_shape:
            raise ValueError(f"annotation must have shape {list(self.project.annotation_shape)}; "
                             f"got {list(array.shape)}.")
        finite = array[np.isfinite(array)]
        if np.isinf(array).any() or (finite.size and (finite.min() < -1 or finite.max() > 1)):
            raise ValueError("annotation values must lie in [-1, 1] (1 should matter, -1 should "
                             "not, 0 not annotated) or be NaN (missing).")
        return array

    def check_filled(self, filled: Any) -> np.ndarray:
        """Indices of interpolated frames as a bool mask per frame, else raise."""
        frames = self.project.n_frames or 0
        mask = np.zeros(frames, dtype=bool)
        indices = [] if filled is None else list(filled)
        for index in indices:
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)) \
                    or not 0 <= index < frames:
                raise ValueError(f"filled must list frame indices in [0, {frames - 1}]; "
                                 f"got {index!r}." if frames else
                                 "filled applies to raster sequences only; got frame indices.")
            mask[index] = True
        return mask

    def _write_file(self, annotator: str, sample: int, data: np.ndarray, version: int,
                    filled: np.ndarray, durable: bool) -> int:
        """Write one record; return its modification time (ns) for the index."""
        path = self.file(annotator, sample)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda file: np.savez_compressed(
            file, data=data, version=np.int64(version), filled=filled), durable=durable)
        return path.stat().st_mtime_ns

    # ------------------------------------------------------------------ saving
    def write(self, annotator: str, sample: int, data: Any, *, expected_version: int,
              filled: Any = None, strokes: int = 0) -> int:
        """Save a new version of one annotation; return its version number.

        Parameters
        ----------
        annotator : str
            Layer name.
        sample : int
            Sample index.
        data : array-like
            The whole annotation of the sample.
        expected_version : int
            The version the writer started from.
        filled : sequence of int, optional
            Frames filled by interpolation (raster sequences).
        strokes : int, default=0
            Strokes drawn since the last save, logged for interaction efficiency.

        Raises
        ------
        StaleVersion
            The layer holds another version than ``expected_version``.
        """
        sample = self.project.check_sample(sample)
        array, mask = self.check_data(data), self.check_filled(filled)
        with self.database.transaction() as connection:
            current = self._version_on_disk(annotator, sample)
            if current != expected_version:
                raise StaleVersion(current, expected_version)
            mtime = self._write_file(annotator, sample, array, current + 1, mask, durable=True)
            self.database.set_index(connection, annotator, sample, current + 1,
                                    annotation_status(array, self._framed), mtime)
            self.database.add_event(connection, "save", annotator, sample, count=max(0, strokes))
        return current + 1

    def write_many(self, annotator: str, annotations: dict[int, np.ndarray], *,
                   event: str = "import") -> int:
        """Save a new version of several samples at once (imports); return how many.

        The files are flushed to disk together at the end, which is much
        faster than one flush per file; the whole import is one transaction.
        """
        checked = {self.project.check_sample(sample): self.check_data(data)
                   for sample, data in annotations.items()}
        folder = self.project.annotation_folder(annotator)
        no_frames = np.zeros(self.project.n_frames or 0, dtype=bool)
        with self.database.transaction() as connection:
            for sample, array in checked.items():
                version = self._version_on_disk(annotator, sample) + 1
                mtime = self._write_file(annotator, sample, array, version, no_frames,
                                         durable=False)
                self.database.set_index(connection, annotator, sample, version,
                                        annotation_status(array, self._framed), mtime)
            for sample in checked:
                with open(self.file(annotator, sample), "rb") as file:
                    os.fsync(file.fileno())
            fsync_directory(folder)
            self.database.add_event(connection, event, annotator, count=len(checked))
        return len(checked)

    def import_layer(self, annotator: str, E: Any) -> int:
        """Save every sample of ``E`` that has a non-NaN value as a new version; return how many."""
        E = np.asarray(E, dtype=np.float32)
        annotated = ~np.isnan(E.reshape(len(E), -1)).all(axis=1)
        return self.write_many(annotator, {int(i): E[i] for i in np.flatnonzero(annotated)})

    # ------------------------------------------------------------------ index
    def reconcile(self, clean: bool = False) -> None:
        """Bring the index in line with the files (after a crash between a save and its index row).

        With ``clean=True``, also remove the temporary files a killed writer
        left; only when no other process may be saving.
        """
        rows = {(row[0], row[1]): row[4] for row in self.database.index()}
        seen = set()
        stale = []
        for annotator in self.project.annotators():
            folder = self.project.annotation_folder(annotator)
            if clean:
                remove_stale_temporaries(folder)
            for entry in os.scandir(folder):
                stem, _, suffix = entry.name.partition(".")
                if suffix != "npz" or not stem.isdigit() or int(stem) >= self.project.n_samples:
                    continue
                key = (annotator, int(stem))
                seen.add(key)
                if rows.get(key) != entry.stat().st_mtime_ns:
                    stale.append(key)
        gone = [key for key in rows if key not in seen]
        if not stale and not gone:
            return
        with self.database.transaction() as connection:
            for annotator, sample in stale:
                record = self.read(annotator, sample)
                mtime = self.file(annotator, sample).stat().st_mtime_ns
                self.database.set_index(connection, annotator, sample, record.version,
                                        annotation_status(record.data, self._framed), mtime)
            connection.executemany("DELETE FROM annotation_index WHERE annotator = ? AND "
                                   "sample = ?", gone)

    def status(self, annotator: str | None = None) -> tuple[list[str], list[int]]:
        """Status and version of every sample in one layer (or the best over all layers)."""
        rank = {"unannotated": 0, "partial": 1, "annotated": 2}
        status = ["unannotated"] * self.project.n_samples
        version = [0] * self.project.n_samples
        for _, sample, row_version, row_status, _ in self.database.index(annotator):
            if rank[row_status] >= rank[status[sample]]:
                status[sample] = row_status
            version[sample] = max(version[sample], row_version)
        return status, version

    def merged(self, annotators: list[str], merge: str = "mean") -> np.ndarray:
        """``E`` of every sample: the layers' values combined cell by cell, NaN where none has one."""
        total = np.zeros((self.project.n_samples, *self.project.annotation_shape), np.float32)
        count = np.zeros(total.shape, dtype=np.int32)
        wanted = set(annotators)
        for annotator, sample, *_ in self.database.index():
            if annotator not in wanted:
                continue
            data = self.read(annotator, sample).data
            present = ~np.isnan(data)
            total[sample][present] += data[present]
            count[sample] += present
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (total / count).astype(np.float32)
        return np.sign(mean) if merge == "majority" else mean


def _annotators(project: Project, annotator: Any) -> list[str]:
    available = project.annotators()
    if annotator is None:
        return available
    names = [annotator] if isinstance(annotator, str) else list(annotator)
    unknown = [name for name in names if not isinstance(name, str) or name not in available]
    if unknown:
        raise ValueError(f"annotator {unknown[0]!r} has no annotations in {project.path}; "
                         f"annotators: {', '.join(available) or 'none'}.")
    return names


def load_annotations(path: str | os.PathLike[str], annotator: str | list[str] | None = None,
                     merge: str = "mean") -> np.ndarray:
    """The project's annotations as the ``E`` that ``fit`` takes.

    Parameters
    ----------
    path : path-like
        A project folder (see :func:`create_project`).
    annotator : str, list of str or None, default=None
        Whose layers to use; None uses every annotator's.
    merge : {"mean", "majority"}, default="mean"
        How to combine the layers that annotated a cell: their mean (a soft
        weight when they disagree), or its sign (majority vote; 0 on a tie).
        A layer that left a cell NaN (a frame marked "not annotated", a
        sample never saved) does not take part.

    Returns
    -------
    numpy.ndarray
        float32 ``(N, F)``, ``(N, T, F)``, ``(N, H, W)`` or ``(N, T, H, W)``,
        NaN for the samples and frames nobody annotated.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from xsup.app import create_project, load_annotations
    >>> folder = create_project(tempfile.mkdtemp() + "/p", np.zeros((2, 3)), E=[[1, -1, 0],
    ...                         [np.nan] * 3])
    >>> load_annotations(folder)
    array([[ 1., -1.,  0.],
           [nan, nan, nan]], dtype=float32)
    """
    if merge not in MERGES:
        raise ValueError(f"merge must be one of {', '.join(MERGES)}; got {merge!r}.")
    project = Project(path)
    store = AnnotationStore(project)
    try:
        return store.merged(_annotators(project, annotator), merge)
    finally:
        store.close()


def export_annotations(path: str | os.PathLike[str], file: str | os.PathLike[str],
                       annotator: str | list[str] | None = None, merge: str = "mean") -> Path:
    """Write :func:`load_annotations`'s ``E`` to a ``.npy`` file (atomically); return its path."""
    E = load_annotations(path, annotator=annotator, merge=merge)
    out = Path(file)
    write_atomic(out, lambda handle: np.save(handle, E, allow_pickle=False))
    return out
