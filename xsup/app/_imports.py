"""Masks in and out: PNG mask folders, Label Studio brush exports.

PNG folders hold one 8-bit image per annotated frame, named ``SAMPLE.png``
(images) or ``SAMPLE_FRAME.png`` (raster sequences). :func:`export_png_masks`
writes the signed encoding (0 = -1 should not matter, 128 = 0 not annotated,
255 = 1 should matter); :func:`import_png_masks` reads it back, or reads
binary masks (painted = at least 128) into a chosen value, so a folder of
"should matter" masks and one of "should not matter" masks can go into the
same layer one after the other.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from xsup.app._annotations import AnnotationStore, load_annotations
from xsup.app._files import check_name, write_atomic
from xsup.app._project import Project
from xsup.app._rle import rle_mask

__all__ = ["ENCODINGS", "export_png_masks", "import_label_studio", "import_png_masks"]

#: How the grey levels of a PNG mask map to annotation values.
ENCODINGS = ("binary", "signed")

_NAME = re.compile(r"(\d+)(?:_(\d+))?\.png")


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise ImportError('PNG masks need Pillow: pip install "xsup[app]" (or pillow).') from None
    return Image


def _framed_project(path: Any, what: str) -> Project:
    project = Project(path)
    if project.kind not in ("images", "raster_sequences"):
        kind = project.kind.replace("_", " ")
        raise ValueError(f"{what} holds image masks; the project holds {kind}, whose annotations "
                         "are not images.")
    return project


def _frames(project: Project, annotation: np.ndarray) -> np.ndarray:
    """The annotation as (frames, H, W): one frame for an image."""
    return annotation[None] if project.n_frames is None else annotation


def _apply(project: Project, store: AnnotationStore, annotator: str,
           frames: dict[tuple[int, int], np.ndarray], replace: bool) -> int:
    """Write imported frames into a layer: ``replace`` whole frames, or paint the non-zero cells."""
    updated = {}
    for sample in sorted({sample for sample, _ in frames}):
        annotation = store.read(annotator, sample).data.copy()
        view = _frames(project, annotation)
        for (owner, frame), values in frames.items():
            if owner != sample:
                continue
            if replace:
                view[frame] = values
            else:
                view[frame] = np.where(values != 0, values, np.nan_to_num(view[frame]))
        updated[sample] = annotation
    return store.write_many(annotator, updated)


def _frame_key(project: Project, name: str, sample: int, frame: int | None) -> tuple[int, int]:
    project.check_sample(sample)
    if (frame is None) != (project.n_frames is None):
        expected = "SAMPLE_FRAME.png" if project.n_frames else "SAMPLE.png"
        raise ValueError(f"{name}: masks of this project are named {expected}.")
    if frame is not None and not 0 <= frame < project.n_frames:
        raise ValueError(f"{name}: frame must be in [0, {project.n_frames - 1}]; got {frame}.")
    return sample, frame or 0


def import_png_masks(path: str | os.PathLike[str], folder: str | os.PathLike[str], *,
                     annotator: str = "default", value: float = 1.0,
                     encoding: str = "binary") -> int:
    """Import a folder of PNG masks into an annotator's layer; return the samples updated.

    Parameters
    ----------
    path : path-like
        A project of images or raster sequences.
    folder : path-like
        PNG files named ``SAMPLE.png`` or ``SAMPLE_FRAME.png``, each the size
        of a frame. A mask with transparency is read from its alpha channel,
        others from their grey level.
    annotator : str, default="default"
        Layer to write (a new version of each sample).
    value : float, default=1.0
        With ``encoding="binary"``, the value painted cells get (1 should
        matter, -1 should not); the other cells keep the layer's values.
    encoding : {"binary", "signed"}, default="binary"
        ``"binary"``: a cell is painted when its level is at least 128.
        ``"signed"``: the levels :func:`export_png_masks` writes (below 64:
        -1, 192 and above: 1, else 0) replace whole frames.

    Raises
    ------
    ValueError
        A file name, size or argument does not fit the project.
    """
    image_module = _pillow()
    project = _framed_project(path, "import_png_masks")
    check_name(annotator)
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}; got {encoding!r}.")
    if not isinstance(value, (int, float)) or not -1 <= value <= 1:
        raise ValueError(f"value must be a number in [-1, 1]; got {value!r}.")
    height, width = project.annotation_shape[-2:]
    frames = {}
    for file in sorted(Path(folder).glob("*.png")):
        match = _NAME.fullmatch(file.name)
        if match is None:
            raise ValueError(f"{file.name}: PNG masks must be named SAMPLE.png or "
                             "SAMPLE_FRAME.png (integers).")
        key = _frame_key(project, file.name, int(match[1]),
                         None if match[2] is None else int(match[2]))
        with image_module.open(file) as image:
            alpha = image.mode in ("RGBA", "LA") or "transparency" in image.info
            levels = np.asarray(image.convert("RGBA").getchannel("A") if alpha
                                else image.convert("L"))
        if levels.shape != (height, width):
            raise ValueError(f"{file.name}: the mask is {levels.shape[1]}x{levels.shape[0]}; "
                             f"frames are {width}x{height}.")
        if encoding == "binary":
            frames[key] = np.where(levels >= 128, np.float32(value), np.float32(0))
        else:
            frames[key] = np.select([levels < 64, levels >= 192], [-1.0, 1.0], 0.0)
    if not frames:
        raise ValueError(f"{folder} holds no PNG masks.")
    store = AnnotationStore(project)
    try:
        return _apply(project, store, annotator, frames, replace=encoding == "signed")
    finally:
        store.close()


def export_png_masks(path: str | os.PathLike[str], folder: str | os.PathLike[str], *,
                     annotator: str | list[str] | None = None, merge: str = "mean") -> int:
    """Write every annotated frame as an 8-bit PNG in the signed encoding; return how many.

    Values v in [-1, 1] become levels ``round((v + 1) * 127.5)``: 0 should
    not matter, 128 not annotated, 255 should matter; NaN cells are written
    as 128, and frames that are all NaN are left out. ``annotator`` and
    ``merge`` are those of :func:`load_annotations`.
    """
    image_module = _pillow()
    project = _framed_project(path, "export_png_masks")
    E = load_annotations(path, annotator=annotator, merge=merge)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for sample in range(project.n_samples):
        for frame, values in enumerate(_frames(project, E[sample])):
            if np.isnan(values).all():
                continue
            levels = np.rint((np.nan_to_num(values) + 1) * 127.5).clip(0, 255).astype(np.uint8)
            name = f"{sample}.png" if project.n_frames is None else f"{sample}_{frame}.png"
            write_atomic(out / name, lambda file, levels=levels: image_module.fromarray(
                levels, mode="L").save(file, format="PNG"))
            written += 1
    return written


def _task_key(project: Project, task: Mapping[str, Any], samples: Mapping[Any, Any] | None,
              sample_key: str, frame_key: str) -> tuple[int, int]:
    task_id = task.get("id")
    data = task.get("data", {}) if isinstance(task.get("data"), Mapping) else {}
    if samples is not None:
        if task_id not in samples:
            raise ValueError(f"task {task_id!r} is not in samples.")
        target = samples[task_id]
        sample, frame = target if isinstance(target, tuple) else (target, None)
    else:
        if sample_key not in data:
            raise ValueError(f"task {task_id!r} has no data[{sample_key!r}] naming its sample; "
                             "add it to the tasks, or pass samples={task_id: sample}.")
        sample, frame = data[sample_key], data.get(frame_key)
    if isinstance(sample, bool) or not isinstance(sample, int) or (
            frame is not None and (isinstance(frame, bool) or not isinstance(frame, int))):
        raise ValueError(f"task {task_id!r}: sample and frame must be integers; "
                         f"got {sample!r} and {frame!r}.")
    return _frame_key(project, f"task {task_id!r}", sample, frame)


def import_label_studio(path: str | os.PathLike[str], export: str | os.PathLike[str], *,
                        annotator: str = "default", labels: Mapping[str, float] | None = None,
                        samples: Mapping[Any, Any] | None = None, sample_key: str = "sample",
                        frame_key: str = "frame") -> int:
    """Import the brush masks of a Label Studio JSON export; return the samples updated.

    Each task's brush results (``brushlabels`` with ``format: "rle"``) are
    decoded, painted with their label's value, and replace the frame they
    annotate (unpainted cells become 0, not annotated); other result types
    are skipped.

    Parameters
    ----------
    path : path-like
        A project of images or raster sequences.
    export : path-like
        Label Studio's "JSON" export: a list of tasks with ``annotations``.
    annotator : str, default="default"
        Layer to write.
    labels : mapping of str to float, optional
        Value of each brush label, e.g. ``{"Evidence": 1, "Decoy": -1}``;
        None paints every label 1. A label missing from it is an error.
    samples : mapping, optional
        Task id to sample index (or ``(sample, frame)``); by default each
        task's ``data[sample_key]`` (and ``data[frame_key]``) says.
    sample_key, frame_key : str, default="sample", "frame"
        Keys of the task data that name the sample and the frame.

    Raises
    ------
    ValueError
        The file is not such an export, a task names no sample, a mask's
        size or a label does not fit.
    """
    project = _framed_project(path, "import_label_studio")
    check_name(annotator)
    try:
        with open(export, encoding="utf-8") as file:
            tasks = json.load(file)
    except json.JSONDecodeError as error:
        raise ValueError(f"{export}: not a JSON file ({error}).") from None
    if not isinstance(tasks, list) or not all(isinstance(task, Mapping) for task in tasks):
        raise ValueError(f"{export}: a Label Studio JSON export is a list of tasks.")
    height, width = project.annotation_shape[-2:]
    frames = {}
    for task in tasks:
        for annotation in task.get("annotations", []):
            for result in annotation.get("result", []):
                value = result.get("value", {})
                if result.get("type") != "brushlabels" or value.get("format") != "rle":
                    continue
                size = (result.get("original_height"), result.get("original_width"))
                if size != (height, width):
                    raise ValueError(f"task {task.get('id')!r}: the mask is {size[1]}x{size[0]}; "
                                     f"frames are {width}x{height}.")
                names = value.get("brushlabels") or [""]
                if labels is not None and names[0] not in labels:
                    raise ValueError(f"task {task.get('id')!r}: label {names[0]!r} is not in "
                                     f"labels ({', '.join(map(repr, labels))}).")
                painted = 1.0 if labels is None else float(labels[names[0]])
                key = _task_key(project, task, samples, sample_key, frame_key)
                frame = frames.setdefault(key, np.zeros((height, width), dtype=np.float32))
                frame[rle_mask(value["rle"], height, width)] = painted
    if not frames:
        raise ValueError(f"{export} holds no brush (RLE) results.")
    store = AnnotationStore(project)
    try:
        return _apply(project, store, annotator, frames, replace=True)
    finally:
        store.close()
