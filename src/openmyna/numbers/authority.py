"""The numbering authority (the issuing body, J-LIS / 地方公共団体情報システム機構 role).

It holds the three FF1 keys and a serial counter, and turns serials into resident-record
codes (住民票コード) and resident-record codes into individual numbers (個人番号):

    serial --FF1(resident key, 10 digits)--> base10 + check digit = resident-record code
    resident-record code --FF1(individual key, 11 digits)--> base11 + check digit = number

Both conversions are keyed permutations, so distinct serials give distinct codes and
distinct codes give distinct numbers: no uniqueness look-up is ever needed, and without
the key a number can be neither predicted nor traced back to its resident-record code.
Corporate numbers (法人番号) come from their 12-digit base the same way, with a third key.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType

import numpy as np
import sqlalchemy as sa

from openmyna.clock import Clock, SystemClock
from openmyna.config import Settings
from openmyna.errors import InvalidInput
from openmyna.numbers.bulk import Deriver
from openmyna.numbers.checkdigits import (
    corporate_check_digit,
    individual_check_digit,
    mask_individual_number,
    mask_resident_code,
    normalize_digits,
    require_digits,
    validate_resident_code,
)
from openmyna.numbers.errors import NumberingExhausted
from openmyna.numbers.ff1 import FF1, U64
from openmyna.numbers.keys import load_or_create_keys
from openmyna.store import Store, StoreKind, open_store, register_kind

STORE_KIND = "numbering"
#: The one issuing body (J-LIS); the store kind allows others, e.g. in tests.
BODY_ID = "jlis"
RESIDENT_CODE_COUNTER = "resident_code"
#: Serials are 10-digit numbers, so at most 10**10 resident-record codes exist.
SERIAL_LIMIT = 10**10

metadata = sa.MetaData()
counter_table = sa.Table(
    "numbering_counter",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("next_value", sa.BigInteger(), nullable=False),
    sa.Column("limit_value", sa.BigInteger(), nullable=False),
)
block_table = sa.Table(
    "numbering_block",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("counter", sa.String(40), nullable=False),
    sa.Column("first_value", sa.BigInteger(), nullable=False),
    sa.Column("count", sa.BigInteger(), nullable=False),
    sa.Column("allocated_at", sa.DateTime(timezone=True), nullable=False),
)

register_kind(StoreKind(STORE_KIND, metadata, migrations="openmyna.numbers:migrations"))


@dataclass(frozen=True, slots=True)
class IssuedNumber:
    """A newly issued resident-record code and the individual number derived from it."""

    resident_code: str = field(repr=False)
    individual_number: str = field(repr=False)

    def __repr__(self) -> str:
        return (
            f"IssuedNumber(resident_code={mask_resident_code(self.resident_code)!r}, "
            f"individual_number={mask_individual_number(self.individual_number)!r})"
        )


class NumberingAuthority:
    """The issuing body: keys, the serial counter, and the keyed conversions."""

    def __init__(self, store: Store, deriver: Deriver, ffs: tuple[FF1, FF1, FF1], clock: Clock):
        self._store = store
        self._deriver = deriver
        self._resident_ff1, self._individual_ff1, self._corporate_ff1 = ffs
        self._clock = clock
        # The deriver reuses buffers: one batch at a time per authority object.
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls, settings: Settings, clock: Clock | None = None, body_id: str = BODY_ID
    ) -> NumberingAuthority:
        """Open the authority: its key file (created on first use) and its counter store."""
        keys = load_or_create_keys(settings.ensure_data_dir())
        ffs = (
            FF1(keys.resident_code),
            FF1(keys.individual_number),
            FF1(keys.corporate_number),
        )
        store = open_store(settings, STORE_KIND, body_id)  # migrations are serialised there
        return cls(store, Deriver(*ffs), ffs, clock or SystemClock())

    def __repr__(self) -> str:
        return f"NumberingAuthority(body={self._store.body_id!r})"

    def close(self) -> None:
        """Release the database connections."""
        self._store.close()

    def __enter__(self) -> NumberingAuthority:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---- serials ------------------------------------------------------------------

    def allocate_serials(self, count: int) -> int:
        """Reserve ``count`` fresh serials atomically; returns the first of the block."""
        if count < 1:
            raise InvalidInput("count must be at least 1", count=count)
        c = counter_table.c
        with self._store.transaction() as session:
            # One UPDATE … RETURNING: the row lock (PostgreSQL) or the write lock (SQLite)
            # makes concurrent allocations from any number of processes disjoint.
            row = session.execute(
                sa.update(counter_table)
                .where(c.name == RESIDENT_CODE_COUNTER, c.next_value + count <= c.limit_value)
                .values(next_value=c.next_value + count)
                .returning(c.next_value)
            ).first()
            if row is None:
                raise NumberingExhausted(
                    "no resident-record code serials left for this request", requested=count
                )
            first = int(row[0]) - count
            session.execute(
                sa.insert(block_table).values(
                    counter=RESIDENT_CODE_COUNTER,
                    first_value=first,
                    count=count,
                    allocated_at=self._clock.now(),
                )
            )
        return first

    def serials_issued(self) -> int:
        """How many serials have been allocated so far."""
        with self._store.transaction() as session:
            value = session.execute(
                sa.select(counter_table.c.next_value).where(
                    counter_table.c.name == RESIDENT_CODE_COUNTER
                )
            ).scalar_one()
        return int(value)

    # ---- issuance -----------------------------------------------------------------

    def issue_arrays(self, count: int) -> tuple[U64, U64]:
        """Issue ``count`` residents: (11-digit resident codes, 12-digit numbers) as uint64."""
        first = self.allocate_serials(count)
        with self._lock:
            return self._deriver.issue_range(first, count)

    def iter_issue_arrays(self, count: int, chunk: int = 1 << 20) -> Iterator[tuple[U64, U64]]:
        """Like ``issue_arrays`` but yields chunks (serials are reserved in one block first)."""
        if chunk < 1:
            raise InvalidInput("chunk must be at least 1", chunk=chunk)
        first = self.allocate_serials(count)
        for start in range(0, count, chunk):
            n = min(chunk, count - start)
            with self._lock:
                yield self._deriver.issue_range(first + start, n)

    def issue(self, count: int) -> list[IssuedNumber]:
        """Issue ``count`` residents a resident-record code and an individual number each."""
        codes, numbers = self.issue_arrays(count)
        return [
            IssuedNumber(f"{c:011d}", f"{n:012d}")
            for c, n in zip(codes.tolist(), numbers.tolist(), strict=True)
        ]

    # ---- conversions --------------------------------------------------------------

    def individual_number_for(self, resident_code: str) -> str:
        """The individual number of a resident-record code (validated first)."""
        code = validate_resident_code(resident_code)
        base = f"{self._individual_ff1.encrypt_int(int(code), 11):011d}"
        return base + str(individual_check_digit(base))

    def individual_numbers_for(self, resident_codes: U64) -> U64:
        """Individual numbers of many resident-record codes (uint64; codes not validated)."""
        with self._lock:
            return self._deriver.individual_numbers(np.asarray(resident_codes, dtype=np.uint64))

    def corporate_number_for(self, base12: str) -> str:
        """The corporate number of a 12-digit base (e.g. a registry number)."""
        base = normalize_digits(base12)
        require_digits(base, 12, "corporate", "corporate number base")
        derived = f"{self._corporate_ff1.encrypt_int(int(base), 12):012d}"
        return str(corporate_check_digit(derived)) + derived
