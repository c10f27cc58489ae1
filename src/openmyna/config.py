"""Configuration, read in one place from ``OPENMYNA_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "openmyna"


class Settings(BaseSettings):
    """Where openmyna keeps its data and which backends it uses."""

    model_config = SettingsConfigDict(env_prefix="OPENMYNA_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    #: ``None``: one SQLite file per body under ``data_dir``; else a PostgreSQL URL
    #: (``postgresql+psycopg://…``) in which each body gets its own schema.
    database_url: str | None = None
    #: Prefix for PostgreSQL schema names, so several installations (or test runs) can
    #: share one database without seeing each other.
    schema_prefix: str = ""
    #: ``None``: the embedded bus (a durable log in the data dir); else ``nats://host:port``.
    bus_url: str | None = None
    #: Name of the JetStream stream when ``bus_url`` is NATS.
    bus_stream: str = "OPENMYNA"

    def ensure_data_dir(self) -> Path:
        """Create the data directory if needed (owner-only) and return it."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.data_dir
