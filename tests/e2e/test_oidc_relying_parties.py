"""The provider against a live server, driven by two independent relying-party libraries:
Authlib's client (with ``private_key_jwt``) and pyoidc (``oic``, with
``client_secret_basic``): discovery → authorize → card login → consent → token; the ID token
checked against the JWKS (signature, iss, aud, nonce, exp, at_hash); userinfo → refresh →
revoke. The card login is the portal's own (``openmyna.card.login``: the phone fetches the
challenge, the card signs it); the browser is a plain HTTP client keeping cookies.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oidc.core import CodeIDToken
from browser import live_server
from joserfc import jwt
from joserfc.jwk import KeySet

sys.path.insert(0, str(Path(__file__).parents[1] / "portal"))
sys.path.insert(0, str(Path(__file__).parents[1] / "identity"))

from oidc_helpers import REDIRECT, register
from portal_helpers import AUTH_PIN, Holder, holder

from openmyna.builder import Builder
from openmyna.card import CardClient, MemoryTransport
from openmyna.card.login import fetch_challenge, post_answer, sign_challenge
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.platform import Platform
from openmyna.web import create_app


@dataclass
class Served:
    url: str
    platform: Platform
    clock: FixedClock
    person: Holder


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("oidc"))
    # pyoidc checks the ID token's exp against the wall clock: the provider's clock is now.
    clock = FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    platform = Platform(Builder(settings, clock))
    try:
        person = holder(platform)
        with live_server(create_app(platform)) as url:
            yield Served(url, platform, clock, person)
    finally:
        platform.close()


def walk(served: Served, authorization_url: str) -> str:
    """The person's browser: authorize → card login → consent → approve; the redirect."""
    base = served.url
    with httpx2.Client(base_url=base) as browser:
        went = browser.get(authorization_url)
        assert went.status_code == 303, went.text
        consent = went.headers["location"]
        screen = browser.get(consent)
        assert screen.status_code == 303
        assert screen.headers["location"].startswith("/login?next=")
        waiting = browser.get(screen.headers["location"])
        request_id = re.fullmatch(r"/login/wait/([0-9a-f]{32})", waiting.headers["location"])
        assert request_id is not None
        with httpx2.Client() as phone:
            challenge = fetch_challenge(phone, f"{base}/login/r/{request_id.group(1)}")
            card = CardClient(MemoryTransport(served.person.card))
            post_answer(phone, challenge, sign_challenge(card, challenge, AUTH_PIN))
        polled = browser.get(
            f"/login/wait/{request_id.group(1)}/status", headers={"HX-Request": "true"}
        )
        assert polled.headers.get("HX-Redirect") == consent
        page = browser.get(consent)
        assert page.status_code == 200
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf is not None
        answered = browser.post(
            consent,
            data={"csrf_token": csrf.group(1), "decision": "approve"},
            headers={"Origin": base},
        )
        assert answered.status_code == 303, answered.text
        return str(answered.headers["location"])


def test_authlib_client_with_private_key_jwt(served: Served) -> None:
    meta = requests.get(served.url + "/.well-known/openid-configuration", timeout=10).json()
    assert meta["issuer"] == served.url
    rp = register(served.platform, name="Authlib RP", auth="private_key_jwt")
    assert rp.key is not None
    session = OAuth2Session(
        rp.client_id,
        rp.key.as_dict(private=True),
        scope="openid",
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        token_endpoint_auth_method="private_key_jwt",
        revocation_endpoint_auth_method="private_key_jwt",
    )
    session.register_client_auth_method(PrivateKeyJWT(meta["token_endpoint"], alg="RS256"))
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(16)
    url, state = session.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    back = walk(served, url)
    token = session.fetch_token(
        meta["token_endpoint"], authorization_response=back, code_verifier=verifier, state=state
    )
    keys = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
    decoded = jwt.decode(token["id_token"], keys)
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        options={
            "iss": {"essential": True, "value": meta["issuer"]},
            "aud": {"essential": True, "value": rp.client_id},
        },
        params={"nonce": nonce, "client_id": rp.client_id, "access_token": token["access_token"]},
    )
    claims.validate(now=int(served.clock.now().timestamp()))
    assert claims["acr"] == "aal3 crl"
    assert "at_hash" in claims
    # A wrong nonce or a forged at_hash would not pass.
    with pytest.raises(Exception, match="nonce"):
        CodeIDToken(decoded.claims, decoded.header, params={"nonce": "other"}).validate(
            now=int(served.clock.now().timestamp())
        )
    info = session.get(meta["userinfo_endpoint"]).json()
    assert info["sub"] == claims["sub"]
    refreshed = session.refresh_token(meta["token_endpoint"])
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert session.get(meta["userinfo_endpoint"]).json()["sub"] == claims["sub"]
    revoked = session.revoke_token(meta["revocation_endpoint"], refreshed["access_token"])
    assert revoked.status_code == 200, revoked.text
    gone = session.get(meta["userinfo_endpoint"])
    assert gone.status_code == 401
    assert gone.json()["code"] == "TOKEN_INVALID"


