"""The web app: the page and its static files, the JSON API behind the gate, and ``serve``."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from xsup.app import _routes_review, _routes_samples
from xsup.app._http import AppState
from xsup.app._security import Guard, allowed_hosts, check_token, cookie_name

__all__ = ["STATIC", "create_app", "serve"]

#: The page's files, shipped as package data (plain ES modules, no build step).
STATIC = Path(__file__).parent / "static"

_MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html",
                ".svg": "image/svg+xml", ".png": "image/png"}


def _static_files() -> dict[str, Path]:
    """Every file the page may load, by URL name: the client names one, never a path."""
    return {path.relative_to(STATIC).as_posix(): path for path in STATIC.rglob("*")
            if path.is_file() and path.suffix in _MEDIA_TYPES}


def create_app(path: str | os.PathLike[str], *, token: str, host: str = "127.0.0.1",
               port: int = 8765) -> Guard:
    """The ASGI app that serves one project, behind its host and token checks.

    Parameters
    ----------
    path : path-like
        A project folder (see :func:`create_project`).
    token : str
        The secret every request must carry (8 to 256 URL-safe characters).
    host : str, default="127.0.0.1"
        The address the server binds; requests must name it (or a loopback
        name) in their ``Host`` header.
    port : int, default=8765
        The port it listens on (names the token cookie).

    Returns
    -------
    Guard
        An ASGI application (e.g. for ``starlette.testclient.TestClient``).
    """
    state = AppState.open(path)
    files = _static_files()

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html",
                            headers={"cache-control": "no-store"})

    async def static(request: Request) -> Response:
        file = files.get(request.path_params["name"])
        if file is None:
            return PlainTextResponse("Not found.", status_code=404)
        return FileResponse(file, media_type=_MEDIA_TYPES[file.suffix],
                            headers={"cache-control": "no-cache"})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        state.close()

    app = Starlette(
        debug=False, lifespan=lifespan,
        routes=[Route("/", page), Route("/static/{name:path}", static),
                *_routes_samples.ROUTES, *_routes_review.ROUTES],
    )
    app.state.xsup = state
    return Guard(app, token, allowed_hosts(host), cookie_name(port))


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@contextlib.contextmanager
def _project_lock(path: Path) -> Any:
    """Hold ``.xsup-app.lock``: one server per project, or two would race on versions."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; one server per project is then up to you
        yield
        return
    with open(path / ".xsup-app.lock", "a+b") as file:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ValueError(f"another 'xsup app' is already serving {path}.") from None
        yield


def serve(path: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 8765,
          token: str | None = None, *, announce: Callable[[str], Any] | None = None) -> None:
    """Serve a project until interrupted (what ``xsup app`` runs).

    Parameters
    ----------
    path : path-like
        A project folder.
    host : str, default="127.0.0.1"
        Address to bind; only this machine can connect unless another is given.
    port : int, default=8765
        Port to listen on; 0 picks a free one.
    token : str, optional
        The secret of the URL; a random one when None.
    announce : callable, optional
        Receives the line with the URL (default: print it and flush).
    """
    import uvicorn

    from xsup.app._project import Project

    project = Project(path)
    token = check_token(token if token is not None else secrets.token_urlsafe(24))
    with _project_lock(project.path), contextlib.closing(_listen(host, port)) as sock:
        bound = sock.getsockname()[1]
        app = create_app(project.path, token=token, host=host, port=bound)
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        shown = f"[{shown}]" if ":" in shown else shown
        line = f"xsup app: serving {project.path} at http://{shown}:{bound}/?token={token}"
        (announce or (lambda text: print(text, file=sys.stdout, flush=True)))(line)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                server_header=False, timeout_graceful_shutdown=2)
        uvicorn.Server(config).run(sockets=[sock])
