"""Storage: one database per body (municipality, agency, national index), migrated by Alembic.

SPEC design principle 1 (分散管理): there is no global schema for personal data. Each body
gets its own SQLite file under the data dir, or its own schema in a PostgreSQL database.
"""

from openmyna.store.engine import (
    Store,
    StoreConflict,
    StoreKind,
    StoreUnavailable,
    body_location,
    drop_all,
    open_store,
    register_kind,
)

__all__ = [
    "Store",
    "StoreConflict",
    "StoreKind",
    "StoreUnavailable",
    "body_location",
    "drop_all",
    "open_store",
    "register_kind",
]
