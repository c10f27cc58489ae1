"""Errors of the My Number Card: card status words, card files and the card lifecycle.

Status words from any card (emulated or real) are translated once, here, into errors with
stable codes (``PIN_WRONG``, ``PIN_LOCKED``, ``SECURITY_NOT_SATISFIED`` …). Messages never
contain a PIN, an individual number or other personal data.
"""

from __future__ import annotations

from typing import Any

from openmyna.card.apdu import SW, is_tries_left, sw_hex
from openmyna.errors import Conflict, InvalidInput, NotFound, OpenMynaError, Unavailable


class CardError(OpenMynaError):
    """The card refused a command, or answered something the client cannot use."""

    code = "CARD_ERROR"
    http_status = 502

    def __init__(self, message: str, *, sw: int | None = None, **context: Any) -> None:
        if sw is not None:
            context["sw"] = sw_hex(sw)
        super().__init__(message, **context)
        self.sw = sw


class PinWrong(CardError):
    """A wrong PIN or password; ``tries_left`` attempts remain before it locks."""

    code = "PIN_WRONG"
    http_status = 401

    def __init__(self, message: str, *, tries_left: int, sw: int | None = None) -> None:
        super().__init__(message, sw=sw, tries_left=tries_left)
        self.tries_left = tries_left


class PinLocked(CardError):
    """The PIN or password is blocked (``69 83``); the municipality can reset it."""

    code = "PIN_LOCKED"
    http_status = 423


class SecurityNotSatisfied(CardError):
    """The command needs a PIN that has not been verified in this session (``69 82``)."""

    code = "SECURITY_NOT_SATISFIED"
    http_status = 403


class CardFileNotFound(CardError):
    """The application or elementary file does not exist on this card (``6A 82``)."""

    code = "FILE_NOT_FOUND"
    http_status = 404


class NotAMyNumberCard(CardError):
    """The card in the reader has no JPKI application with the My Number Card token."""

    code = "NOT_MY_NUMBER_CARD"


class PinFormatInvalid(InvalidInput):
    """A PIN or password that breaks its rules (length, characters), refused before use."""

    code = "PIN_INVALID"


# --- the card object and its file ------------------------------------------------------------


class CardStateError(Conflict):
    """An operation on the card object that its state does not allow."""

    code = "CARD_STATE_CONFLICT"


class FreeSpaceFull(Conflict):
    """Installing the applet would exceed the card's free space (空き領域)."""

    code = "CARD_FREE_SPACE_FULL"


class AppletExists(Conflict):
    """An application with that AID is already on the card."""

    code = "CARD_APPLET_EXISTS"


class AppletNotFound(NotFound):
    """No installed applet with that AID."""

    code = "CARD_APPLET_NOT_FOUND"


class InvalidApplet(InvalidInput):
    """An applet definition that the card cannot hold (AID, file ids, sizes, PIN)."""

    code = "CARD_APPLET_INVALID"


class CardFileInvalid(InvalidInput):
    """The file is not an openmyna card file (wrong magic, version or layout)."""

    code = "CARD_FILE_INVALID"


class CardFileOutdated(CardFileInvalid):
    """A card file from an older openmyna whose chip layout this version no longer reads."""

    code = "CARD_FILE_OUTDATED"


class CardFileTampered(OpenMynaError):
    """The card file fails its authentication check: it was altered or damaged."""

    code = "CARD_FILE_TAMPERED"
    http_status = 422
    exit_code = 5


class CardFileKeyMismatch(OpenMynaError):
    """The card file was sealed with another key (another data dir, or a passphrase)."""

    code = "CARD_FILE_KEY_MISMATCH"
    http_status = 422
    exit_code = 5


class CardInUse(Conflict):
    """The card file is open in another process (one card, one reader)."""

    code = "CARD_IN_USE"


class ReaderUnavailable(Unavailable):
    """The reader kind is not available here (its transport module or driver is missing)."""

    code = "READER_UNAVAILABLE"


# --- lifecycle -----------------------------------------------------------------------------


class CardNotFound(NotFound):
    """No card with that id in the card register."""

    code = "CARD_NOT_FOUND"


class CardApplicationNotFound(NotFound):
    """No pending card application (交付申請) for that resident or id."""

    code = "CARD_APPLICATION_NOT_FOUND"


class CardTransitionRefused(Conflict):
    """The card's status does not allow that step (e.g. reporting a revoked card found)."""

    code = "CARD_TRANSITION_REFUSED"


class HolderNotResident(Conflict):
    """The person is not a current resident: no card can be issued or unlocked."""

    code = "CARD_HOLDER_NOT_RESIDENT"


class PeriodOfStayEnded(Conflict):
    """A foreign resident's period of stay (在留期間) ended before the day of issue."""

    code = "CARD_PERIOD_OF_STAY_ENDED"


class EndorsementAreaFull(Conflict):
    """The card's endorsement area (追記欄) has no room left: the card must be reissued."""

    code = "CARD_ENDORSEMENT_AREA_FULL"


class NothingToUpdate(Conflict):
    """A card update was asked for a card whose data is current, with no new certificate."""

    code = "CARD_DATA_CURRENT"


class IdentityCheckMissing(InvalidInput):
    """Issuance and PIN reset need a recorded identity verification (本人確認)."""

    code = "IDENTITY_CHECK_REQUIRED"


# --- status words → errors ----------------------------------------------------------------

_BY_SW: dict[int, tuple[type[CardError], str]] = {
    SW.SECURITY_NOT_SATISFIED: (SecurityNotSatisfied, "security status not satisfied"),
    SW.AUTH_METHOD_BLOCKED: (PinLocked, "the PIN is blocked"),
    SW.FILE_NOT_FOUND: (CardFileNotFound, "file or application not found"),
}

_NAMES: dict[int, str] = {
    SW.WRONG_LENGTH: "wrong length",
    SW.INCOMPATIBLE_FILE: "command incompatible with the file",
    SW.CONDITIONS_NOT_SATISFIED: "conditions of use not satisfied",
    SW.NO_CURRENT_EF: "no current elementary file",
    SW.WRONG_DATA: "wrong data",
    SW.WRONG_P1P2: "wrong parameters P1-P2",
    SW.WRONG_OFFSET: "offset outside the file",
    SW.INS_NOT_SUPPORTED: "instruction not supported",
    SW.CLA_NOT_SUPPORTED: "class not supported",
    SW.NO_PRECISE_DIAGNOSIS: "no precise diagnosis",
}


def error_for_sw(sw: int, what: str) -> CardError:
    """The card error for a failing status word; ``what`` names the command (no data)."""
    if is_tries_left(sw):
        return PinWrong(f"{what}: wrong PIN", tries_left=sw & 0x0F, sw=sw)
    known = _BY_SW.get(sw)
    if known is not None:
        cls, text = known
        return cls(f"{what}: {text}", sw=sw)
    return CardError(f"{what}: {_NAMES.get(sw, 'card error')}", sw=sw)


# --- the holder's app of the card login (``card login``) ---------------------------------------


class LoginUrlInvalid(InvalidInput):
    """The login URL is not an http(s) URL, or does not answer with a login request."""

    code = "LOGIN_URL_INVALID"


class LoginRefused(OpenMynaError):
    """The portal refused the login request or the card's answer (``reason``: its code)."""

    code = "LOGIN_REFUSED"
    http_status = 401


class PortalUnreachable(Unavailable):
    """The portal of the login URL does not answer."""

    code = "PORTAL_UNREACHABLE"
