"""Fixtures of the annotation app's tests: a served project in a subprocess, and Chromium."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


@pytest.fixture
def app_server() -> Iterator[Callable[[Path], AppServer]]:
    """Start servers on projects; every one is stopped at the end of the test."""
    pytest.importorskip("uvicorn", reason='the app needs the "app" extra: pip install -e ".[app]"')
    servers: list[AppServer] = []

    def start(project: Path) -> AppServer:
        server = AppServer(project)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


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
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason='browser tests need Playwright: pip install -e ".[test]"')
    path = chromium_path()
    if path is None:
        pytest.skip("browser tests need Chromium: install the distribution's package "
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
