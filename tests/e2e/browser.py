"""Pages in a real browser: Debian's chromium driven by Playwright, and a live server.

``live_server`` serves the one web app with uvicorn on a free port in a thread;
``browser`` launches chromium headless (skipped outside CI when it is not installed, a
failure under ``CI=true``). ``serious_violations`` runs axe-core on a page.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

CHROMIUM = os.environ.get("OPENMYNA_TEST_CHROMIUM") or shutil.which("chromium") or ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """``app`` served over HTTP on 127.0.0.1 until the block ends; yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextmanager
def browser() -> Iterator[Any]:
    """A headless chromium (Playwright's sync API)."""
    if not CHROMIUM:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is not installed (required under CI=true)")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on ``page``, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def screenshots(tmp_path: Path) -> Path:
    """Where a test saves its screenshots: ``$OPENMYNA_SCREENSHOTS`` when set (the docs' images
    are taken with ``OPENMYNA_SCREENSHOTS=docs/images``), else the test's own folder."""
    chosen = os.environ.get("OPENMYNA_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder
