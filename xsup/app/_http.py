"""What every route shares: the opened project, JSON answers, errors as status codes, parameters."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from xsup.app._annotations import AnnotationStore, StaleVersion
from xsup.app._database import Database
from xsup.app._files import check_name
from xsup.app._project import Project
from xsup.app._rounds import RoundBusy, Rounds, UnknownRound

__all__ = ["DEFAULT_ANNOTATOR", "AppState", "endpoint", "error", "path_sample", "query_annotator",
           "query_int", "read_json_body"]

#: Layer of requests that name no annotator.
DEFAULT_ANNOTATOR = "default"

#: Largest request body accepted (an annotation of 8 million cells as JSON fits).
MAX_BODY = 256 * 2**20


@dataclass
class AppState:
    """The project a server serves, its annotation store and its rounds."""

    project: Project
    store: AnnotationStore
    rounds: Rounds
    cache: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, path: Any) -> AppState:
        """Open a project folder as its only server: the index is checked against the files and
        the temporary files of interrupted saves are removed."""
        project = Project(path)
        store = AnnotationStore(project, Database(project.database), clean=True)
        return cls(project, store, Rounds(store))

    def close(self) -> None:
        """Close the database and reap finished round processes."""
        self.rounds.close()
        self.store.database.close()


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    """A JSON error answer ``{"error": message, ...}``."""
    return JSONResponse({"error": message, **extra}, status_code=status,
                        headers={"cache-control": "no-store"})


def endpoint(handler: Callable[..., Any]) -> Callable[[Request], Awaitable[Response]]:
    """Run a blocking handler ``handler(state, request, body)`` off the event loop.

    The JSON body (for PUT and POST) is read first; the handler's return value
    becomes the answer (a dict or list as JSON). Bad input (``ValueError``,
    ``TypeError``) answers 400, an unknown round 404, a stale save or a busy
    round 409.
    """

    @functools.wraps(handler)
    async def route(request: Request) -> Response:
        state: AppState = request.app.state.xsup
        try:
            body = await read_json_body(request) if request.method in ("PUT", "POST") else None
            result = await run_in_threadpool(handler, state, request, body)
        except StaleVersion as stale:
            return error(409, str(stale), version=stale.current)
        except RoundBusy as busy:
            return error(409, str(busy))
        except UnknownRound as unknown:
            return error(404, str(unknown))
        except (ValueError, TypeError) as bad:
            return error(400, str(bad))
        if isinstance(result, Response):
            return result
        return JSONResponse(result, headers={"cache-control": "no-store"})

    return route


async def read_json_body(request: Request) -> Any:
    """The request's JSON body (None when empty); ``ValueError`` when too large or not JSON."""
    if request.headers.get("content-length") == "0":
        return None
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise ValueError("the body must be JSON, sent with 'Content-Type: application/json'.")
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise ValueError(f"the body is larger than {MAX_BODY} bytes.")
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ValueError(f"the body is larger than {MAX_BODY} bytes.")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as bad:
        raise ValueError(f"the body is not valid JSON ({bad}).") from None


def query_int(request: Request, name: str, default: int | None = None) -> int | None:
    """An integer query parameter, or ``default`` when absent."""
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name} must be an integer; got {text!r}.") from None


def query_annotator(request: Request) -> str:
    """The ``annotator`` query parameter (a checked layer name), ``default`` when absent."""
    return check_name(request.query_params.get("annotator", DEFAULT_ANNOTATOR))


def path_sample(state: AppState, request: Request) -> int:
    """The sample index in the URL, checked against the project."""
    text = request.path_params["sample"]
    if not text.isdigit():
        raise ValueError(f"sample index must be a non-negative integer; got {text!r}.")
    return state.project.check_sample(int(text))
