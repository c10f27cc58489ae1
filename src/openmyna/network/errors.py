"""Every error of the Information Provision Network, each with its stable code.

One module so that the codes a node, the hub and their clients exchange as problem+json
(``clients.error_from_problem``) are all known wherever any of them is raised. Grouped by
the part of the network that raises them; messages never hold personal data, a number or
a code.
"""

from __future__ import annotations

from openmyna.errors import (
    Conflict,
    InvalidInput,
    KeyFileError,
    NotFound,
    OpenMynaError,
    Unavailable,
)

#: Longest text of a refused tuple kept in an error (the tuple comes from the requester).
_MAX_ECHO = 64


# --- agencies, allow-list, layouts ----------------------------------------------------------


class UnknownAgency(NotFound):
    """No agency with that id on the network."""

    code = "UNKNOWN_AGENCY"


class InvalidAgencyData(InvalidInput):
    """The agencies data file (or an agency given in code) is malformed."""

    code = "INVALID_AGENCY_DATA"


class NotAllowed(OpenMynaError):
    """The exchange is not on the allow-list (別表第二): refused."""

    code = "NOT_ALLOWED"
    http_status = 403

    def __init__(
        self, requester_kind: str, affair: str, provider_kind: str, item: str, version: str
    ) -> None:
        super().__init__(
            "this exchange is not on the allow-list",
            requester_kind=str(requester_kind)[:_MAX_ECHO],
            affair=str(affair)[:_MAX_ECHO],
            provider_kind=str(provider_kind)[:_MAX_ECHO],
            item=str(item)[:_MAX_ECHO],
            allow_list_version=version,
        )
        self.requester_kind = requester_kind
        self.affair = affair
        self.provider_kind = provider_kind
        self.item = item
        self.allow_list_version = version


class AllowListInvalid(InvalidInput):
    """The allow-list file is malformed; the message says where."""

    code = "INVALID_ALLOW_LIST"


class MalformedItem(OpenMynaError):
    """A provider's item data does not match its layout (データ標準レイアウト)."""

    code = "MALFORMED_ITEM"
    http_status = 502


class UnknownLayout(NotFound):
    """No layout exists for this (item, version)."""

    code = "UNKNOWN_LAYOUT"


# --- agency codes and the hub's keys ----------------------------------------------------------


class UnknownCode(NotFound):
    """No code like that was issued to that agency."""

    code = "UNKNOWN_CODE"


class PersonNotFound(NotFound):
    """The national identity index has no person with that individual number."""

    code = "PERSON_NOT_FOUND"


class HubKeyError(KeyFileError):
    """A hub key file is missing, unreadable, malformed or readable by others."""

    code = "HUB_KEY_ERROR"


# --- exchange records -------------------------------------------------------------------------


class RecordNotFound(NotFound):
    """No exchange record with that number about this person (or none at all: the same)."""

    code = "RECORD_NOT_FOUND"


class InvalidRecord(InvalidInput):
    """An exchange record (or an oversight query) with a malformed field."""

    code = "INVALID_RECORD"


# --- network CA and mutual TLS ----------------------------------------------------------------


class NetworkKeyError(KeyFileError):
    """A network CA or node key file is missing, unreadable, malformed or readable by others."""

    code = "NETWORK_KEY_ERROR"


class InvalidNodeRequest(InvalidInput):
    """A node certificate request that cannot be honoured (bad host, bad validity)."""

    code = "INVALID_NODE_REQUEST"


class PeerRefused(OpenMynaError):
    """The peer of a TLS connection is not an acceptable network node."""

    code = "PEER_REFUSED"
    http_status = 403


class NoPeerCertificate(PeerRefused):
    """The peer presented no certificate."""

    code = "NO_PEER_CERTIFICATE"


class UntrustedPeer(PeerRefused):
    """The peer's certificate is not a node certificate of the network CA."""

    code = "UNTRUSTED_PEER"


