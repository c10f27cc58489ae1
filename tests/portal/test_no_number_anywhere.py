"""The individual number in no page, header or log of the portal (issue 10 §1, §7).

A person with exchange records, own information fetched, a notice and a payment, and a clerk
who finds them at the counter, walk every page route of the web app (each with the ids they
really have, else a made-up one) and the exports. Not one answer, header or log record holds
the person's 12 digits; where the law lets staff see the number, it is masked.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from backoffice_helpers import csrf, staff
from fastapi.testclient import TestClient
from notice_helpers import post
from portal_helpers import holder, login
from records_helpers import MAEBASHI, exchange, store_tax

from openmyna.platform import Platform
from openmyna.portal.pages import PageRoute

#: Ids found on the pages, by the name of the path parameter that takes them.
ID_LINKS = {
    "seq": r'href="/records/(\d+)"',
    "notice_id": r'href="/notices/([0-9a-f]{32})"',
    "payment_id": r'href="/payments/([0-9A-Za-z_-]{8,})"',
}


def _seen(answers: list[str], number: str) -> list[str]:
    return [a[:80] for a in answers if number in a]


def _fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{([^}:]+)(:[^}]+)?\}", lambda m: ids.get(m.group(1), "x"), path)


def test_no_page_header_or_log_holds_the_number(
    client: TestClient, platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    person = holder(platform)
    number = person.resident.individual_number
    store_tax(platform, person)
    exchange(platform, person, key="no-number-1")
    post(platform, person.resident, title="納税通知書を送付しました", link="/payments/x")
    code = platform.network.issue_code(MAEBASHI, number)
    platform.portal.payments.request(
        MAEBASHI,
        code,
        purpose="令和8年度 市県民税 第1期",
        amount=12_300,
        due_on=dt.date(2026, 6, 30),
        agency_key="tax-2026-1",
    )
    login(platform, client, person.card)
    answers: list[str] = []

    def keep(response: object) -> None:
        text = getattr(response, "text", "")
        headers = getattr(response, "headers", {})
        answers.append(text + "\n" + "\n".join(f"{k}: {v}" for k, v in headers.items()))

    fetched = client.post(
        "/my-data",
        data={
            "item": "local_tax",
            "agency": MAEBASHI,
            "csrf_token": csrf(client.get("/my-data", params={"item": "local_tax"}).text),
        },
    )
    assert fetched.status_code == 200, fetched.text
    keep(fetched)
    ids: dict[str, str] = {}
    for page in ("/records", "/notices", "/payments"):
        listing = client.get(page)
        keep(listing)
        for name, link in ID_LINKS.items():
            found = re.search(link, listing.text)
            if found:
                ids.setdefault(name, found.group(1))
    assert {"seq", "notice_id", "payment_id"} <= ids.keys(), ids

    walked = 0
    for route in client.app.routes:  # type: ignore[attr-defined]
        if not isinstance(route, PageRoute) or "GET" not in (route.methods or ()):
            continue
        answer = client.get(_fill(route.path, ids), follow_redirects=False)
        assert answer.status_code < 500, route.path
        keep(answer)
        walked += 1
    assert walked >= 40
    for export in ("/records/export.csv", "/records/export.pdf"):
        exported = client.get(export)
        assert exported.status_code == 200, export
        keep(exported)
    assert _seen(answers, number) == []

    # The counter: the clerk finds the person; the number shows masked, never whole.
    with TestClient(client.app, base_url="http://127.0.0.1") as desk:
        staff(platform, desk)
        results = desk.post(
            "/backoffice/102016/search",
            data={"name": "山田", "csrf_token": csrf(desk.get("/backoffice/102016").text)},
        )
        assert results.status_code == 200
        handle = re.findall(r"/backoffice/102016/residents/([0-9a-f]{32})", results.text)[0]
        resident = desk.get(f"/backoffice/102016/residents/{handle}")
        assert resident.status_code == 200
        assert number[-4:] in resident.text  # the last four digits, as the desk shows them
        assert _seen([results.text, resident.text], number) == []

    logged = [r for r in caplog.records if number in r.getMessage() or number in str(r.args)]
    assert logged == []
