"""Exchange records at the hub (情報提供等記録, SPEC X1/X6/P2): append-only and tamper-evident.

Every exchange and every refusal is one record: when, requester, provider, affair, item,
outcome and the person as an opaque key (``AgencyCodes.person_key``), never the content and
never a number or a code. Records form a hash chain and every ``checkpoint_every`` records
(and on demand) the hub signs the chain's head (both in ``record_chain``); ``verify_chain``
recomputes the one and checks the other.

Appends are serialised on the one ``chain_head`` row: the first statement of every append
transaction updates it, which takes a row lock on PostgreSQL and the write lock on SQLite, so
several hub processes on one database extend one chain. The tables are also append-only in
the database itself (triggers); the chain is what detects changes made around them.

The oversight body (個人情報保護委員会) queries through ``oversight.Oversight``; each of its
queries is logged (who, when, which filter, how many records) in an append-only table.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Select, case, func, literal, select, update
from sqlalchemy.orm import Session

from openmyna.clock import Clock
from openmyna.config import Settings
from openmyna.network.errors import InvalidRecord
from openmyna.network.record_chain import (
    GENESIS,
    Checkpoint,
    HubSigner,
    as_utc,
    chain_hash,
    checkpoint_message,
    checkpoint_of,
    key_id_of,
)
from openmyna.network.tables import (
    HUB_BODY,
    HUB_KIND,
    chain_head,
    checkpoints,
    exchange_records,
)
from openmyna.store import Store, open_store

_TWELVE_DIGITS = re.compile(r"\d{12}")
_PAGE = 5000
#: How many counts ``page_for_person`` keeps (person and filter; a few ints each).
_COUNTS_KEPT = 4096


class Outcome(StrEnum):
    """How an exchange ended."""

    PROVIDED = "provided"  # the provider answered with the item
    NOT_ALLOWED = "not_allowed"  # refused: not on the allow-list (別表第二)
    NO_DATA = "no_data"  # the provider holds nothing for that person
    INVALID_DATA = "invalid_data"  # the provider's answer did not fit the layout
    FAILED = "failed"  # the provider could not be reached or failed


class ProblemKind(StrEnum):
    """What ``verify_chain`` found wrong."""

    MISSING_RECORD = "missing_record"  # a gap in the sequence (a deleted row)
    BROKEN_LINK = "broken_link"  # prev_hash is not the previous record's hash
    HASH_MISMATCH = "hash_mismatch"  # the record's content does not give its hash
    HEAD_MISMATCH = "head_mismatch"  # the chain head does not match the last record
    BAD_SIGNATURE = "bad_signature"  # a checkpoint's signature does not verify
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"  # a signed head hash differs from the chain


@dataclass(frozen=True)
class NewRecord:
    """What the hub records about one exchange (or refusal)."""

    requester: str
    provider: str
    affair: str
    item: str
    outcome: Outcome | str
    person_key: str | None = None
    exchange_id: str | None = None


@dataclass(frozen=True)
class ExchangeRecord:
    """One stored exchange record (情報提供等記録)."""

    seq: int
    recorded_at: dt.datetime
    requester: str
    provider: str
    affair: str
    item: str
    outcome: Outcome
    person_key: str | None
    exchange_id: str | None
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class RecordCount:
    """How many records one period, affair, item and outcome have (public statistics)."""

    #: The period's index: records at or after ``bounds[period]``, before ``bounds[period + 1]``.
    period: int
    affair: str
    item: str
    outcome: Outcome
    count: int


@dataclass(frozen=True)
class PersonQuery:
    """Which of one person's records to read: a period, an agency, an item, a page."""

    #: Records at or after this moment (None: from the first).
    since: dt.datetime | None = None
    #: Records before this moment (None: up to the last).
    until: dt.datetime | None = None
    #: Records where this agency asked or provided.
    agency: str | None = None
    #: Records of this information item.
    item: str | None = None
    #: How many records to skip (newest first) and how many to return at most.
    offset: int = 0
    limit: int = 50


@dataclass(frozen=True)
class PersonPage:
    """A page of one person's records, newest first, and how many match in all."""

    records: tuple[ExchangeRecord, ...]
    total: int


@dataclass(frozen=True)
class Problem:
    """One finding of ``verify_chain``: where (seq) and what."""

    seq: int
    kind: ProblemKind


@dataclass(frozen=True)
class VerificationReport:
    """The result of ``verify_chain``."""

    records: int
    checkpoints: int
    last_checkpoint_seq: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """True if nothing was found wrong."""
        return not self.problems


