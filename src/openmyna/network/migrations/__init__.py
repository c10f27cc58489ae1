"""Alembic migrations of the network's store kinds."""
