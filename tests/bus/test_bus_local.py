"""The local bus's own promises: where its log lives, its schema, and commit order."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import event, inspect

from openmyna.bus import LocalBus, new_event, open_bus
from openmyna.bus.local import metadata
from openmyna.clock import FixedClock
from openmyna.config import Settings


def test_open_bus_without_url_is_the_local_bus(settings: Settings) -> None:
    bus = open_bus(settings)
    try:
        assert isinstance(bus, LocalBus)
        if settings.database_url is None:
            assert Path(bus.store.location) == settings.data_dir / "db" / "bus_local.sqlite3"
            assert Path(bus.store.location).exists()
        else:
            assert bus.store.location == f"{settings.schema_prefix}bus_local"
        assert {"events", "consumer_cursors"} <= set(inspect(bus.store.engine).get_table_names())
    finally:
        bus.close()


def test_migrations_match_the_tables_in_code(settings: Settings) -> None:
    bus = LocalBus(settings)
    try:
        with bus.store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diff == []
    finally:
        bus.close()


def test_an_event_committed_late_is_not_skipped(settings: Settings, clock: FixedClock) -> None:
    # Publisher A takes a sequence number and stalls before committing; publisher B comes
    # later. If B could commit first, a consumer would move past A's number and lose it.
    first, second, consumer = LocalBus(settings), LocalBus(settings), LocalBus(settings)
    got: list[str] = []
    consumer.subscribe("c", ["race.>"], lambda e: got.append(e.type))
    inserted, release = threading.Event(), threading.Event()

    @event.listens_for(first.store.engine, "after_cursor_execute")
    def stall(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO EVENTS"):
            inserted.set()
            release.wait(10)

    a = threading.Thread(target=first.publish, args=([new_event("race.a", "s", clock.now(), {})],))
    b = threading.Thread(target=second.publish, args=([new_event("race.b", "s", clock.now(), {})],))
    try:
        a.start()
        assert inserted.wait(10)
        b.start()
        b.join(1.0)  # B should be held back while A is open
        consumer.pump()
        release.set()
        a.join(10)
        b.join(10)
        consumer.pump()
        assert sorted(got) == ["race.a", "race.b"]
        assert got == ["race.a", "race.b"]
    finally:
        release.set()
        for bus in (first, second, consumer):
            bus.close()