def text_field(name: str, value: object, max_len: int, *, optional: bool = False) -> str | None:
    """A short printable text field of a record or filter, or ``INVALID_RECORD``."""
    if value is None and optional:
        return None
    if not isinstance(value, str) or not (0 < len(value) <= max_len) or not value.isprintable():
        raise InvalidRecord(f"{name} must be 1-{max_len} printable characters")
    if _TWELVE_DIGITS.search(value):
        raise InvalidRecord(f"{name} must not hold a 12-digit number")
    return value


_OPAQUE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# A 12-digit number standing alone; twelve digits inside a longer hex run (a keyed hash, a
# message id) are chance, not a number.
_LONE_TWELVE_DIGITS = re.compile(r"(?<![0-9A-Fa-f])\d{12}(?![0-9A-Fa-f])")


def _opaque(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _OPAQUE_ID.fullmatch(value):
        raise InvalidRecord(f"{name} must be 1-64 of A-Z a-z 0-9 _ -")
    if _LONE_TWELVE_DIGITS.search(value):
        raise InvalidRecord(f"{name} must not hold a 12-digit number")
    return value


def record_of(r: Any) -> ExchangeRecord:
    """An ``ExchangeRecord`` from a row of ``exchange_records``."""
    return ExchangeRecord(
        seq=r.seq,
        recorded_at=as_utc(r.recorded_at),
        requester=r.requester,
        provider=r.provider,
        affair=r.affair,
        item=r.item,
        outcome=Outcome(r.outcome),
        person_key=r.person_key,
        exchange_id=r.exchange_id,
        prev_hash=r.prev_hash,
        hash=r.hash,
    )


class ExchangeRecords:
    """The hub's hash-chained exchange records with signed checkpoints."""

    def __init__(
        self, store: Store, clock: Clock, signer: HubSigner, *, checkpoint_every: int = 1000
    ) -> None:
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be at least 1")
        self.store = store
        self.signer = signer
        self.checkpoint_every = checkpoint_every
        self.clock = clock
        # Counts of a person's records by filter, valid while the chain head stays where it
        # was when they were counted (records are only ever appended, and every append moves
        # the head): paging through one's records counts them once.
        self._counts: OrderedDict[tuple[Any, ...], int] = OrderedDict()
        self._counts_lock = threading.Lock()

    @classmethod
    def open(
        cls, settings: Settings, clock: Clock, *, checkpoint_every: int = 1000
    ) -> ExchangeRecords:
        """Open the hub's database (kind ``hub``, body ``core``) and its checkpoint key."""
        signer = HubSigner.load(settings)
        store = open_store(settings, HUB_KIND, HUB_BODY)
        return cls(store, clock, signer, checkpoint_every=checkpoint_every)

    def close(self) -> None:
        """Release the database connections."""
        self.store.close()

    # --- appending ---------------------------------------------------------------------------

    def append(
        self,
        *,
        requester: str,
        provider: str,
        affair: str,
        item: str,
        outcome: Outcome | str,
        person_key: str | None = None,
        exchange_id: str | None = None,
    ) -> ExchangeRecord:
        """Append one record to the chain."""
        entry = NewRecord(requester, provider, affair, item, outcome, person_key, exchange_id)
        return self.append_many([entry])[0]

    def append_many(
        self, entries: Sequence[NewRecord], *, session: Session | None = None
    ) -> list[ExchangeRecord]:
        """Append records in one transaction (one head lock), in order.

        With ``session`` (a transaction on this hub database), the records join it: they
        commit or roll back with whatever else it writes.
        """
        rows = [self._validated(e) for e in entries]
        if not rows:
            return []
        if session is not None:
            return self._append_rows(session, rows)
        with self.store.transaction() as s:
            return self._append_rows(s, rows)

    def _append_rows(self, s: Session, rows: list[dict[str, Any]]) -> list[ExchangeRecord]:
        now = as_utc(self.clock.now())
        seq, prev = self._lock_head(s)
        first = seq
        for row in rows:
            seq += 1
            row.update(seq=seq, recorded_at=now, prev_hash=prev)
            row["hash"] = prev = chain_hash(prev, row)
        s.execute(exchange_records.insert(), rows)
        s.execute(update(chain_head).where(chain_head.c.id == 1).values(seq=seq, hash=prev))
        if seq // self.checkpoint_every != first // self.checkpoint_every:
            self._write_checkpoint(s, seq, prev, now)
        return [record_of(_Row(r)) for r in rows]

    def _validated(self, e: NewRecord) -> dict[str, Any]:
        try:
            outcome = Outcome(e.outcome)
        except ValueError:
            raise InvalidRecord("outcome is not one of the known outcomes") from None
        return {
            "requester": text_field("requester", e.requester, 40),
            "provider": text_field("provider", e.provider, 40),
            "affair": text_field("affair", e.affair, 64),
            "item": text_field("item", e.item, 64),
            "outcome": outcome.value,
            "person_key": _opaque("person_key", e.person_key),
            "exchange_id": _opaque("exchange_id", e.exchange_id),
        }

    @staticmethod
    def _lock_head(s: Session) -> tuple[int, str]:
        # A write first: a row lock on PostgreSQL, the database write lock on SQLite (taken
        # before any read, so two writers queue instead of failing on a lock upgrade).
        head = s.execute(
            update(chain_head)
            .where(chain_head.c.id == 1)
            .values(seq=chain_head.c.seq)
            .returning(chain_head.c.seq, chain_head.c.hash)
        )
        seq, prev = head.one()
        return int(seq), str(prev)

    def _write_checkpoint(self, s: Session, seq: int, head: str, now: dt.datetime) -> Checkpoint:
        key_id = self.signer.key_id
        signature = self.signer.sign(checkpoint_message(seq, head, now, key_id))
        s.execute(
            checkpoints.insert().values(
                seq=seq, head_hash=head, created_at=now, key_id=key_id, signature=signature
            )
        )
        return Checkpoint(seq, head, now, key_id, signature)

    def checkpoint(self) -> Checkpoint:
        """Sign the current head now (or return the checkpoint already made at this head)."""
        now = as_utc(self.clock.now())
        with self.store.transaction() as s:
            seq, head = self._lock_head(s)
            existing = s.execute(select(checkpoints).where(checkpoints.c.seq == seq)).first()
            if existing is not None:
                return checkpoint_of(existing)
            return self._write_checkpoint(s, seq, head, now)

    # --- reading -----------------------------------------------------------------------------

    def head(self) -> tuple[int, str]:
        """The chain head: the last sequence number and its hash."""
        with self.store.transaction() as s:
            seq, head = s.execute(
                select(chain_head.c.seq, chain_head.c.hash).where(chain_head.c.id == 1)
            ).one()
        return int(seq), str(head)

    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint, oldest first."""
        with self.store.transaction() as s:
            rows = s.execute(select(checkpoints).order_by(checkpoints.c.seq)).all()
        return [checkpoint_of(r) for r in rows]

    def for_person(self, person_key: str, *, limit: int | None = None) -> list[ExchangeRecord]:
        """The records about one person, oldest first (the portal's やりとり履歴)."""
        q = select(exchange_records).where(exchange_records.c.person_key == person_key)
        return self._select(q.order_by(exchange_records.c.seq).limit(limit))

    def page_for_person(self, person_key: str, query: PersonQuery) -> PersonPage:
        """One page of a person's records, newest first, filtered and counted in the database.

        The filter, the order and the count run on the index (person_key, recorded_at, seq,
        requester, provider, item). The count is kept for the chain head it was made at and
        made again once the head has moved (the head is read first, so a record appended
        meanwhile can only make a count larger under a head that is already past).
        """
        if query.offset < 0 or not (0 <= query.limit <= 100_000):
            raise ValueError("offset must be >= 0 and limit 0-100,000")
        t = exchange_records
        where = [t.c.person_key == person_key]
        if query.since is not None:
            where.append(t.c.recorded_at >= as_utc(query.since))
        if query.until is not None:
            where.append(t.c.recorded_at < as_utc(query.until))
        if query.agency is not None:
            where.append((t.c.requester == query.agency) | (t.c.provider == query.agency))
        if query.item is not None:
            where.append(t.c.item == query.item)
        rows = (
            select(t)
            .where(*where)
            .order_by(t.c.recorded_at.desc(), t.c.seq.desc())
            .offset(query.offset)
            .limit(query.limit)
        )
        with self.store.transaction() as s:
            head = s.execute(select(chain_head.c.seq).where(chain_head.c.id == 1)).scalar_one()
            key = (person_key, query.since, query.until, query.agency, query.item, int(head))
            with self._counts_lock:
                total = self._counts.get(key)
                if total is not None:
                    self._counts.move_to_end(key)
            if total is None:
                counted = select(func.count()).select_from(t).where(*where)
                total = int(s.execute(counted).scalar_one())
                with self._counts_lock:
                    self._counts[key] = total
                    while len(self._counts) > _COUNTS_KEPT:
                        self._counts.popitem(last=False)
            found = tuple(record_of(r) for r in s.execute(rows)) if query.limit else ()
        return PersonPage(found, total)

    def one_for_person(self, person_key: str, seq: int) -> ExchangeRecord | None:
        """The record ``seq`` if it is about this person (None otherwise, or if there is none)."""
        t = exchange_records
        q = select(t).where(t.c.seq == seq, t.c.person_key == person_key)
        found = self._select(q)
        return found[0] if found else None

    def _select(self, q: Select[Any]) -> list[ExchangeRecord]:
        with self.store.transaction() as s:
            return [record_of(r) for r in s.execute(q)]

    def counts(self, bounds: Sequence[dt.datetime]) -> list[RecordCount]:
        """Records per period, affair, item and outcome, counted in the database.

        ``bounds`` are the periods' limits in increasing order (``n + 1`` moments for ``n``
        periods, e.g. the first moments of successive months). Counts only: no person key,
        no requester or provider, nothing of an exchange's content.
        """
        limits = [as_utc(b) for b in bounds]
        if len(limits) < 2 or any(a >= b for a, b in itertools.pairwise(limits)):
            raise ValueError("bounds must be at least two moments in increasing order")
        at = exchange_records.c.recorded_at
        whens = [(at < b, i) for i, b in enumerate(limits[1:-1])]
        last = len(limits) - 2
        period = case(*whens, else_=last) if whens else literal(last)
        # The period is computed in a subquery and grouped on outside, by name: PostgreSQL
        # would not match two renderings of the CASE with their own bound parameters.
        inner = (
            select(
                period.label("period"),
                exchange_records.c.affair,
                exchange_records.c.item,
                exchange_records.c.outcome,
            )
            .where(at >= limits[0], at < limits[-1])
            .subquery()
        )
        keys = (inner.c.period, inner.c.affair, inner.c.item, inner.c.outcome)
        q = select(*keys, func.count()).group_by(*keys)
        with self.store.transaction() as s:
            rows = s.execute(q).all()
        return [RecordCount(int(p), a, i, Outcome(o), int(n)) for p, a, i, o, n in rows]

    def count(self) -> int:
        """How many records the chain holds (by its head)."""
        return self.head()[0]

    # --- verification ------------------------------------------------------------------------

    def verify_chain(
        self, public_key: ec.EllipticCurvePublicKey | None = None
    ) -> VerificationReport:
        """Recompute the chain and check every checkpoint against ``public_key`` (default: own).

        Detects edited, deleted, reordered and inserted records, a head that does not match
        and a forged or mismatching checkpoint. Records after the last checkpoint are
        protected by the chain and the head row only: checkpoint often enough.
        """
        key = public_key or self.signer.public_key
        problems: list[Problem] = []
        computed: dict[int, str] = {0: GENESIS}
        marks = {c.seq: c for c in self.checkpoints()}
        running = GENESIS
        stored_prev = GENESIS
        expected = 1
        count = 0
        last = 0
        while True:
            q = (
                select(exchange_records)
                .where(exchange_records.c.seq >= expected)
                .order_by(exchange_records.c.seq)
                .limit(_PAGE)
            )
            with self.store.transaction() as s:
                page = s.execute(q).all()
            if not page:
                break
            for r in page:
                values = dict(r._mapping)
                if r.seq != expected:
                    problems.extend(
                        Problem(m, ProblemKind.MISSING_RECORD) for m in range(expected, r.seq)
                    )
                if r.prev_hash != stored_prev:
                    problems.append(Problem(r.seq, ProblemKind.BROKEN_LINK))
                if chain_hash(r.prev_hash, values) != r.hash:
                    problems.append(Problem(r.seq, ProblemKind.HASH_MISMATCH))
                running = chain_hash(running, values)
                if r.seq in marks:
                    computed[r.seq] = running
                stored_prev = r.hash
                expected = r.seq + 1
                last = r.seq
                count += 1
        head_seq, head_hash = self.head()
        if head_seq != last or head_hash != stored_prev:
            problems.append(Problem(head_seq, ProblemKind.HEAD_MISMATCH))
        verified = 0
        last_mark = 0
        for seq, c in sorted(marks.items()):
            message = checkpoint_message(c.seq, c.head_hash, c.created_at, c.key_id)
            try:
                if c.key_id != key_id_of(key):
                    raise InvalidSignature
                key.verify(c.signature, message, ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                problems.append(Problem(seq, ProblemKind.BAD_SIGNATURE))
                continue
            if computed.get(seq) != c.head_hash:
                problems.append(Problem(seq, ProblemKind.CHECKPOINT_MISMATCH))
                continue
            verified += 1
            last_mark = seq
        return VerificationReport(count, verified, last_mark, tuple(problems))


class _Row:
    """Attribute access over a dict (to build ``ExchangeRecord`` from inserted values)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
