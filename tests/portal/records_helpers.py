"""Helpers of the records and own-information tests (imported as a plain module).

Records come from real exchanges on the platform's network (``exchange``), or, for many of
them at once, straight from the hub's record API (``bulk``): the same rows the hub writes.
"""

from __future__ import annotations

import datetime as dt

from portal_helpers import Holder

from openmyna.network.records import NewRecord, Outcome
from openmyna.platform import Platform

MAEBASHI = "lg-102016"  # 前橋市: provides local tax information
KOBE = "lg-281000"  # 神戸市: asks for it (child allowance)
TAX = {
    "as_of": "2026-04-01",
    "fiscal_year": 2025,
    "levying_lg_code": "102016",
    "status": "taxed",
    "income_categories": ["salary"],
    "total_income": 4_321_000,
    "taxable_income": 2_987_000,
    "municipal_tax": 182_700,
    "prefectural_tax": 121_000,
}


def store_tax(platform: Platform, who: Holder) -> None:
    """前橋市's node holds the person's local tax information."""
    net = platform.network
    code = net.issue_code(MAEBASHI, who.resident.individual_number)
    net.node(MAEBASHI).store_item(code, "local_tax", TAX)


def exchange(platform: Platform, who: Holder, *, key: str) -> None:
    """神戸市 asks 前橋市 for the person's local tax information (a real exchange)."""
    net = platform.network
    code = net.issue_code(KOBE, who.resident.individual_number)
    net.ask(
        KOBE, code, "child_allowance", "local_tax", provider_agency=MAEBASHI, idempotency_key=key
    )


def person_key(platform: Platform, who: Holder) -> str:
    """The hub's record key of the person."""
    return platform.network.hub.codes.person_key_of_number(who.resident.individual_number)


def bulk(
    platform: Platform,
    who: Holder,
    count: int,
    *,
    start: dt.datetime,
    step: dt.timedelta = dt.timedelta(hours=1),
    batch: int = 1,
) -> None:
    """``count`` records about the person from ``start``: ``batch`` of them every ``step``."""
    key = person_key(platform, who)
    clock = platform.clock
    records = platform.network.hub.records
    at, was = start, clock.now()
    kinds = [
        (KOBE, MAEBASHI, "child_allowance", "local_tax"),
        (KOBE, "nenkin", "child_allowance", "pension"),
        (MAEBASHI, MAEBASHI, "child_allowance", "resident_registry"),
    ]
    for first in range(0, count, batch):
        rows = []
        for n in range(first, min(count, first + batch)):
            requester, provider, affair, item = kinds[n % len(kinds)]
            rows.append(NewRecord(requester, provider, affair, item, Outcome.PROVIDED, key))
        clock.set(at)  # type: ignore[attr-defined]
        records.append_many(rows)  # one transaction, one moment
        at += step
    clock.set(was)  # type: ignore[attr-defined]  # sessions stay fresh
