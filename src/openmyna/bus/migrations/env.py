"""Alembic environment of the bus store kind (shared runner)."""

from openmyna.store.migrations_env import run

run()
