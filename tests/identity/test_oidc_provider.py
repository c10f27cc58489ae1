"""The provider in process: authorize → card login → consent (with and without the
signature step) → token → userinfo → refresh → revoke, and each refusal with its code."""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet

sys.path.insert(0, str(Path(__file__).parents[1] / "portal"))

from login_helpers import card_login
from oidc_helpers import (
    REDIRECT,
    Registered,
    auth_params,
    card_url_of,
    consent_id,
    csrf_of,
    pkce,
    redirect_params,
    register,
    sign_consent,
)
from portal_helpers import Holder, holder

from openmyna.builder import Builder
from openmyna.card import CardClient, MemoryTransport
from openmyna.clock import FixedClock
from openmyna.config import Settings
from openmyna.platform import Platform
from openmyna.web import create_app

ORIGIN = "http://127.0.0.1"


@pytest.fixture
def platform(settings: Settings, clock: FixedClock) -> Iterator[Platform]:
    built = Platform(Builder(settings, clock))
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def browser(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform), base_url=ORIGIN) as c:
        yield c


def authorize(browser: TestClient, params: dict[str, str]) -> Any:
    return browser.get("/oidc/authorize", params=params, follow_redirects=False)


def logged_in_consent(browser: TestClient, person: Holder, params: dict[str, str]) -> str:
    """authorize → (not logged in) login → back to the consent screen: its id."""
    went = authorize(browser, params)
    assert went.status_code == 303, went.text
    path = went.headers["location"]
    screen = browser.get(path, follow_redirects=False)
    assert screen.status_code == 303
    assert screen.headers["location"].startswith("/login?next=")
    done = card_login(browser, person.card, path)
    assert done.headers.get("HX-Redirect") == path, done.text
    return consent_id(path)


def approve(browser: TestClient, authorization_id: str) -> dict[str, str]:
    page = browser.get(f"/oidc/consent/{authorization_id}")
    assert page.status_code == 200, page.text
    answered = browser.post(
        f"/oidc/consent/{authorization_id}",
        data={"csrf_token": csrf_of(page.text), "decision": "approve"},
        follow_redirects=False,
    )
    assert answered.status_code == 303, answered.text
    return redirect_params(answered.headers["location"])


def token(browser: TestClient, rp: Registered, **form: str) -> Any:
    assert rp.secret is not None
    return browser.post("/oidc/token", data=form, auth=(rp.client_id, rp.secret))


def redeem(browser: TestClient, rp: Registered, code: str, verifier: str) -> Any:
    """The token request for an authorization code, as the client sends it."""
    return token(
        browser,
        rp,
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        code_verifier=verifier,
    )


def test_discovery_and_jwks(browser: TestClient) -> None:
    meta = browser.get("/.well-known/openid-configuration").json()
    assert meta["issuer"] == ORIGIN
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["response_types_supported"] == ["code"]
    assert "private_key_jwt" in meta["token_endpoint_auth_methods_supported"]
    assert meta["subject_types_supported"] == ["pairwise"]
    keys = browser.get("/oidc/jwks").json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA"
    assert "d" not in keys[0]


