"""Forwarding notices to a private delivery service (民間送達) by webhook, on real sockets.

The receiver is a real HTTP server in a thread; the signature is checked by this file's own
implementation of the Standard Webhooks v1 scheme (not the portal's code); retries are timed
by the injected clock, attempts made by the platform's background round (``sync_once``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from notice_helpers import post, write_services
from portal_helpers import authenticate, holder, login

from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.platform import Platform
from openmyna.portal.notices.delivery import (
    GIVE_UP,
    load_delivery_services,
    parse_delivery_services,
    retry_delay,
)
from openmyna.portal.notices.errors import InvalidDeliveryServices, UnknownDeliveryService
from openmyna.portal.notices.tables import deliveries
from openmyna.web import create_app

KEY = secrets.token_bytes(32)
OTHER_KEY = secrets.token_bytes(32)


class Receiver:
    """A delivery service's webhook endpoint: answers with ``statuses`` in turn, then 200."""

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
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def hook_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/hooks/notices"


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return int(s.getsockname()[1])


def verify(key: bytes, headers: dict[str, str], body: bytes, now: dt.datetime) -> bool:
    """Standard Webhooks v1, written from the specification: id.timestamp.body, HMAC-SHA256."""
    webhook_id = headers["webhook-id"]
    timestamp = headers["webhook-timestamp"]
    if abs(now.timestamp() - int(timestamp)) > 300:
        return False
    signed = webhook_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for entry in headers["webhook-signature"].split(" "):
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return True
    return False


@pytest.fixture
def make_platform(
    settings: Settings, clock: FixedClock, tmp_path: Path
) -> Iterator[Callable[[int], Platform]]:
    """A platform whose delivery list points ``demo-post`` at a port of this machine."""
    made: list[Platform] = []

    def make(port: int) -> Platform:
        path = write_services(
            tmp_path / "delivery-services.toml",
            [("demo-post", hook_url(port), KEY), ("other-post", hook_url(free_port()), OTHER_KEY)],
        )
        portal = settings.portal.model_copy(update={"delivery_services": path})
        platform = Platform(Builder(settings.model_copy(update={"portal": portal}), clock))
        made.append(platform)
        return platform

    yield make
    for platform in made:
        platform.close()


def _outbox(platform: Platform) -> list[dict[str, object]]:
    with platform.portal.notices.store.transaction() as s:
        return [dict(r) for r in s.execute(deliveries.select()).mappings()]


def _csrf(page: str) -> str:
    return page.split('name="csrf_token" value="')[1].split('"')[0]


def test_the_setting_is_changed_on_its_page_with_csrf_and_only_to_listed_services(
    make_platform: Callable[[int], Platform],
) -> None:
    platform = make_platform(free_port())
    person = holder(platform)
    with TestClient(create_app(platform), base_url="http://127.0.0.1") as client:
        account = login(platform, client, person.card)
        page = client.get("/notices/delivery")
        assert "送達サービス demo-post" in page.text
        assert "http://127.0.0.1" not in page.text  # the URL is the installation's, unshown
        csrf = _csrf(page.text)
        assert client.post("/notices/delivery", data={"service": "demo-post"}).status_code == 403
        cross = client.post(
            "/notices/delivery",
            data={"service": "demo-post", "csrf_token": csrf},
            headers={"Origin": "https://evil.example"},
        )
        assert cross.status_code == 403
        for chosen in ("http://127.0.0.1:9/steal", "evil-post", "x" * 41):
            refused = client.post("/notices/delivery", data={"service": chosen, "csrf_token": csrf})
            assert refused.status_code == 400, chosen
        assert not platform.portal.notices.delivery_setting(account.account_id).enabled
        saved = client.post(
            "/notices/delivery",
            data={"service": "demo-post", "csrf_token": csrf, "url": "http://169.254.169.254/"},
            follow_redirects=True,
        )
        assert "設定を保存しました。" in saved.text
        setting = platform.portal.notices.delivery_setting(account.account_id)
        assert setting.enabled
        assert setting.service is not None
        assert setting.service.service_id == "demo-post"
        assert setting.recipient_id is not None
        assert setting.recipient_id in saved.text
        assert "送達サービス demo-post" in client.get("/notices").text
        # Another service: a new recipient id there (services cannot link the person).
        platform.portal.notices.set_delivery(
            account.account_id, enabled=True, service_id="other-post"
        )
        moved = platform.portal.notices.delivery_setting(account.account_id)
        assert moved.recipient_id not in (None, setting.recipient_id)
        client.post("/notices/delivery", data={"service": "off", "csrf_token": csrf})
        off = platform.portal.notices.delivery_setting(account.account_id)
        assert not off.enabled
        client.get("/lang/en")
        assert "Delivery service demo-post" in client.get("/notices/delivery").text
    with pytest.raises(UnknownDeliveryService):
        platform.portal.notices.set_delivery(account.account_id, enabled=True, service_id="x-y")


