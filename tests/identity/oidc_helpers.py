"""Helpers of the OIDC provider's tests (imported as a plain module): clients, PKCE, the
browser's way through authorize → card login → consent, the card's signature."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from joserfc.jwk import RSAKey

sys.path.insert(0, str(Path(__file__).parents[1] / "portal"))

from portal_helpers import SIGN_PASSWORD

from openmyna.card import CardClient, MemoryTransport, VirtualCard
from openmyna.card.eapply_app import sign_document
from openmyna.platform import Platform

REDIRECT = "https://bank.example/callback"


@dataclass(frozen=True)
class Registered:
    """A registered client: its id, its secret or private key."""

    client_id: str
    secret: str | None
    key: RSAKey | None


def register(
    platform: Platform,
    *,
    name: str = "デモ銀行",
    scopes: list[str] | None = None,
    auth: str = "client_secret_basic",
    redirect_uri: str = REDIRECT,
) -> Registered:
    """Register a client as an administrator would."""
    key: RSAKey | None = None
    jwks: str | None = None
    if auth == "private_key_jwt":
        key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(4)})
        jwks = json.dumps({"keys": [key.as_dict(private=False)]})
    client, secret = platform.oidc.clients.add(
        name,
        [redirect_uri],
        scopes=scopes or ["openid"],
        auth_method=auth,
        jwks=jwks,
        contact="support@bank.example",
    )
    return Registered(client.client_id, secret, key)


def pkce() -> tuple[str, str]:
    """A code verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def auth_params(
    client_id: str, challenge: str, *, scope: str = "openid", **extra: str
) -> dict[str, str]:
    """An authorization request's parameters as a relying party sends them."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(extra)
    return params


def consent_id(location: str) -> str:
    """The authorization's id in the consent screen's path."""
    found = re.fullmatch(r"/oidc/consent/([0-9a-f]{32})", location)
    assert found is not None, location
    return found.group(1)


def csrf_of(html: str) -> str:
    """The CSRF token of a page's forms."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def card_url_of(html: str) -> str:
    """The one-time signature URL the consent screen shows."""
    found = re.search(r"sign-application (\S+/oidc/card/[A-Za-z0-9_-]+)", html)
    assert found is not None, html
    return found.group(1)


def redirect_params(location: str) -> dict[str, str]:
    """The parameters the provider sent back to the redirect URI."""
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == REDIRECT, location
    return {k: v[0] for k, v in parse_qs(parts.query).items()}


def sign_consent(card: VirtualCard, task: dict[str, Any], when: Any) -> str:
    """The card signs the consent document (as ``openmyna card sign-application`` does)."""
    document = base64.b64decode(task["document"])
    assert hashlib.sha256(document).hexdigest() == task["sha256"]
    cms = sign_document(
        CardClient(MemoryTransport(card)), SIGN_PASSWORD, document, signing_time=when
    )
    return base64.b64encode(cms).decode("ascii")
