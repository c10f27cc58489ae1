"""The network's messages: typed envelopes, signed (JWS, ES256) and end-to-end encrypted (JWE).

One exchange is four envelopes: the requester node's ``ExchangeRequest`` to the hub, the hub's
``ForwardedRequest`` to the provider, the provider's ``ProviderAnswer`` (its content a JWE for
the requester only) and the hub's ``ExchangeResult`` back to the requester, which carries the
provider's signed answer unchanged. Every envelope travels as a JWS compact token signed with
the sender's node key (``kid`` = the sender's agency id); ``verify`` checks algorithm, signer,
signature, validity window (with an injected clock) and replay before returning the envelope.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import hmac
import json
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final, Literal, Protocol, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwe, jws
from joserfc.errors import JoseError
from joserfc.jwe import JWERegistry
from joserfc.jwk import ECKey
from joserfc.registry import HeaderParameter
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

from openmyna.clock import Clock
from openmyna.network.errors import (
    ExpiredMessage,
    MalformedMessage,
    ReplayedMessage,
    SignerMismatch,
    TamperedContent,
    TamperedMessage,
    UnknownSigner,
    UntrustedReplyKey,
)

# --- errors -------------------------------------------------------------------------------


# --- envelopes ----------------------------------------------------------------------------

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

TYP_PREFIX: Final = "openmyna."
TYP_SUFFIX: Final = "+jws"
ALG: Final = "ES256"
JWE_ALG: Final = "ECDH-ES"
JWE_ENC: Final = "A256GCM"
MAX_TOKEN: Final = 1 << 20
DEFAULT_SKEW: Final = dt.timedelta(seconds=30)
MAX_VALIDITY: Final = dt.timedelta(minutes=10)
_TYPES: Final = frozenset(
    {"exchange_request", "forwarded_request", "provider_answer", "exchange_result"}
)
_B64: Final = re.compile(r"^[A-Za-z0-9_-]*$")
_JWE_REGISTRY: Final = JWERegistry(
    header_registry={"rid": HeaderParameter("openmyna request id", "str", required=True)},
    algorithms=[JWE_ALG, JWE_ENC],
)


def new_message_id() -> str:
    """A fresh random message id (uuid4, 32 lower-case hex digits)."""
    return uuid.uuid4().hex


def typ_of(envelope: Envelope) -> str:
    """The JWS ``typ`` header value for an envelope: ``openmyna.<type>+jws``."""
    return f"{TYP_PREFIX}{envelope.type}{TYP_SUFFIX}"


def token_digest(token: str) -> str:
    """SHA-256 (hex) of a compact token: how a later message refers to an earlier one."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


# --- keys ---------------------------------------------------------------------------------

PublicKeyLike: TypeAlias = ec.EllipticCurvePublicKey | x509.Certificate
KeyResolver: TypeAlias = Callable[[str], PublicKeyLike | None]


def _public_p256(key: PublicKeyLike) -> ec.EllipticCurvePublicKey:
    public = key.public_key() if isinstance(key, x509.Certificate) else key
    if not isinstance(public, ec.EllipticCurvePublicKey) or not isinstance(
        public.curve, ec.SECP256R1
    ):
        raise UnknownSigner("the signer's key is not an ECDSA P-256 key")
    return public


def _check_private(key: ec.EllipticCurvePrivateKey) -> None:
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise TypeError("node keys are ECDSA P-256 private keys")


def public_jwk(key: PublicKeyLike) -> dict[str, str]:
    """The public JWK (kty, crv, x, y) of a P-256 key or certificate, for ``reply_key``."""
    public = _public_p256(key)
    data = ECKey.import_key(public).as_dict(private=False)
    return {k: str(data[k]) for k in ("kty", "crv", "x", "y")}


def check_reply_key(forwarded: ForwardedRequest, requester_key: PublicKeyLike) -> None:
    """Refuse a forwarded request whose reply key is not the requester's certified key."""
    if public_jwk(requester_key) != forwarded.reply_key:
        raise UntrustedReplyKey(
            "the reply key is not the requester's certified key", requester=forwarded.requester
        )


# --- replay -------------------------------------------------------------------------------


