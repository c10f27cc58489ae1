"""PINs and passwords of the card (SPEC C4): their rules and their retry counters.

| PIN | rule | tries |
|---|---|---|
| 利用者証明用暗証番号 (auth PIN, JPKI EF 0018) | 4 digits | 3 |
| 署名用パスワード (signature password, EF 001B) | 6–16 of A–Z, 0–9, both kinds | 5 |
| 券面事項入力補助用暗証番号 (text_ap PIN, EF 0011) | 4 digits | 3 |
| 照合番号A (face_ap PIN-A, EF 0013) | the 12-digit individual number; cannot be changed | 10 |
| applet PIN (free space) | 4–8 digits | set at install (default 3) |

The card keeps a keyed digest of each value (HMAC-SHA-256 with a per-PIN random salt), not
the value; the whole card state is encrypted at rest anyway (``cardfile``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from openmyna.card.errors import PinFormatInvalid


class PinRule(StrEnum):
    """What a PIN may look like, and whether the holder may change it."""

    AUTH_PIN = "auth_pin"
    SIGN_PASSWORD = "sign_password"  # noqa: S105 - a rule name, not a password
    TEXT_PIN = "text_pin"
    NUMBER = "number"
    APPLET_PIN = "applet_pin"

    @property
    def changeable(self) -> bool:
        """Whether CHANGE REFERENCE DATA may set a new value (PIN-A is the number)."""
        return self is not PinRule.NUMBER

    @property
    def default_tries(self) -> int:
        """The retry limit of this kind of PIN."""
        return _TRIES[self]

    @property
    def label(self) -> str:
        """The PIN's name for messages (English, then the card's term)."""
        return _LABELS[self]

    def allows(self, value: str) -> bool:
        """Whether ``value`` follows this rule."""
        if self is PinRule.SIGN_PASSWORD:
            return bool(
                _PASSWORD.fullmatch(value)
                and re.search("[A-Z]", value)
                and re.search("[0-9]", value)
            )
        return bool(_PATTERNS[self].fullmatch(value))

    def require(self, value: str) -> str:
        """Return ``value`` if it follows the rule, else raise ``PinFormatInvalid``."""
        if not self.allows(value):
            raise PinFormatInvalid(f"the {self.label} must be {_HINTS[self]}", pin=self.value)
        return value


_PASSWORD = re.compile(r"[A-Z0-9]{6,16}")
_PATTERNS = {
    PinRule.AUTH_PIN: re.compile(r"[0-9]{4}"),
    PinRule.TEXT_PIN: re.compile(r"[0-9]{4}"),
    PinRule.NUMBER: re.compile(r"[0-9]{12}"),
    PinRule.APPLET_PIN: re.compile(r"[0-9]{4,8}"),
}
_HINTS = {
    PinRule.AUTH_PIN: "4 digits",
    PinRule.TEXT_PIN: "4 digits",
    PinRule.SIGN_PASSWORD: "6-16 characters of A-Z and 0-9, with at least one of each",
    PinRule.NUMBER: "the 12-digit individual number",
    PinRule.APPLET_PIN: "4-8 digits",
}
_TRIES = {
    PinRule.AUTH_PIN: 3,
    PinRule.SIGN_PASSWORD: 5,
    PinRule.TEXT_PIN: 3,
    PinRule.NUMBER: 10,
    PinRule.APPLET_PIN: 3,
}
_LABELS = {
    PinRule.AUTH_PIN: "auth PIN (利用者証明用暗証番号)",
    PinRule.SIGN_PASSWORD: "signature password (署名用パスワード)",
    PinRule.TEXT_PIN: "text_ap PIN (券面事項入力補助用暗証番号)",
    PinRule.NUMBER: "PIN-A (照合番号A)",
    PinRule.APPLET_PIN: "applet PIN",
}


def _digest(salt: bytes, value: bytes) -> bytes:
    return hmac.new(salt, value, hashlib.sha256).digest()


@dataclass
class PinState:
    """One PIN on the card: its rule, the retry counter and a digest of the value."""

    rule: PinRule
    max_tries: int
    tries_left: int
    salt: bytes
    digest: bytes

    @classmethod
    def new(cls, rule: PinRule, value: str, *, max_tries: int | None = None) -> PinState:
        """A PIN set to ``value`` (checked against ``rule``) with a full counter."""
        rule.require(value)
        tries = rule.default_tries if max_tries is None else max_tries
        if not 1 <= tries <= 15:
            raise PinFormatInvalid("a PIN allows 1-15 tries", pin=rule.value)
        salt = secrets.token_bytes(16)
        return cls(rule, tries, tries, salt, _digest(salt, value.encode("ascii")))

    @property
    def blocked(self) -> bool:
        """Whether no tries are left."""
        return self.tries_left <= 0

    def matches(self, candidate: bytes) -> bool:
        """Whether ``candidate`` is the PIN (constant-time; does not touch the counter)."""
        return hmac.compare_digest(_digest(self.salt, candidate), self.digest)

    def set_value(self, value: str) -> None:
        """Set a new value (checked against the rule) and refill the counter."""
        self.rule.require(value)
        self.salt = secrets.token_bytes(16)
        self.digest = _digest(self.salt, value.encode("ascii"))
        self.tries_left = self.max_tries

    def to_json(self) -> dict[str, Any]:
        """The state for the card file."""
        return {
            "rule": self.rule.value,
            "max_tries": self.max_tries,
            "tries_left": self.tries_left,
            "salt": self.salt.hex(),
            "digest": self.digest.hex(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PinState:
        """Rebuild from ``to_json`` output."""
        return cls(
            PinRule(data["rule"]),
            int(data["max_tries"]),
            int(data["tries_left"]),
            bytes.fromhex(data["salt"]),
            bytes.fromhex(data["digest"]),
        )