def test_code_flow_token_userinfo_refresh_revoke(platform: Platform, browser: TestClient) -> None:
    person = holder(platform)
    rp = register(platform)
    verifier, challenge = pkce()
    params = auth_params(rp.client_id, challenge)
    back = approve(browser, logged_in_consent(browser, person, params))
    assert back["state"] == params["state"]
    got = redeem(browser, rp, back["code"], verifier)
    assert got.status_code == 200, got.text
    tokens = got.json()
    keys = KeySet.import_key_set(browser.get("/oidc/jwks").json())
    id_token = jwt.decode(tokens["id_token"], keys)
    claims = id_token.claims
    assert claims["iss"] == ORIGIN
    assert claims["aud"] == [rp.client_id]
    assert claims["nonce"] == params["nonce"]
    assert claims["acr"] == "aal3 crl"
    assert "name" not in claims  # no 4 items without their scopes
    info = browser.get(
        "/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    ).json()
    assert info == {"sub": claims["sub"]}
    refreshed = token(
        browser, rp, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refreshed.status_code == 200, refreshed.text
    new = refreshed.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    # Rotation: the old refresh token and its access token are gone.
    again = token(browser, rp, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert again.status_code == 400
    assert again.json()["code"] == "REFRESH_INVALID"
    old = browser.get(
        "/oidc/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert old.status_code == 401
    assert old.json()["code"] == "TOKEN_INVALID"
    assert rp.secret is not None
    revoked = browser.post(
        "/oidc/revoke", data={"token": new["access_token"]}, auth=(rp.client_id, rp.secret)
    )
    assert revoked.status_code == 200
    gone = browser.get("/oidc/userinfo", headers={"Authorization": f"Bearer {new['access_token']}"})
    assert gone.status_code == 401
    reused = redeem(browser, rp, back["code"], verifier)
    assert reused.status_code == 400
    assert reused.json()["code"] == "CODE_USED"


def test_four_items_come_from_the_signature_certificate(
    platform: Platform, browser: TestClient
) -> None:
    person = holder(platform)
    rp = register(platform, scopes=["openid", "name", "address", "birthdate", "gender"])
    verifier, challenge = pkce()
    params = auth_params(rp.client_id, challenge, scope="openid name address birthdate gender")
    authorization_id = logged_in_consent(browser, person, params)
    page = browser.get(f"/oidc/consent/{authorization_id}")
    # Approving before signing is refused.
    early = browser.post(
        f"/oidc/consent/{authorization_id}",
        data={"csrf_token": csrf_of(page.text), "decision": "approve"},
        follow_redirects=False,
    )
    assert early.status_code == 409
    assert "OIDC_SIGNATURE_REQUIRED" in early.text
    opened = browser.post(
        f"/oidc/consent/{authorization_id}/sign", data={"csrf_token": csrf_of(page.text)}
    )
    url = card_url_of(opened.text)
    phone = TestClient(browser.app, base_url=ORIGIN)
    task = phone.get(url).json()
    assert task["kind"] == "sign"
    answered = phone.post(url, json={"cms": sign_consent(person.card, task, platform.clock.now())})
    assert answered.status_code == 200, answered.text
    back = approve(browser, authorization_id)
    got = redeem(browser, rp, back["code"], verifier).json()
    info = browser.get(
        "/oidc/userinfo", headers={"Authorization": f"Bearer {got['access_token']}"}
    ).json()
    r = person.resident
    assert info["name"].replace("　", " ").replace(" ", "") == f"{r.family_name}{r.given_name}"
    assert info["birthdate"] == r.date_of_birth.isoformat()
    assert info["gender"] == "female"
    assert info["address"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "PKCE_REQUIRED"),
        ({"code_challenge_method": "plain"}, "PKCE_METHOD_REFUSED"),
        ({"state": None}, "PARAMETER_MISSING"),
        ({"nonce": None}, "PARAMETER_MISSING"),
        ({"scope": "openid name"}, "SCOPE_NOT_ALLOWED"),
        ({"scope": "openid email"}, "SCOPE_NOT_ALLOWED"),
        ({"response_type": "token"}, "UNSUPPORTED_RESPONSE_TYPE"),
        ({"acr_values": "aal1"}, "ACR_UNSUPPORTED"),
    ],
)
def test_refused_requests_go_back_with_their_code(
    platform: Platform, browser: TestClient, change: dict[str, str | None], code: str
) -> None:
    rp = register(platform)
    params = auth_params(rp.client_id, pkce()[1])
    for key, value in change.items():
        if value is None:
            params.pop(key)
        else:
            params[key] = value
    went = authorize(browser, params)
    assert went.status_code == 303, went.text
    back = redirect_params(went.headers["location"])
    assert back.get("code", "").upper() == code or back["error"].upper() == code, back
    assert back.get("state") == params.get("state")


def test_wrong_redirect_uri_is_shown_not_followed(platform: Platform, browser: TestClient) -> None:
    rp = register(platform)
    params = auth_params(rp.client_id, pkce()[1], redirect_uri="https://bank.example/callback/x")
    went = authorize(browser, params)
    assert went.status_code == 400
    assert "REDIRECT_URI_MISMATCH" in went.text
    assert "location" not in went.headers


def test_expired_code_and_another_clients_code(
    platform: Platform, browser: TestClient, clock: FixedClock
) -> None:
    person = holder(platform)
    rp = register(platform)
    other = register(platform, name="別の事業者")
    verifier, challenge = pkce()
    back = approve(
        browser, logged_in_consent(browser, person, auth_params(rp.client_id, challenge))
    )
    form = {
        "grant_type": "authorization_code",
        "code": back["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    stolen = token(browser, other, **form)
    assert stolen.status_code == 400
    assert stolen.json()["code"] == "CODE_OTHER_CLIENT"
    clock.advance(dt.timedelta(minutes=3))
    late = token(browser, rp, **form)
    assert late.status_code == 400
    assert late.json()["code"] == "CODE_EXPIRED"


def test_replayed_nonce_and_revoked_card(platform: Platform, browser: TestClient) -> None:
    person = holder(platform)
    rp = register(platform)
    verifier, challenge = pkce()
    params = auth_params(rp.client_id, challenge)
    back = approve(browser, logged_in_consent(browser, person, params))
    got = redeem(browser, rp, back["code"], verifier).json()
    replay = dict(params, state="again")
    went = authorize(browser, replay)
    assert redirect_params(went.headers["location"])["code"] == "NONCE_REPLAYED"
    serial = CardClient(MemoryTransport(person.card)).auth_certificate().serial_number
    platform.jpki.revoke(serial)
    info = browser.get("/oidc/userinfo", headers={"Authorization": f"Bearer {got['access_token']}"})
    assert info.status_code == 401
    assert info.json()["code"] == "TOKEN_INVALID"
    refreshed = token(browser, rp, grant_type="refresh_token", refresh_token=got["refresh_token"])
    assert refreshed.status_code == 400
    assert refreshed.json()["code"] == "CERTIFICATE_REVOKED"


def _sub(platform: Platform, browser: TestClient, person: Holder, rp: Registered) -> str:
    """A whole login of ``person`` at ``rp``: the ID token's subject."""
    verifier, challenge = pkce()
    back = approve(
        browser, logged_in_consent(browser, person, auth_params(rp.client_id, challenge))
    )
    got = redeem(browser, rp, back["code"], verifier).json()
    keys = KeySet.import_key_set(browser.get("/oidc/jwks").json())
    return str(jwt.decode(got["id_token"], keys).claims["sub"])


def test_the_subject_is_pairwise_and_survives_a_card_renewal(
    platform: Platform, browser: TestClient
) -> None:
    person = holder(platform)
    bank = register(platform)
    shop = register(platform, name="別の事業者", redirect_uri="https://shop.example/callback")
    first = _sub(platform, browser, person, bank)
    browser.cookies.clear()
    reissued = platform.cards.reissue(
        person.resident.resident_code,
        auth_pin="1234",
        sign_password="ABC123XYZ",
        identity_check="旅券",
    )
    renewed = Holder(person.resident, reissued.card)
    assert _sub(platform, browser, renewed, bank) == first
    # Never the number nor a serial; another sector sees another subject.
    assert person.resident.individual_number not in first
    serial = CardClient(MemoryTransport(reissued.card)).auth_certificate().serial_number
    assert format(serial, "x") not in first
    assert str(serial) not in first
    other = platform.oidc.provider.subject("shop.example", _account(platform, renewed))
    assert other != first
    assert shop.client_id


def _account(platform: Platform, person: Holder) -> str:
    from portal_helpers import authenticate

    return platform.portal.accounts.for_login(authenticate(platform, person.card)).account_id


def test_a_rotated_key_keeps_verifying_until_its_tokens_expire(
    platform: Platform, browser: TestClient, clock: FixedClock
) -> None:
    person = holder(platform)
    rp = register(platform)
    verifier, challenge = pkce()
    back = approve(
        browser, logged_in_consent(browser, person, auth_params(rp.client_id, challenge))
    )
    got = redeem(browser, rp, back["code"], verifier).json()
    old_kid = jwt.decode(got["id_token"], KeySet.import_key_set(browser.get("/oidc/jwks").json()))
    new_kid = platform.oidc.provider.keys.rotate()
    published = browser.get("/oidc/jwks").json()
    assert {k["kid"] for k in published["keys"]} == {old_kid.header["kid"], new_kid}
    # The old token still verifies with the JWKS as published after the rotation.
    jwt.decode(got["id_token"], KeySet.import_key_set(published))
    clock.advance(dt.timedelta(minutes=16))
    later = browser.get("/oidc/jwks").json()
    assert [k["kid"] for k in later["keys"]] == [new_kid]


def test_another_persons_authorization_and_csrf_are_refused(
    platform: Platform, browser: TestClient
) -> None:
    hanako = holder(platform)
    rp = register(platform)
    authorization_id = logged_in_consent(browser, hanako, auth_params(rp.client_id, pkce()[1]))
    page = browser.get(f"/oidc/consent/{authorization_id}")
    # Without the CSRF token, or from another site, nothing is decided.
    bare = browser.post(f"/oidc/consent/{authorization_id}", data={"decision": "approve"})
    assert bare.status_code == 403
    forged = browser.post(
        f"/oidc/consent/{authorization_id}",
        data={"csrf_token": csrf_of(page.text), "decision": "approve"},
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status_code == 403
    # Another person, logged in elsewhere, cannot open or answer Hanako's request.
    ichiro = holder(platform, "佐藤", "一郎")
    other = TestClient(browser.app, base_url=ORIGIN)
    card_login(other, ichiro.card, "/")
    seen = other.get(f"/oidc/consent/{authorization_id}")
    assert seen.status_code == 404
    assert "OIDC_AUTHORIZATION_NOT_FOUND" in seen.text
    answered = other.post(
        f"/oidc/consent/{authorization_id}",
        data={"csrf_token": csrf_of(other.get("/").text), "decision": "approve"},
    )
    assert answered.status_code == 404
    # Declining sends Hanako back with access_denied; the request is then closed.
    declined = browser.post(
        f"/oidc/consent/{authorization_id}",
        data={"csrf_token": csrf_of(page.text), "decision": "deny"},
        follow_redirects=False,
    )
    assert redirect_params(declined.headers["location"])["error"] == "access_denied"
    assert browser.get(f"/oidc/consent/{authorization_id}").status_code == 404


def test_hostile_and_oversized_input(platform: Platform, browser: TestClient) -> None:
    rp = register(platform)
    # A script in a parameter shown on the error page is escaped, not run.
    went = authorize(browser, {"client_id": "<script>alert(1)</script>", "response_type": "code"})
    assert went.status_code == 400
    assert "<script>alert(1)</script>" not in went.text
    # An oversized token request is refused as a malformed one, not a 5xx.
    assert rp.secret is not None
    huge = browser.post(
        "/oidc/token",
        content=b"grant_type=authorization_code&code=" + b"A" * 100_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=(rp.client_id, rp.secret),
    )
    assert huge.status_code == 400
    # A malformed card answer and an unknown one-time URL are problems with their codes.
    assert browser.get("/oidc/card/nope").status_code == 404
    bad = browser.post("/oidc/card/nope", content=b"{not json")
    assert bad.status_code in (400, 404)
    # The userinfo endpoint wants exactly one Bearer token.
    none = browser.get("/oidc/userinfo")
    assert none.status_code == 401
    assert none.json()["code"] == "TOKEN_INVALID"
    # A client whose registration is removed gets nothing more.
    platform.oidc.clients.remove(rp.client_id)
    gone = authorize(browser, auth_params(rp.client_id, pkce()[1]))
    assert gone.status_code == 400
    assert "CLIENT_UNKNOWN" in gone.text


def test_the_demo_wallet_signs_the_consent(settings: Settings, clock: FixedClock) -> None:
    from login_helpers import demo_cards, served, with_portal
    from portal_helpers import SIGN_PASSWORD

    with served(with_portal(settings, demo_wallet=True), clock) as (demo, browser):
        person = holder(demo)
        other = holder(demo, "佐藤", "一郎")
        demo_cards(demo, {"hanako": person, "ichiro": other})
        rp = register(demo, scopes=["openid", "name", "birthdate"])
        verifier, challenge = pkce()
        params = auth_params(rp.client_id, challenge, scope="openid name birthdate")
        authorization_id = logged_in_consent(browser, person, params)
        page = browser.get(f"/oidc/consent/{authorization_id}")
        opened = browser.post(
            f"/oidc/consent/{authorization_id}/sign", data={"csrf_token": csrf_of(page.text)}
        )
        wallet = re.search(r'href="(/oidc/wallet/[A-Za-z0-9_-]+)"', opened.text)
        assert wallet is not None
        assert browser.get(wallet.group(1)).status_code == 200
        # Another person's card is refused; a wrong password too; then the right one signs.
        wrong = browser.post(wallet.group(1), data={"card": "ichiro", "secret": SIGN_PASSWORD})
        assert wrong.status_code == 400
        assert "SIGNER_NOT_APPLICANT" in wrong.text
        signed = browser.post(
            wallet.group(1),
            data={"card": "hanako", "secret": SIGN_PASSWORD},
            follow_redirects=False,
        )
        assert signed.status_code == 303
        assert signed.headers["location"] == f"/oidc/consent/{authorization_id}"
        back = approve(browser, authorization_id)
        got = redeem(browser, rp, back["code"], verifier).json()
        info = browser.get(
            "/oidc/userinfo", headers={"Authorization": f"Bearer {got['access_token']}"}
        ).json()
        assert info["birthdate"] == person.resident.date_of_birth.isoformat()
        assert "address" not in info


def test_no_token_reaches_the_logs(
    platform: Platform, browser: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    person = holder(platform)
    rp = register(platform)
    verifier, challenge = pkce()
    back = approve(
        browser, logged_in_consent(browser, person, auth_params(rp.client_id, challenge))
    )
    got = redeem(browser, rp, back["code"], verifier).json()
    logged = caplog.text
    assert got["access_token"] not in logged
    assert got["refresh_token"] not in logged
    assert back["code"] not in logged
