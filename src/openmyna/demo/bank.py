"""The demo bank (デモ銀行): a relying party of the OIDC provider, served by ``openmyna demo``.

Its own routes under ``/demo-bank``: a landing page; **口座を開設する** sends the browser to
the provider (``/oidc/authorize``, scopes ``openid name address birthdate gender``, PKCE
S256, state and nonce); the callback redeems the code at the token endpoint over HTTP as any
business would (``client_secret_basic``), checks the ID token against the JWKS (signature,
iss, aud, nonce, exp) and reads userinfo, then shows the account opened with the 4 items the
person signed for. The bank registers itself with the provider on first use for the origin
the browser came on (a loopback origin: the demo runs on this machine); its pending logins
are kept in memory (a demo: a restart forgets them).
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.routing import BaseRoute

from openmyna.identity.oidc import Oidc
from openmyna.identity.oidc.clients import Client

NAME = "デモ銀行"
COOKIE = "demo_bank"
SCOPE = "openid name address birthdate gender"
PAGE = """<!doctype html><html lang="ja"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<link rel="stylesheet" href="/static/portal.css"></head><body><main id="main" class="wrap">
<h1>{title}</h1>{body}<p class="muted">これは検証用のデモです。 / A demo for testing.</p>
</main></body></html>"""


@dataclass(frozen=True)
class _Pending:
    state: str
    nonce: str
    verifier: str
    redirect_uri: str


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=html.escape(title), body=body), status_code=status)


class DemoBank:
    """The demo bank's client registration, pending logins and pages."""

    def __init__(self, oidc: Oidc) -> None:
        self.oidc = oidc
        self._clients: dict[str, tuple[Client, str]] = {}
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()

    def client_for(self, origin: str) -> tuple[Client, str]:
        """The bank's client for the origin the browser used (registered on first use)."""
        with self._lock:
            found = self._clients.get(origin)
            if found is None:
                name = f"{NAME} ({origin})"
                for old in self.oidc.clients.list():
                    if old.name == name:  # a secret is shown once: a restart registers anew
                        self.oidc.clients.remove(old.client_id)
                client, secret = self.oidc.clients.add(
                    name,
                    [origin + "/demo-bank/callback"],
                    scopes=SCOPE.split(),
                    auth_method="client_secret_basic",
                    contact="デモ銀行 お客さまセンター 0120-000-000",
                )
                assert secret is not None
                found = self._clients[origin] = (client, secret)
            return found

    def routes(self) -> list[BaseRoute]:
        """The bank's pages."""
        router = APIRouter()

        @router.get("/demo-bank", response_class=HTMLResponse, tags=["demo"])
        def home() -> Response:
            """デモ銀行: open an account with the My Number Card (the provider's demo RP)."""
            return _page(
                NAME,
                "<p>マイナンバーカードで本人確認をして、口座を開設できます。"
                " / Open an account, with identity verified by the My Number Card.</p>"
                '<p><a class="button" href="/demo-bank/open">'
                "口座を開設する / Open an account</a></p>",
            )

        @router.get("/demo-bank/open", tags=["demo"], include_in_schema=False)
        def open_account(request: Request) -> Response:
            """Send the browser to the provider."""
            origin = f"{request.url.scheme}://{request.url.netloc}"
            client, _ = self.client_for(origin)
            verifier = secrets.token_urlsafe(48)
            digest = hashlib.sha256(verifier.encode("ascii")).digest()
            pending = _Pending(
                secrets.token_urlsafe(16),
                secrets.token_urlsafe(16),
                verifier,
                client.redirect_uris[0],
            )
            key = secrets.token_urlsafe(16)
            with self._lock:
                self._pending[key] = pending
            query = urlencode(
                {
                    "response_type": "code",
                    "client_id": client.client_id,
                    "redirect_uri": pending.redirect_uri,
                    "scope": SCOPE,
                    "state": pending.state,
                    "nonce": pending.nonce,
                    "code_challenge": base64.urlsafe_b64encode(digest).rstrip(b"=").decode(),
                    "code_challenge_method": "S256",
                }
            )
            response = RedirectResponse("/oidc/authorize?" + query, status_code=303)
            response.set_cookie(COOKIE, key, httponly=True, samesite="lax", path="/demo-bank")
            return response

        @router.get("/demo-bank/callback", response_class=HTMLResponse, tags=["demo"])
        def callback(request: Request) -> Response:
            """The provider's answer: redeem the code, check the ID token, read the items."""
            with self._lock:
                pending = self._pending.pop(request.cookies.get(COOKIE, ""), None)
            params = request.query_params
            if pending is None or params.get("state") != pending.state:
                return _page(NAME, "<p>最初からやり直してください。 / Please start again.</p>", 400)
            if "code" not in params:
                error = html.escape(params.get("error", ""))
                return _page(NAME, f"<p>口座は開設されませんでした（{error}）。</p>", 400)
            origin = f"{request.url.scheme}://{request.url.netloc}"
            client, secret = self.client_for(origin)
            try:
                claims = self._redeem(origin, client, secret, pending, params["code"])
            except (httpx2.HTTPError, JoseError, ValueError, KeyError) as exc:
                return _page(
                    NAME, f"<p>確認できませんでした: {html.escape(type(exc).__name__)}</p>", 502
                )
            rows = "".join(
                f"<div><dt>{label}</dt><dd>{html.escape(str(claims.get(key, '')))}</dd></div>"
                for key, label in (
                    ("name", "氏名 / Name"),
                    ("address", "住所 / Address"),
                    ("birthdate", "生年月日 / Date of birth"),
                    ("gender", "性別 / Gender"),
                )
            )
            number = secrets.randbelow(10**7)
            return _page(
                NAME,
                f"<p>口座を開設しました。 / Your account is open: 普通 {number:07d}</p>"
                f'<dl class="summary">{rows}</dl>'
                '<p class="muted">お客さま番号（sub）: '
                f"<code>{html.escape(claims['sub'])}</code></p>",
            )

        return list(router.routes)

    def _redeem(
        self, origin: str, client: Client, secret: str, pending: _Pending, code: str
    ) -> dict[str, Any]:
        with httpx2.Client(base_url=origin, timeout=10) as http:
            meta = http.get("/.well-known/openid-configuration").json()
            tokens = http.post(
                meta["token_endpoint"],
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": pending.redirect_uri,
                    "code_verifier": pending.verifier,
                },
                auth=(client.client_id, secret),
            )
            tokens.raise_for_status()
            body = tokens.json()
            keys = KeySet.import_key_set(http.get(meta["jwks_uri"]).json())
            decoded = jwt.decode(body["id_token"], keys, algorithms=["RS256"])
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": meta["issuer"]},
                aud={"essential": True, "value": client.client_id},
                nonce={"essential": True, "value": pending.nonce},
                exp={"essential": True},
                now=int(self.oidc.provider.clock.now().timestamp()),
            ).validate(decoded.claims)
            info = http.get(
                meta["userinfo_endpoint"],
                headers={"Authorization": f"Bearer {body['access_token']}"},
            )
            info.raise_for_status()
            claims: dict[str, Any] = info.json()
        if claims.get("sub") != decoded.claims["sub"]:
            raise ValueError("userinfo is about someone else")
        return claims
