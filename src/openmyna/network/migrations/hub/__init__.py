"""Alembic migrations of the hub (store kind ``hub``)."""
