"""Signing and verifying network messages: JWS compact tokens, ES256 by the sender's node key.

Every envelope (``messages``) travels as a JWS compact token signed with the sender's node key
(``kid`` = the sender's agency id, ``typ`` = ``openmyna.<type>+jws``); ``verify`` checks
algorithm, signer, signature, validity window (with an injected clock) and replay before
returning the envelope. ``sign_many`` signs a whole batch with one ES256 signature over a
Merkle root: each token then carries its envelope and its inclusion proof, and verifies on
its own like a plainly signed one.
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
from collections.abc import Callable
from typing import Any, Final, Protocol, TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from openmyna.clock import Clock
from openmyna.network.errors import (
    ExpiredMessage,
    MalformedMessage,
    ReplayedMessage,
    SignerMismatch,
    TamperedMessage,
    UnknownSigner,
)
from openmyna.network.messages import ENVELOPE_TYPES, Envelope, parse_envelope

TYP_PREFIX: Final = "openmyna."
TYP_SUFFIX: Final = "+jws"
ALG: Final = "ES256"
MAX_TOKEN: Final = 1 << 20
DEFAULT_SKEW: Final = dt.timedelta(seconds=30)
MAX_VALIDITY: Final = dt.timedelta(minutes=10)
_B64: Final = re.compile(r"^[A-Za-z0-9_-]*$")


def typ_of(envelope: Envelope) -> str:
    """The JWS ``typ`` header value for an envelope: ``openmyna.<type>+jws``."""
    return f"{TYP_PREFIX}{envelope.type}{TYP_SUFFIX}"


# --- keys ---------------------------------------------------------------------------------

PublicKeyLike: TypeAlias = ec.EllipticCurvePublicKey | x509.Certificate
KeyResolver: TypeAlias = Callable[[str], PublicKeyLike | None]


def public_p256(key: PublicKeyLike) -> ec.EllipticCurvePublicKey:
    """The P-256 public key of a key or certificate; ``UNKNOWN_SIGNER`` for any other key."""
    public = key.public_key() if isinstance(key, x509.Certificate) else key
    if not isinstance(public, ec.EllipticCurvePublicKey) or not isinstance(
        public.curve, ec.SECP256R1
    ):
        raise UnknownSigner("the signer's key is not an ECDSA P-256 key")
    return public


def check_private_key(key: ec.EllipticCurvePrivateKey) -> None:
    """Refuse (``TypeError``) a private key that is not a P-256 node key."""
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise TypeError("node keys are ECDSA P-256 private keys")


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
    check_private_key(key)
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


def compact_header(segment: str) -> dict[str, Any]:
    """The JSON object of a compact token's header segment; ``TAMPERED_MESSAGE`` if not one."""
    try:
        header = json.loads(_b64decode(segment))
    except (ValueError, binascii.Error) as exc:
        raise TamperedMessage("the token's header is not JSON") from exc
    if not isinstance(header, dict):
        raise TamperedMessage("the token's header is not a JSON object")
    return header


def _signed_header(segment: str, kinds: frozenset[str]) -> tuple[str, str]:
    """Check a JWS header: ES256, exactly alg/kid/typ, a known typ; return (kid, kind)."""
    header = compact_header(segment)
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
    point = public_p256(public).public_bytes(
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
        kid, kind, payload = _check_jws(token, resolve_key, ENVELOPE_TYPES)
    envelope = parse_envelope(payload)
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
    check_private_key(key)
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
