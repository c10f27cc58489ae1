"""Helpers of the login tests (imported as a plain module): the card login driven over HTTP.

The browser's side goes through a ``TestClient`` (its cookies are the browser's); the
holder's app's side builds the same ``LoginChallenge`` ``openmyna.card.login`` builds and has
the card sign it through ``CardClient``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from portal_helpers import AUTH_PIN, Holder

from openmyna.builder import Builder
from openmyna.card import CardClient, CardFile, MemoryTransport, VirtualCard
from openmyna.card.login import CardAnswer, LoginChallenge, fetch_challenge, sign_challenge
from openmyna.clock import Clock
from openmyna.config import Settings
from openmyna.platform import Platform
from openmyna.portal.login.wallet import DemoCard, cards_dir, write_cards
from openmyna.web import create_app

ORIGIN = "http://127.0.0.1"
HOST = "127.0.0.1"


def with_portal(settings: Settings, **portal: Any) -> Settings:
    """``settings`` with some ``PortalSettings`` changed."""
    return settings.model_copy(update={"portal": settings.portal.model_copy(update=portal)})


@contextmanager
def served(settings: Settings, clock: Clock) -> Iterator[tuple[Platform, TestClient]]:
    """A platform on ``settings`` and a test client (a browser on this machine) on it."""
    platform = Platform(Builder(settings, clock))
    try:
        with TestClient(create_app(platform), base_url=ORIGIN) as client:
            yield platform, client
    finally:
        platform.close()


def start(client: TestClient, next_path: str | None = None) -> str:
    """The browser opens ``/login``: the new request's id (its secret cookie is set)."""
    params = {"next": next_path} if next_path is not None else {}
    went = client.get("/login", params=params, follow_redirects=False)
    assert went.status_code == 303, went.text
    found = re.fullmatch(r"/login/wait/([0-9a-f]{32})", went.headers["location"])
    assert found is not None, went.headers["location"]
    return found.group(1)


def challenge(app: TestClient, request_id: str) -> LoginChallenge:
    """What the holder's app fetches for a request (``openmyna.card.login.fetch_challenge``)."""
    return fetch_challenge(app, f"{ORIGIN}/login/r/{request_id}")


def sign(card: VirtualCard, challenge: LoginChallenge, pin: str = AUTH_PIN) -> CardAnswer:
    """The card signs the challenge with its auth key (as ``openmyna card login`` does)."""
    return sign_challenge(CardClient(MemoryTransport(card)), challenge, pin)


def post(app: TestClient, request_id: str, answer: CardAnswer | dict[str, str]) -> Any:
    """The holder's app posts its answer; the HTTP response."""
    body = answer.body() if isinstance(answer, CardAnswer) else answer
    return app.post(f"/login/r/{request_id}", json=body)


def b64(data: bytes) -> str:
    """Base64 as the answer carries it."""
    return base64.b64encode(data).decode("ascii")


def poll(client: TestClient, request_id: str) -> Any:
    """One poll of the waiting page (as htmx sends it)."""
    return client.get(f"/login/wait/{request_id}/status", headers={"HX-Request": "true"})


def card_login(client: TestClient, card: VirtualCard, next_path: str | None = None) -> Any:
    """The whole smartphone-style login of ``card`` in the browser ``client``; the last poll."""
    request_id = start(client, next_path)
    app = TestClient(client.app, base_url=ORIGIN)  # the phone: no cookies of the browser
    answered = post(app, request_id, sign(card, challenge(app, request_id)))
    assert answered.status_code == 200, answered.text
    return poll(client, request_id)


def demo_cards(platform: Platform, people: dict[str, Holder]) -> None:
    """Write ``people``'s cards as the demo's card files and list."""
    directory = cards_dir(platform.settings)
    directory.mkdir(parents=True, exist_ok=True)
    listed = []
    for name, person in people.items():
        CardFile.create(directory / f"{name}.card", person.card, settings=platform.settings).close()
        listed.append(
            DemoCard(
                name=name,
                label_ja=f"{person.resident.family_name} {person.resident.given_name}（デモ）",
                label_en=f"{person.resident.family_name} {person.resident.given_name} (demo)",
                role="applicant",
                age=40,
                lg_code=person.resident.lg_code,
                card_id=person.card.card_id,
                auth_pin=AUTH_PIN,
                sign_password=None,
            )
        )
    write_cards(directory, listed)
