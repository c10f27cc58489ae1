"""Fixtures of the latest-4-items tests: the platform on each backend, the web app on it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.platform import Platform
from openmyna.web import create_app

sys.path.insert(0, str(Path(__file__).parents[1] / "portal"))


@pytest.fixture
def platform(settings: Settings, clock: FixedClock) -> Iterator[Platform]:
    """The whole platform (registries, JPKI, cards, portal, the service) on one backend."""
    built = Platform(Builder(settings, clock))
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    """The web app on ``platform``, over HTTP to 127.0.0.1.

    Its background round is stopped: the tests run ``platform.sync_once`` themselves, so that
    each attempt happens when the test says (the clock is theirs too).
    """
    with TestClient(create_app(platform), base_url="http://127.0.0.1") as c:
        platform.stop_background()
        yield c


@pytest.fixture
def second(platform: Platform, client: TestClient) -> TestClient:
    """Another browser on the same app (another person, or the counter's staff)."""
    return TestClient(client.app, base_url="http://127.0.0.1")
