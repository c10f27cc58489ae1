"""Alembic environment of the test-only ``bustest`` store kind."""

from openmyna.store.migrations_env import run

run()
