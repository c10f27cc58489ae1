"""Exchange records at the hub (情報提供等記録): hash chain, signed checkpoints, oversight log."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.network.errors import InvalidRecord
from openmyna.network.oversight import Oversight
from openmyna.network.record_chain import chain_hash
from openmyna.network.records import (
    ExchangeRecords,
    NewRecord,
    Outcome,
    PersonQuery,
    Problem,
    ProblemKind,
)
from openmyna.network.tables import exchange_records, hub_metadata
from openmyna.store import Store
from openmyna.store.append_only import drop_append_only_statements

PERSON_A = "a" * 64
PERSON_B = "b" * 64


def entry(i: int, person: str | None = PERSON_A, outcome: Outcome = Outcome.PROVIDED) -> NewRecord:
    """A record of child-allowance affair ``i`` (varying requester and item)."""
    return NewRecord(
        requester="lg-281000" if i % 2 else "lg-102016",
        provider="lg-102016" if i % 2 else "nenkin",
        affair="child_allowance",
        item="local_tax" if i % 3 else "resident_registry",
        outcome=outcome,
        person_key=person,
        exchange_id=f"x-{i}",
    )


@pytest.fixture
def records(settings: Settings, clock: FixedClock) -> Iterator[ExchangeRecords]:
    """The hub's records with a checkpoint every 5 records."""
    r = ExchangeRecords.open(settings, clock, checkpoint_every=5)
    yield r
    r.close()


def fill(records: ExchangeRecords, clock: FixedClock, n: int = 12) -> None:
    """Append ``n`` records one by one, a second apart."""
    for i in range(n):
        clock.advance(dt.timedelta(seconds=1))
        records.append_many([entry(i, PERSON_A if i % 4 else PERSON_B)])


def unlock(store: Store, table: str) -> None:
    """Drop a table's append-only triggers, as an attacker with database rights could."""
    with store.engine.begin() as conn:
        if store.dialect == "sqlite":
            for verb in ("update", "delete"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{verb}"))
        else:
            for statement in drop_append_only_statements(table, "postgresql"):
                conn.execute(text(statement))


def sql(store: Store, statement: str, **params: object) -> None:
    """Run one statement in its own transaction."""
    with store.engine.begin() as conn:
        conn.execute(text(statement), params)


def kinds(problems: tuple[Problem, ...]) -> set[tuple[int, ProblemKind]]:
    """The (seq, kind) pairs of a report."""
    return {(p.seq, p.kind) for p in problems}


def test_migrated_schema_matches_the_tables(records: ExchangeRecords) -> None:
    with records.store.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, hub_metadata) == []


def test_a_filled_chain_verifies_with_periodic_and_on_demand_checkpoints(
    records: ExchangeRecords, clock: FixedClock
) -> None:
    assert records.verify_chain().ok  # empty
    fill(records, clock, 12)
    assert [c.seq for c in records.checkpoints()] == [5, 10]
    cp = records.checkpoint()
    assert cp.seq == 12
    assert records.checkpoint() == cp
    report = records.verify_chain()
    assert report.ok, report.problems
    assert (report.records, report.checkpoints, report.last_checkpoint_seq) == (12, 3, 12)
    seq, head = records.head()
    assert seq == 12
    assert head == cp.head_hash
    # a batch crossing a multiple of 5 checkpoints too, in the same transaction
    out = records.append_many([entry(i) for i in range(4)])
    assert [r.seq for r in out] == [13, 14, 15, 16]
    assert out[0].prev_hash == head
    assert out[1].prev_hash == out[0].hash
    assert [c.seq for c in records.checkpoints()] == [5, 10, 12, 16]
    assert records.verify_chain().ok


def test_records_name_the_person_by_key_and_list_per_person(
    records: ExchangeRecords, clock: FixedClock
) -> None:
    fill(records, clock, 12)
    mine = records.for_person(PERSON_B)
    assert [r.seq for r in mine] == [1, 5, 9]
    assert all(r.person_key == PERSON_B for r in mine)
    assert mine[0].recorded_at == dt.datetime(2026, 4, 1, 0, 0, 1, tzinfo=dt.UTC)
    assert records.for_person("c" * 64) == []


def test_the_tables_are_append_only_in_the_database(
    records: ExchangeRecords, clock: FixedClock
) -> None:
    fill(records, clock, 5)
    for statement in (
        "UPDATE exchange_records SET affair = 'x'",
        "DELETE FROM exchange_records",
        "DELETE FROM checkpoints",
    ):
        with pytest.raises(DBAPIError):
            sql(records.store, statement)
    assert records.verify_chain().ok


