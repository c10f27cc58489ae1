"""The numbering authority on both storage backends: issuance, persistence, concurrency, keys."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.errors import InvalidInput
from openmyna.numbers import (
    InvalidNumber,
    IssuedNumber,
    NumberingAuthority,
    NumberingExhausted,
    NumberingKeyError,
    is_valid_corporate_number,
    is_valid_individual_number,
    is_valid_resident_code,
    valid_individual_numbers,
    valid_resident_codes,
)
from openmyna.numbers.authority import block_table, counter_table
from openmyna.numbers.keys import key_path
from openmyna.store import open_store


def _spans(blocks: list[tuple[int, int]]) -> None:
    """Assert that (first, count) blocks are pairwise disjoint and contiguous overall."""
    ordered = sorted(blocks)
    for (f1, c1), (f2, _) in itertools.pairwise(ordered):
        assert f1 + c1 == f2, "blocks overlap or leave a gap"
    assert ordered[0][0] == 0


def test_issue_gives_valid_distinct_numbers(settings: Settings) -> None:
    with NumberingAuthority.open(settings) as authority:
        issued = authority.issue(50)
        assert len(issued) == 50
        assert all(isinstance(x, IssuedNumber) for x in issued)
        assert all(is_valid_resident_code(x.resident_code) for x in issued)
        assert all(is_valid_individual_number(x.individual_number) for x in issued)
        assert len({x.individual_number for x in issued}) == 50
        assert len({x.resident_code for x in issued}) == 50
        # Issuance and the single conversion agree.
        for x in issued[:5]:
            assert authority.individual_number_for(x.resident_code) == x.individual_number
        codes, numbers = authority.issue_arrays(100_000)
        assert valid_resident_codes(codes).all()
        assert valid_individual_numbers(numbers).all()
        assert len(np.unique(numbers)) == len(numbers)
        assert not set(numbers.tolist()) & {int(x.individual_number) for x in issued}
        assert np.array_equal(authority.individual_numbers_for(codes[:10]), numbers[:10])
        assert authority.serials_issued() == 100_050


def test_issued_number_repr_is_masked(settings: Settings) -> None:
    with NumberingAuthority.open(settings) as authority:
        (x,) = authority.issue(1)
        assert x.individual_number not in repr(x)
        assert x.resident_code not in repr(x)
        assert x.individual_number[-4:] in repr(x)


def test_serials_are_not_reused_across_reopen(settings: Settings) -> None:
    with NumberingAuthority.open(settings) as a:
        first = a.issue(20)
        derived = a.individual_number_for(first[0].resident_code)
        corporate = a.corporate_number_for("123456789012")
    with NumberingAuthority.open(settings) as b:
        second = b.issue(20)
        # Same key file: the conversions give the same results after reopening.
        assert b.individual_number_for(first[0].resident_code) == derived
        assert b.corporate_number_for("123456789012") == corporate
        assert b.serials_issued() == 40
    assert not {x.resident_code for x in first} & {x.resident_code for x in second}
    assert not {x.individual_number for x in first} & {x.individual_number for x in second}


def test_allocation_log_uses_the_injected_clock(settings: Settings, clock: FixedClock) -> None:
    with NumberingAuthority.open(settings, clock=clock) as authority:
        assert authority.allocate_serials(3) == 0
        clock.advance(dt.timedelta(hours=1))
        assert authority.allocate_serials(4) == 3
    store = open_store(settings, "numbering", "jlis")
    try:
        with store.transaction() as s:
            rows = s.execute(
                sa.select(
                    block_table.c.first_value, block_table.c.count, block_table.c.allocated_at
                ).order_by(block_table.c.id)
            ).all()
    finally:
        store.close()
    assert [(r[0], r[1]) for r in rows] == [(0, 3), (3, 4)]
    stamps = [r[2].replace(tzinfo=r[2].tzinfo or dt.UTC) for r in rows]
    assert stamps[1] - stamps[0] == dt.timedelta(hours=1)


def test_concurrent_threads_get_disjoint_blocks(settings: Settings) -> None:
    NumberingAuthority.open(settings).close()  # create and migrate once
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        try:
            with NumberingAuthority.open(settings) as authority:
                for k in range(25):
                    count = 1 + (seed * 7 + k) % 13
                    first = authority.allocate_serials(count)
                    with lock:
                        results.append((first, count))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 75
    _spans(results)


_WORKER = """
import json, sys
from openmyna.config import Settings
from openmyna.numbers import NumberingAuthority
out = []
with NumberingAuthority.open(Settings()) as authority:
    for k in range(40):
        count = 1 + (int(sys.argv[1]) * 5 + k) % 11
        out.append((authority.allocate_serials(count), count))
print(json.dumps(out))
"""


def _env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["OPENMYNA_DATA_DIR"] = str(settings.data_dir)
    env["OPENMYNA_SCHEMA_PREFIX"] = settings.schema_prefix
    env.pop("OPENMYNA_DATABASE_URL", None)
    if settings.database_url is not None:
        env["OPENMYNA_DATABASE_URL"] = settings.database_url
    return env


def test_concurrent_processes_get_disjoint_blocks(settings: Settings) -> None:
    # No store yet: the processes also race to create the key file and migrate the store.
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(i)],
            env=_env(settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    blocks: list[tuple[int, int]] = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        blocks += [(int(f), int(c)) for f, c in json.loads(out)]
    assert len(blocks) == 80
    _spans(blocks)
    assert key_path(settings.data_dir).exists()


def test_exhaustion_is_refused(settings: Settings) -> None:
    with NumberingAuthority.open(settings) as authority:
        store = open_store(settings, "numbering", "jlis")
        try:
            with store.transaction() as s:
                s.execute(sa.update(counter_table).values(next_value=10**10 - 5))
        finally:
            store.close()
        assert authority.allocate_serials(5) == 10**10 - 5
        with pytest.raises(NumberingExhausted):
            authority.allocate_serials(1)
        with pytest.raises(InvalidInput):
            authority.allocate_serials(0)


def test_conversions_validate_their_input(settings: Settings) -> None:
    with NumberingAuthority.open(settings) as authority:
        with pytest.raises(InvalidNumber) as info:
            authority.individual_number_for("10000000007")
        assert info.value.reason == "check_digit"
        with pytest.raises(InvalidNumber):
            authority.corporate_number_for("12345")
        assert is_valid_corporate_number(authority.corporate_number_for("0110-01-098993"))


def test_key_file_is_private_and_stable(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with NumberingAuthority.open(settings) as a:
        number = a.individual_number_for("10000000006")
    path = key_path(settings.data_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    content = path.read_text()
    with NumberingAuthority.open(settings) as b:
        assert b.individual_number_for("10000000006") == number
        assert content[20:60] not in repr(b)
    assert path.read_text() == content
    # Another data dir, another key: another number for the same code.
    with NumberingAuthority.open(Settings(data_dir=tmp_path / "other")) as c:
        assert c.individual_number_for("10000000006") != number


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    NumberingAuthority.open(settings).close()
    key_path(tmp_path).chmod(0o644)
    with pytest.raises(NumberingKeyError) as info:
        NumberingAuthority.open(settings)
    assert "0600" in info.value.message


def test_malformed_key_file_is_refused(tmp_path: Path) -> None:
    path = key_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text('{"format": "openmyna-numbering-key/1", "resident_code": "zz"}')
    path.chmod(0o600)
    with pytest.raises(NumberingKeyError):
        NumberingAuthority.open(Settings(data_dir=tmp_path))
