"""The service follows the registries on either bus (the embedded log and NATS JetStream) as
the durable consumer ``latest-items``: a change made while the service's process was down
reaches the business when it comes back."""

from __future__ import annotations

from consent_helpers import ask, consent, register
from fastapi.testclient import TestClient
from portal_helpers import MAEBASHI, holder, login

from openmyna.builder import Builder
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.platform import Platform
from openmyna.web import create_app

NEW_ADDRESS = "群馬県前橋市千代田町二丁目12番1号"


def test_a_change_while_down_reaches_the_business_on_restart(
    bus_settings: Settings, clock: FixedClock
) -> None:
    platform = Platform(Builder(bus_settings, clock))
    try:
        client = TestClient(create_app(platform), base_url="http://127.0.0.1")
        bank = register(platform)
        person = holder(platform)
        login(platform, client, person.card)
        consent_id = consent(platform, client, person, ask(client, bank, person))
        key = bank.api_key
    finally:
        platform.close()
    # Only the registries run: the service is down while the person moves.
    with Builder(bus_settings, clock) as parts:
        parts.registries().municipality(MAEBASHI).move_within(
            person.resident.resident_code, on=clock.today(), address=NEW_ADDRESS, actor="test"
        )
        parts.registries().sync(1.0)
    again = Platform(Builder(bus_settings, clock))
    try:
        for _ in range(20):
            again.sync_once(timeout=0.5)
            client = TestClient(create_app(again), base_url="http://127.0.0.1")
            answer = client.get(
                "/latest-items/v1/changes", headers={"Authorization": f"Bearer {key}"}
            ).json()
            if answer["changes"]:
                break
        assert [c["items"]["address"] for c in answer["changes"]] == [NEW_ADDRESS]
        assert answer["changes"][0]["consent_id"] == consent_id
    finally:
        again.close()
