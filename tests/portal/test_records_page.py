"""やりとり履歴 (P2): the person's exchange records from the hub, filtered, paged, exported."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from portal_helpers import Holder, holder, login
from records_helpers import KOBE, MAEBASHI, bulk, exchange, person_key, store_tax

from openmyna.network.records import NewRecord, Outcome
from openmyna.platform import Platform
from openmyna.portal.i18n import LANGUAGES
from openmyna.portal.pages import LANGUAGE_COOKIE
from openmyna.portal.records.service import PDF_MAX_ROWS

START = dt.datetime(2026, 4, 1, 0, 0, tzinfo=dt.UTC)  # 09:00 JST


def _person(platform: Platform, client: TestClient) -> Holder:
    who = holder(platform)
    login(platform, client, who.card)
    return who


def _rows(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return re.findall(r"<tr>.*?</tr>", body, flags=re.S)


def test_the_records_page_needs_a_login(client: TestClient) -> None:
    went = client.get("/records", follow_redirects=False)
    assert went.status_code == 303
    assert went.headers["location"].startswith("/login")


def test_a_real_exchange_shows_with_japanese_names(client: TestClient, platform: Platform) -> None:
    who = _person(platform, client)
    store_tax(platform, who)
    exchange(platform, who, key="tax-first")

    page = client.get("/records")

    assert page.status_code == 200
    rows = _rows(page.text)
    assert len(rows) == 1
    assert "神戸市" in rows[0]
    assert "前橋市" in rows[0]
    assert "児童手当の支給" in rows[0]
    assert "地方税関係情報" in rows[0]
    assert "提供されました" in rows[0]
    assert "令和8年4月1日 09:00" in rows[0]  # Japan time, with the era
    assert who.resident.individual_number not in page.text
    assert "1件中 1〜1件目" in page.text


def test_another_persons_records_do_not_show(client: TestClient, platform: Platform) -> None:
    other = holder(platform, "佐藤", "一郎")
    store_tax(platform, other)
    exchange(platform, other, key="tax-other")
    _person(platform, client)

    page = client.get("/records")

    assert _rows(page.text) == []
    assert "記録はまだありません" in page.text


def test_filters_by_period_agency_and_item(client: TestClient, platform: Platform) -> None:
    who = _person(platform, client)
    # 30 records, one a day from 2026-04-01 09:00 JST: local tax, pension, resident registry.
    bulk(platform, who, 30, start=START, step=dt.timedelta(days=1))

    april_first_week = client.get("/records", params={"since": "2026-04-01", "until": "2026-04-07"})
    assert len(_rows(april_first_week.text)) == 7  # both ends included, in Japan days

    pension = client.get("/records", params={"item": "pension"})
    assert len(_rows(pension.text)) == 10
    assert all("年金関係情報" in r for r in _rows(pension.text))

    nenkin = client.get("/records", params={"agency": "nenkin"})
    assert len(_rows(nenkin.text)) == 10
    maebashi = client.get("/records", params={"agency": MAEBASHI})  # asked or provided
    assert len(_rows(maebashi.text)) == 20

    both = client.get(
        "/records", params={"agency": KOBE, "item": "local_tax", "since": "2026-04-20"}
    )
    assert len(_rows(both.text)) == 3  # 04-22, 04-25, 04-28
    assert 'value="lg-281000" selected' in both.text  # the form keeps the choice

    none = client.get("/records", params={"since": "2027-01-01"})
    assert _rows(none.text) == []
    assert "条件に合う記録はありません" in none.text


def test_pages_newest_first_and_an_oversized_page_shows_the_last(
    client: TestClient, platform: Platform
) -> None:
    who = _person(platform, client)
    bulk(platform, who, 120, start=START, step=dt.timedelta(hours=1))

    first = client.get("/records")
    rows = _rows(first.text)
    assert len(rows) == 50
    assert "120件中 1〜50件目" in first.text
    assert "1 / 3 ページ" in first.text
    assert 'href="/records?page=2" rel="next"' in first.text
    newest = re.findall(r'datetime="([^"]+)"', rows[0])[0]
    oldest = re.findall(r'datetime="([^"]+)"', rows[-1])[0]
    assert newest > oldest

    third = client.get("/records", params={"page": "3"})
    assert len(_rows(third.text)) == 20
    assert "101〜120件目" in third.text

    beyond = client.get("/records", params={"page": "99999"})
    assert beyond.status_code == 200
    assert "3 / 3 ページ" in beyond.text

    kobe = client.get("/records", params={"agency": KOBE})  # 80 records: the filter is kept
    assert 'href="/records?agency=lg-281000&amp;page=2" rel="next"' in kobe.text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-13-01"}, "since"),
        ({"since": "not a date"}, "since"),
        ({"since": "1999-12-31"}, "since"),
        ({"since": "2026-05-01", "until": "2026-04-01"}, "until"),
        ({"agency": "no-such-agency"}, "agency"),
        ({"agency": '"><script>x</script>'}, "agency"),
        ({"since": "<script>x</script>"}, "since"),
        ({"item": "secret_item"}, "item"),
        ({"page": "abc"}, "page"),
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "1" * 40}, "page"),
        ({"page": "１"}, "page"),  # a full-width digit
    ],
)
def test_malformed_filters_are_refused_clearly(
    client: TestClient, platform: Platform, params: dict[str, str], field: str
) -> None:
    _person(platform, client)

    page = client.get("/records", params=params)

    assert page.status_code == 400
    assert 'role="alert"' in page.text
    assert 'aria-invalid="true"' in page.text or field == "page"
    assert "Traceback" not in page.text
    assert "<script>x" not in page.text  # what was typed comes back escaped


def test_an_overlong_filter_value_is_refused(client: TestClient, platform: Platform) -> None:
    _person(platform, client)
    assert client.get("/records", params={"agency": "x" * 5000}).status_code == 400
    assert client.get("/records/export.csv", params={"item": "x" * 5000}).status_code == 400
    bad_export = client.get("/records/export.pdf", params={"since": "2026-02-30"})
    assert bad_export.status_code == 400  # the list's form, saying which field
    assert "期間の開始日を正しく入力してください" in bad_export.text


def test_one_record_and_another_persons_is_the_same_not_found(
    client: TestClient, platform: Platform
) -> None:
    other = holder(platform, "佐藤", "一郎")
    store_tax(platform, other)
    exchange(platform, other, key="tax-other")
    [theirs] = platform.network.hub.records.for_person(person_key(platform, other))
    who = _person(platform, client)
    store_tax(platform, who)
    exchange(platform, who, key="tax-mine")
    [mine] = platform.network.hub.records.for_person(person_key(platform, who))

    detail = client.get(f"/records/{mine.seq}")
    assert detail.status_code == 200
    assert "神戸市" in detail.text
    assert "地方税関係情報" in detail.text
    assert mine.hash in detail.text

    someone_elses = client.get(f"/records/{theirs.seq}")
    missing = client.get("/records/999999")
    assert someone_elses.status_code == missing.status_code == 404
    assert someone_elses.text.replace(f"/records/{theirs.seq}", "/records/999999") == missing.text
    for bad in ("abc", "0", "012", "1" * 30, "%00"):
        assert client.get(f"/records/{bad}").status_code == 404


def test_names_are_escaped(client: TestClient, platform: Platform) -> None:
    who = _person(platform, client)
    hostile = "<script>alert(1)</script>"
    platform.network.hub.records.append_many(
        [
            NewRecord(
                KOBE, MAEBASHI, hostile, "local_tax", Outcome.PROVIDED, person_key(platform, who)
            )
        ]
    )

    listing = client.get("/records")
    [record] = platform.network.hub.records.for_person(person_key(platform, who))
    detail = client.get(f"/records/{record.seq}")

    for page in (listing, detail):
        assert hostile not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_csv_for_excel(client: TestClient, platform: Platform) -> None:
    who = _person(platform, client)
    bulk(platform, who, 30, start=START, step=dt.timedelta(days=1))
    platform.network.hub.records.append_many(
        [
            NewRecord(
                KOBE, MAEBASHI, "=HYPERLINK(1)", "local_tax", "provided", person_key(platform, who)
            )
        ]
    )

    got = client.get("/records/export.csv", params={"item": "pension"})

    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/csv")
    assert "attachment" in got.headers["content-disposition"]
    assert got.content.startswith(b"\xef\xbb\xbf")
    text = got.content[3:].decode("utf-8")
    assert text.count("\r\n") == 11
    assert "\n" not in text.replace("\r\n", "")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == [
        "記録番号",
        "日時",
        "照会した機関",
        "提供した機関",
        "事務",
        "特定個人情報の項目",
        "結果",
    ]
    assert len(rows) == 11
    assert {r[3] for r in rows[1:]} == {"日本年金機構"}
    assert {r[5] for r in rows[1:]} == {"年金関係情報"}
    assert rows[1][1].endswith("+09:00")  # Japan time

    everything = client.get("/records/export.csv").content.decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in everything  # no formula for a spreadsheet to run
    assert who.resident.individual_number not in everything


def test_csv_in_english(client: TestClient, platform: Platform) -> None:
    who = _person(platform, client)
    bulk(platform, who, 3, start=START)
    client.cookies.set(LANGUAGE_COOKIE, "en")
    text = client.get("/records/export.csv").content.decode("utf-8-sig")
    assert text.startswith("Record no.,")
    assert "Provided" in text


def test_pdf_with_japanese_text(client: TestClient, platform: Platform, tmp_path: Path) -> None:
    who = _person(platform, client)
    store_tax(platform, who)
    exchange(platform, who, key="tax-pdf-1")
    bulk(platform, who, 80, start=START + dt.timedelta(days=2), step=dt.timedelta(hours=2))

    got = client.get("/records/export.pdf", params={"since": "2026-04-03"})

    assert got.status_code == 200
    assert got.headers["content-type"] == "application/pdf"
    assert got.content.startswith(b"%PDF-")
    pdf = tmp_path / "records.pdf"
    pdf.write_bytes(got.content)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    pages = int(re.search(r"Pages:\s+(\d+)", info.stdout).group(1))  # type: ignore[union-attr]
    assert pages >= 2
    assert "841.89 x 595.28 pts (A4)" in info.stdout  # A4 landscape
    assert "CreationDate:    Wed Apr  1 00:00:00 2026 UTC" in info.stdout  # the portal's clock
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "やりとり履歴" in text
    assert "日本年金機構" in text
    assert "年金関係情報" in text
    assert "件数: 80" in text  # the real exchange was on 04-01, outside the period
    assert who.resident.individual_number not in text


def test_pdf_export_is_capped_with_a_clear_message(
    client: TestClient, platform: Platform, tmp_path: Path
) -> None:
    who = _person(platform, client)
    bulk(platform, who, PDF_MAX_ROWS + 1, start=START, step=dt.timedelta(minutes=1), batch=500)

    refused = client.get("/records/export.pdf")
    assert refused.status_code == 422
    assert "2,001件" in refused.text
    assert "2,000件まで" in refused.text
    assert 'role="alert"' in refused.text

    narrowed = client.get("/records/export.pdf", params={"item": "pension"})
    assert narrowed.status_code == 200
    assert narrowed.content.startswith(b"%PDF-")


def test_the_page_in_both_languages(client: TestClient, platform: Platform) -> None:
    who = _person(platform, client)
    bulk(platform, who, 2, start=START)
    for language in LANGUAGES:
        client.cookies.set(LANGUAGE_COOKIE, language)
        page = client.get("/records")
        assert page.status_code == 200
        title = "やりとり履歴" if language == "ja" else "Exchange records"
        assert f"<h1>{title}</h1>" in page.text
    assert "Japan Pension Service" not in page.text  # names are the network's, in Japanese
    assert "日本年金機構" in page.text
