"""Helpers of the moving one-stop's tests (imported as a plain module): a signed online
move-out notice from 前橋市 to 神戸市, and the staff of both."""

from __future__ import annotations

import datetime as dt
import re

from eapply_helpers import (
    MOVE_OUT,
    answer_prefill,
    document_of,
    post_cms,
    request_prefill,
    request_signature,
    save,
    signed,
    start,
)
from fastapi.testclient import TestClient
from portal_helpers import Holder

from openmyna.platform import Platform

KOBE = "281000"
NEW_ADDRESS = "兵庫県神戸市中央区加納町六丁目5番1号"
_MOVE = re.compile(r"/moving/([0-9a-f]{32})")
_ARRIVAL = re.compile(r"/backoffice/moves/arrivals/([0-9a-f]{32})")


def with_kobe(platform: Platform) -> None:
    """The destination's registry (神戸市)."""
    regs = platform.registries
    if not any(m.lg_code == KOBE for m in regs.list_municipalities()):
        regs.add_municipality(KOBE)


def notice_answers(
    platform: Platform, planned_on: dt.date | None = None, **more: str
) -> dict[str, str]:
    """The move-out notice's answers the card does not fill (the notifier, and ``more``)."""
    day = planned_on or platform.clock.today() + dt.timedelta(days=7)
    return {
        "notifier.tel": "0272231111",
        "move.planned_on": day.isoformat(),
        "move.destination": KOBE,
        "move.destination_address": NEW_ADDRESS,
        "movers.0.name": "山田 花子",
        "movers.0.date_of_birth": "1985-02-03",
        "movers.0.relationship": "self",
        **more,
    }


def submit_notice(
    client: TestClient,
    platform: Platform,
    who: Holder,
    planned_on: dt.date | None = None,
    more: dict[str, str] | None = None,
) -> str:
    """``who`` fills the move-out notice from the card, signs and submits it; its id."""
    with_kobe(platform)
    draft = start(client, MOVE_OUT)
    answer_prefill(client, who.card, request_prefill(client, draft))
    saved = save(client, draft, notice_answers(platform, planned_on, **(more or {})))
    assert saved.status_code == 303, saved.text
    token = request_signature(client, draft)
    done = post_cms(client, token, signed(platform, who.card, document_of(client, token)))
    assert done.status_code == 200, done.text
    return draft.rsplit("/", 1)[1]


def csrf_of(client: TestClient, path: str) -> str:
    """The session's CSRF token, from a page."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    return page.text.split('name="csrf_token" value="')[1].split('"')[0]


def move_ids(html: str) -> list[str]:
    """The person's planned move-ins linked from a page."""
    return _MOVE.findall(html)


def arrival_ids(html: str) -> list[str]:
    """The planned move-ins linked from the staff's moves page."""
    return _ARRIVAL.findall(html)