def test_an_edited_record_is_detected(records: ExchangeRecords, clock: FixedClock) -> None:
    fill(records, clock, 12)
    unlock(records.store, "exchange_records")
    sql(records.store, "UPDATE exchange_records SET affair = 'pension' WHERE seq = 3")
    found = kinds(records.verify_chain().problems)
    assert (3, ProblemKind.HASH_MISMATCH) in found
    assert (5, ProblemKind.CHECKPOINT_MISMATCH) in found


def test_a_deleted_record_is_detected(records: ExchangeRecords, clock: FixedClock) -> None:
    fill(records, clock, 12)
    unlock(records.store, "exchange_records")
    sql(records.store, "DELETE FROM exchange_records WHERE seq = 7")
    found = kinds(records.verify_chain().problems)
    assert (7, ProblemKind.MISSING_RECORD) in found
    assert (8, ProblemKind.BROKEN_LINK) in found
    # deleting the newest records is caught by the head row
    sql(records.store, "DELETE FROM exchange_records WHERE seq >= 11")
    assert (12, ProblemKind.HEAD_MISMATCH) in kinds(records.verify_chain().problems)


def test_swapped_records_are_detected(records: ExchangeRecords, clock: FixedClock) -> None:
    fill(records, clock, 12)
    unlock(records.store, "exchange_records")
    # move row 3 to seq 100, row 4 to 3, then the old row 3 to 4: every column travels
    sql(records.store, "UPDATE exchange_records SET seq = 100 WHERE seq = 3")
    sql(records.store, "UPDATE exchange_records SET seq = 3 WHERE seq = 4")
    sql(records.store, "UPDATE exchange_records SET seq = 4 WHERE seq = 100")
    found = kinds(records.verify_chain().problems)
    assert {(3, ProblemKind.HASH_MISMATCH), (4, ProblemKind.HASH_MISMATCH)} <= found


def test_an_inserted_record_is_detected(records: ExchangeRecords, clock: FixedClock) -> None:
    fill(records, clock, 12)
    records.checkpoint()
    unlock(records.store, "exchange_records")
    # an attacker appends a well-formed record (correct hash) without the head lock
    _, head = records.head()
    values = {
        "seq": 13,
        "recorded_at": dt.datetime(2026, 4, 1, 1, tzinfo=dt.UTC),
        "requester": "lg-102016",
        "provider": "nenkin",
        "affair": "child_allowance",
        "item": "pension",
        "outcome": "provided",
        "person_key": PERSON_A,
        "exchange_id": None,
        "prev_hash": head,
    }
    values["hash"] = chain_hash(head, values)
    with records.store.engine.begin() as conn:
        conn.execute(exchange_records.insert().values(**values))
    assert (12, ProblemKind.HEAD_MISMATCH) in kinds(records.verify_chain().problems)
    # inserting in the middle and rewriting every later hash and the head: the checkpoints
    # signed the old chain
    with records.store.engine.begin() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(exchange_records))]
        conn.execute(exchange_records.delete())
        rows.sort(key=lambda r: r["seq"])
        rows.insert(6, dict(rows[5], affair="forged"))
        prev = "0" * 64
        for i, r in enumerate(rows, start=1):
            r.update(seq=i, prev_hash=prev)
            r["hash"] = prev = chain_hash(prev, r)
        conn.execute(exchange_records.insert(), rows)
    sql(records.store, "UPDATE chain_head SET seq = :s, hash = :h", s=len(rows), h=prev)
    report = records.verify_chain()
    found = kinds(report.problems)
    assert (10, ProblemKind.CHECKPOINT_MISMATCH) in found
    assert (12, ProblemKind.CHECKPOINT_MISMATCH) in found
    assert (5, ProblemKind.CHECKPOINT_MISMATCH) not in found  # before the insertion
    assert {k for _, k in found} == {ProblemKind.CHECKPOINT_MISMATCH}  # a consistent forgery
    assert not report.ok


