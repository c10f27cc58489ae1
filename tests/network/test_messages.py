"""Signed (JWS) and end-to-end encrypted (JWE) network messages."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from openmyna.clock import FixedClock
from openmyna.network import encryption, signing
from openmyna.network import messages as m
from openmyna.network.errors import (
    ExpiredMessage,
    MalformedMessage,
    MessageError,
    ReplayedMessage,
    SignerMismatch,
    TamperedContent,
    TamperedMessage,
    UnknownSigner,
    UntrustedReplyKey,
)

T0 = dt.datetime(2026, 11, 26, 5, 0, tzinfo=dt.UTC)
REQUESTER, HUB, PROVIDER = "lg-281000", "hub", "lg-102016"
KEYS = {a: ec.generate_private_key(ec.SECP256R1()) for a in (REQUESTER, HUB, PROVIDER)}
ITEM = {"item": "local_tax", "version": 1, "fiscal_year": 2026, "total_income": 4_200_000}


def resolve(kid: str) -> ec.EllipticCurvePublicKey | None:
    key = KEYS.get(kid)
    return key.public_key() if key else None


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def request(**over: Any) -> m.ExchangeRequest:
    fields: dict[str, Any] = {
        "message_id": m.new_message_id(),
        "sender": REQUESTER,
        "issued_at": T0,
        "expires_at": T0 + dt.timedelta(minutes=2),
        "idempotency_key": "child-allowance-0001",
        "requester_code": "abcdefghijklmnopqrstuvwxyz",
        "affair": "child_allowance",
        "item": "local_tax",
        "provider_agency": PROVIDER,
    }
    fields.update(over)
    return m.ExchangeRequest(**fields)


@pytest.fixture
def clk() -> FixedClock:
    return FixedClock(T0 + dt.timedelta(seconds=5))


def exchange(clk: FixedClock) -> tuple[str, str, str, str]:
    """Run one exchange through the four envelopes; return the four tokens."""
    req = request()
    t_req = signing.sign(req, KEYS[REQUESTER], REQUESTER)
    got = signing.verify(t_req, resolve, clock=clk, expected=m.ExchangeRequest)
    assert isinstance(got, m.ExchangeRequest)
    fwd = m.ForwardedRequest(
        message_id=m.new_message_id(),
        sender=HUB,
        issued_at=T0,
        expires_at=T0 + dt.timedelta(minutes=2),
        request_id=got.message_id,
        request_digest=m.token_digest(t_req),
        requester=REQUESTER,
        provider=PROVIDER,
        provider_code="zyxwvutsrqponmlkjihgfedcba",
        affair=got.affair,
        item=got.item,
        reply_key=encryption.public_jwk(KEYS[REQUESTER].public_key()),
    )
    t_fwd = signing.sign(fwd, KEYS[HUB], HUB)
    at_provider = signing.verify(t_fwd, resolve, clock=clk, expected=m.ForwardedRequest)
    assert isinstance(at_provider, m.ForwardedRequest)
    encryption.check_reply_key(at_provider, KEYS[REQUESTER].public_key())
    content = encryption.encrypt_for(ITEM, KEYS[REQUESTER].public_key(), request_id=fwd.request_id)
    ans = m.ProviderAnswer(
        message_id=m.new_message_id(),
        sender=PROVIDER,
        issued_at=T0,
        expires_at=T0 + dt.timedelta(minutes=2),
        request_id=fwd.request_id,
        forwarded_id=fwd.message_id,
        outcome="provided",
        content=content,
    )
    t_ans = signing.sign(ans, KEYS[PROVIDER], PROVIDER)
    res = m.ExchangeResult(
        message_id=m.new_message_id(),
        sender=HUB,
        issued_at=T0,
        expires_at=T0 + dt.timedelta(minutes=2),
        request_id=req.message_id,
        outcome="provided",
        provider=PROVIDER,
        answer=t_ans,
    )
    return t_req, t_fwd, t_ans, signing.sign(res, KEYS[HUB], HUB)


def test_full_exchange_round_trip(clk: FixedClock) -> None:
    t_req, _, _, t_res = exchange(clk)
    res = signing.verify(t_res, resolve, clock=clk, expected=m.ExchangeResult)
    assert isinstance(res, m.ExchangeResult)
    assert res.answer is not None
    ans = signing.verify(res.answer, resolve, clock=clk, expected=m.ProviderAnswer)
    assert isinstance(ans, m.ProviderAnswer)
    assert ans.content is not None
    assert ans.sender == PROVIDER
    assert ans.request_id == res.request_id
    assert encryption.decrypt(ans.content, KEYS[REQUESTER], request_id=ans.request_id) == ITEM
    assert len(m.token_digest(t_req)) == 64


def test_hub_cannot_read_the_content(clk: FixedClock) -> None:
    t_req, t_fwd, t_ans, t_res = exchange(clk)
    ans = signing.verify(t_ans, resolve, clock=clk)
    assert isinstance(ans, m.ProviderAnswer)
    assert ans.content is not None
    # The hub holds every token and its own key: the item's values appear nowhere in clear.
    for token in (t_req, t_fwd, t_ans, t_res):
        segments = [token.encode(), *[base64.urlsafe_b64decode(p + "==") for p in token.split(".")]]
        assert not any(b"4200000" in s for s in segments)
    with pytest.raises(TamperedContent):
        encryption.decrypt(ans.content, KEYS[HUB], request_id=ans.request_id)
    with pytest.raises(TamperedContent):
        encryption.decrypt(ans.content, KEYS[PROVIDER], request_id=ans.request_id)


def test_content_bound_to_request_and_tamper_evident() -> None:
    token = encryption.encrypt_for(ITEM, KEYS[REQUESTER].public_key(), request_id="a" * 32)
    with pytest.raises(TamperedContent):
        encryption.decrypt(token, KEYS[REQUESTER], request_id="b" * 32)
    parts = token.split(".")
    ct = bytearray(base64.urlsafe_b64decode(parts[3] + "=="))
    ct[0] ^= 1
    with pytest.raises(TamperedContent):
        encryption.decrypt(
            ".".join([*parts[:3], b64(bytes(ct)), parts[4]]), KEYS[REQUESTER], request_id="a" * 32
        )
    # A header rewritten to another request id breaks the GCM tag (the header is the AAD).
    header = json.loads(base64.urlsafe_b64decode(parts[0] + "=="))
    header["rid"] = "b" * 32
    forged = ".".join([b64(json.dumps(header).encode()), *parts[1:]])
    with pytest.raises(TamperedContent):
        encryption.decrypt(forged, KEYS[REQUESTER], request_id="b" * 32)
    with pytest.raises(TamperedContent):
        encryption.decrypt("not.a.jwe", KEYS[REQUESTER], request_id="a" * 32)


def test_tampered_payload_header_signature(clk: FixedClock) -> None:
    token = signing.sign(request(), KEYS[REQUESTER], REQUESTER)
    h, p, s = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(p + "=="))
    payload["item"] = "pension"
    header = json.loads(base64.urlsafe_b64decode(h + "=="))
    header["typ"] = "openmyna.provider_answer+jws"
    sig = bytearray(base64.urlsafe_b64decode(s + "=="))
    sig[10] ^= 0x40
    for bad in (
        f"{h}.{b64(json.dumps(payload).encode())}.{s}",
        f"{b64(json.dumps(header).encode())}.{p}.{s}",
        f"{h}.{p}.{b64(bytes(sig))}",
        f"{h}.{p}",
        f"{h}.{p}.{s}.x",
        "",
    ):
        with pytest.raises(TamperedMessage):
            signing.verify(bad, resolve, clock=clk)


def test_unknown_and_wrong_signer(clk: FixedClock) -> None:
    req = request(sender="lg-999999")
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(UnknownSigner):
        signing.verify(signing.sign(req, other, "lg-999999"), resolve, clock=clk)
    # Signed by someone else's key under the requester's kid: the signature fails.
    with pytest.raises(TamperedMessage):
        signing.verify(signing.sign(request(), other, REQUESTER), resolve, clock=clk)
    # A valid provider signature over an envelope claiming the requester as sender.
    h, p, _ = signing.sign(request(), KEYS[REQUESTER], REQUESTER).split(".")
    header = json.loads(base64.urlsafe_b64decode(h + "=="))
    header["kid"] = PROVIDER
    h2 = b64(json.dumps(header, separators=(",", ":")).encode())
    der = KEYS[PROVIDER].sign(f"{h2}.{p}".encode(), ec.ECDSA(hashes.SHA256()))
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(der)
    with pytest.raises(SignerMismatch):
        signing.verify(
            f"{h2}.{p}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}", resolve, clock=clk
        )
    with pytest.raises(ValueError, match="kid"):
        signing.sign(request(), KEYS[REQUESTER], PROVIDER)


def test_resolver_may_return_a_certificate(clk: FixedClock) -> None:
    key = KEYS[REQUESTER]
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, REQUESTER)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(T0)
        .not_valid_after(T0 + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    token = signing.sign(request(), key, REQUESTER)
    assert signing.verify(token, lambda kid: cert, clock=clk).sender == REQUESTER
    assert encryption.public_jwk(cert) == encryption.public_jwk(key.public_key())
    rsa_like = ec.generate_private_key(ec.SECP384R1()).public_key()
    with pytest.raises(UnknownSigner):
        signing.verify(token, lambda kid: rsa_like, clock=clk)


def test_expiry_not_before_and_window(clk: FixedClock) -> None:
    token = signing.sign(request(), KEYS[REQUESTER], REQUESTER)
    for at, ok in (
        (T0 - dt.timedelta(seconds=29), True),  # within skew before issued_at
        (T0 - dt.timedelta(seconds=31), False),  # not yet valid
        (T0 + dt.timedelta(minutes=2, seconds=29), True),  # within skew after expiry
        (T0 + dt.timedelta(minutes=2, seconds=30), False),  # expired
    ):
        clk.set(at)
        if ok:
            signing.verify(token, resolve, clock=clk)
        else:
            with pytest.raises(ExpiredMessage):
                signing.verify(token, resolve, clock=clk)
    long = request(expires_at=T0 + dt.timedelta(hours=1))
    clk.set(T0)
    with pytest.raises(ExpiredMessage):
        signing.verify(signing.sign(long, KEYS[REQUESTER], REQUESTER), resolve, clock=clk)


def test_replay_refused_then_forgotten_after_expiry(clk: FixedClock) -> None:
    guard = signing.InMemoryReplayGuard(clk)
    req = request()
    token = signing.sign(req, KEYS[REQUESTER], REQUESTER)
    signing.verify(token, resolve, clock=clk, replay_guard=guard)
    with pytest.raises(ReplayedMessage):
        signing.verify(token, resolve, clock=clk, replay_guard=guard)
    # Re-signing the same message id (a fresh signature) is still a replay.
    with pytest.raises(ReplayedMessage):
        signing.verify(
            signing.sign(req, KEYS[REQUESTER], REQUESTER), resolve, clock=clk, replay_guard=guard
        )
    # Another message from the same sender passes.
    signing.verify(
        signing.sign(request(), KEYS[REQUESTER], REQUESTER), resolve, clock=clk, replay_guard=guard
    )
    clk.set(T0 + dt.timedelta(minutes=10))
    assert guard.first_seen("x", "a" * 32, T0 + dt.timedelta(minutes=11))
    assert len(guard) == 1  # the two expired ids were pruned


def test_alg_none_and_hs256_with_public_key_refused(clk: FixedClock) -> None:
    token = signing.sign(request(), KEYS[REQUESTER], REQUESTER)
    _, p, _ = token.split(".")
    typ = "openmyna.exchange_request+jws"
    none_h = b64(json.dumps({"alg": "none", "kid": REQUESTER, "typ": typ}).encode())
    with pytest.raises(TamperedMessage):
        signing.verify(f"{none_h}.{p}.", resolve, clock=clk)
    pem = (
        KEYS[REQUESTER]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    hs_h = b64(json.dumps({"alg": "HS256", "kid": REQUESTER, "typ": typ}).encode())
    mac = hmac.new(pem, f"{hs_h}.{p}".encode(), hashlib.sha256).digest()
    with pytest.raises(TamperedMessage):
        signing.verify(f"{hs_h}.{p}.{b64(mac)}", resolve, clock=clk)
    extra_h = b64(json.dumps({"alg": "ES256", "kid": REQUESTER, "typ": typ, "jku": "x"}).encode())
    with pytest.raises(TamperedMessage):
        signing.verify(f"{extra_h}.{p}.{token.split('.')[2]}", resolve, clock=clk)


def test_expected_type_and_malformed_payload(clk: FixedClock) -> None:
    token = signing.sign(request(), KEYS[REQUESTER], REQUESTER)
    with pytest.raises(MalformedMessage):
        signing.verify(token, resolve, clock=clk, expected=m.ProviderAnswer)
    # A correctly signed payload that is not a valid envelope.
    h = b64(
        json.dumps(
            {"alg": "ES256", "kid": REQUESTER, "typ": "openmyna.exchange_request+jws"}
        ).encode()
    )
    p = b64(b'{"type":"exchange_request","sender":"lg-281000"}')
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(
        KEYS[REQUESTER].sign(f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256()))
    )
    with pytest.raises(MalformedMessage) as info:
        signing.verify(
            f"{h}.{p}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}", resolve, clock=clk
        )
    assert "exchange_request.message_id" in info.value.context["fields"]


def test_envelope_validation() -> None:
    with pytest.raises(ValidationError):
        request(provider_kind="municipality")  # both provider forms
    with pytest.raises(ValidationError):
        request(provider_agency=None)  # neither
    with pytest.raises(ValidationError):
        request(expires_at=T0)
    with pytest.raises(ValidationError):
        request(requester_code="123456789012")  # a number is not a code
    base: dict[str, Any] = {
        "message_id": "a" * 32,
        "sender": PROVIDER,
        "issued_at": T0,
        "expires_at": T0 + dt.timedelta(minutes=1),
        "request_id": "b" * 32,
        "forwarded_id": "c" * 32,
    }
    assert m.ProviderAnswer(**base, outcome="no_data").content is None
    with pytest.raises(ValidationError):
        m.ProviderAnswer(**base, outcome="provided")
    with pytest.raises(ValidationError):
        m.ProviderAnswer(**base, outcome="no_data", content="a.b.c.d.e")
    with pytest.raises(ValidationError):
        m.ProviderAnswer(**base, outcome="provided", content="a.b~c.d.e")  # not a JWE
    res: dict[str, Any] = {**base, "sender": HUB}
    del res["forwarded_id"]
    assert m.ExchangeResult(**res, outcome="not_allowed", error_code="NOT_ALLOWED").answer is None
    batch_answer = m.ExchangeResult(**res, outcome="no_data", provider=PROVIDER, answer="a.b.c~d~e")
    assert batch_answer.answer == "a.b.c~d~e"  # a batch-signed answer is relayed as is
    with pytest.raises(ValidationError):
        m.ExchangeResult(**res, outcome="not_allowed")
    with pytest.raises(ValidationError):
        m.ExchangeResult(**res, outcome="provided", error_code="X")


def test_reply_key_must_be_public_and_certified() -> None:
    jwk = encryption.public_jwk(KEYS[REQUESTER].public_key())
    fields: dict[str, Any] = {
        "message_id": "a" * 32,
        "sender": HUB,
        "issued_at": T0,
        "expires_at": T0 + dt.timedelta(minutes=1),
        "request_id": "b" * 32,
        "request_digest": "0" * 64,
        "requester": REQUESTER,
        "provider": PROVIDER,
        "provider_code": "zyxwvutsrqponmlkjihgfedcba",
        "affair": "child_allowance",
        "item": "local_tax",
    }
    fwd = m.ForwardedRequest(**fields, reply_key=jwk)
    encryption.check_reply_key(fwd, KEYS[REQUESTER].public_key())
    # A hub that substitutes its own key is caught by the provider.
    swapped = m.ForwardedRequest(**fields, reply_key=encryption.public_jwk(KEYS[HUB].public_key()))
    with pytest.raises(UntrustedReplyKey):
        encryption.check_reply_key(swapped, KEYS[REQUESTER].public_key())
    with pytest.raises(ValidationError):
        m.ForwardedRequest(**fields, reply_key={**jwk, "d": "AAAA"})  # a private key
    with pytest.raises(ValidationError):
        m.ForwardedRequest(**fields, reply_key={**jwk, "x": jwk["y"]})  # not on the curve


_TOKEN = signing.sign(request(), KEYS[REQUESTER], REQUESTER)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.integers(0, len(_TOKEN) - 1), st.integers(1, 255)), min_size=1, max_size=3
    )
)
def test_random_byte_flips_never_verify(flips: list[tuple[int, int]]) -> None:
    raw = bytearray(_TOKEN.encode())
    for pos, mask in flips:
        raw[pos] ^= mask
    bad = raw.decode("latin-1")
    if bad == _TOKEN:
        return
    clk = FixedClock(T0 + dt.timedelta(seconds=5))
    with pytest.raises(MessageError):
        signing.verify(bad, resolve, clock=clk)


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 13])
def test_batch_round_trip(clk: FixedClock, count: int) -> None:
    envelopes: list[m.Envelope] = [request() for _ in range(count)]
    tokens = signing.sign_many(envelopes, KEYS[REQUESTER], REQUESTER)
    guard = signing.InMemoryReplayGuard(clk)
    assert len({t.split(signing.BATCH_SEPARATOR)[0] for t in tokens}) == 1  # one signature
    got = [signing.verify(t, resolve, clock=clk, replay_guard=guard) for t in tokens]
    assert got == envelopes
    with pytest.raises(ReplayedMessage):
        signing.verify(tokens[-1], resolve, clock=clk, replay_guard=guard)


def test_batch_tampering_refused(clk: FixedClock) -> None:
    tokens = signing.sign_many([request() for _ in range(5)], KEYS[REQUESTER], REQUESTER)
    batch, payload, proof = tokens[2].split(signing.BATCH_SEPARATOR)
    other_payload = tokens[3].split(signing.BATCH_SEPARATOR)[1]
    data = json.loads(base64.urlsafe_b64decode(proof + "=="))
    changed = json.loads(base64.urlsafe_b64decode(payload + "=="))
    changed["item"] = "pension"
    bad_proofs = [
        {**data, "i": 3},
        {**data, "path": data["path"][:-1]},
        {**data, "path": [*data["path"], "0" * 64]},
        {**data, "path": ["0" * 64, *data["path"][1:]]},
        {**data, "i": -1},
        {**data, "i": True},
        {"i": 2},
    ]
    bad = [
        f"{batch}~{other_payload}~{proof}",  # another envelope with this one's proof
        f"{batch}~{b64(json.dumps(changed).encode())}~{proof}",
        f"{batch}~{payload}",
        *(f"{batch}~{payload}~{b64(json.dumps(p).encode())}" for p in bad_proofs),
    ]
    for token in bad:
        with pytest.raises(TamperedMessage):
            signing.verify(token, resolve, clock=clk)
    # The batch JWS on its own is not an envelope; a batch signed by the wrong key fails.
    with pytest.raises(TamperedMessage):
        signing.verify(batch, resolve, clock=clk)
    forged = signing.sign_many([request()], ec.generate_private_key(ec.SECP256R1()), REQUESTER)[0]
    with pytest.raises(TamperedMessage):
        signing.verify(forged, resolve, clock=clk)
    with pytest.raises(UnknownSigner):
        signing.verify(
            signing.sign_many([request(sender="nobody")], KEYS[HUB], "nobody")[0],
            resolve,
            clock=clk,
        )
    with pytest.raises(ValueError, match="kid"):
        signing.sign_many([request()], KEYS[HUB], HUB)
    with pytest.raises(ValueError, match="batch"):
        signing.sign_many([], KEYS[HUB], HUB)


_BATCH_TOKEN = signing.sign_many([request() for _ in range(3)], KEYS[REQUESTER], REQUESTER)[1]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, len(_BATCH_TOKEN) - 1), st.integers(1, 255)),
        min_size=1,
        max_size=3,
    )
)
def test_random_byte_flips_never_verify_batch(flips: list[tuple[int, int]]) -> None:
    raw = bytearray(_BATCH_TOKEN.encode())
    for pos, mask in flips:
        raw[pos] ^= mask
    bad = raw.decode("latin-1")
    if bad == _BATCH_TOKEN:
        return
    clk = FixedClock(T0 + dt.timedelta(seconds=5))
    with pytest.raises(MessageError):
        signing.verify(bad, resolve, clock=clk)


def test_non_canonical_base64_refused(clk: FixedClock) -> None:
    # 64 signature bytes leave 4 unused bits in the last character: a lenient decoder would
    # accept a changed token with the same bytes, so "every changed token fails" needs this.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = alphabet.index(_TOKEN[-1])
    bad = _TOKEN[:-1] + alphabet[index ^ 1]
    same = base64.urlsafe_b64decode(bad.split(".")[2] + "==")
    assert same == base64.urlsafe_b64decode(_TOKEN.split(".")[2] + "==")
    with pytest.raises(TamperedMessage, match="canonical"):
        signing.verify(bad, resolve, clock=clk)
