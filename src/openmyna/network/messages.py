"""The network's messages: the four typed envelopes of one exchange, and their ids.

One exchange is four envelopes: the requester node's ``ExchangeRequest`` to the hub, the hub's
``ForwardedRequest`` to the provider, the provider's ``ProviderAnswer`` (its content a JWE for
the requester only) and the hub's ``ExchangeResult`` back to the requester, which carries the
provider's signed answer unchanged. Every envelope forbids unknown fields and checks its own
consistency. How they travel signed is ``signing`` (JWS, ES256, one envelope or a Merkle
batch); how an item travels encrypted for the requester only is ``encryption`` (JWE).
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated, Final, Literal, TypeAlias

from joserfc.errors import JoseError
from joserfc.jwk import ECKey
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from openmyna.network.errors import MalformedMessage

AgencyId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,39}$")]
MessageId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z2-7]{26}$")]
IdempotencyKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
Digest = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
JweToken = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]+$", max_length=1 << 20)]
SignedToken = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.~-]+$", max_length=1 << 20)]


class _Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)

    message_id: MessageId
    sender: AgencyId
    issued_at: AwareDatetime
    expires_at: AwareDatetime

    @model_validator(mode="after")
    def _window(self) -> _Envelope:
        if self.expires_at <= self.issued_at:
            raise ValueError("expires_at must be after issued_at")
        return self


class ExchangeRequest(_Envelope):
    """Requester node → hub: "give me item X of the person I know as code C, for affair A"."""

    type: Literal["exchange_request"] = "exchange_request"
    idempotency_key: IdempotencyKey
    requester_code: Code
    affair: Name
    item: Name
    provider_kind: Name | None = None
    provider_agency: AgencyId | None = None

    @model_validator(mode="after")
    def _one_provider(self) -> ExchangeRequest:
        if (self.provider_kind is None) == (self.provider_agency is None):
            raise ValueError("exactly one of provider_kind and provider_agency")
        return self


class ForwardedRequest(_Envelope):
    """Hub → provider node: the request, translated to the provider's own code."""

    type: Literal["forwarded_request"] = "forwarded_request"
    request_id: MessageId
    request_digest: Digest
    requester: AgencyId
    provider: AgencyId
    provider_code: Code
    affair: Name
    item: Name
    reply_key: dict[str, str]

    @field_validator("reply_key")
    @classmethod
    def _public_p256(cls, value: dict[str, str]) -> dict[str, str]:
        if set(value) != {"kty", "crv", "x", "y"} or value["kty"] != "EC":
            raise ValueError("reply_key must be a public EC JWK (kty, crv, x, y only)")
        if value["crv"] != "P-256":
            raise ValueError("reply_key must be on P-256")
        try:
            ECKey.import_key(dict(value))
        except (JoseError, ValueError) as exc:
            raise ValueError("reply_key is not a point on P-256") from exc
        return value


class ProviderAnswer(_Envelope):
    """Provider node → hub: the outcome, and the item encrypted for the requester only."""

    type: Literal["provider_answer"] = "provider_answer"
    request_id: MessageId
    forwarded_id: MessageId
    outcome: Literal["provided", "no_data"]
    content: JweToken | None = None

    @model_validator(mode="after")
    def _content_iff_provided(self) -> ProviderAnswer:
        if (self.outcome == "provided") != (self.content is not None):
            raise ValueError("content is required with 'provided' and forbidden otherwise")
        return self


class ExchangeResult(_Envelope):
    """Hub → requester node: the outcome, with the provider's signed answer relayed verbatim."""

    type: Literal["exchange_result"] = "exchange_result"
    request_id: MessageId
    outcome: Literal["provided", "no_data", "not_allowed", "failed"]
    provider: AgencyId | None = None
    answer: SignedToken | None = None
    error_code: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z_]{0,63}$")] | None = None

    @model_validator(mode="after")
    def _answer_iff_answered(self) -> ExchangeResult:
        answered = self.outcome in ("provided", "no_data")
        if answered != (self.answer is not None and self.provider is not None):
            raise ValueError("provider and answer go with 'provided' and 'no_data' only")
        if answered == (self.error_code is not None):
            raise ValueError("error_code goes with 'not_allowed' and 'failed' only")
        return self


Envelope: TypeAlias = ExchangeRequest | ForwardedRequest | ProviderAnswer | ExchangeResult
_ENVELOPE: TypeAdapter[Envelope] = TypeAdapter(Annotated[Envelope, Field(discriminator="type")])
#: The ``type`` of every envelope (what a signed token's ``typ`` header may name).
ENVELOPE_TYPES: Final = frozenset(
    {"exchange_request", "forwarded_request", "provider_answer", "exchange_result"}
)


def parse_envelope(payload: bytes) -> Envelope:
    """The envelope a verified payload holds; ``MALFORMED_MESSAGE`` (field names only) if none."""
    try:
        return _ENVELOPE.validate_json(payload)
    except ValidationError as exc:
        fields = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
        raise MalformedMessage("the signed payload is not a valid envelope", fields=fields) from exc


def new_message_id() -> str:
    """A fresh random message id (uuid4, 32 lower-case hex digits)."""
    return uuid.uuid4().hex


def token_digest(token: str) -> str:
    """SHA-256 (hex) of a compact token: how a later message refers to an earlier one."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()
