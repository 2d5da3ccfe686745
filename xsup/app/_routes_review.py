"""Routes of review and retraining: saliency maps, ratings, blind comparison, rounds, export."""

from __future__ import annotations

import io
import re
import zlib
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from xsup.app._annotations import MERGES
from xsup.app._arrays import array_bytes
from xsup.app._files import check_name
from xsup.app._http import AppState, endpoint, path_sample, query_annotator, query_int
from xsup.app._routes_samples import frame_of

__all__ = ["ROUTES", "comparison_order"]


def _round(state: AppState, request: Request) -> int:
    round_ = query_int(request, "round", state.rounds.latest())
    if round_ is None:
        raise ValueError("no round has finished yet: train one first.")
    return state.rounds.check_done(round_)


@endpoint
def get_saliency(state: AppState, request: Request, body: Any) -> Response:
    """``GET /api/samples/{i}/saliency?round=K[&frame=t]``: the round's map as float32 bytes."""
    sample = path_sample(state, request)
    saliency = state.rounds.results(_round(state, request))["saliency"][sample]
    content, headers = array_bytes(frame_of(state, request, saliency))
    return Response(content, media_type="application/octet-stream",
                    headers={**headers, "cache-control": "private, max-age=3600"})


@endpoint
def put_rating(state: AppState, request: Request, body: Any) -> dict[str, Any]:
    """``PUT /api/samples/{i}/rating?annotator=NAME``: set or withdraw a rating.

    The body is ``{"round": K, "rating": "right" | "wrong" | "unsure" | null}``.
    """
    sample = path_sample(state, request)
    annotator = query_annotator(request)
    if not isinstance(body, dict) or "rating" not in body:
        raise ValueError('the body must be {"round": K, "rating": "right" | "wrong" | "unsure" '
                         "| null}.")
    round_ = state.rounds.check_done(body.get("round"))
    state.store.database.set_rating(annotator, sample, round_, body["rating"])
    return {"round": round_, "rating": body["rating"]}


def comparison_order(rounds: list[int], annotator: str, sample: int) -> list[int]:
    """The rounds in an order shuffled per annotator and sample (the same on every visit)."""
    seed = zlib.crc32(f"{annotator}\0{sample}".encode())
    return [rounds[i] for i in np.random.default_rng(seed).permutation(len(rounds))]


@endpoint
def get_comparison(state: AppState, request: Request, body: Any) -> dict[str, Any]:
    """``GET /api/samples/{i}/compare?annotator=NAME``: finished rounds as maps "A", "B", ... in a
    shuffled order, so the reviewer rates each without knowing which model made it."""
    sample = path_sample(state, request)
    annotator = query_annotator(request)
    done = [info["round"] for info in state.rounds.history() if info["status"] == "done"]
    ratings = {row[2]: row[3] for row in state.store.database.ratings(annotator=annotator,
                                                                       sample=sample)}
    order = comparison_order(done, annotator, sample)
    return {"maps": [{"label": chr(ord("A") + index) if index < 26 else str(index + 1),
                      "round": round_, "rating": ratings.get(round_)}
                     for index, round_ in enumerate(order)]}


@endpoint
def list_rounds(state: AppState, request: Request, body: Any) -> dict[str, Any]:
    """``GET /api/rounds``: the round history, oldest first."""
    return {"rounds": state.rounds.history()}


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be true or false; got {value!r}.")
    return value


@endpoint
def start_round(state: AppState, request: Request, body: Any) -> Response:
    """``POST /api/rounds``: start the next round (202); 409 while one runs."""
    body = {} if body is None else body
    if not isinstance(body, dict):
        raise TypeError("the body must be a JSON object.")
    unknown = sorted(set(body) - {"annotators", "merge", "wrong_reason_only", "source"})
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}; fields: annotators, merge, "
                         "wrong_reason_only, source.")
    annotators = body.get("annotators")
    if annotators is not None:
        if not isinstance(annotators, list):
            raise ValueError(f"annotators must be a list of names or null; got {annotators!r}.")
        annotators = [check_name(name) for name in annotators]
    merge = body.get("merge", "mean")
    if merge not in MERGES:
        raise ValueError(f"merge must be one of {', '.join(MERGES)}; got {merge!r}.")
    info = state.rounds.start(annotators=annotators, merge=merge,
                              wrong_reason_only=_flag(body, "wrong_reason_only"),
                              source=body.get("source", "train"))
    return JSONResponse(info, status_code=202)


def _path_round(request: Request) -> int:
    text = request.path_params["round"]
    if not text.isdigit():
        raise ValueError(f"round must be a positive integer; got {text!r}.")
    return int(text)


@endpoint
def cancel_round(state: AppState, request: Request, body: Any) -> dict[str, Any]:
    """``POST /api/rounds/{k}/cancel``: stop a running round."""
    return state.rounds.cancel(_path_round(request))


@endpoint
def resume_round(state: AppState, request: Request, body: Any) -> dict[str, Any]:
    """``POST /api/rounds/{k}/resume``: run an interrupted round again from its checkpoint."""
    return state.rounds.resume(_path_round(request))


@endpoint
def export_npy(state: AppState, request: Request, body: Any) -> Response:
    """``GET /api/export.npy[?annotator=NAME][&merge=mean]``: the merged ``E`` as a ``.npy`` file."""
    names = ([query_annotator(request)] if "annotator" in request.query_params
             else state.project.annotators())
    merge = request.query_params.get("merge", "mean")
    if merge not in MERGES:
        raise ValueError(f"merge must be one of {', '.join(MERGES)}; got {merge!r}.")
    buffer = io.BytesIO()
    np.save(buffer, state.store.merged(names, merge), allow_pickle=False)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", state.project.path.name) + "-E.npy"
    return Response(buffer.getvalue(), media_type="application/octet-stream",
                    headers={"content-disposition": f'attachment; filename="{name}"',
                             "cache-control": "no-store"})


ROUTES = [
    Route("/api/samples/{sample}/saliency", get_saliency),
    Route("/api/samples/{sample}/rating", put_rating, methods=["PUT"]),
    Route("/api/samples/{sample}/compare", get_comparison),
    Route("/api/rounds", list_rounds, methods=["GET"]),
    Route("/api/rounds", start_round, methods=["POST"]),
    Route("/api/rounds/{round}/cancel", cancel_round, methods=["POST"]),
    Route("/api/rounds/{round}/resume", resume_round, methods=["POST"]),
    Route("/api/export.npy", export_npy),
]
