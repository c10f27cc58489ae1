"""The shared body of every Alembic ``env.py``: migrate the connection the store hands over."""

from __future__ import annotations

from typing import Any

from alembic import context


def run() -> None:
    """Run migrations online on the connection in ``config.attributes``."""
    config = context.config
    connection: Any = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=config.attributes.get("metadata"),
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
