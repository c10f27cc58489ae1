"""Append-only tables enforced by the database itself: triggers refuse UPDATE and DELETE.

Used by the domains' Alembic migrations for their audit and revocation logs, e.g.
``make_append_only("audit_log")`` in ``upgrade()`` and ``drop_append_only("audit_log")`` in
``downgrade()`` before the table is dropped.
"""

from __future__ import annotations

import re

from alembic import op

_TABLE = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")


def _checked(table: str) -> str:
    if not _TABLE.match(table):
        raise ValueError("append-only table name must be a lowercase SQL identifier")
    return table


def append_only_statements(table: str, dialect: str) -> list[str]:
    """The DDL that makes ``table`` append-only on ``dialect`` (``sqlite`` or ``postgresql``)."""
    t = _checked(table)
    if dialect == "postgresql":
        return [
            f"CREATE FUNCTION {t}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{t} is append-only'; END $$",
            f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
            f"FOR EACH ROW EXECUTE FUNCTION {t}_append_only()",
        ]
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {t}_no_{verb.lower()} BEFORE {verb} ON {t} "
            f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END"
            for verb in ("UPDATE", "DELETE")
        ]
    raise ValueError(f"unsupported dialect {dialect!r}")


def drop_append_only_statements(table: str, dialect: str) -> list[str]:
    """The DDL that undoes ``append_only_statements`` (SQLite drops triggers with the table)."""
    t = _checked(table)
    if dialect == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}",
            f"DROP FUNCTION IF EXISTS {t}_append_only()",
        ]
    return []


def make_append_only(table: str) -> None:
    """In an Alembic migration: make ``table`` append-only on the current connection."""
    for statement in append_only_statements(table, op.get_bind().dialect.name):
        op.execute(statement)


def drop_append_only(table: str) -> None:
    """In an Alembic migration: remove what ``make_append_only(table)`` created."""
    for statement in drop_append_only_statements(table, op.get_bind().dialect.name):
        op.execute(statement)
