"""Fast multi-row inserts for the bulk paths (seeding and the index's bulk events).

SQLAlchemy's executemany compiles parameters row by row, which dominates at 100,000 rows.
Here each column's bind processor (the dialect's own conversion, e.g. dates to text on
SQLite) is applied once per distinct value and the rows go to the driver's ``executemany``
directly; on PostgreSQL they go through ``COPY``. Both run inside the session's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Table
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
