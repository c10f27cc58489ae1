"""The Alembic migrations create exactly the tables the code declares."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from openmyna.config import Settings
from openmyna.registry.tables import (
    INDEX_KIND,
    NATIONAL_BODY,
    REGISTRY_KIND,
    audit_log,
    index_metadata,
    registry_metadata,
)
from openmyna.store import open_store


@pytest.mark.parametrize(
    ("kind", "body", "metadata"),
    [(REGISTRY_KIND, "102016", registry_metadata), (INDEX_KIND, NATIONAL_BODY, index_metadata)],
)
def test_migrated_schema_matches_the_tables(
    settings: Settings, kind: str, body: str, metadata: object
) -> None:
    store = open_store(settings, kind, body)
    try:
        with store.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, metadata)  # type: ignore[arg-type]
        assert diff == []
    finally:
        store.close()


def test_the_audit_log_is_append_only(settings: Settings) -> None:
    store = open_store(settings, REGISTRY_KIND, "102016")
    try:
        with store.engine.begin() as conn:
            conn.execute(
                audit_log.insert().values(
                    recorded_at=text("CURRENT_TIMESTAMP"),
                    event_date=text("CURRENT_DATE"),
                    action="registry.birth",
                    actor="system",
                    reason="test",
                )
            )
        for statement in ("UPDATE audit_log SET actor = 'someone'", "DELETE FROM audit_log"):
            with pytest.raises(DBAPIError), store.engine.begin() as conn:
                conn.execute(text(statement))
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT actor FROM audit_log")).scalars().all() == ["system"]
    finally:
        store.close()