def test_a_forged_checkpoint_is_detected(
    records: ExchangeRecords, clock: FixedClock, settings: Settings
) -> None:
    fill(records, clock, 12)
    unlock(records.store, "checkpoints")
    # tampered signature bytes
    sql(records.store, "UPDATE checkpoints SET signature = :sig WHERE seq = 5", sig=b"\x30\x00")
    assert (5, ProblemKind.BAD_SIGNATURE) in kinds(records.verify_chain().problems)
    # a well-formed signature by another key over a different head
    other = ec.generate_private_key(ec.SECP256R1())
    from openmyna.network.record_chain import HubSigner, checkpoint_message

    forger = HubSigner(other)
    cp = records.checkpoints()[1]
    fake_head = "f" * 64
    msg = checkpoint_message(cp.seq, fake_head, cp.created_at, forger.key_id)
    sql(
        records.store,
        "UPDATE checkpoints SET head_hash = :h, key_id = :k, signature = :s WHERE seq = 10",
        h=fake_head,
        k=forger.key_id,
        s=forger.sign(msg),
    )
    found = kinds(records.verify_chain().problems)
    assert (10, ProblemKind.BAD_SIGNATURE) in found
    # an auditor pinning the hub's key sees the same with the public key alone
    pinned = records.signer.public_key
    assert kinds(records.verify_chain(pinned).problems) == found
    # and a key file swapped behind the hub's back does not bless the old checkpoints
    assert (5, ProblemKind.BAD_SIGNATURE) in kinds(
        records.verify_chain(other.public_key()).problems
    )


def test_concurrent_appends_from_two_hubs_keep_one_chain(
    settings: Settings, clock: FixedClock
) -> None:
    hubs = [ExchangeRecords.open(settings, clock, checkpoint_every=7) for _ in range(2)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(hub: ExchangeRecords, tag: int) -> None:
        barrier.wait()
        try:
            for i in range(40):
                if i % 10 == 9:
                    hub.append_many([entry(i + tag * 100) for _ in range(3)])
                else:
                    hub.append_many([entry(i + tag * 100)])
        except Exception as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(h, n)) for n, h in enumerate(hubs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    report = hubs[0].verify_chain()
    assert report.ok, report.problems
    assert report.records == 2 * (36 + 4 * 3)
    assert report.checkpoints == len(hubs[1].checkpoints()) >= 2 * 48 // 7 - 1
    for h in hubs:
        h.close()


_CHILD = """
import sys
from openmyna.clock import SystemClock
from openmyna.config import Settings
from openmyna.network.records import ExchangeRecords, NewRecord
hub = ExchangeRecords.open(Settings(), SystemClock(), checkpoint_every=10)
print("ready", flush=True)
sys.stdin.readline()  # start together
for i in range(int(sys.argv[1])):
    hub.append_many([NewRecord("lg-102016", "nenkin", "pension_exemption", "local_tax",
                               "provided", "p" * 64, f"{sys.argv[2]}-{i}")])
hub.close()
"""


def test_concurrent_appends_from_two_processes_keep_one_chain(
    records: ExchangeRecords, settings: Settings
) -> None:
    env = dict(os.environ)
    env["OPENMYNA_DATA_DIR"] = str(settings.data_dir)
    env.pop("OPENMYNA_DATABASE_URL", None)
    if settings.database_url is not None:
        env["OPENMYNA_DATABASE_URL"] = settings.database_url
    env["OPENMYNA_SCHEMA_PREFIX"] = settings.schema_prefix
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, "60", f"p{n}"],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    for p in procs:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.close()
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    for p in procs:
        assert p.stdout is not None
        p.stdout.close()
    report = records.verify_chain()
    assert report.ok, report.problems
    assert report.records == 120
    assert {r.exchange_id for r in records.for_person("p" * 64)} == {
        f"p{n}-{i}" for n in range(2) for i in range(60)
    }


def test_records_refuse_numbers_and_unknown_outcomes(records: ExchangeRecords) -> None:
    with pytest.raises(InvalidRecord) as e:
        records.append(
            requester="lg-102016",
            provider="nenkin",
            affair="child_allowance 123456789018",
            item="local_tax",
            outcome=Outcome.PROVIDED,
        )
    assert e.value.code == "INVALID_RECORD"
    assert "123456789018" not in e.value.diagnostics()
    with pytest.raises(InvalidRecord):
        records.append(
            requester="lg-102016", provider="nenkin", affair="a", item="b", outcome="maybe"
        )
    with pytest.raises(InvalidRecord):
        records.append(requester="", provider="nenkin", affair="a", item="b", outcome="provided")
    assert records.head()[0] == 0