def test_a_failing_receiver_is_retried_with_backoff_and_the_signature_verifies(
    make_platform: Callable[[int], Platform], clock: FixedClock
) -> None:
    receiver = Receiver([503, 500])
    try:
        platform = make_platform(receiver.port)
        person = holder(platform)
        account = platform.portal.accounts.for_login(authenticate(platform, person.card))
        platform.portal.accounts.set_language(account.account_id, "en")
        before = post(platform, person.resident, title="転送前のお知らせ")
        platform.portal.notices.set_delivery(
            account.account_id, enabled=True, service_id="demo-post"
        )
        recipient = platform.portal.notices.delivery_setting(account.account_id).recipient_id
        posted = post(platform, person.resident, title="転送するお知らせ", link="/payments/p-1")
        [row] = _outbox(platform)
        assert row["notice_id"] == posted.notice_id != before.notice_id
        platform.sync_once()
        assert len(receiver.received) == 1  # 503
        platform.sync_once()
        assert len(receiver.received) == 1  # not due yet: 30 s later
        clock.advance(dt.timedelta(seconds=29))
        platform.sync_once()
        assert len(receiver.received) == 1
        clock.advance(dt.timedelta(seconds=1))
        platform.sync_once()
        assert len(receiver.received) == 2  # 500: next in 60 s
        clock.advance(dt.timedelta(seconds=59))
        platform.sync_once()
        assert len(receiver.received) == 2
        clock.advance(dt.timedelta(seconds=1))
        platform.sync_once()
        assert len(receiver.received) == 3  # 200
        for _ in range(3):
            clock.advance(dt.timedelta(hours=1))
            platform.sync_once()
        assert len(receiver.received) == 3  # delivered: never again
        [row] = _outbox(platform)
        assert (row["status"], row["attempts"], row["last_outcome"]) == (
            "delivered",
            3,
            "delivered",
        )
        times = []
        for headers, body in receiver.received:
            assert headers["webhook-id"] == posted.notice_id
            assert headers["content-type"] == "application/json"
            sent_at = dt.datetime.fromtimestamp(int(headers["webhook-timestamp"]), dt.UTC)
            times.append(sent_at)
            assert verify(KEY, headers, body, sent_at)
            assert not verify(OTHER_KEY, headers, body, sent_at)
            assert not verify(KEY, headers, body.replace("転送".encode(), "偽造".encode()), sent_at)
            assert not verify(KEY, headers, body, sent_at + dt.timedelta(minutes=6))
            payload = json.loads(body)
            assert payload["type"] == "notice.posted"
            data = payload["data"]
            assert data["notice_id"] == posted.notice_id
            assert data["recipient"] == recipient
            assert data["language"] == "en"  # the account's, set on the account page
            assert data["title"] == "転送するお知らせ"
            assert data["link"] == "/payments/p-1"
            assert data["sender"] == {"agency_id": "lg-102016", "name": "群馬県前橋市"}
            assert person.resident.individual_number not in body.decode()
            assert account.portal_code not in body.decode()
            assert account.account_id not in body.decode()
        assert [t - times[0] for t in times] == [
            dt.timedelta(0),
            dt.timedelta(seconds=30),
            dt.timedelta(seconds=90),
        ]
    finally:
        receiver.stop()