class RevokedPeer(PeerRefused):
    """The peer's node certificate is revoked."""

    code = "REVOKED_PEER"


class UnexpectedPeer(PeerRefused):
    """The peer is a valid node, but not the agency that was expected."""

    code = "UNEXPECTED_PEER"


class SenderNotPeer(PeerRefused):
    """A request token signed by another agency than the TLS peer that presents it."""

    code = "SENDER_NOT_PEER"


# --- messages (signed envelopes, encrypted content) -------------------------------------------


class MessageError(OpenMynaError):
    """A network message that must not be acted upon."""

    code = "MESSAGE_ERROR"
    http_status = 400


class TamperedMessage(MessageError):
    """The signature does not verify, the token is malformed, or the algorithm is not ES256."""

    code = "TAMPERED_MESSAGE"


class UnknownSigner(MessageError):
    """The token names a signer (``kid``) that has no known key."""

    code = "UNKNOWN_SIGNER"
    http_status = 401


class SignerMismatch(MessageError):
    """A valid signature by one agency over an envelope claiming another sender."""

    code = "SIGNER_MISMATCH"
    http_status = 401


class ExpiredMessage(MessageError):
    """The message is outside its validity window (or its window is too long)."""

    code = "EXPIRED_MESSAGE"
    http_status = 401


class ReplayedMessage(MessageError):
    """The message id was already seen from this sender within its validity window."""

    code = "REPLAYED_MESSAGE"
    http_status = 409


class MalformedMessage(MessageError):
    """A correctly signed token whose payload is not a valid envelope of its declared type."""

    code = "MALFORMED_MESSAGE"


class TamperedContent(MessageError):
    """An encrypted content that does not decrypt with this key, or was altered."""

    code = "TAMPERED_CONTENT"


class UntrustedReplyKey(MessageError):
    """The reply key in a forwarded request is not the requester's certified key."""

    code = "UNTRUSTED_REPLY_KEY"
    http_status = 401


class MisdirectedMessage(MessageError):
    """A message meant for another party, or contradicting the exchange it refers to."""

    code = "MISDIRECTED_MESSAGE"


# --- exchanges (hub, nodes) -------------------------------------------------------------------


class UnknownExchange(NotFound):
    """A message that refers to no exchange this party has under way."""

    code = "UNKNOWN_EXCHANGE"


class AmbiguousProvider(InvalidInput):
    """A request by provider kind when that kind has no agency, or more than one."""

    code = "AMBIGUOUS_PROVIDER"


class ExchangeRefused(OpenMynaError):
    """The hub answered the exchange with ``not_allowed`` or ``failed``."""

    code = "EXCHANGE_REFUSED"
    http_status = 403


class ProviderUnavailable(Unavailable):
    """The provider's node could not be reached; the exchange stays open for a retry."""

    code = "PROVIDER_UNAVAILABLE"


class ProviderError(OpenMynaError):
    """The provider's node refused to answer a forwarded request (its code in the details)."""

    code = "PROVIDER_ERROR"
    http_status = 502


class IdempotencyConflict(Conflict):
    """An idempotency key used again for a different request."""

    code = "IDEMPOTENCY_CONFLICT"


class BatcherClosed(Unavailable):
    """The batcher was closed: the call was not carried out."""

    code = "BATCHER_CLOSED"


# --- HTTP: the hub and nodes as processes -----------------------------------------------------


class UnknownNode(NotFound):
    """No node has registered where it listens for that agency."""

    code = "UNKNOWN_NODE"


class InvalidNodeUrl(InvalidInput):
    """A node URL that is not ``https://host:port`` without path, query or credentials."""

    code = "INVALID_NODE_URL"


class HubUnavailable(Unavailable):
    """The hub cannot be reached (connection refused, reset or timed out)."""

    code = "HUB_UNAVAILABLE"


class RemoteError(OpenMynaError):
    """A peer answered with an error this process does not know, or with no valid answer."""

    code = "REMOTE_ERROR"
    http_status = 502
