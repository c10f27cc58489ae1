"""Events and subjects: what may be published and which subscription sees it."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from openmyna.bus import Event, InvalidEvent, InvalidSubject, new_event, subject_matches
from openmyna.bus.events import check_event, from_json, to_json, validate_subject
from openmyna.clock import JST, FixedClock
from openmyna.errors import InvalidInput

AT = dt.datetime(2026, 4, 1, 9, 0, tzinfo=JST)


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("registry.moved_out", "registry.moved_out", True),
        ("registry.moved_out", "registry.moved_in", False),
        ("registry.moved_out", "registry.moved_out.x", False),
        ("registry.*", "registry.moved_out", True),
        ("registry.*", "registry", False),
        ("registry.*", "registry.abroad.moved", False),
        ("*.moved_out", "registry.moved_out", True),
        ("*.*", "a.b", True),
        ("*", "a.b", False),
        ("registry.>", "registry.moved_out", True),
        ("registry.>", "registry.abroad.moved", True),
        ("registry.>", "registry", False),
        ("registry.>", "registry_x.moved", False),
        (">", "registry", True),
        (">", "a.b.c", True),
        ("*.abroad.>", "registry.abroad.moved.x", True),
        ("*.abroad.>", "registry.abroad", False),
    ],
)
def test_subject_matching(pattern: str, subject: str, expected: bool) -> None:
    assert subject_matches(pattern, subject) is expected


@pytest.mark.parametrize(
    "bad", ["", "a..b", ".a", "a.", "a.>.b", "a b", "a.*x", "日本.x", "a/b", "a" * 201]
)
def test_bad_subscription_subjects_are_refused(bad: str) -> None:
    with pytest.raises(InvalidSubject) as err:
        validate_subject(bad)
    assert err.value.code == "BUS_INVALID_SUBJECT"


@pytest.mark.parametrize("bad", ["registry.*", "registry.>", ">", "a..b", "a b", ""])
def test_event_type_has_no_wildcards(bad: str) -> None:
    with pytest.raises(InvalidSubject):
        new_event(bad, "registry.102016", AT, {})


def test_new_event_makes_a_fresh_uuid4_hex_id(clock: FixedClock) -> None:
    first = new_event("registry.born", "registry.102016", clock.now(), {"n": 1})
    second = new_event("registry.born", "registry.102016", clock.now(), {"n": 1})
    assert first.id != second.id
    assert uuid.UUID(hex=first.id).version == 4
    assert first.id == uuid.UUID(hex=first.id).hex


def test_new_event_copies_data() -> None:
    data = {"n": 1}
    event = new_event("registry.born", "s", AT, data)
    data["n"] = 2
    assert event.data == {"n": 1}


def test_naive_time_is_refused() -> None:
    with pytest.raises(InvalidEvent) as err:
        new_event("registry.born", "s", dt.datetime(2026, 4, 1, 9, 0), {})
    assert err.value.code == "BUS_INVALID_EVENT"


def test_data_must_be_json() -> None:
    with pytest.raises(InvalidEvent) as err:
        new_event("registry.born", "s", AT, {"when": dt.date(2026, 4, 1)})
    assert "2026" not in err.value.diagnostics()  # the value stays out of the message
    with pytest.raises(InvalidEvent):
        new_event("registry.born", "s", AT, {"x": float("nan")})


@pytest.mark.parametrize("bad_id", ["", "a.b", "x" * 65, "id with space"])
def test_hand_made_event_ids_are_checked(bad_id: str) -> None:
    with pytest.raises(InvalidEvent):
        check_event(Event(bad_id, "registry.born", "s", AT, {}))


def test_hand_made_event_with_own_id_is_accepted() -> None:
    check_event(Event("registry-102016-000042", "registry.born", "s", AT, {}))


def test_empty_source_is_refused() -> None:
    with pytest.raises(InvalidInput):
        new_event("registry.born", "", AT, {})


def test_json_round_trip_keeps_everything() -> None:
    event = new_event("registry.name_changed", "registry.102016", AT, {"kana": "ヤマダ", "n": [1]})
    back = from_json(to_json(event))
    assert back == event
    assert back.data == event.data
    assert back.occurred_at.utcoffset() == dt.timedelta(hours=9)


def test_events_are_hashable_by_identity_fields() -> None:
    event = new_event("registry.born", "s", AT, {"nested": {"a": 1}})
    assert event in {event}