class ReplayGuard(Protocol):
    """Remembers message ids until they expire; a second sighting is a replay."""

    def first_seen(self, sender: str, message_id: str, expires_at: dt.datetime) -> bool:
        """Record (sender, message_id) until ``expires_at``; False if already recorded."""
        ...


class InMemoryReplayGuard:
    """A process-local replay guard (one hub process); forgets ids once they have expired."""

    def __init__(self, clock: Clock, skew: dt.timedelta = DEFAULT_SKEW) -> None:
        self._clock = clock
        self._skew = skew
        self._seen: dict[tuple[str, str], dt.datetime] = {}
        self._lock = threading.Lock()
        self._next_prune = clock.now()

    def first_seen(self, sender: str, message_id: str, expires_at: dt.datetime) -> bool:
        """Record (sender, message_id) until ``expires_at`` + skew; False if already recorded."""
        now = self._clock.now()
        with self._lock:
            if now >= self._next_prune:
                self._seen = {k: v for k, v in self._seen.items() if v >= now}
                self._next_prune = now + dt.timedelta(seconds=10)
            key = (sender, message_id)
            until = self._seen.get(key)
            if until is not None and until >= now:
                return False
            self._seen[key] = expires_at + self._skew
            return True

    def __len__(self) -> int:
        return len(self._seen)


# --- signing ------------------------------------------------------------------------------


def _payload(envelope: Envelope) -> bytes:
    return envelope.model_dump_json(exclude_none=True).encode("utf-8")


def sign(envelope: Envelope, key: ec.EllipticCurvePrivateKey, kid: str) -> str:
    """Sign an envelope as a JWS compact token (ES256, ``kid`` = the signer's agency id)."""
    _check_private(key)
    if envelope.sender != kid:
        raise ValueError("kid must be the envelope's sender")
    header = {"alg": ALG, "kid": kid, "typ": typ_of(envelope)}
    return jws.serialize_compact(header, _payload(envelope), ECKey.import_key(key), [ALG])


def _b64decode(segment: str) -> bytes:
    """Strict base64url: alphabet only, no padding, canonical trailing bits."""
    if not _B64.match(segment) or len(segment) % 4 == 1:
        raise TamperedMessage("the token is not canonical base64url")
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != segment:
        raise TamperedMessage("the token is not canonical base64url")
    return raw


def _header(segment: str) -> dict[str, Any]:
    try:
        header = json.loads(_b64decode(segment))
    except (ValueError, binascii.Error) as exc:
        raise TamperedMessage("the token's header is not JSON") from exc
    if not isinstance(header, dict):
        raise TamperedMessage("the token's header is not a JSON object")
    return header


def _signed_header(segment: str, kinds: frozenset[str]) -> tuple[str, str]:
    """Check a JWS header: ES256, exactly alg/kid/typ, a known typ; return (kid, kind)."""
    header = _header(segment)
    if header.get("alg") != ALG or set(header) != {"alg", "kid", "typ"}:
        raise TamperedMessage("only ES256 with the headers alg, kid, typ is accepted")
    kid, typ = header["kid"], header["typ"]
    if not isinstance(kid, str) or not isinstance(typ, str):
        raise TamperedMessage("kid and typ must be strings")
    kind = typ.removeprefix(TYP_PREFIX).removesuffix(TYP_SUFFIX)
    if typ != f"{TYP_PREFIX}{kind}{TYP_SUFFIX}" or kind not in kinds:
        raise TamperedMessage("unknown message type")
    return kid, kind


