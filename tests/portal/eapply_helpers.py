"""Helpers of the e-application tests (imported as a plain module): a draft filled in over
HTTP, the card answering its requests with the real card code, the one-time URLs."""

from __future__ import annotations

import base64
import re
from typing import Any

from fastapi.testclient import TestClient
from portal_helpers import AUTH_PIN, SIGN_PASSWORD, Holder

from openmyna.card import CardClient, CardFile, MemoryTransport, VirtualCard
from openmyna.card.eapply_app import read_items, sign_document
from openmyna.platform import Platform
from openmyna.portal.login.wallet import DemoCard, cards_dir, read_cards, write_cards

CHILD_ALLOWANCE = "102016-child-allowance-claim"
MOVE_OUT = "102016-move-out-notice"
DISASTER = "281000-disaster-certificate"

#: The child-allowance answers the card does not fill.
CHILD_ALLOWANCE_ANSWERS = {
    "claimant.name_kana": "ヤマダ ハナコ",
    "claimant.tel": "0272231111",
    "claimant.pension": "employees",
    "spouse.has_spouse": "no",
    "children.0.name": "山田 一郎",
    "children.0.name_kana": "ヤマダ イチロウ",
    "children.0.date_of_birth": "2020-05-05",
    "children.0.relationship": "child",
    "children.0.living": "together",
    "account.bank": "前橋銀行",
    "account.branch": "本店",
    "account.kind": "ordinary",
    "account.number": "1234567",
    "account.holder_kana": "ヤマダ ハナコ",
}

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_TOKEN = re.compile(r"/services/card/([A-Za-z0-9_-]{40,})")
_INPUT = re.compile(r'<input type="(?:text|date)"[^>]*name="([^"]+)"[^>]*value="([^"]*)"')


def csrf(client: TestClient, path: str = "/services") -> str:
    """The session's CSRF token, from a page."""
    found = _CSRF.search(client.get(path).text)
    assert found, "the page has no CSRF token (not logged in?)"
    return found.group(1)


def start(client: TestClient, service_id: str = CHILD_ALLOWANCE) -> str:
    """Start a draft of ``service_id`` on the page; the draft's path."""
    token = csrf(client, f"/services/{service_id}")
    went = client.post(
        f"/services/{service_id}/drafts", data={"csrf_token": token}, follow_redirects=False
    )
    assert went.status_code == 303, went.text
    location: str = went.headers["location"]
    return location


def token_in(html: str) -> str:
    """The one-time card request token a page shows."""
    found = _TOKEN.search(html)
    assert found, "the page shows no one-time URL"
    return found.group(1)


def shown_values(html: str) -> dict[str, str]:
    """The text inputs' values as a page shows them."""
    return {name: value for name, value in _INPUT.findall(html) if name != "csrf_token"}


def request_prefill(client: TestClient, draft: str) -> str:
    """Consent and ask for the card; the request's token."""
    page = client.post(f"{draft}/prefill", data={"csrf_token": csrf(client), "consent": "yes"})
    assert page.status_code == 200, page.text
    return token_in(page.text)


def answer_prefill(client: TestClient, card: VirtualCard, token: str) -> dict[str, Any]:
    """The holder's app: read what the request names from the card and post it."""
    task = client.get(f"/services/card/{token}").json()
    items = read_items(CardClient(MemoryTransport(card)), AUTH_PIN, task["items"])
    answer = client.post(f"/services/card/{token}", json=items)
    assert answer.status_code == 200, answer.text
    return items


def save(client: TestClient, draft: str, answers: dict[str, str], **kw: Any) -> Any:
    """Post the form: what the page shows (pre-filled values) plus ``answers``."""
    shown = shown_values(client.get(draft).text)
    data = {**shown, **answers, "csrf_token": csrf(client)}
    if "claimant.sex" not in data and "claimant.name" in data:
        data["claimant.sex"] = "2"
    return client.post(draft, data=data, follow_redirects=False, **kw)


def request_signature(client: TestClient, draft: str) -> str:
    """Ask for the signature on the confirmation page; the request's token."""
    page = client.post(f"{draft}/sign", data={"csrf_token": csrf(client)})
    assert page.status_code == 200, page.text
    return token_in(page.text)


def document_of(client: TestClient, token: str) -> bytes:
    """The document a signing request asks to sign."""
    task = client.get(f"/services/card/{token}").json()
    assert task["kind"] == "sign"
    return base64.b64decode(task["document"])


def signed(platform: Platform, card: VirtualCard, document: bytes) -> bytes:
    """The detached CMS the holder's app makes with ``card``'s signature key."""
    chip = CardClient(MemoryTransport(card))
    return sign_document(chip, SIGN_PASSWORD, document, signing_time=platform.clock.now())


def post_cms(client: TestClient, token: str, cms: bytes) -> Any:
    """The holder's app posts the CMS."""
    return client.post(f"/services/card/{token}", json={"cms": base64.b64encode(cms).decode()})


def submitted(client: TestClient, platform: Platform, who: Holder) -> str:
    """A child-allowance application filled from ``who``'s card, signed and submitted; its id."""
    draft = start(client)
    answer_prefill(client, who.card, request_prefill(client, draft))
    assert save(client, draft, CHILD_ALLOWANCE_ANSWERS).status_code == 303
    token = request_signature(client, draft)
    done = post_cms(client, token, signed(platform, who.card, document_of(client, token)))
    assert done.status_code == 200, done.text
    return draft.rsplit("/", 1)[1]


def demo_card(platform: Platform, who: Holder, name: str, label: str) -> DemoCard:
    """``who``'s card as a demo card of the wallet (its file and its line in cards.json)."""
    folder = cards_dir(platform.settings)
    folder.mkdir(exist_ok=True)
    card = DemoCard(
        name=name,
        label_ja=label,
        label_en=label,
        role="applicant",
        age=41,
        lg_code=who.resident.lg_code,
        card_id=name,
        auth_pin=AUTH_PIN,
        sign_password=SIGN_PASSWORD,
    )
    CardFile.create(folder / card.file, who.card, settings=platform.settings).close()
    write_cards(folder, [*read_cards(folder), card])
    return card
