"""Helpers of the bus tests (a plain module: ``conftest`` is a name shared by two files)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import ModuleType

import nats
import nats.js.errors
import pytest
from sqlalchemy import create_engine, text

from openmyna.config import Settings

ROOT_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"

#: Short redelivery delay on NATS so tests never wait the default 30 s.
TEST_ACK_WAIT = 1.0


def root_conftest(config: pytest.Config) -> ModuleType:
    """The loaded root ``tests/conftest.py`` (for ``make_settings`` and the service URLs)."""
    for plugin in config.pluginmanager.get_plugins():
        if isinstance(plugin, ModuleType) and getattr(plugin, "__file__", None) == str(
            ROOT_CONFTEST
        ):
            return plugin
    raise RuntimeError("the root tests/conftest.py is not loaded")


def make_settings(config: pytest.Config, backend: str, data_dir: Path, bus: str) -> Settings:
    """The root conftest's ``make_settings`` (skips or fails when a service is missing)."""
    settings: Settings = root_conftest(config).make_settings(backend, data_dir, bus=bus)
    return settings


def drop_schemas(pg_url: str, prefix: str) -> None:
    """Drop every PostgreSQL schema whose name starts with ``prefix``."""
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        names = conn.execute(
            text("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE :p"),
            {"p": prefix + "%"},
        ).scalars()
        for name in list(names):
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    engine.dispose()


def delete_stream(url: str, stream: str) -> None:
    """Delete a NATS stream if it exists."""

    async def run() -> None:
        nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=1)
        try:
            await nc.jsm().delete_stream(stream)
        except nats.js.errors.NotFoundError:
            pass
        finally:
            await nc.close()

    asyncio.run(run())


def cleanup(settings: Settings) -> None:
    """Remove what a test left on the shared services: its schemas and its stream."""
    if settings.database_url is not None:
        drop_schemas(settings.database_url, settings.schema_prefix)
    if settings.bus_url is not None:
        delete_stream(settings.bus_url, settings.bus_stream)