def test_pyoidc_client_with_client_secret_basic(served: Served) -> None:
    from oic.oic import Client
    from oic.oic.message import AuthorizationResponse, RegistrationResponse
    from oic.utils.authn.client import CLIENT_AUTHN_METHOD

    rp = register(served.platform, name="pyoidc RP", auth="client_secret_basic")
    client = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    client.provider_config(served.url)
    client.store_registration_info(
        RegistrationResponse(
            client_id=rp.client_id, client_secret=rp.secret, redirect_uris=[REDIRECT]
        )
    )
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    challenge, verifier = client.add_code_challenge()
    request = client.construct_AuthorizationRequest(
        request_args={
            "response_type": "code",
            "scope": ["openid"],
            "state": state,
            "nonce": nonce,
            "redirect_uri": REDIRECT,
            **challenge,
        }
    )
    back = walk(served, request.request(client.authorization_endpoint))
    query = urlsplit(back).query
    parsed = client.parse_response(AuthorizationResponse, info=query, sformat="urlencoded")
    assert parsed["state"] == state
    tokens = client.do_access_token_request(
        state=state,
        request_args={"code": parsed["code"], "code_verifier": verifier, "redirect_uri": REDIRECT},
        authn_method="client_secret_basic",
    )
    id_token = tokens["id_token"]  # pyoidc verified it against the JWKS (signature, iss, aud)
    assert id_token["nonce"] == nonce
    assert id_token["aud"] == [rp.client_id]
    info = client.do_user_info_request(state=state)
    assert info["sub"] == id_token["sub"], info.to_dict()
    refreshed = client.do_access_token_refresh(state=state, authn_method="client_secret_basic")
    assert refreshed["access_token"] != tokens["access_token"]
    assert rp.secret is not None
    revoked = requests.post(
        served.url + "/oidc/revoke",
        data={"token": refreshed["refresh_token"], "token_type_hint": "refresh_token"},
        auth=(rp.client_id, rp.secret),
        timeout=10,
    )
    assert revoked.status_code == 200
    again = requests.post(
        served.url + "/oidc/token",
        data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]},
        auth=(rp.client_id, rp.secret),
        timeout=10,
    )
    assert again.json()["code"] == "REFRESH_INVALID"
    # The same person, another business: another subject.
    assert parse_qs(query)["code"][0]


def test_the_demo_bank_opens_an_account_with_the_four_items(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from oidc_helpers import sign_consent

    from openmyna.demo.bank import DemoBank

    settings = Settings(data_dir=tmp_path_factory.mktemp("bank"))
    clock = FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    platform = Platform(Builder(settings, clock))
    try:
        person = holder(platform)
        app = create_app(platform)
        app.router.routes.extend(DemoBank(platform.oidc).routes())
        with live_server(app) as base, httpx2.Client(base_url=base) as browser:
            assert "口座を開設する" in browser.get("/demo-bank").text
            to_provider = browser.get("/demo-bank/open")
            authorize = browser.get(to_provider.headers["location"])
            consent = authorize.headers["location"]
            waiting = browser.get(browser.get(consent).headers["location"])
            found = re.fullmatch(r"/login/wait/([0-9a-f]{32})", waiting.headers["location"])
            assert found is not None
            with httpx2.Client() as phone:
                challenge = fetch_challenge(phone, f"{base}/login/r/{found.group(1)}")
                card = CardClient(MemoryTransport(person.card))
                post_answer(phone, challenge, sign_challenge(card, challenge, AUTH_PIN))
            browser.get(f"/login/wait/{found.group(1)}/status", headers={"HX-Request": "true"})
            page = browser.get(consent)
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert csrf is not None
            opened = browser.post(
                consent + "/sign", data={"csrf_token": csrf.group(1)}, headers={"Origin": base}
            )
            url = re.search(r"sign-application (\S+)", opened.text)
            assert url is not None
            with httpx2.Client() as phone:
                task = phone.get(url.group(1)).json()
                signed = phone.post(
                    url.group(1), json={"cms": sign_consent(person.card, task, clock.now())}
                )
                assert signed.status_code == 200, signed.text
            approved = browser.post(
                consent,
                data={"csrf_token": csrf.group(1), "decision": "approve"},
                headers={"Origin": base},
            )
            done = browser.get(approved.headers["location"])
            assert done.status_code == 200, done.text
            assert "口座を開設しました" in done.text
            assert person.resident.date_of_birth.isoformat() in done.text
            assert "female" in done.text
    finally:
        platform.close()
