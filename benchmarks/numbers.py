"""Benchmark N1: number the whole 2018 population of Japan on one core.

Runs the real issuance path (``NumberingAuthority`` on SQLite in a temporary data dir, fresh
random keys) for COUNT residents (default 127,707,259) in batches of 2**20:

* full pipeline: serial -> resident-record code (FF1, 10 digits) -> individual number
  (FF1, 11 digits), with both check digits;
* derivation only: resident-record code -> individual number, over the same codes;

then verifies that every code and every number is valid and that all are distinct (an
in-place sort of the uint64 results and a comparison of neighbours: 1 GB per array).

Usage, from the repository root:
    .venv/bin/python -m benchmarks.numbers [--count N] [--cpu K] [--markdown PATH]
Target: the whole population in under 2 minutes on one core (>= 1,065,000 numbers/s).
"""

from __future__ import annotations

import os
import sys

# Run with ``-m``: as a plain script this file (``numbers``) would shadow the standard
# library module numpy imports.
# One thread everywhere, before numpy loads (numpy's element-wise loops are single-threaded
# anyway; this keeps any BLAS/OpenMP pool from starting). OpenSSL's AES runs in this thread.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cryptography  # noqa: E402
import numpy as np  # noqa: E402
from cryptography.hazmat.backends.openssl.backend import backend as openssl  # noqa: E402

from benchmarks.machine import cpu_model  # noqa: E402
from openmyna.clock import SystemClock  # noqa: E402
from openmyna.config import Settings  # noqa: E402
from openmyna.numbers import (  # noqa: E402
    NumberingAuthority,
    valid_individual_numbers,
    valid_resident_codes,
)

POPULATION_2018 = 127_707_259
TARGET_SECONDS = 120.0
BATCH = 1 << 20


def all_distinct(values: np.ndarray) -> bool:
    """Sort in place and compare neighbours (destroys the order of ``values``)."""
    values.sort()  # numpy's SIMD quicksort, in place: 1 GB of uint64 in seconds
    last = len(values) - 1
    for i in range(0, last, BATCH):  # neighbours (k, k+1) for k in [i, j)
        j = min(i + BATCH, last)
        if np.any(values[i + 1 : j + 1] == values[i:j]):
            return False
    return True


def main() -> int:
    """Run the benchmark and print (and optionally write) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=POPULATION_2018)
    parser.add_argument("--cpu", type=int, default=None, help="core to pin to (default: last)")
    parser.add_argument("--markdown", type=Path, default=None, help="write a report here")
    args = parser.parse_args()
    count: int = args.count

    cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    started = dt.datetime.now(dt.UTC).astimezone()
    load = os.getloadavg()[0]
    machine = (
        f"{cpu_model()}, {os.cpu_count()} logical CPUs, pinned to CPU {cpu} "
        f"(1-min load average at start: {load:.2f})"
    )
    versions = (
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"cryptography {cryptography.__version__}, {openssl.openssl_version_text()}"
    )
    print(f"machine: {machine}")
    print(f"software: {versions}")
    print(f"date: {started.isoformat(timespec='seconds')}")
    print(f"count: {count:,} in batches of {BATCH:,}")

    codes = np.empty(count, dtype=np.uint64)
    numbers = np.empty(count, dtype=np.uint64)
    with tempfile.TemporaryDirectory(prefix="openmyna-bench-") as tmp:
        authority = NumberingAuthority.open(Settings(data_dir=Path(tmp)), SystemClock())
        try:
            authority.issue_arrays(1000)  # warm up tables and buffers
            t0, c0 = time.perf_counter(), time.process_time()
            pos = 0
            for c, n in authority.iter_issue_arrays(count, chunk=BATCH):
                codes[pos : pos + len(c)] = c
                numbers[pos : pos + len(n)] = n
                pos += len(c)
            full_s = time.perf_counter() - t0
            full_cpu = time.process_time() - c0
            assert pos == count

            t0, c0 = time.perf_counter(), time.process_time()
            consistent = True
            for start in range(0, count, BATCH):
                sl = slice(start, start + BATCH)
                derived = authority.individual_numbers_for(codes[sl])
                consistent &= bool(np.array_equal(derived, numbers[sl]))
            derive_s = time.perf_counter() - t0
            derive_cpu = time.process_time() - c0
        finally:
            authority.close()

    t0 = time.perf_counter()
    valid = True
    for start in range(0, count, BATCH):  # in batches: the temporaries stay small
        sl = slice(start, start + BATCH)
        valid &= bool(valid_resident_codes(codes[sl]).all())
        valid &= bool(valid_individual_numbers(numbers[sl]).all())
    unique_codes = all_distinct(codes)
    unique_numbers = all_distinct(numbers)
    verify_s = time.perf_counter() - t0
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    full_rate = count / full_s
    derive_rate = count / derive_s
    projected = POPULATION_2018 / full_rate
    met = projected < TARGET_SECONDS
    ok = valid and unique_codes and unique_numbers and consistent
    lines = [
        f"full pipeline (serial -> code -> number): {full_s:.2f} s, {full_rate:,.0f} numbers/s "
        f"(CPU time {full_cpu:.2f} s: {count / full_cpu:,.0f} numbers per CPU-second)",
        f"derivation only (code -> number): {derive_s:.2f} s, {derive_rate:,.0f} numbers/s "
        f"(CPU time {derive_cpu:.2f} s: {count / derive_cpu:,.0f} numbers per CPU-second)",
        f"projected for {POPULATION_2018:,} residents: {projected:.1f} s "
        f"(target < {TARGET_SECONDS:.0f} s: {'met' if met else 'NOT met'})",
        f"verification: all check digits valid: {valid}; codes distinct: {unique_codes}; "
        f"numbers distinct: {unique_numbers}; derivation consistent: {consistent} "
        f"({verify_s:.1f} s)",
        f"peak memory: {peak_mib:,.0f} MiB",
    ]
    for line in lines:
        print(line)

    if args.markdown is not None:
        command = ".venv/bin/python -m benchmarks.numbers " + " ".join(sys.argv[1:])
        report = [
            "## Numbers (N1): issuing individual numbers on one core",
            "",
            f"- Command: `{command.strip()}`",
            f"- Machine: {machine}",
            f"- Software: {versions}",
            f"- Date: {started.isoformat(timespec='seconds')}",
            f"- Residents numbered: {count:,} (batches of {BATCH:,}, SQLite counter, "
            "fresh AES-256 keys)",
            "",
            "| figure | value |",
            "|---|---|",
            f"| full pipeline (serial → resident-record code → individual number) "
            f"| {full_rate:,.0f} numbers/s ({full_s:.1f} s wall; "
            f"{count / full_cpu:,.0f} per CPU-second) |",
            f"| derivation only (resident-record code → individual number) "
            f"| {derive_rate:,.0f} numbers/s ({derive_s:.1f} s wall; "
            f"{count / derive_cpu:,.0f} per CPU-second) |",
            f"| projected time for the 2018 population ({POPULATION_2018:,}) "
            f"| {projected:.1f} s (target < {TARGET_SECONDS:.0f} s: "
            f"{'met' if met else 'not met'}) |",
            f"| all check digits valid | {valid} |",
            f"| resident-record codes distinct | {unique_codes} |",
            f"| individual numbers distinct | {unique_numbers} |",
            f"| single derivation == pipeline | {consistent} |",
            f"| peak memory | {peak_mib:,.0f} MiB |",
            "",
        ]
        args.markdown.write_text("\n".join(report), encoding="utf-8")
        print(f"report written to {args.markdown}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
