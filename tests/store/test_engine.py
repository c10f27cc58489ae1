"""The store: one database per body, migrated to head, on SQLite and PostgreSQL."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from sqlalchemy import Integer, MetaData, String, inspect, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from openmyna.config import Settings
from openmyna.errors import Conflict, InvalidInput, Unavailable
from openmyna.store import (
    StoreConflict,
    StoreKind,
    StoreUnavailable,
    body_location,
    open_store,
    register_kind,
)


class _Base(DeclarativeBase):
    metadata = MetaData()


class Note(_Base):
    __tablename__ = "note"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(String(50))


@pytest.fixture(scope="module")
def kind(tmp_path_factory: pytest.TempPathFactory) -> StoreKind:
    root = tmp_path_factory.mktemp("migrations")
    (root / "versions").mkdir()
    (root / "env.py").write_text("from openmyna.store.migrations_env import run\n\nrun()\n")
    (root / "versions" / "0001_note.py").write_text(
        textwrap.dedent(
            """
            import sqlalchemy as sa
            from alembic import op

            revision = "0001"
            down_revision = None


            def upgrade() -> None:
                op.create_table(
                    "note",
                    sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("text", sa.String(50), nullable=False),
                )
            """
        )
    )
    return register_kind(StoreKind("testnotes", _Base.metadata, str(root)))


def test_open_migrates_and_round_trips(settings: Settings, kind: StoreKind) -> None:
    store = open_store(settings, "testnotes", "body_a")
    try:
        with store.transaction() as s:
            s.add(Note(id=1, text="hello"))
        with store.transaction() as s:
            assert s.scalars(select(Note.text)).all() == ["hello"]
        tables = set(inspect(store.engine).get_table_names())
        assert {"note", "alembic_version"} <= tables
    finally:
        store.drop()


def test_each_body_has_its_own_database(settings: Settings, kind: StoreKind) -> None:
    a = open_store(settings, "testnotes", "a")
    b = open_store(settings, "testnotes", "b")
    try:
        with a.transaction() as s:
            s.add(Note(id=1, text="only in a"))
        with b.transaction() as s:
            assert s.scalars(select(Note)).all() == []
        assert a.location != b.location
    finally:
        a.drop()
        b.drop()


def test_reopen_keeps_data_and_does_not_remigrate(settings: Settings, kind: StoreKind) -> None:
    store = open_store(settings, "testnotes", "keep")
    with store.transaction() as s:
        s.add(Note(id=7, text="kept"))
    store.close()
    again = open_store(settings, "testnotes", "keep")
    try:
        with again.transaction() as s:
            assert s.get(Note, 7) is not None
    finally:
        again.drop()


def test_failed_transaction_writes_nothing(settings: Settings, kind: StoreKind) -> None:
    store = open_store(settings, "testnotes", "atomic")
    try:

        def crash() -> None:
            with store.transaction() as s:
                s.add(Note(id=1, text="partial"))
                s.flush()
                raise RuntimeError("crash mid-write")

        with pytest.raises(RuntimeError, match="crash"):
            crash()
        with store.transaction() as s:
            assert s.scalars(select(Note)).all() == []
    finally:
        store.drop()


def test_sqlite_location_is_per_body_file(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert body_location(s, "registry", "102016") == str(
        tmp_path / "db" / "registry_102016.sqlite3"
    )


@pytest.mark.parametrize("bad", ["", "UPPER", "a/b", "x" * 41, "../etc"])
def test_bad_body_ids_are_refused(bad: str, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        body_location(Settings(data_dir=tmp_path), "registry", bad)


def test_unknown_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        open_store(Settings(data_dir=tmp_path), "no_such_kind", "x")


def test_unreachable_postgres_is_unavailable(tmp_path: Path, kind: StoreKind) -> None:
    s = Settings(data_dir=tmp_path, database_url="postgresql+psycopg://postgres@127.0.0.1:1/test")
    with pytest.raises(Unavailable) as info:
        open_store(s, "testnotes", "x")
    assert info.value.code == "UNAVAILABLE"


def test_concurrent_opens_of_a_fresh_store_all_succeed(settings: Settings, kind: StoreKind) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: open_store(settings, "testnotes", "race"), range(4)))
    try:
        with stores[0].transaction() as s:
            s.add(Note(id=1, text="one schema"))
        for other in stores[1:]:
            with other.transaction() as s:
                assert s.get(Note, 1) is not None
    finally:
        for st in stores[1:]:
            st.close()
        stores[0].drop()


def test_database_errors_leave_the_store_as_domain_errors(
    settings: Settings, kind: StoreKind
) -> None:
    """A broken constraint is a Conflict; the SQL's parameters are in no error text."""
    store = open_store(settings, kind.name, "dup")
    try:
        with store.transaction() as s:
            s.add(Note(id=1, text="first"))
        with pytest.raises(StoreConflict) as caught, store.transaction() as s:
            s.add(Note(id=1, text="山田太郎 1980-05-17"))
        assert isinstance(caught.value, Conflict)
        assert caught.value.code == "CONFLICT"
        assert "山田太郎" not in str(caught.value)
        assert "山田太郎" not in str(caught.value.__cause__)
        with store.transaction() as s:
            assert [n.text for n in s.scalars(select(Note))] == ["first"]
    finally:
        store.close()


def test_a_lost_connection_is_unavailable(settings: Settings, kind: StoreKind) -> None:
    """The server ends the session mid-transaction: the store says Unavailable."""
    if settings.database_url is None:
        pytest.skip("SQLite runs in the process: there is no connection to lose")
    store = open_store(settings, kind.name, "lost")
    try:
        with pytest.raises(StoreUnavailable), store.transaction() as s:
            s.execute(text("SELECT pg_terminate_backend(pg_backend_pid())"))
        with store.transaction() as s:  # the pool reconnects: the next one works
            s.add(Note(id=1, text="after"))
    finally:
        store.drop()


def test_owner_only_files_are_written_whole(tmp_path: Path) -> None:
    """``write_new`` creates once (racers agree), ``replace`` swaps content; both 0600."""
    from openmyna.store import files

    key = tmp_path / "keys" / "a.key"
    files.private_dir(key.parent)
    assert files.write_new(key, b"first")
    assert not files.write_new(key, b"second")  # exists: left as it was
    assert key.read_bytes() == b"first"
    files.replace(key, b"third")
    assert key.read_bytes() == b"third"
    assert key.stat().st_mode & 0o777 == 0o600
    assert (key.parent.stat().st_mode & 0o777) == 0o700
    assert sorted(p.name for p in key.parent.iterdir()) == ["a.key"]  # no temporary left
