"""Opening a body's database: engine, sessions and migrations to head."""

from __future__ import annotations

import fcntl
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, MetaData, create_engine, event, text
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from openmyna.config import Settings
from openmyna.errors import Conflict, InvalidInput, Unavailable

_BODY_ID = re.compile(r"^[a-z0-9_]{1,40}$")


class StoreUnavailable(Unavailable):
    """The body's database does not answer (connection refused or lost); try again."""


class StoreConflict(Conflict):
    """A write broke a constraint of the database (a duplicate key, a missing reference)."""


@contextmanager
def translated_errors(location: str) -> Iterator[None]:
    """Database errors as the domain's: a lost connection is ``Unavailable``, a broken
    constraint ``Conflict``. Their messages name the body, never the SQL or its parameters."""
    try:
        yield
    except IntegrityError as exc:
        raise StoreConflict("the change conflicts with stored data", body=location) from exc
    except (OperationalError, InterfaceError) as exc:
        raise StoreUnavailable("the database does not answer", body=location) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise StoreUnavailable("the database connection was lost", body=location) from exc
        raise


@dataclass(frozen=True)
class StoreKind:
    """A kind of body database: its tables and where its Alembic migrations live."""

    name: str
    metadata: MetaData
    #: Alembic ``script_location``, e.g. ``openmyna.registry:migrations``.
    migrations: str


_KINDS: dict[str, StoreKind] = {}
_LOCK = threading.Lock()
# Alembic keeps its migration context in module globals: one migration at a time per process.
_MIGRATE_LOCK = threading.Lock()


def register_kind(kind: StoreKind) -> StoreKind:
    """Declare a kind of body database (done once by the domain package that owns it)."""
    with _LOCK:
        known = _KINDS.get(kind.name)
        if known is not None and known != kind:
            raise ValueError(f"store kind {kind.name!r} registered twice")
        _KINDS[kind.name] = kind
    return kind


def body_location(settings: Settings, kind: str, body_id: str) -> str:
    """Where a body's data lives: a SQLite path, or a PostgreSQL schema name."""
    if not _BODY_ID.match(body_id):
        raise InvalidInput("body id must be 1-40 of a-z, 0-9, _", body_id=body_id)
    name = f"{kind}_{body_id}"
    if settings.database_url is None:
        return str(settings.data_dir / "db" / f"{name}.sqlite3")
    return f"{settings.schema_prefix}{name}"


class Store:
    """One body's database: an engine with its own schema or file, migrated to head."""

    def __init__(self, kind: StoreKind, body_id: str, engine: Engine, location: str) -> None:
        self.kind = kind
        self.body_id = body_id
        self.engine = engine
        self.location = location
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error.

        Database errors leave it as ``StoreUnavailable`` or ``StoreConflict``.
        """
        with translated_errors(self.location), self._sessions.begin() as session:
            yield session

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A connection in one transaction (Core only), with errors translated likewise."""
        with translated_errors(self.location), self.engine.begin() as conn:
            yield conn

    def session(self) -> Session:
        """A plain session (caller manages transactions)."""
        return self._sessions()

    def drop(self) -> None:
        """Delete this body's data entirely (tests and ``demo --reset``)."""
        if self.dialect == "sqlite":
            self.engine.dispose()
            for suffix in ("", "-wal", "-shm", ".lock"):
                Path(self.location + suffix).unlink(missing_ok=True)
        else:
            with self.engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.location}" CASCADE'))
            self.engine.dispose()

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()


def _sqlite_engine(path: str) -> Engine:
    Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # hide_parameters: an error's text never carries the values bound to the SQL.
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30}, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    return engine


def _pg_engine(url: str, schema: str) -> Engine:
    bootstrap = create_engine(url, poolclass=NullPool, hide_parameters=True)
    try:
        with bootstrap.begin() as conn:
            # Two processes creating the same schema at once would collide: serialise them.
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": schema})
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    except OperationalError as exc:
        raise Unavailable("PostgreSQL does not answer", url=url.split("@")[-1]) from exc
    finally:
        bootstrap.dispose()
    return create_engine(
        url,
        pool_size=2,
        max_overflow=8,
        pool_pre_ping=True,
        connect_args={"options": f"-csearch_path={schema}"},
        hide_parameters=True,
    )


def open_store(settings: Settings, kind: str, body_id: str) -> Store:
    """Open (creating and migrating to head if needed) the database of one body."""
    try:
        store_kind = _KINDS[kind]
    except KeyError:
        raise InvalidInput(f"unknown store kind {kind!r}") from None
    location = body_location(settings, kind, body_id)
    if settings.database_url is None:
        engine = _sqlite_engine(location)
    else:
        engine = _pg_engine(settings.database_url, location)
    try:
        _migrate(store_kind, engine, location)
    except BaseException:
        engine.dispose()
        raise
    return Store(store_kind, body_id, engine, location)


def drop_all(settings: Settings) -> int:
    """Delete every body's database of this installation; how many were dropped."""
    if settings.database_url is None:
        files = sorted((settings.data_dir / "db").glob("*.sqlite3"))
        for f in files:
            for suffix in ("", "-wal", "-shm", ".lock"):
                Path(str(f) + suffix).unlink(missing_ok=True)
        return len(files)
    engine = create_engine(settings.database_url, poolclass=NullPool, hide_parameters=True)
    try:
        with engine.begin() as conn:
            names = conn.execute(
                text("SELECT schema_name FROM information_schema.schemata")
            ).scalars()
            with _LOCK:
                prefixes = tuple(f"{settings.schema_prefix}{k}_" for k in _KINDS)
            ours = [n for n in names if n.startswith(prefixes)]
            for name in ours:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    except OperationalError as exc:
        raise Unavailable("PostgreSQL does not answer") from exc
    finally:
        engine.dispose()
    return len(ours)


@contextmanager
def _file_lock(path: str) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _migrate(kind: StoreKind, engine: Engine, location: str) -> None:
    """Upgrade to head, one migrator at a time across threads and processes."""
    cfg = Config()
    cfg.set_main_option("script_location", kind.migrations)
    with _MIGRATE_LOCK:
        if engine.dialect.name == "sqlite":
            with _file_lock(location + ".lock"), engine.begin() as conn:
                _upgrade(cfg, kind, conn)
        else:
            with engine.begin() as conn:
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": location})
                _upgrade(cfg, kind, conn)


def _upgrade(cfg: Config, kind: StoreKind, conn: Any) -> None:
    cfg.attributes["connection"] = conn
    cfg.attributes["metadata"] = kind.metadata
    command.upgrade(cfg, "head")
