"""Alembic migrations of an agency node (store kind ``node``)."""