def _check_jws(
    token: str, resolve_key: KeyResolver, kinds: frozenset[str]
) -> tuple[str, str, bytes]:
    """Verify a compact JWS's form and signature; return (kid, kind, payload)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TamperedMessage("the token is not a compact JWS")
    kid, kind = _signed_header(parts[0], kinds)
    public = resolve_key(kid)
    if public is None:
        raise UnknownSigner("no key is known for this signer", kid=kid[:40])
    point = _public_p256(public).public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    verify_signature = _verified_batch_payload if kind == "batch" else _verified_payload
    return kid, kind, verify_signature(token, point)


def _verified_payload(token: str, point: bytes) -> bytes:
    """The payload of a compact JWS whose ES256 signature verifies with this P-256 point."""
    for part in token.split(".")[1:]:
        _b64decode(part)
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    try:
        obj = jws.deserialize_compact(token, ECKey.import_key(public), [ALG])
    except (JoseError, ValueError) as exc:
        raise TamperedMessage("the signature does not verify") from exc
    return obj.payload


@functools.lru_cache(maxsize=256)
def _verified_batch_payload(token: str, point: bytes) -> bytes:
    """As ``_verified_payload``, remembered: the envelopes of one batch share one signature."""
    return _verified_payload(token, point)


def verify(
    token: str,
    resolve_key: KeyResolver,
    *,
    clock: Clock,
    replay_guard: ReplayGuard | None = None,
    expected: type[Envelope] | None = None,
    skew: dt.timedelta = DEFAULT_SKEW,
    max_validity: dt.timedelta = MAX_VALIDITY,
) -> Envelope:
    """Verify a plain or batch-signed token and return its envelope, or raise a MessageError."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN or not token.isascii():
        raise TamperedMessage("the token is not a compact JWS")
    if BATCH_SEPARATOR in token:
        kid, payload = _check_batch_token(token, resolve_key)
        kind = None
    else:
        kid, kind, payload = _check_jws(token, resolve_key, _TYPES)
    try:
        envelope = _ENVELOPE.validate_json(payload)
    except ValidationError as exc:
        fields = sorted({".".join(map(str, e["loc"])) for e in exc.errors()})
        raise MalformedMessage("the signed payload is not a valid envelope", fields=fields) from exc
    if kind is not None and envelope.type != kind:
        raise MalformedMessage("the typ header does not match the envelope")
    if expected is not None and not isinstance(envelope, expected):
        raise MalformedMessage("unexpected message type", expected=expected.__name__)
    if envelope.sender != kid:
        raise SignerMismatch("signed by another agency than the envelope's sender", kid=kid[:40])
    now = clock.now()
    if envelope.expires_at - envelope.issued_at > max_validity:
        raise ExpiredMessage("the validity window is too long")
    if now + skew < envelope.issued_at or now - skew >= envelope.expires_at:
        raise ExpiredMessage("the message is outside its validity window")
    if replay_guard is not None and not replay_guard.first_seen(
        envelope.sender, envelope.message_id, envelope.expires_at
    ):
        raise ReplayedMessage("this message was already received", kid=kid[:40])
    return envelope


# --- batch signing (one ES256 signature over a Merkle root) --------------------------------

BATCH_SEPARATOR: Final = "~"
_BATCH_TYPES: Final = frozenset({"batch"})
MAX_BATCH: Final = 1 << 16


