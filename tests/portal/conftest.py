"""Fixtures of the portal tests: a platform on each storage backend and a test client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.platform import Platform
from openmyna.web import create_app


@pytest.fixture
def platform(settings: Settings, clock: FixedClock) -> Iterator[Platform]:
    """The whole platform (registries, JPKI, cards, network, portal) on one backend."""
    built = Platform(Builder(settings, clock))
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    """The web app on ``platform``, over HTTP to 127.0.0.1 (as a browser on this machine)."""
    with TestClient(create_app(platform), base_url="http://127.0.0.1") as c:
        yield c
