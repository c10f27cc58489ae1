"""Alembic environment of the ``numbering`` store kind: the shared runner does the work."""

from openmyna.store.migrations_env import run

run()
