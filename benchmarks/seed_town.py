"""Benchmark: seed the demo town (default 100,000 residents) and time it.

The issue's figure: seeding 100,000 residents takes under 60 s. This runs the same path as
``openmyna demo --seed-only`` (town generation, numbering, bulk registration in five
municipal registries, outbox relay, national identity index via the bus) in a temporary data
dir, on SQLite by default or on PostgreSQL with ``--pg URL``.

Usage, from the repository root:
    .venv/bin/python -m benchmarks.seed_town [--residents N] [--pg URL] [--markdown PATH]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.machine import describe
from openmyna.builder import Builder
from openmyna.clock import SystemClock
from openmyna.config import Settings
from openmyna.demo.seed import reset_installation, seed_town
from openmyna.platform import Platform

TARGET_SECONDS = 60.0


def main() -> None:
    """Run the benchmark and print (and optionally write) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--pg", default=None, help="PostgreSQL URL (default: SQLite)")
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            database_url=args.pg,
            schema_prefix=f"bench{uuid.uuid4().hex[:8]}_" if args.pg else "",
        )
        start = time.perf_counter()
        platform = Platform(Builder(settings, SystemClock()))
        try:
            result = seed_town(platform.registries, args.residents)
            seeded = time.perf_counter() - start
            indexed = platform.registries.index.count()
        finally:
            platform.close()
            if args.pg:
                reset_installation(settings)

    backend = "PostgreSQL" if args.pg else "SQLite"
    verdict = "met" if seeded < TARGET_SECONDS else "NOT met"
    lines = [
        f"- Machine: {describe()}",
        f"- Command: `.venv/bin/python -m benchmarks.seed_town --residents {args.residents}"
        + (" --pg URL`" if args.pg else "`"),
        "",
        "| figure | value |",
        "|---|---|",
        f"| backend | {backend}, embedded bus |",
        f"| residents / households | {result.residents:,} / {result.households:,} |",
        f"| seconds to seed (incl. identity index) | {seeded:.1f} s "
        f"(target < {TARGET_SECONDS:.0f} s: {verdict}) |",
        f"| residents per second | {result.residents / seeded:,.0f} |",
        f"| identity index entries | {indexed:,} |",
    ]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
