"""Alembic environment: the store hands over the connection and the metadata."""

from openmyna.store.migrations_env import run

run()
