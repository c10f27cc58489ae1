"""Bulk inserts in the caller's transaction: many rows at once, or only the rows not there yet.

``insert_many`` is the seeding path (the registry's bulk registration, the index's bulk
events). SQLAlchemy's executemany compiles parameters row by row, which dominates at 100,000
rows, so each column's bind processor (the dialect's own conversion, e.g. dates to text on
SQLite) is applied once per distinct value and the rows go to the driver's ``executemany``
directly; on PostgreSQL they go through ``COPY``.

``insert_new`` is insert-if-absent (``INSERT … ON CONFLICT DO NOTHING RETURNING``) for stores
that must tell which rows were new, atomically under concurrent writers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

_MISSING = object()


def insert_many(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (all with the same keys) into ``table`` in one bulk statement."""
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect
    cols = list(rows[0])
    prep = dialect.identifier_preparer
    column_list = ", ".join(prep.quote(c) for c in cols)
    get = itemgetter(*cols)
    if dialect.name == "postgresql":
        # COPY is PostgreSQL's bulk path; psycopg adapts dates and times itself.
        raw: Any = conn.connection.driver_connection
        copy_sql = f"COPY {prep.format_table(table)} ({column_list}) FROM STDIN"
        with raw.cursor() as cur, cur.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(get(row) if len(cols) > 1 else (get(row),))
        return
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    # Identifiers come from the table's own metadata (quoted); values are bound parameters.
    sql = (
        f"INSERT INTO {prep.format_table(table)} "  # noqa: S608
        f"({column_list}) "
        f"VALUES ({', '.join([mark] * len(cols))})"
    )
    converters = [
        (i, proc)
        for i, c in enumerate(cols)
        if (proc := table.c[c].type.dialect_impl(dialect).bind_processor(dialect)) is not None
    ]
    # Converted values repeat a lot (one timestamp per batch, shared dates): convert once.
    caches: list[dict[Any, Any]] = [{} for _ in converters]
    params: list[tuple[Any, ...]] = []
    for row in rows:
        values = list(get(row)) if len(cols) > 1 else [get(row)]
        for (i, proc), cache in zip(converters, caches, strict=True):
            value = values[i]
            done = cache.get(value, _MISSING)
            if done is _MISSING:
                done = cache[value] = proc(value)
            values[i] = done
        params.append(tuple(values))
    conn.exec_driver_sql(sql, params)


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
