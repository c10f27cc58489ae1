"""Alembic migrations of the ``numbering`` store kind (the issuing body's counter)."""