def _leaf(payload: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + payload).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _merkle(leaves: list[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """The root and, for each leaf, its audit path (an odd last node is promoted unchanged)."""
    paths: list[list[bytes]] = [[] for _ in leaves]
    members: list[list[int]] = [[i] for i in range(len(leaves))]
    level = leaves
    while len(level) > 1:
        nxt: list[bytes] = []
        nxt_members: list[list[int]] = []
        for j in range(0, len(level) - 1, 2):
            for i in members[j]:
                paths[i].append(level[j + 1])
            for i in members[j + 1]:
                paths[i].append(level[j])
            nxt.append(_node(level[j], level[j + 1]))
            nxt_members.append(members[j] + members[j + 1])
        if len(level) % 2:
            nxt.append(level[-1])
            nxt_members.append(members[-1])
        level, members = nxt, nxt_members
    return level[0], paths


def _root_from_path(leaf: bytes, index: int, count: int, path: list[bytes]) -> bytes:
    """Recompute the root from a leaf, its position and audit path (sides follow from index)."""
    node, width, steps = leaf, count, iter(path)
    while width > 1:
        if index % 2:
            node = _node(next(steps), node)
        elif index + 1 < width:
            node = _node(node, next(steps))
        index, width = index // 2, (width + 1) // 2
    if next(steps, None) is not None:
        raise TamperedMessage("the inclusion proof is too long")
    return node


def sign_many(envelopes: list[Envelope], key: ec.EllipticCurvePrivateKey, kid: str) -> list[str]:
    """Sign many envelopes with one ES256 signature; each token carries its inclusion proof."""
    _check_private(key)
    if not 0 < len(envelopes) <= MAX_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH} envelopes")
    if any(e.sender != kid for e in envelopes):
        raise ValueError("kid must be every envelope's sender")
    payloads = [_payload(e) for e in envelopes]
    root, paths = _merkle([_leaf(p) for p in payloads])
    body = json.dumps({"count": len(payloads), "root": root.hex()}, separators=(",", ":"))
    header = {"alg": ALG, "kid": kid, "typ": f"{TYP_PREFIX}batch{TYP_SUFFIX}"}
    batch = jws.serialize_compact(header, body.encode("ascii"), ECKey.import_key(key), [ALG])
    out = []
    for i, (payload, path) in enumerate(zip(payloads, paths, strict=True)):
        proof = json.dumps({"i": i, "path": [h.hex() for h in path]}, separators=(",", ":"))
        out.append(
            BATCH_SEPARATOR.join([batch, _b64encode(payload), _b64encode(proof.encode("ascii"))])
        )
    return out


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _check_batch_token(token: str, resolve_key: KeyResolver) -> tuple[str, bytes]:
    """Verify a batch token (batch JWS ~ payload ~ proof); return (kid, payload)."""
    parts = token.split(BATCH_SEPARATOR)
    if len(parts) != 3:
        raise TamperedMessage("the token is not a batch token")
    kid, _, body = _check_jws(parts[0], resolve_key, _BATCH_TYPES)
    payload = _b64decode(parts[1])
    try:
        batch = json.loads(body)
        proof = json.loads(_b64decode(parts[2]))
        count, root = batch["count"], bytes.fromhex(batch["root"])
        index, path = proof["i"], [bytes.fromhex(h) for h in proof["path"]]
    except (ValueError, TypeError, KeyError) as exc:
        raise TamperedMessage("the batch or its proof is malformed") from exc
    if not (
        type(count) is int
        and type(index) is int
        and 0 <= index < count <= MAX_BATCH
        and len(root) == 32
        and all(len(h) == 32 for h in path)
    ):
        raise TamperedMessage("the batch or its proof is malformed")
    try:
        computed = _root_from_path(_leaf(payload), index, count, path)
    except StopIteration as exc:
        raise TamperedMessage("the inclusion proof is too short") from exc
    if not hmac.compare_digest(computed, root):
        raise TamperedMessage("the envelope is not in the signed batch", kid=kid[:40])
    return kid, payload


# --- end-to-end encryption ----------------------------------------------------------------


def encrypt_for(
    payload: Mapping[str, Any], recipient_public_key: PublicKeyLike, *, request_id: str
) -> str:
    """Encrypt a JSON object for one recipient only: JWE compact, ECDH-ES + A256GCM."""
    public = ECKey.import_key(_public_p256(recipient_public_key))
    plaintext = json.dumps(dict(payload), ensure_ascii=False, separators=(",", ":"))
    header = {"alg": JWE_ALG, "enc": JWE_ENC, "cty": "json", "rid": request_id}
    return jwe.encrypt_compact(header, plaintext.encode("utf-8"), public, registry=_JWE_REGISTRY)


def decrypt(
    token: str, private_key: ec.EllipticCurvePrivateKey, *, request_id: str
) -> dict[str, Any]:
    """Decrypt a JWE made by ``encrypt_for`` for this key and request; TAMPERED_CONTENT if not."""
    _check_private(private_key)
    if not isinstance(token, str) or len(token) > MAX_TOKEN or token.count(".") != 4:
        raise TamperedContent("the content is not a compact JWE")
    try:
        header = _header(token.split(".", 1)[0])
    except TamperedMessage as exc:
        raise TamperedContent("the content's header is malformed") from exc
    expected = {"alg": JWE_ALG, "enc": JWE_ENC, "cty": "json", "rid": request_id}
    if {k: header.get(k) for k in expected} != expected:
        raise TamperedContent("the content is not for this request or uses another algorithm")
    try:
        obj = jwe.decrypt_compact(token, ECKey.import_key(private_key), registry=_JWE_REGISTRY)
        data = json.loads(obj.plaintext or b"")
    except (JoseError, ValueError, TypeError) as exc:
        raise TamperedContent("the content does not decrypt with this key") from exc
    if not isinstance(data, dict):
        raise TamperedContent("the content is not a JSON object")
    return data
