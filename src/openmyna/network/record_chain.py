"""The tamper evidence of the exchange records: the hash chain and the hub's checkpoints.

Records form a hash chain: ``hash = SHA-256(prev_hash ‖ canonical(record))`` with canonical =
sorted-key compact UTF-8 JSON, starting from :data:`GENESIS` (64 zeros). A checkpoint is the
hub's ECDSA P-256 signature over (seq, head hash, time, key id), with its key in
``<data_dir>/keys/hub-records.pem`` (mode 0600); auditors pin its public key and check the
chain with ``ExchangeRecords.verify_chain``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from openmyna.config import Settings
from openmyna.network.codes import ensure_secret_file
from openmyna.network.errors import HubKeyError

GENESIS = "0" * 64


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement of the chain head at ``seq``."""

    seq: int
    head_hash: str
    created_at: dt.datetime
    key_id: str
    signature: bytes = field(repr=False)


def as_utc(t: dt.datetime) -> dt.datetime:
    """A stored time as an aware UTC datetime (SQLite hands back naive ones: all are UTC)."""
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def canonical(values: dict[str, Any]) -> bytes:
    """The canonical encoding of one record's content (what its hash covers)."""
    body = {
        "v": 1,
        "seq": int(values["seq"]),
        "recorded_at": as_utc(values["recorded_at"]).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        **{
            k: values[k]
            for k in (
                "requester",
                "provider",
                "affair",
                "item",
                "outcome",
                "person_key",
                "exchange_id",
            )
        },
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(prev_hash: str, values: dict[str, Any]) -> str:
    """SHA-256 over the previous hash (32 bytes) and the record's canonical encoding."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical(values)).hexdigest()


def checkpoint_message(seq: int, head_hash: str, created_at: dt.datetime, key_id: str) -> bytes:
    """The bytes a checkpoint signs: its fields as sorted-key compact JSON."""
    body = {
        "v": 1,
        "seq": seq,
        "head_hash": head_hash,
        "created_at": as_utc(created_at).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "key_id": key_id,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


class HubSigner:
    """The hub's ECDSA P-256 checkpoint key."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id_of(self.public_key)

    @classmethod
    def load(cls, settings: Settings) -> HubSigner:
        """Read ``<data_dir>/keys/hub-records.pem``, creating the key on first use."""

        def make() -> bytes:
            return ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )

        pem = ensure_secret_file(settings.ensure_data_dir() / "keys" / "hub-records.pem", make)
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            raise HubKeyError("hub record key file is malformed") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise HubKeyError("hub record key must be an ECDSA P-256 key")
        return cls(key)

    def sign(self, message: bytes) -> bytes:
        """A DER ECDSA-SHA-256 signature."""
        return self._key.sign(message, ec.ECDSA(hashes.SHA256()))

    def public_key_pem(self) -> bytes:
        """The public key auditors pin to verify checkpoints."""
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def key_id_of(public_key: ec.EllipticCurvePublicKey) -> str:
    """The first 16 bytes (hex) of SHA-256 over the key's SubjectPublicKeyInfo."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:32]


def checkpoint_of(r: Any) -> Checkpoint:
    """A ``Checkpoint`` from a row of ``checkpoints``."""
    return Checkpoint(r.seq, r.head_hash, as_utc(r.created_at), r.key_id, bytes(r.signature))
