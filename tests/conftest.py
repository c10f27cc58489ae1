"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL; bus tests on both buses.

PostgreSQL (127.0.0.1:5432, trust auth, database ``test``) and NATS JetStream
(127.0.0.1:4222) are real services on the project's machines. Outside CI, tests that need
one that does not answer are skipped with the reason; under ``CI=true`` they fail instead.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from openmyna.clock import FixedClock
from openmyna.config import Settings

PG_URL = os.environ.get("OPENMYNA_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NATS_URL = os.environ.get("OPENMYNA_TEST_NATS_URL", "nats://127.0.0.1:4222")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (outside CI) or fail (under CI) when a service does not answer."""
    if _answers(host, port):
        return
    reason = f"{name} does not answer at {host}:{port}"
    if IN_CI:
        pytest.fail(f"{reason} (required under CI=true)")
    pytest.skip(reason)


@pytest.fixture
def clock() -> FixedClock:
    """A clock standing at 2026-04-01 09:00 JST."""
    return FixedClock(dt.datetime(2026, 4, 1, 0, 0, tzinfo=dt.UTC))


def _drop_pg_schemas(prefix: str) -> None:
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        rows = conn.execute(
            text("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE :p"),
            {"p": prefix + "%"},
        ).all()
        for (name,) in rows:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    engine.dispose()


def make_settings(backend: str, data_dir: os.PathLike[str] | str, bus: str = "local") -> Settings:
    """Settings for a test: SQLite in ``data_dir`` or a fresh schema prefix on PostgreSQL."""
    database_url = None
    prefix = ""
    if backend == "postgresql":
        require_service("PostgreSQL", "127.0.0.1", 5432)
        database_url = PG_URL
        prefix = f"t{uuid.uuid4().hex[:10]}_"
    bus_url = None
    stream = "OPENMYNA"
    if bus == "nats":
        require_service("NATS", "127.0.0.1", 4222)
        bus_url = NATS_URL
        stream = f"T{uuid.uuid4().hex[:10].upper()}"
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        schema_prefix=prefix,
        bus_url=bus_url,
        bus_stream=stream,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def settings(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> Iterator[Settings]:
    """Settings on each storage backend (local bus)."""
    s = make_settings(request.param, tmp_path)
    yield s
    if s.database_url is not None:
        _drop_pg_schemas(s.schema_prefix)


@pytest.fixture(params=["local", pytest.param("nats", marks=pytest.mark.nats)])
def bus_settings(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> Iterator[Settings]:
    """SQLite settings with each bus: the embedded one and NATS JetStream (stream deleted after)."""
    s = make_settings("sqlite", tmp_path, bus=request.param)
    yield s
    if s.bus_url is not None:
        from openmyna.bus.nats import NatsBus

        NatsBus(s).drop()


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the tests marked ``pcsc`` on one xdist worker, in order (``--dist loadgroup``).

    pcscd and its vpcd readers belong to the machine, not to a test: two workers would insert
    cards into the same reader, and a test that expects an empty reader would see another's.
    """
    for item in items:
        if item.get_closest_marker("pcsc") is not None:
            item.add_marker(pytest.mark.xdist_group("pcsc"))
