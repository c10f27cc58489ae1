"""Alembic migrations of the JPKI issuer's database (store kind ``pki``)."""
