"""Append-only triggers: refuse UPDATE and DELETE, can be dropped again, names are checked."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from openmyna.config import Settings
from openmyna.pki.tables import BODY_ID, STORE_KIND
from openmyna.store import open_store
from openmyna.store.append_only import append_only_statements, drop_append_only_statements


def _refused(engine: Engine, statement: str) -> bool:
    try:
        with engine.begin() as conn:
            conn.execute(text(statement))
    except DBAPIError:
        return True
    return False


def test_triggers_refuse_changes_and_can_be_dropped(settings: Settings) -> None:
    store = open_store(settings, STORE_KIND, BODY_ID)
    try:
        engine = store.engine
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body VARCHAR(20))"))
            for statement in append_only_statements("notes", store.dialect):
                conn.execute(text(statement))
            conn.execute(text("INSERT INTO notes (id, body) VALUES (1, 'a')"))
        assert _refused(engine, "UPDATE notes SET body = 'b'")
        assert _refused(engine, "DELETE FROM notes")
        with engine.begin() as conn:
            for statement in drop_append_only_statements("notes", store.dialect):
                conn.execute(text(statement))
            if store.dialect == "sqlite":  # SQLite drops triggers only with their table
                conn.execute(text("DROP TRIGGER notes_no_update"))
                conn.execute(text("DROP TRIGGER notes_no_delete"))
        assert not _refused(engine, "UPDATE notes SET body = 'b'")
        assert not _refused(engine, "DELETE FROM notes")
    finally:
        store.close()


@pytest.mark.parametrize("table", ["", "Audit", "audit log", "x; DROP TABLE y", "1table"])
def test_table_names_must_be_plain_identifiers(table: str) -> None:
    with pytest.raises(ValueError, match="SQL identifier"):
        append_only_statements(table, "sqlite")
    with pytest.raises(ValueError, match="SQL identifier"):
        drop_append_only_statements(table, "postgresql")


def test_unknown_dialects_are_refused() -> None:
    with pytest.raises(ValueError, match="unsupported dialect"):
        append_only_statements("audit_log", "mysql")
