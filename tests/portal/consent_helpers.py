"""Helpers of the latest-4-items tests (imported as a plain module): a business, its consent
request, the person signing it with the real card code, and a webhook receiver on a real
socket that checks the Standard Webhooks v1 signature with its own code (not openmyna's)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fastapi.testclient import TestClient
from portal_helpers import SIGN_PASSWORD, Holder

from openmyna.card import CardClient, MemoryTransport, VirtualCard
from openmyna.card.eapply_app import sign_document
from openmyna.card.layout import CertSlot, PinRef
from openmyna.latest_items import Registered
from openmyna.platform import Platform

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_CARD = re.compile(r"/consents/card/([A-Za-z0-9_-]{40,})")


class Receiver:
    """A business's webhook endpoint: answers ``statuses`` in turn, then 200."""

    def __init__(self, statuses: list[int] | None = None, port: int = 0) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.statuses = list(statuses or [])
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                outer.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/hooks/latest-items"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def free_port() -> int:
    """A port nothing listens on (yet)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def signature_ok(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Check a delivery as a receiver would (Standard Webhooks v1)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    given = [s.split(",", 1)[1] for s in headers["webhook-signature"].split() if "," in s]
    return any(hmac.compare_digest(expected, g) for g in given)


def register(
    platform: Platform,
    name: str = "デモ銀行",
    webhook_url: str | None = None,
    name_en: str = "Demo Bank",
) -> Registered:
    """A business, registered as the operator's CLI does."""
    return platform.latest_items.businesses.register(name, name_en=name_en, webhook_url=webhook_url)


def bearer(registered: Registered) -> dict[str, str]:
    """The business's Authorization header."""
    return {"Authorization": f"Bearer {registered.api_key}"}


def sign_serial(card: VirtualCard) -> str:
    """The serial (hex) of the card's signature certificate, as the business verified it."""
    chip = CardClient(MemoryTransport(card))
    chip.verify(PinRef.SIGN, SIGN_PASSWORD)
    return format(chip.certificate(CertSlot.SIGN).serial_number, "x")


def ask(client: TestClient, registered: Registered, who: Holder, reference: str = "cust-1") -> str:
    """The business asks for ``who``'s consent by their signature certificate; the request id."""
    answer = client.post(
        "/latest-items/v1/consent-requests",
        json={"certificate_serial": sign_serial(who.card), "reference": reference},
        headers=bearer(registered),
    )
    assert answer.status_code == 201, answer.text
    request_id: str = answer.json()["request_id"]
    return request_id


def csrf(client: TestClient, path: str = "/consents") -> str:
    """The session's CSRF token, from a page."""
    found = _CSRF.search(client.get(path).text)
    assert found, "the page has no CSRF token (not logged in?)"
    return found.group(1)


def signing_token(client: TestClient, request_id: str) -> str:
    """Ask to sign on the page; the one-time card URL's token it shows."""
    page = client.post(
        f"/consents/requests/{request_id}/sign",
        data={"csrf_token": csrf(client, f"/consents/requests/{request_id}")},
    )
    assert page.status_code == 200, page.text
    found = _CARD.search(page.text)
    assert found, "the page shows no one-time card URL"
    return found.group(1)


def card_answer(platform: Platform, client: TestClient, token: str, card: VirtualCard) -> Any:
    """The holder's app: read the task, sign its document with ``card``, post the CMS."""
    task = client.get(f"/consents/card/{token}").json()
    assert task["kind"] == "sign"
    document = base64.b64decode(task["document"])
    assert hashlib.sha256(document).hexdigest() == task["sha256"]
    chip = CardClient(MemoryTransport(card))
    cms = sign_document(chip, SIGN_PASSWORD, document, signing_time=platform.clock.now())
    return client.post(f"/consents/card/{token}", json={"cms": base64.b64encode(cms).decode()})


def consent(platform: Platform, client: TestClient, who: Holder, request_id: str) -> str:
    """``who`` (logged in on ``client``) signs the request; the consent's id."""
    done = card_answer(platform, client, signing_token(client, request_id), who.card)
    assert done.status_code == 200, done.text
    consent_id: str = done.json()["reference"]
    return consent_id
