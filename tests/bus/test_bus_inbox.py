"""The inbox helpers in a consumer's own database, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from bus_effects import effect_counts, effect_handler, effects, inbox, open_effects
from sqlalchemy import MetaData
from sqlalchemy.orm import Session

from openmyna.bus import (
    AlreadyProcessed,
    Event,
    already_processed,
    claim_event,
    idempotent,
    mark_processed,
    new_event,
    processed_events_table,
)
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.errors import InvalidInput
from openmyna.store import Store


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """The test consumer's own database."""
    s = open_effects(settings)
    yield s
    s.close()


def test_table_factory_is_reusable_per_metadata() -> None:
    metadata = MetaData()
    table = processed_events_table(metadata)
    assert processed_events_table(metadata) is table
    assert [c.name for c in table.primary_key.columns] == ["consumer", "event_id"]
    other = processed_events_table(MetaData(), name="registry_inbox")
    assert other.name == "registry_inbox"


def test_claim_mark_and_query(store: Store) -> None:
    with store.transaction() as session:
        assert not already_processed(session, inbox, "pki", "e1")
        assert claim_event(session, inbox, "pki", "e1") is True
        assert claim_event(session, inbox, "pki", "e1") is False
        assert already_processed(session, inbox, "pki", "e1")
        # Another consumer in the same database keeps its own record.
        assert not already_processed(session, inbox, "portal", "e1")
        mark_processed(session, inbox, "portal", "e1")
        with pytest.raises(AlreadyProcessed) as err:
            mark_processed(session, inbox, "portal", "e1")
        assert err.value.code == "BUS_ALREADY_PROCESSED"


def test_claim_rolls_back_with_the_transaction(store: Store) -> None:
    def claim_then_fail() -> None:
        with store.transaction() as session:
            assert claim_event(session, inbox, "pki", "e1")
            raise RuntimeError("effect failed")

    with pytest.raises(RuntimeError):
        claim_then_fail()
    with store.transaction() as session:
        assert not already_processed(session, inbox, "pki", "e1")


def test_idempotent_handler_applies_once(store: Store, clock: FixedClock) -> None:
    handler = effect_handler(store, "pki")
    event = new_event("registry.died", "registry.102016", clock.now(), {})
    for _ in range(3):
        handler(event)
    assert effect_counts(store, "pki") == {event.id: 1}


def test_bad_consumer_name_is_refused(store: Store) -> None:
    with pytest.raises(InvalidInput):
        idempotent(store.transaction, inbox, "has space", lambda s, e: None)


def test_racing_redeliveries_apply_once(store: Store, clock: FixedClock) -> None:
    # Two deliveries of one event at the same time (two processes): the second claim waits
    # for the first transaction and then sees its row.
    event = new_event("registry.died", "registry.102016", clock.now(), {})
    inside = threading.Barrier(2, timeout=10)
    results: list[bool] = []
    lock = threading.Lock()

    def apply(session: Session, e: Event) -> None:
        session.execute(effects.insert().values(consumer="pki", event_id=e.id))

    def deliver() -> None:
        with store.transaction() as session:
            inside.wait()
            claimed = claim_event(session, inbox, "pki", event.id)
            if claimed:
                apply(session, event)
        with lock:
            results.append(claimed)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [False, True]
    assert effect_counts(store, "pki") == {event.id: 1}