def test_oversight_queries_filter_and_are_logged(
    records: ExchangeRecords, clock: FixedClock
) -> None:
    fill(records, clock, 12)
    clock.advance(dt.timedelta(seconds=1))
    records.append(
        requester="jasso",
        provider="lg-102016",
        affair="scholarship",
        item="local_tax",
        outcome=Outcome.NOT_ALLOWED,
    )
    ppc = Oversight(records)
    by_agency = ppc.query("ppc-auditor-1", agency="nenkin")
    assert by_agency
    assert all("nenkin" in (r.requester, r.provider) for r in by_agency)
    refused = ppc.query("ppc-auditor-1", outcome="not_allowed")
    assert [r.seq for r in refused] == [13]
    start = dt.datetime(2026, 4, 1, 0, 0, 3, tzinfo=dt.UTC)
    period = ppc.query(
        "ppc-auditor-2",
        affair="child_allowance",
        since=start,
        until=start + dt.timedelta(seconds=3),
    )
    assert [r.seq for r in period] == [3, 4, 5]
    log = ppc.log()
    assert [(q.auditor, q.result_count) for q in log] == [
        ("ppc-auditor-1", len(by_agency)),
        ("ppc-auditor-1", 1),
        ("ppc-auditor-2", 3),
    ]
    assert log[0].filter == {"agency": "nenkin", "limit": 10_000}
    assert log[2].filter["since"] == "2026-04-01T00:00:03+00:00"
    assert log[2].queried_at == clock.now()
    with pytest.raises(DBAPIError):
        sql(records.store, "DELETE FROM oversight_queries")
    with pytest.raises(InvalidRecord):
        ppc.query("auditor", outcome="whatever")
    assert len(ppc.log()) == 3  # a refused query writes nothing


def test_hex_keys_with_twelve_digits_in_a_row_are_recorded_but_lone_numbers_are_not(
    records: ExchangeRecords,
) -> None:
    key = "ab" + "123456789012" + "c" * 50  # a keyed hash may hold 12 digits by chance
    rec = records.append(
        requester="lg-131024",
        provider="lg-102016",
        affair="child_allowance",
        item="local_tax",
        outcome=Outcome.PROVIDED,
        person_key=key,
        exchange_id="0123456789ab-cdef",
    )
    assert rec.person_key == key
    with pytest.raises(InvalidRecord):
        records.append(
            requester="lg-131024",
            provider="lg-102016",
            affair="child_allowance",
            item="local_tax",
            outcome=Outcome.PROVIDED,
            person_key="x-123456789012",
        )


def test_a_persons_records_paged_filtered_and_counted_in_the_database(
    records: ExchangeRecords, clock: FixedClock
) -> None:
    fill(records, clock, 12)  # A: 9 records (i % 4 != 0), B: 3
    start = clock.now() - dt.timedelta(seconds=12)  # record i is at start + (i + 1) s

    everything = records.page_for_person(PERSON_A, PersonQuery(limit=4))
    assert everything.total == 9
    assert [r.seq for r in everything.records] == [12, 11, 10, 8]  # newest first
    second = records.page_for_person(PERSON_A, PersonQuery(offset=4, limit=4))
    assert [r.seq for r in second.records] == [7, 6, 4, 3]
    beyond = records.page_for_person(PERSON_A, PersonQuery(offset=100))
    assert (beyond.records, beyond.total) == ((), 9)

    since, until = start + dt.timedelta(seconds=3), start + dt.timedelta(seconds=7)
    period = records.page_for_person(PERSON_A, PersonQuery(since=since, until=until))
    assert [r.seq for r in period.records] == [6, 4, 3]  # since included, until excluded
    nenkin = records.page_for_person(PERSON_A, PersonQuery(agency="nenkin"))
    assert {r.provider for r in nenkin.records} == {"nenkin"}
    assert nenkin.total == 3
    maebashi = records.page_for_person(PERSON_A, PersonQuery(agency="lg-102016"))
    assert maebashi.total == 9  # as requester or as provider
    tax = records.page_for_person(PERSON_A, PersonQuery(item="resident_registry"))
    assert [r.seq for r in tax.records] == [10, 7, 4]
    counted = records.page_for_person(PERSON_A, PersonQuery(limit=0))
    assert (counted.records, counted.total) == ((), 9)
    with pytest.raises(ValueError, match="offset must be"):
        records.page_for_person(PERSON_A, PersonQuery(offset=-1))

    # A count is kept while nothing is appended; an append (anyone's) moves the head.
    records.append_many([entry(20, PERSON_B)])
    assert records.page_for_person(PERSON_A, PersonQuery(limit=0)).total == 9
    records.append_many([entry(21, PERSON_A)])
    assert records.page_for_person(PERSON_A, PersonQuery(limit=0)).total == 10
    resident = PersonQuery(item="resident_registry", limit=0)  # counted above at 3
    assert records.page_for_person(PERSON_A, resident).total == 4

    assert records.one_for_person(PERSON_A, 12) is not None
    assert records.one_for_person(PERSON_B, 12) is None  # someone else's
    assert records.one_for_person(PERSON_A, 999) is None
