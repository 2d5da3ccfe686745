"""Fixtures of the annotation app's tests: a served project in a subprocess, and Chromium."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

#: The token of the servers the tests start.
APP_TOKEN = "test-token-0123456789"

#: Where the distribution packages put Chromium, and what Playwright should launch.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: Flags of a headless Chromium that runs in a container without a network.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-dev-shm-usage"]


class AppServer:
    """``xsup app PROJECT --port 0`` running in a subprocess; ``url`` is its base URL."""

    def __init__(self, project: Path) -> None:
        command = [sys.executable, "-c", "from xsup.cli.main import main; raise SystemExit(main())",
                   "app", str(project), "--port", "0", "--token", APP_TOKEN]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        line = self.process.stdout.readline()
        if " at http" not in line:
            self.process.kill()
            raise RuntimeError(f"xsup app did not start: {line}{self.process.stderr.read()}")
        self.url = line.split(" at ", 1)[1].split("/?token=")[0]
        self.first_url = f"{self.url}/?token={APP_TOKEN}"

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when the machine or the OOM killer stops it."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process.stdout.close()
        self.process.stderr.close()

    def stop(self) -> None:
        """Interrupt it as Ctrl+C would."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.kill()


def kill_during_saves_once(project: Path, seed: int, writers: int = 3) -> dict[str, int]:
    """Save continuously from several clients, SIGKILL the server at a random moment, check the disk.

    Each writer saves new random annotations of its own sample, one after
    the other. After at least ``2 * writers`` acknowledged saves the server
    is killed after a random delay. Every sample must then hold, readable,
    its last acknowledged save, or the save that was in flight (written but
    not yet acknowledged when the server died).

    Returns
    -------
    dict
        ``acknowledged`` saves, ``lost`` ones (older or different data on
        disk) and ``unreadable`` files.
    """
    import httpx

    from xsup.app._annotations import AnnotationStore
    from xsup.app._project import Project

    shape = Project(project).annotation_shape
    server = AppServer(project)
    chooser = random.Random(seed)
    acknowledged: dict[int, tuple[int, np.ndarray]] = {}
    in_flight: dict[int, tuple[int, np.ndarray]] = {}
    count = threading.Semaphore(0)

    def write(sample: int) -> None:
        rng = np.random.default_rng([seed, sample])
        with httpx.Client(base_url=server.url, timeout=30,
                          headers={"Authorization": f"Bearer {APP_TOKEN}"}) as client:
            version = client.get(f"/api/samples/{sample}/annotation").json()["version"]
            while True:
                data = rng.integers(-1, 2, size=shape).astype(np.float32)
                in_flight[sample] = (version + 1, data)
                try:
                    answer = client.put(f"/api/samples/{sample}/annotation",
                                        headers={"If-Match": str(version)},
                                        json={"shape": list(shape), "data": data.ravel().tolist(),
                                              "version": version})
                except httpx.TransportError:  # the server is gone
                    return
                assert answer.status_code == 200, answer.text
                version = answer.json()["version"]
                acknowledged[sample] = (version, data)
                count.release()

    threads = [threading.Thread(target=write, args=(sample,)) for sample in range(writers)]
    for thread in threads:
        thread.start()
    for _ in range(2 * writers):
        count.acquire(timeout=60)
    time.sleep(chooser.uniform(0.0, 0.25))
    server.kill()
    for thread in threads:
        thread.join(timeout=60)
    store = AnnotationStore(Project(project))  # as the next server would open it
    lost = unreadable = 0
    try:
        for sample, (version, data) in acknowledged.items():
            try:
                record = store.read("default", sample)
            except Exception:  # noqa: BLE001 - a torn file, whatever numpy makes of it
                unreadable += 1
                continue
            pending_version, pending = in_flight[sample]
            if not ((record.version == version and np.array_equal(record.data, data)) or
                    (record.version == pending_version and np.array_equal(record.data, pending))):
                lost += 1
        integrity = store.database.connection().execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        store.close()
    total = sum(version for version, _ in acknowledged.values())
    return {"acknowledged": total, "lost": lost, "unreadable": unreadable,
            "database_ok": int(integrity == "ok")}


class ThreadedAppServer:
    """The app served by uvicorn in a thread of the test process: starts in milliseconds."""

    def __init__(self, project: Path) -> None:
        import socket

        import uvicorn

        from xsup.app import create_app

        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        port = self.socket.getsockname()[1]
        app = create_app(project, token=APP_TOKEN, port=port)
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on",
                                                    timeout_graceful_shutdown=1))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]},
                                       daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"
        self.first_url = f"{self.url}/?token={APP_TOKEN}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


def _serve_projects(server_class: Callable[[Path], Any]) -> Iterator[Callable[[Path], Any]]:
    """A factory of servers of one class; every server it started is stopped afterwards."""
    pytest.importorskip("uvicorn", reason='the app needs the "app" extra: pip install -e ".[app]"')
    servers: list[Any] = []

    def start(project: Path) -> Any:
        servers.append(server_class(project))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def threaded_app_server() -> Iterator[Callable[[Path], ThreadedAppServer]]:
    """Serve projects from threads of the test process; every one is stopped at module end."""
    yield from _serve_projects(ThreadedAppServer)


@pytest.fixture(scope="session")
def app_token() -> str:
    """The token of the servers the fixtures start."""
    return APP_TOKEN


@pytest.fixture
def kill_during_saves() -> Callable[..., dict[str, int]]:
    """:func:`kill_during_saves_once`, for the durability tests."""
    pytest.importorskip("uvicorn", reason='the app needs the "app" extra: pip install -e ".[app]"')
    pytest.importorskip("httpx")
    return kill_during_saves_once


@pytest.fixture(scope="module")
def app_server() -> Iterator[Callable[[Path], AppServer]]:
    """Serve projects with ``xsup app`` subprocesses; every one is stopped at module end."""
    yield from _serve_projects(AppServer)


def chromium_path() -> str | None:
    """The installed Chromium (the distribution's package), or None."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium driven by Playwright; skipped when either is missing."""
    required = os.environ.get("XSUP_REQUIRE_BROWSER") == "1"  # continuous integration never skips
    try:
        from playwright import sync_api
    except ImportError:
        (pytest.fail if required else pytest.skip)(
            'browser tests need Playwright: pip install -e ".[test]"')
    path = chromium_path()
    if path is None:
        (pytest.fail if required else pytest.skip)(
            "browser tests need Chromium: install the distribution's package "
            "(apt-get install chromium); .ci/run does")
    profile = tempfile.mkdtemp(prefix="xsup-chromium-")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=path, args=CHROMIUM_FLAGS, headless=True,
            viewport={"width": 1280, "height": 820})
        try:
            yield context
        finally:
            context.close()
    shutil.rmtree(profile, ignore_errors=True)
