"""Routes of the samples and their annotations: the list, one sample, its input, its annotation."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from xsup.app._arrays import array_bytes, jsonable, parse_values, values_json
from xsup.app._http import AppState, endpoint, path_sample, query_annotator, query_int
from xsup.app._listing import round_columns, sample_table

__all__ = ["ROUTES", "frame_of"]


def _label(state: AppState, sample: int) -> Any:
    y = state.project.y
    return None if y is None else jsonable(y[sample : sample + 1])[0]


@endpoint
def get_project(state: AppState, request: Request, body: Any) -> dict[str, Any]:
    """What the page needs to know once: kind, shapes, annotators, the estimator, the model."""
    project = state.project
    model = project.path / "model"
    return {
        "name": project.path.name, "kind": project.kind, "n_samples": project.n_samples,
        "shape": list(project.sample_shape), "annotation_shape": list(project.annotation_shape),
        "n_frames": project.n_frames, "has_labels": project.has_labels,
        "feature_names": project.feature_names,
        "annotators": project.annotators(), "estimator": project.estimator_config(),
        "has_model": (model / "params.pt").is_file(),
    }


@endpoint
def list_samples(state: AppState, request: Request, body: Any) -> dict[str, Any]:
    """``GET /api/samples``: ids, kind, shape, annotation status and review columns, filtered
    and sorted."""
    query = request.query_params
    annotator = query_annotator(request) if "annotator" in query else None
    round_ = query_int(request, "round")
    if round_ is None and query.get("round") != "":
        round_ = state.rounds.latest()
    if round_ is not None:
        state.rounds.check_done(round_)
    return sample_table(state.store, state.rounds, annotator=annotator, round_=round_,
                        sort=query.get("sort", "id"), filter_=query.get("filter", "all"))


def _dataset_ranges(X: np.ndarray) -> list[list[float]]:
    """Per-feature minimum and maximum of a tabular data set, read in chunks."""
    low = np.full(X.shape[1], np.inf)
    high = np.full(X.shape[1], -np.inf)
    for start in range(0, len(X), 65536):
        chunk = np.asarray(X[start : start + 65536], dtype=np.float64)
        low = np.minimum(low, np.nanmin(chunk, axis=0))
        high = np.maximum(high, np.nanmax(chunk, axis=0))
    return np.stack([low, high], axis=1).tolist()


def _finite_ranges(ranges: list[list[float]]) -> list[list[float]]:
    return [pair if all(np.isfinite(pair)) else [0.0, 1.0] for pair in ranges]


def value_ranges(state: AppState, sample: int) -> list[list[float]]:
    """``[min, max]`` per channel (images), per feature (time series, tabular) for display.

    A channel or feature without a finite value (all NaN, infinite) gets ``[0, 1]``.
    """
    project = state.project
    if project.kind == "tabular":
        if "ranges" not in state.cache:
            state.cache["ranges"] = _finite_ranges(_dataset_ranges(project.X))
        return state.cache["ranges"]
    x = np.asarray(project.X[sample], dtype=np.float64)
    if project.kind == "time_series":  # (T, F): per feature over time
        columns = x.T
    elif project.kind == "images":  # (C, H, W): per channel
        columns = x.reshape(len(x), -1)
    else:  # (T, C, H, W): per channel over every frame
        columns = np.moveaxis(x, 1, 0).reshape(x.shape[1], -1)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN channel: [0, 1] below
        ranges = np.stack([np.nanmin(columns, axis=1), np.nanmax(columns, axis=1)], axis=1)
    return _finite_ranges(ranges.tolist())


def sample_round(state: AppState, sample: int, round_: int,
                 annotator: str) -> dict[str, Any]:
    """The review facts of one sample in one finished round."""
    columns = round_columns(state.rounds, round_, state.project.y)
    facts = {name: values[sample : sample + 1] for name, values in columns.items()}
    ratings = state.store.database.ratings(annotator=annotator, round_=round_, sample=sample)
    result = {name: (jsonable(value)[0] if value.dtype != object else
                     (value[0].item() if hasattr(value[0], "item") else value[0]))
              for name, value in facts.items()}
    return {"round": round_, **result, "rating": ratings[-1][3] if ratings else None}


@endpoint
def get_sample(state: AppState, request: Request, body: Any) -> dict[str, Any]:
    """``GET /api/samples/{i}``: shape, label, display ranges, layers, and review facts."""
    sample = path_sample(state, request)
    annotator = query_annotator(request)
    project = state.project
    layers = {name: state.store.read(name, sample).version for name in project.annotators()}
    round_ = query_int(request, "round", state.rounds.latest())
    return {
        "id": sample, "kind": project.kind, "shape": list(project.sample_shape),
        "annotation_shape": list(project.annotation_shape), "n_frames": project.n_frames,
        "label": _label(state, sample), "range": value_ranges(state, sample),
        "annotations": {name: version for name, version in layers.items() if version},
        "review": None if round_ is None else
        sample_round(state, sample, state.rounds.check_done(round_), annotator),
    }


def frame_of(state: AppState, request: Request, array: Any) -> Any:
    """The frame the ``frame`` query parameter selects (raster sequences), or the whole array."""
    frame = query_int(request, "frame")
    if frame is None:
        return array
    if state.project.n_frames is None:
        raise ValueError("frame applies to raster sequences only.")
    if not 0 <= frame < state.project.n_frames:
        raise ValueError(f"frame must be in [0, {state.project.n_frames - 1}]; got {frame}.")
    return array[frame]


@endpoint
def get_input(state: AppState, request: Request, body: Any) -> Response:
    """``GET /api/samples/{i}/input[?frame=t]``: the sample as little-endian float32 bytes."""
    sample = path_sample(state, request)
    content, headers = array_bytes(frame_of(state, request, state.project.X[sample]))
    return Response(content, media_type="application/octet-stream",
                    headers={**headers, "cache-control": "private, max-age=3600"})


def _etag(version: int) -> dict[str, str]:
    return {"etag": f'"{version}"', "cache-control": "no-store"}


@endpoint
def get_annotation(state: AppState, request: Request, body: Any) -> Response:
    """``GET /api/samples/{i}/annotation?annotator=NAME``: ``{"shape", "data", "version",
    "filled"}``."""
    sample = path_sample(state, request)
    record = state.store.read(query_annotator(request), sample)
    text = (f'{{"shape":{list(record.data.shape)},"data":{values_json(record.data)},'
            f'"version":{record.version},"filled":{np.flatnonzero(record.filled).tolist()}}}')
    return Response(text, media_type="application/json", headers=_etag(record.version))


def _expected_version(request: Request, body: dict[str, Any]) -> int:
    header = request.headers.get("if-match")
    if header is not None:
        text = header.strip().removeprefix("W/").strip('"')
        if not text.isdigit():
            raise ValueError(f"If-Match must be the version number the edit started from; "
                             f"got {header!r}.")
        return int(text)
    version = body.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError("send the version the edit started from in If-Match (or as "
                         f"\"version\" in the body); got {version!r}.")
    return version


@endpoint
def put_annotation(state: AppState, request: Request, body: Any) -> Response:
    """``PUT /api/samples/{i}/annotation?annotator=NAME``: save; answer the new version, 409
    when stale."""
    sample = path_sample(state, request)
    annotator = query_annotator(request)
    if not isinstance(body, dict):
        raise TypeError('the body must be {"shape": [...], "data": [...], "version": n}.')
    shape = list(state.project.annotation_shape)
    if body.get("shape") != shape:
        raise ValueError(f"shape must be {shape}; got {body.get('shape')!r}.")
    data = parse_values(body.get("data"), tuple(shape))
    strokes = body.get("strokes", 0)
    if isinstance(strokes, bool) or not isinstance(strokes, int) or strokes < 0:
        raise ValueError(f"strokes must be a non-negative integer; got {strokes!r}.")
    version = state.store.write(annotator, sample, data,
                                expected_version=_expected_version(request, body),
                                filled=body.get("filled"), strokes=strokes)
    return Response(f'{{"version":{version}}}', media_type="application/json",
                    headers=_etag(version))


ROUTES = [
    Route("/api/project", get_project),
    Route("/api/samples", list_samples),
    Route("/api/samples/{sample}", get_sample),
    Route("/api/samples/{sample}/input", get_input),
    Route("/api/samples/{sample}/annotation", get_annotation, methods=["GET"]),
    Route("/api/samples/{sample}/annotation", put_annotation, methods=["PUT"]),
]
