"""Fixtures of the eKYC tests: a platform on each storage backend, its web app, a business."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ekyc_helpers import Registered, register
from fastapi.testclient import TestClient

from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.platform import Platform
from openmyna.web import create_app


@pytest.fixture
def platform(settings: Settings, clock: FixedClock) -> Iterator[Platform]:
    """The whole platform (registries, JPKI, cards, portal, eKYC) on one backend."""
    built = Platform(Builder(settings, clock))
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    """The web app on ``platform``."""
    with TestClient(create_app(platform), base_url="http://127.0.0.1") as c:
        yield c


@pytest.fixture
def business(platform: Platform) -> Registered:
    """A bank registered with the platform operator, with its first API key."""
    return register(platform)