def test_a_receiver_that_is_down_gets_the_notice_once_it_is_back(
    make_platform: Callable[[int], Platform], clock: FixedClock
) -> None:
    port = free_port()  # nothing listens there yet
    platform = make_platform(port)
    person = holder(platform)
    account = platform.portal.accounts.for_login(authenticate(platform, person.card))
    platform.portal.notices.set_delivery(account.account_id, enabled=True, service_id="demo-post")
    first = post(platform, person.resident, title="一通目")
    second = post(platform, person.resident, title="二通目")
    platform.sync_once()
    rows = _outbox(platform)
    # One refused connection: the other delivery to that receiver waits for the next round.
    assert sorted(int(str(r["attempts"])) for r in rows) == [0, 1]
    assert {r["last_outcome"] for r in rows} == {"connect_error", None}
    clock.advance(dt.timedelta(seconds=30))
    platform.sync_once()
    receiver = Receiver(port=port)
    try:
        for _ in range(4):
            clock.advance(dt.timedelta(minutes=2))
            platform.sync_once()
        ids = [h["webhook-id"] for h, _ in receiver.received]
        assert sorted(ids) == sorted([first.notice_id, second.notice_id])  # each once
        assert {r["status"] for r in _outbox(platform)} == {"delivered"}
        with TestClient(create_app(platform), base_url="http://127.0.0.1") as client:
            login(platform, client, person.card)
            page = client.get(f"/notices/{first.notice_id}")
            assert "民間送達サービスへ転送しました" in page.text
    finally:
        receiver.stop()


def test_a_delivery_is_given_up_after_three_days(
    make_platform: Callable[[int], Platform], clock: FixedClock
) -> None:
    platform = make_platform(free_port())
    person = holder(platform)
    account = platform.portal.accounts.for_login(authenticate(platform, person.card))
    platform.portal.notices.set_delivery(account.account_id, enabled=True, service_id="demo-post")
    post(platform, person.resident)
    start = clock.now()
    attempts = 0
    while clock.now() - start < GIVE_UP + dt.timedelta(hours=2):
        platform.sync_once()
        clock.advance(dt.timedelta(minutes=30))
        attempts += 1
    [row] = _outbox(platform)
    assert row["status"] == "expired"
    assert 0 < int(str(row["attempts"])) < attempts


def test_the_backoff_doubles_up_to_an_hour() -> None:
    assert retry_delay(10_000) == dt.timedelta(hours=1)
    assert [retry_delay(n).total_seconds() for n in range(1, 10)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]


_GOOD = {"id": "a-b", "name": "x", "url": "https://h.example/", "secret": "{s}"}


def _listing(**fields: str | None) -> str:
    row = {k: v for k, v in {**_GOOD, **fields}.items() if v is not None}
    return "[[service]]\n" + "".join(f'{k} = "{v}"\n' for k, v in row.items())


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (_listing(url="http://192.0.2.1/x"), "http"),
        (_listing(url="https://u:p@h.example/"), "user"),
        (_listing(url="ftp://h.example/"), "https"),
        (_listing(secret="abc"), "whsec"),
        (_listing(secret="whsec_YWJj"), "24"),
        (_listing(secret="whsec_!!"), "base64"),
        (_listing(id="A B"), "id"),
        (_listing(name=None), "lacks"),
        (_listing() + _listing(), "twice"),
        ("[[service]\n", "TOML"),
    ],
)
def test_a_malformed_or_unsafe_service_list_is_refused(text: str, why: str) -> None:
    secret = "whsec_" + base64.b64encode(KEY).decode()
    with pytest.raises(InvalidDeliveryServices) as refused:
        parse_delivery_services(text.replace("{s}", secret))
    assert why in refused.value.message
    assert secret not in refused.value.diagnostics()


def test_the_service_list_must_be_private_and_its_secrets_stay_out_of_repr(
    tmp_path: Path,
) -> None:
    path = write_services(tmp_path / "s.toml", [("demo-post", "https://h.example/hook", KEY)])
    [service] = load_delivery_services(path).values()
    assert service.secret == KEY
    assert KEY.hex() not in repr(service)
    assert base64.b64encode(KEY).decode() not in repr(service)
    assert "h.example" not in repr(service)
    path.chmod(0o644)
    with pytest.raises(InvalidDeliveryServices):
        load_delivery_services(path)
    assert len(load_delivery_services(None)) == 0
