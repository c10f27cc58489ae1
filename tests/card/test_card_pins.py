"""PIN rules and retry counters (SPEC C4): brute force locks, rules on change, resets."""

from __future__ import annotations

import pytest
from card_helpers import AUTH_PIN, NUMBER, SIGN_PASSWORD, TEXT_PIN
from hypothesis import given
from hypothesis import strategies as st

from openmyna.card import (
    CardClient,
    PinFormatInvalid,
    PinLocked,
    PinRef,
    PinRule,
    PinWrong,
    VirtualCard,
)
from openmyna.card.personalize import reset_pin
from openmyna.card.pin import PinState


@pytest.mark.parametrize(
    ("pin", "right", "wrong", "limit"),
    [
        (PinRef.AUTH, AUTH_PIN, "0000", 3),
        (PinRef.TEXT, TEXT_PIN, "0000", 3),
        (PinRef.SIGN, SIGN_PASSWORD, "WRONG123", 5),
    ],
)
def test_brute_force_locks_the_pin(
    client: CardClient, pin: PinRef, right: str, wrong: str, limit: int
) -> None:
    assert client.tries_left(pin) == limit
    for left in range(limit - 1, 0, -1):
        with pytest.raises(PinWrong) as caught:
            client.verify(pin, wrong)
        assert caught.value.tries_left == left
        assert caught.value.code == "PIN_WRONG"
    with pytest.raises(PinLocked):
        client.verify(pin, wrong)  # the last try: 63 C0
    assert client.tries_left(pin) == 0
    with pytest.raises(PinLocked) as locked:
        client.verify(pin, right)  # 69 83, even with the right value
    assert locked.value.code == "PIN_LOCKED"
    assert locked.value.sw == 0x6983


def test_locks_survive_a_power_cycle(card: VirtualCard, client: CardClient) -> None:
    for _ in range(2):
        with pytest.raises(PinWrong):
            client.verify(PinRef.AUTH, "0000")
    card.reset()
    client._selected = None  # the client saw the reset as a new session
    assert client.tries_left(PinRef.AUTH) == 1
    client.verify(PinRef.AUTH, AUTH_PIN)
    assert client.tries_left(PinRef.AUTH) == 3


def test_the_counter_reset_at_the_municipality(card: VirtualCard, client: CardClient) -> None:
    for _ in range(5):
        with pytest.raises((PinWrong, PinLocked)):
            client.verify(PinRef.SIGN, "NOPE1234")
    reset_pin(card, PinRef.SIGN)
    assert client.tries_left(PinRef.SIGN) == 5
    client.verify(PinRef.SIGN, SIGN_PASSWORD)
    reset_pin(card, PinRef.SIGN, "NEWPASS99")
    with pytest.raises(PinWrong):
        client.verify(PinRef.SIGN, SIGN_PASSWORD)
    client.verify(PinRef.SIGN, "NEWPASS99")
    with pytest.raises(PinFormatInvalid):
        reset_pin(card, PinRef.AUTH, "12")


def test_the_face_pin_is_the_number(client: CardClient) -> None:
    assert client.tries_left(PinRef.FACE_A) == 10
    client.verify(PinRef.FACE_A, NUMBER)


@pytest.mark.parametrize(
    ("rule", "good", "bad"),
    [
        (PinRule.AUTH_PIN, ["0000", "1234", "9999"], ["", "123", "12345", "abcd", "12 4"]),
        (PinRule.TEXT_PIN, ["0000", "4321"], ["123", "٣٤٥٦"]),
        (
            PinRule.SIGN_PASSWORD,
            ["ABC123", "A1B2C3D4E5F6G7H8", "1A2345"],
            ["ABCDEF", "123456", "abc123", "ABC12", "A1B2C3D4E5F6G7H8I", "ABC 123", "ABC-123"],
        ),
        (PinRule.NUMBER, ["123456789012"], ["12345678901", "1234567890123"]),
        (PinRule.APPLET_PIN, ["1234", "12345678"], ["123", "123456789"]),
    ],
)
def test_pin_rules(rule: PinRule, good: list[str], bad: list[str]) -> None:
    for value in good:
        assert rule.allows(value), value
        assert rule.require(value) == value
    for value in bad:
        assert not rule.allows(value), value
        with pytest.raises(PinFormatInvalid) as caught:
            rule.require(value)
        assert value not in caught.value.diagnostics() or not value  # never echoed


def test_the_client_refuses_a_malformed_pin_without_spending_a_try(client: CardClient) -> None:
    with pytest.raises(PinFormatInvalid):
        client.verify(PinRef.AUTH, "12345")
    with pytest.raises(PinFormatInvalid):
        client.change_pin(PinRef.SIGN, SIGN_PASSWORD, "short")
    assert client.tries_left(PinRef.AUTH) == 3
    assert client.tries_left(PinRef.SIGN) == 5


def test_changing_pins_through_the_client(client: CardClient) -> None:
    client.change_pin(PinRef.AUTH, AUTH_PIN, "2468")
    client.change_pin(PinRef.SIGN, SIGN_PASSWORD, "ZZ99ZZ99")
    client.change_pin(PinRef.TEXT, TEXT_PIN, "1357")
    with pytest.raises(PinWrong):
        client.verify(PinRef.AUTH, AUTH_PIN)
    client.verify(PinRef.AUTH, "2468")
    client.verify(PinRef.SIGN, "ZZ99ZZ99")
    client.verify(PinRef.TEXT, "1357")
    with pytest.raises(PinWrong):
        client.change_pin(PinRef.TEXT, "0000", "1111")  # wrong current PIN: not changed
    client.verify(PinRef.TEXT, "1357")


def test_pin_state_round_trip_keeps_no_value() -> None:
    state = PinState.new(PinRule.AUTH_PIN, "1234")
    data = state.to_json()
    assert "1234" not in repr(data)
    again = PinState.from_json(data)
    assert again.matches(b"1234")
    assert not again.matches(b"1235")
    with pytest.raises(PinFormatInvalid):
        PinState.new(PinRule.AUTH_PIN, "1234", max_tries=16)


@given(st.text(max_size=20))
def test_password_rule_matches_its_definition(value: str) -> None:
    expected = (
        6 <= len(value) <= 16
        and all(c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" for c in value)
        and any(c.isdigit() for c in value)
        and any(c.isalpha() for c in value)
    )
    assert PinRule.SIGN_PASSWORD.allows(value) == expected
