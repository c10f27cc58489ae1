"""End-to-end encryption of an item for the requester only: JWE compact, ECDH-ES + A256GCM.

The provider encrypts the item it answers with to the ``reply_key`` of the forwarded request,
which the hub sets to the requester's certified node key and the provider checks against the
requester's certificate (``check_reply_key``). The hub relays the ciphertext and never reads
it; the JWE header binds it to the request id (``rid``), so it cannot be replayed into
another exchange.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwe import JWERegistry
from joserfc.jwk import ECKey
from joserfc.registry import HeaderParameter

from openmyna.network.errors import TamperedContent, TamperedMessage, UntrustedReplyKey
from openmyna.network.messages import ForwardedRequest
from openmyna.network.signing import (
    MAX_TOKEN,
    PublicKeyLike,
    check_private_key,
    compact_header,
    public_p256,
)

JWE_ALG: Final = "ECDH-ES"
JWE_ENC: Final = "A256GCM"
_JWE_REGISTRY: Final = JWERegistry(
    header_registry={"rid": HeaderParameter("openmyna request id", "str", required=True)},
    algorithms=[JWE_ALG, JWE_ENC],
)


def public_jwk(key: PublicKeyLike) -> dict[str, str]:
    """The public JWK (kty, crv, x, y) of a P-256 key or certificate, for ``reply_key``."""
    public = public_p256(key)
    data = ECKey.import_key(public).as_dict(private=False)
    return {k: str(data[k]) for k in ("kty", "crv", "x", "y")}


def check_reply_key(forwarded: ForwardedRequest, requester_key: PublicKeyLike) -> None:
    """Refuse a forwarded request whose reply key is not the requester's certified key."""
    if public_jwk(requester_key) != forwarded.reply_key:
        raise UntrustedReplyKey(
            "the reply key is not the requester's certified key", requester=forwarded.requester
        )


def encrypt_for(
    payload: Mapping[str, Any], recipient_public_key: PublicKeyLike, *, request_id: str
) -> str:
    """Encrypt a JSON object for one recipient only: JWE compact, ECDH-ES + A256GCM."""
    public = ECKey.import_key(public_p256(recipient_public_key))
    plaintext = json.dumps(dict(payload), ensure_ascii=False, separators=(",", ":"))
    header = {"alg": JWE_ALG, "enc": JWE_ENC, "cty": "json", "rid": request_id}
    return jwe.encrypt_compact(header, plaintext.encode("utf-8"), public, registry=_JWE_REGISTRY)


def decrypt(
    token: str, private_key: ec.EllipticCurvePrivateKey, *, request_id: str
) -> dict[str, Any]:
    """Decrypt a JWE made by ``encrypt_for`` for this key and request; TAMPERED_CONTENT if not."""
    check_private_key(private_key)
    if not isinstance(token, str) or len(token) > MAX_TOKEN or token.count(".") != 4:
        raise TamperedContent("the content is not a compact JWE")
    try:
        header = compact_header(token.split(".", 1)[0])
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
