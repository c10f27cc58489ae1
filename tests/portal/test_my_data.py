"""自己情報 (P3): the portal fetches what an agency holds about the person, over the network."""

from __future__ import annotations

import enum
import re
import typing

import pytest
from fastapi.testclient import TestClient
from portal_helpers import Holder, holder, login
from pydantic import BaseModel
from records_helpers import KOBE, MAEBASHI, person_key, store_tax

from openmyna.errors import OpenMynaError
from openmyna.network.errors import ExchangeRefused, ProviderUnavailable
from openmyna.network.layouts import LAYOUTS
from openmyna.network.records import Outcome
from openmyna.platform import Platform
from openmyna.portal.accounts import PORTAL_AGENCY
from openmyna.portal.mydata.labels import FIELDS, VALUES
from openmyna.portal.pages import LANGUAGE_COOKIE


def _person(platform: Platform, client: TestClient) -> Holder:
    who = holder(platform)
    login(platform, client, who.card)
    return who


def _csrf(client: TestClient, item: str = "local_tax") -> str:
    page = client.get("/my-data", params={"item": item}).text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def _fetch(client: TestClient, agency: str, item: str = "local_tax") -> str:
    got = client.post(
        "/my-data", data={"item": item, "agency": agency, "csrf_token": _csrf(client, item)}
    )
    assert got.status_code == 200, got.text
    return got.text


def test_the_pages_need_a_login(client: TestClient) -> None:
    went = client.get("/my-data", follow_redirects=False)
    assert went.status_code == 303
    assert went.headers["location"].startswith("/login")


def test_the_items_and_the_legal_basis(client: TestClient, platform: Platform) -> None:
    _person(platform, client)

    page = client.get("/my-data")

    assert page.status_code == 200
    for name in ("地方税関係情報", "住民票関係情報", "年金関係情報", "医療保険資格関係情報"):
        assert name in page.text
    assert "附則第6条第3項" in page.text
    ask = client.get("/my-data", params={"item": "local_tax"})
    assert ask.status_code == 200
    assert '<option value="lg-102016">群馬県前橋市</option>' in ask.text
    assert "日本年金機構" not in ask.text  # it does not provide local tax information


def test_the_fetch_shows_the_item_and_appears_in_the_records(
    client: TestClient, platform: Platform
) -> None:
    who = _person(platform, client)
    store_tax(platform, who)

    page = _fetch(client, MAEBASHI)

    assert "次の情報が提供されました" in page
    assert "課税年度" in page
    assert "2025" in page
    assert "182,700円" in page  # 市町村民税額
    assert "群馬県前橋市（102016）" in page  # the levying municipality, by name
    assert "給与所得" in page
    assert "課税" in page
    assert who.resident.individual_number not in page
    # Recorded at the hub like any exchange: the portal asked, under its own affair.
    [record] = platform.network.hub.records.for_person(person_key(platform, who))
    assert (record.requester, record.provider, record.affair, record.item, record.outcome) == (
        PORTAL_AGENCY,
        MAEBASHI,
        "own_information",
        "local_tax",
        Outcome.PROVIDED,
    )
    records = client.get("/records")
    assert "マイナポータル（情報提供等記録開示システム）" in records.text
    assert "自己情報の表示" in records.text
    assert "1件中 1〜1件目" in records.text


def test_an_agency_holding_nothing_says_so(client: TestClient, platform: Platform) -> None:
    who = _person(platform, client)

    page = _fetch(client, KOBE)

    assert "保有していません" in page
    [record] = platform.network.hub.records.for_person(person_key(platform, who))
    assert record.outcome is Outcome.NO_DATA


