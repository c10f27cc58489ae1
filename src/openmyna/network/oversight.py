"""The oversight body's (個人情報保護委員会, X6) view of the hub's exchange records.

Every query is logged, in the same transaction, with who asked, when, the filter and how
many records it returned: the auditors are audited too.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select

from openmyna.network.errors import InvalidRecord
from openmyna.network.record_chain import as_utc
from openmyna.network.records import (
    ExchangeRecord,
    ExchangeRecords,
    Outcome,
    record_of,
    text_field,
)
from openmyna.network.tables import exchange_records, oversight_queries


@dataclass(frozen=True)
class OversightQuery:
    """One logged query of the oversight body."""

    id: int
    queried_at: dt.datetime
    auditor: str
    filter: dict[str, Any]
    result_count: int


class Oversight:
    """The oversight body's (個人情報保護委員会, X6) view of the records; every query is logged."""

    def __init__(self, records: ExchangeRecords) -> None:
        self.records = records

    def query(
        self,
        auditor: str,
        *,
        agency: str | None = None,
        affair: str | None = None,
        outcome: Outcome | str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 10_000,
    ) -> list[ExchangeRecord]:
        """Records matching the filter (agency = requester or provider; since ≤ t < until)."""
        who = text_field("auditor", auditor, 64)
        flt: dict[str, Any] = {}
        q = select(exchange_records)
        if agency is not None:
            flt["agency"] = text_field("agency", agency, 40)
            q = q.where(
                or_(exchange_records.c.requester == agency, exchange_records.c.provider == agency)
            )
        if affair is not None:
            flt["affair"] = text_field("affair", affair, 64)
            q = q.where(exchange_records.c.affair == affair)
        if outcome is not None:
            try:
                flt["outcome"] = Outcome(outcome).value
            except ValueError:
                raise InvalidRecord("outcome is not one of the known outcomes") from None
            q = q.where(exchange_records.c.outcome == flt["outcome"])
        if since is not None:
            flt["since"] = as_utc(since).isoformat()
            q = q.where(exchange_records.c.recorded_at >= as_utc(since))
        if until is not None:
            flt["until"] = as_utc(until).isoformat()
            q = q.where(exchange_records.c.recorded_at < as_utc(until))
        if limit < 1:
            raise InvalidRecord("limit must be at least 1")
        flt["limit"] = limit
        q = q.order_by(exchange_records.c.seq).limit(limit)
        with self.records.store.transaction() as s:
            found = [record_of(r) for r in s.execute(q)]
            s.execute(
                oversight_queries.insert().values(
                    queried_at=as_utc(self.records.clock.now()),
                    auditor=who,
                    filter=json.dumps(flt, sort_keys=True, separators=(",", ":")),
                    result_count=len(found),
                )
            )
        return found

    def log(self) -> list[OversightQuery]:
        """Every logged oversight query, oldest first."""
        with self.records.store.transaction() as s:
            rows = s.execute(select(oversight_queries).order_by(oversight_queries.c.id)).all()
        return [
            OversightQuery(
                r.id, as_utc(r.queried_at), r.auditor, json.loads(r.filter), r.result_count
            )
            for r in rows
        ]
