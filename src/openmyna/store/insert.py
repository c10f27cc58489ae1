"""Insert-if-absent for many rows at once, telling which rows were new."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_new(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], key: Sequence[str]
) -> set[tuple[Any, ...]]:
    """Insert the rows whose unique ``key`` is not taken yet; the keys of the rows inserted.

    ``INSERT … ON CONFLICT DO NOTHING RETURNING`` in one statement (PostgreSQL and SQLite):
    atomic, so two writers racing on PostgreSQL cannot both insert a key — the second waits on
    the first's row, then skips it.
    """
    if not rows:
        return set()
    dialect = session.get_bind().dialect.name
    columns = [table.c[k] for k in key]
    if dialect == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing().returning(*columns)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing().returning(*columns)
    else:  # pragma: no cover - the store supports these two only
        raise ValueError(f"unsupported dialect {dialect!r}")
    # Executemany with RETURNING: SQLAlchemy batches it into multi-row statements
    # ("insertmanyvalues") with a cached compilation; the rows returned are the ones inserted.
    return {tuple(row) for row in session.execute(stmt, list(rows))}
