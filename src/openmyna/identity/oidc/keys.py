"""The ID-token signing keys: RSA-2048, RS256, kept encrypted, rotated.

Each key is an encrypted PKCS#8 in the provider's store under the installation's
key-encryption secret (``openmyna.pki.keys.installation_kek``, the same secret the JPKI CA
keys are encrypted with), so a copy of the database alone opens no key. ``rotate`` makes a
new key the signing one; the one before stops signing at once but stays in the JWKS until
every token it signed has expired (``keep``), so relying parties that fetched the JWKS
before the rotation, or that still hold an ID token of the old key, keep verifying.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey
from sqlalchemy import insert, select, update

from openmyna.clock import Clock
from openmyna.identity.oidc.tables import signing_keys
from openmyna.store import Store

ALGORITHM = "RS256"
RSA_BITS = 2048


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class SigningKeys:
    """The provider's signing keys, decrypted once per process and kept in memory."""

    def __init__(self, store: Store, clock: Clock, kek: bytes, *, keep: dt.timedelta) -> None:
        self.store = store
        self.clock = clock
        self._kek = kek
        #: How long a retired key stays published (the longest life of what it signed).
        self.keep = keep
        self._loaded: dict[str, RSAKey] = {}
        self._lock = threading.Lock()

    def _new_row(self) -> dict[str, Any]:
        private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        kid = secrets.token_hex(8)
        encrypted = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._kek),
        )
        public = RSAKey.import_key(private.public_key())
        jwk = {**public.as_dict(private=False), "kid": kid, "use": "sig", "alg": ALGORITHM}
        return {
            "kid": kid,
            "private_pkcs8": encrypted,
            "public_jwk": json.dumps(jwk, sort_keys=True),
            "created_at": self.clock.now(),
            "retired_at": None,
            "expires_at": None,
        }

    def rotate(self) -> str:
        """Make a new signing key; the current one stops signing and expires after ``keep``."""
        now = self.clock.now()
        row = self._new_row()
        with self.store.transaction() as s:
            s.execute(
                update(signing_keys)
                .where(signing_keys.c.retired_at.is_(None))
                .values(retired_at=now, expires_at=now + self.keep)
            )
            s.execute(insert(signing_keys).values(**row))
        return str(row["kid"])

    def signing(self) -> tuple[str, RSAKey]:
        """The key that signs now (made on first use): its kid and private key."""
        with self.store.transaction() as s:
            found = (
                s.execute(
                    select(signing_keys.c.kid, signing_keys.c.private_pkcs8)
                    .where(signing_keys.c.retired_at.is_(None))
                    .order_by(signing_keys.c.created_at.desc())
                )
                .mappings()
                .first()
            )
        if found is None:
            self.rotate()
            return self.signing()
        kid = str(found["kid"])
        with self._lock:
            key = self._loaded.get(kid)
            if key is None:
                private = serialization.load_pem_private_key(
                    bytes(found["private_pkcs8"]), password=self._kek
                )
                key = RSAKey.import_key(private)  # type: ignore[arg-type]
                self._loaded[kid] = key
        return kid, key

    def jwks(self) -> dict[str, Any]:
        """The published keys: the signing one and the retired ones not yet expired."""
        self.signing()  # a provider always publishes at least the key it signs with
        now = self.clock.now()
        with self.store.transaction() as s:
            rows = s.execute(
                select(signing_keys.c.public_jwk, signing_keys.c.expires_at).order_by(
                    signing_keys.c.created_at.desc()
                )
            ).all()
        keys = [
            json.loads(r.public_jwk)
            for r in rows
            if r.expires_at is None or _aware(r.expires_at) > now
        ]
        return {"keys": keys}
