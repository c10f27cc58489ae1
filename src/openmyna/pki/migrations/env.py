"""Alembic environment of the ``pki`` store kind: the shared runner does the work."""

from openmyna.store.migrations_env import run

run()