def test_a_provider_that_is_down(
    client: TestClient, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = _person(platform, client)
    store_tax(platform, who)

    def down(provider: str, tokens: list[str]) -> list[str | OpenMynaError]:
        raise ProviderUnavailable("the provider node cannot be reached", provider=provider)

    monkeypatch.setattr(platform.network, "deliver", down)  # the hub's transport fails
    page = _fetch(client, MAEBASHI)

    assert "接続できませんでした" in page
    assert "PROVIDER_UNAVAILABLE" in page
    assert platform.network.hub.records.for_person(person_key(platform, who)) == []


def test_in_english(client: TestClient, platform: Platform) -> None:
    who = _person(platform, client)
    store_tax(platform, who)
    client.cookies.set(LANGUAGE_COOKIE, "en")

    page = _fetch(client, MAEBASHI)

    assert "Fiscal year" in page
    assert "¥182,700" in page
    assert "<h1>地方税関係情報</h1>" in page  # the item's official name


def test_csrf_is_required(client: TestClient, platform: Platform) -> None:
    who = _person(platform, client)
    refused = client.post("/my-data", data={"item": "local_tax", "agency": MAEBASHI})
    assert refused.status_code == 403
    other_site = client.post(
        "/my-data",
        data={"item": "local_tax", "agency": MAEBASHI, "csrf_token": _csrf(client)},
        headers={"Origin": "https://evil.example"},
    )
    assert other_site.status_code == 403
    assert platform.network.hub.records.for_person(person_key(platform, who)) == []


@pytest.mark.parametrize(
    ("item", "agency"),
    [
        ("local_tax", "nenkin"),  # does not provide that item
        ("local_tax", "no-such-agency"),
        ("local_tax", "<script>alert(1)</script>"),
        ("secret_item", MAEBASHI),
        ("<script>alert(1)</script>", MAEBASHI),
        ("", ""),
    ],
)
def test_bad_choices_are_refused_clearly(
    client: TestClient, platform: Platform, item: str, agency: str
) -> None:
    who = _person(platform, client)

    got = client.post(
        "/my-data", data={"item": item, "agency": agency, "csrf_token": _csrf(client)}
    )

    assert got.status_code == 400
    assert 'role="alert"' in got.text
    assert "<script>alert(1)</script>" not in got.text
    assert platform.network.hub.records.for_person(person_key(platform, who)) == []


def test_an_unknown_item_on_the_form_page(client: TestClient, platform: Platform) -> None:
    _person(platform, client)
    got = client.get("/my-data", params={"item": "<b>x</b>"})
    assert got.status_code == 400
    assert "<b>x</b>" not in got.text


def test_the_hub_holds_the_portal_to_its_list(platform: Platform) -> None:
    """Outside the pages: the hub refuses what self_information.toml does not list."""
    who = holder(platform)
    net = platform.network
    code = net.issue_code(PORTAL_AGENCY, who.resident.individual_number)
    with pytest.raises(ExchangeRefused):  # welfare is listed from municipalities, not prefectures
        net.ask(PORTAL_AGENCY, code, "own_information", "welfare", provider_agency="lg-100005")
    with pytest.raises(ExchangeRefused):  # an ordinary affair is not the portal's
        net.ask(PORTAL_AGENCY, code, "child_allowance", "local_tax", provider_agency=MAEBASHI)
    kobe = net.issue_code(KOBE, who.resident.individual_number)
    with pytest.raises(ExchangeRefused):  # and no other agency may use the portal's affair
        net.ask(KOBE, kobe, "own_information", "local_tax", provider_agency=MAEBASHI)
    outcomes = [r.outcome for r in net.hub.records.for_person(person_key(platform, who))]
    assert outcomes == [Outcome.NOT_ALLOWED] * 3


def _walk(tp: object, fields: set[str], values: set[str]) -> None:
    for arg in typing.get_args(tp):
        _walk(arg, fields, values)
    if typing.get_origin(tp) is typing.Literal:
        values.update(str(a) for a in typing.get_args(tp))
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        values.update(str(m.value) for m in tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, field in tp.model_fields.items():
            fields.add(name)
            _walk(field.annotation, fields, values)


def test_every_field_and_value_of_the_layouts_has_a_label() -> None:
    fields: set[str] = set()
    values: set[str] = set()
    for versions in LAYOUTS.values():
        for layout in versions.values():
            _walk(layout, fields, values)
    assert fields
    assert values
    assert sorted(fields - set(FIELDS)) == []
    # 療育手帳's levels A and B are shown as they are printed on it.
    assert sorted(values - set(VALUES)) == ["A", "B"]
