"""申請 (P5) end to end over HTTP, on both storage backends: pre-fill with consent only,
signing with a real JPKI card, openssl on the CMS, refused signatures, one submission per
application, and the status the applicant follows."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import cms as asn1_cms
from cryptography.hazmat.primitives import serialization
from eapply_helpers import (
    CHILD_ALLOWANCE_ANSWERS,
    DISASTER,
    answer_prefill,
    csrf,
    document_of,
    post_cms,
    request_prefill,
    request_signature,
    save,
    signed,
    start,
    submitted,
)
from fastapi.testclient import TestClient
from portal_helpers import AUTH_PIN, SIGN_PASSWORD, holder, login
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from openmyna.card import CardClient, MemoryTransport
from openmyna.card.eapply_app import read_items, sign_document
from openmyna.clock import FixedClock
from openmyna.pki import CertKind, RevocationReason
from openmyna.platform import Platform
from openmyna.portal.eapply.canonical import read_document
from openmyna.portal.eapply.errors import (
    ApplicationNotFound,
    ReasonRequired,
    StatusConflict,
)
from openmyna.portal.eapply.models import ApplicationStatus, Outcome
from openmyna.portal.eapply.tables import application_events, applications, card_requests

OPENSSL = shutil.which("openssl")


def _number_of(platform: Platform, card: object) -> str:
    return CardClient(MemoryTransport(card)).read_individual_number(AUTH_PIN)  # type: ignore[arg-type]


# --- pre-fill ---------------------------------------------------------------------------


def test_prefill_needs_consent_and_fills_only_what_the_form_takes(
    client: TestClient, platform: Platform
) -> None:
    who = holder(platform)
    login(platform, client, who.card)
    draft = start(client)
    refused = client.post(f"{draft}/prefill", data={"csrf_token": csrf(client)})
    assert refused.status_code == 422
    assert "同意が必要です" in refused.text
    assert "/services/card/" not in refused.text
    with platform.portal.eapply.store.transaction() as s:
        assert s.execute(select(card_requests)).first() is None  # nothing was asked of the card
    token = request_prefill(client, draft)
    task = client.get(f"/services/card/{token}").json()
    assert task["kind"] == "prefill"
    # The child-allowance claim states the claimant's number: only then is it asked for.
    assert task["items"] == ["name", "address", "date_of_birth", "sex", "individual_number"]
    items = answer_prefill(client, who.card, token)
    page = client.get(draft).text
    assert 'value="山田 花子"' in page
    assert 'value="1985-02-03"' in page
    assert "カードから入力" in page
    number = items["individual_number"]
    assert number not in page  # kept on the server, shown masked
    assert f"**** **** {number[-4:]}" in page
    again = client.post(f"/services/card/{token}", json=items)  # one-time
    assert again.status_code == 409
    assert again.json()["title"] == "CARD_REQUEST_USED"


def test_a_form_without_the_number_never_receives_it(
    client: TestClient, platform: Platform
) -> None:
    who = holder(platform)
    login(platform, client, who.card)
    draft = start(client, DISASTER)
    token = request_prefill(client, draft)
    task = client.get(f"/services/card/{token}").json()
    assert task["items"] == ["name", "address", "date_of_birth"]
    chip = CardClient(MemoryTransport(who.card))
    items = read_items(chip, AUTH_PIN, [*task["items"], "individual_number"])
    refused = client.post(f"/services/card/{token}", json=items)
    assert refused.status_code == 400
    assert refused.json()["title"] == "CARD_ANSWER_INVALID"
    extra = client.post(f"/services/card/{token}", json={**items, "note": "x"})
    assert extra.json()["title"] == "CARD_ANSWER_INVALID"
    with platform.portal.eapply.store.transaction() as s:
        stored = s.execute(text("SELECT answers FROM drafts")).scalar_one()
    assert items["individual_number"] not in stored
    answer_prefill(client, who.card, token)  # the items asked for are taken


def test_a_card_request_expires(client: TestClient, platform: Platform, clock: FixedClock) -> None:
    login(platform, client, holder(platform).card)
    token = request_prefill(client, start(client))
    clock.advance(dt.timedelta(minutes=6))
    late = client.get(f"/services/card/{token}")
    assert late.status_code == 404
    assert late.json()["title"] == "CARD_REQUEST_NOT_FOUND"
    assert client.get("/services/card/" + "x" * 43).status_code == 404


# --- signing ----------------------------------------------------------------------------


def _ready(client: TestClient, platform: Platform, who: object) -> str:
    draft = start(client)
    answer_prefill(client, who.card, request_prefill(client, draft))  # type: ignore[attr-defined]
    assert save(client, draft, CHILD_ALLOWANCE_ANSWERS).status_code == 303
    return draft


def test_signing_with_the_card_submits_a_cms_openssl_accepts(
    client: TestClient, platform: Platform, tmp_path: Path
) -> None:
    who = holder(platform)
    login(platform, client, who.card)
    draft = _ready(client, platform, who)
    confirm = client.get(f"{draft}/confirm")
    assert confirm.status_code == 200
    assert "電子署名へ進む" in confirm.text
    token = request_signature(client, draft)
    document = document_of(client, token)
    body = read_document(document)
    assert body["receiver"]["lg_code"] == "102016"
    assert body["answers"]["children"][0]["name"] == "山田 一郎"
    done = post_cms(client, token, signed(platform, who.card, document))
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "submitted"
    application_id = draft.rsplit("/", 1)[1]
    with platform.portal.eapply.store.transaction() as s:
        row = s.execute(select(applications)).mappings().one()
    assert bytes(row["document"]) == document
    assert row["status"] == "submitted"
    if OPENSSL is not None:
        (tmp_path / "doc.json").write_bytes(bytes(row["document"]))
        (tmp_path / "sig.p7s").write_bytes(bytes(row["cms"]))
        ca = platform.jpki.ca_certificate(CertKind.SIGN)
        (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        verified = subprocess.run(
            [
                OPENSSL, "cms", "-verify", "-binary", "-inform", "DER",
                "-in", str(tmp_path / "sig.p7s"), "-content", str(tmp_path / "doc.json"),
                "-CAfile", str(tmp_path / "ca.pem"), "-purpose", "any",
                "-attime", str(int(platform.clock.now().timestamp())), "-out", "/dev/null",
            ],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert verified.returncode == 0, verified.stderr
    page = client.get(f"/services/applications/{application_id}")
    assert page.status_code == 200
    assert row["reference"] in page.text
    assert "申請済み" in page.text


def test_a_repeated_post_of_the_signature_submits_once(
    client: TestClient, platform: Platform
) -> None:
    who = holder(platform)
    login(platform, client, who.card)
    draft = _ready(client, platform, who)
    token = request_signature(client, draft)
    cms = signed(platform, who.card, document_of(client, token))
    first = post_cms(client, token, cms)
    second = post_cms(client, token, cms)
    assert first.status_code == second.status_code == 200
    assert first.json()["reference"] == second.json()["reference"]
    with platform.portal.eapply.store.transaction() as s:
        assert len(s.execute(select(applications)).all()) == 1
        assert len(s.execute(select(application_events)).all()) == 1
    # The draft is spent: it cannot be signed again under a new request.
    again = client.post(f"{draft}/sign", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].startswith("/services/applications/")


def _resign(cms: bytes, change: str) -> bytes:
    info = asn1_cms.ContentInfo.load(cms)
    signer = info["content"]["signer_infos"][0]
    if change == "signature":
        raw = bytearray(signer["signature"].native)
        raw[10] ^= 0x01
        signer["signature"] = bytes(raw)
    return bytes(info.dump(force=True))


def test_forged_other_and_revoked_signatures_are_refused(
    client: TestClient, platform: Platform
) -> None:
    who = holder(platform)
    other = holder(platform, "佐藤", "次郎")
    login(platform, client, who.card)
    draft = _ready(client, platform, who)
    token = request_signature(client, draft)
    document = document_of(client, token)
    good = signed(platform, who.card, document)

    forged = post_cms(client, token, _resign(good, "signature"))
    assert forged.json()["title"] == "BAD_CHALLENGE_SIGNATURE"
    other_content = post_cms(client, token, signed(platform, who.card, document + b" "))
    assert other_content.json()["title"] == "CMS_DIGEST_MISMATCH"
    someone_else = post_cms(client, token, signed(platform, other.card, document))
    assert someone_else.status_code == 403
    assert someone_else.json()["title"] == "SIGNER_NOT_APPLICANT"
    junk = post_cms(client, token, b"\x30\x00")
    assert junk.json()["title"] == "CMS_MALFORMED"
    not_base64 = client.post(f"/services/card/{token}", json={"cms": "@@@"})
    assert not_base64.json()["title"] == "CARD_ANSWER_INVALID"
    waiting = client.get(f"{draft}/card/x")  # another request id: not found
    assert waiting.status_code == 404

    [record] = [
        r for r in platform.jpki.certificates_of(who.resident.resident_code)
        if r.kind is CertKind.SIGN
    ]  # fmt: skip
    platform.jpki.revoke(record.serial, RevocationReason.KEY_COMPROMISE)
    revoked = post_cms(client, token, good)
    assert revoked.json()["title"] == "CERT_REVOKED"
    with platform.portal.eapply.store.transaction() as s:
        assert s.execute(select(applications)).first() is None
        last = s.execute(select(card_requests.c.last_error)).scalars().all()
    assert "CERT_REVOKED" in last


def test_a_signing_time_outside_the_request_is_refused(
    client: TestClient, platform: Platform
) -> None:
    who = holder(platform)
    login(platform, client, who.card)
    token = request_signature(client, _ready(client, platform, who))
    document = document_of(client, token)
    chip = CardClient(MemoryTransport(who.card))
    early = platform.clock.now() - dt.timedelta(hours=1)
    cms = sign_document(chip, SIGN_PASSWORD, document, signing_time=early)
    assert post_cms(client, token, cms).json()["title"] == "SIGNING_TIME_INVALID"


def test_an_incomplete_form_is_not_signed(client: TestClient, platform: Platform) -> None:
    login(platform, client, holder(platform).card)
    draft = start(client)
    went = client.post(f"{draft}/sign", data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert went.status_code == 303
    assert went.headers["location"] == draft
    assert client.get(f"{draft}/confirm", follow_redirects=False).status_code == 303


# --- status -------------------------------------------------------------------------------


def test_the_applicant_follows_the_status_to_the_decision(
    client: TestClient, platform: Platform
) -> None:
    who = holder(platform)
    login(platform, client, who.card)
    application_id = submitted(client, platform, who)
    office = platform.portal.eapply.office
    [queued] = office.inbox("102016", status=ApplicationStatus.SUBMITTED)
    assert queued.application_id == application_id
    assert office.inbox("281000") == []
    with pytest.raises(ApplicationNotFound):
        office.get("281000", application_id)  # addressed to 前橋市, not 神戸市
    with pytest.raises(StatusConflict):
        office.decide("102016", application_id, Outcome.APPROVED, actor="clerk-1", reason="")
    office.receive("102016", application_id, actor="clerk-1")
    office.receive("102016", application_id, actor="clerk-1")  # a retry records nothing new
    page = client.get(f"/services/applications/{application_id}").text
    assert "受付済み" in page
    with pytest.raises(ReasonRequired):
        office.decide("102016", application_id, Outcome.REJECTED, actor="clerk-1", reason=" ")
    reason = "所得が<b>限度額</b>を超えるため"
    office.decide("102016", application_id, Outcome.REJECTED, actor="clerk-2", reason=reason)
    with pytest.raises(StatusConflict):
        office.decide("102016", application_id, Outcome.APPROVED, actor="clerk-2", reason="")
    history = office.history("102016", application_id)
    assert [c.status for c in history] == [
        ApplicationStatus.SUBMITTED,
        ApplicationStatus.RECEIVED,
        ApplicationStatus.REJECTED,
    ]
    assert [c.actor for c in history] == ["portal", "clerk-1", "clerk-2"]
    assert [
        c.event_id for c in platform.portal.eapply.applications.changes(after=history[0].event_id)
    ] == [
        history[1].event_id,
        history[2].event_id,
    ]
    linked = client.get(f"/applications/{application_id}", follow_redirects=False)
    assert linked.headers["location"] == f"/services/applications/{application_id}"  # notices
    page = client.get(f"/services/applications/{application_id}").text
    assert "却下" in page
    assert "所得が&lt;b&gt;限度額&lt;/b&gt;を超えるため" in page
    listing = client.get("/services/applications").text
    assert "却下" in listing
    for statement in (
        "UPDATE application_events SET reason = 'x'",
        "DELETE FROM application_events",
    ):
        with pytest.raises(DBAPIError), platform.portal.eapply.store.engine.begin() as conn:
            conn.execute(text(statement))  # the log is append-only, in the database
    assert len(platform.portal.eapply.applications.history(application_id)) == 3


def test_another_persons_application_and_draft_are_not_found(
    client: TestClient, platform: Platform
) -> None:
    who = holder(platform)
    login(platform, client, who.card)
    application_id = submitted(client, platform, who)
    draft = start(client)
    login(platform, client, holder(platform, "佐藤", "次郎").card)
    assert client.get(f"/services/applications/{application_id}").status_code == 404
    assert client.get(draft).status_code == 404
    assert client.get(f"{draft}/confirm").status_code == 404
    refused = client.post(draft, data={"csrf_token": csrf(client)})
    assert refused.status_code == 404
    assert (
        "/services/applications/" + application_id not in client.get("/services/applications").text
    )
    with pytest.raises(ApplicationNotFound):
        platform.portal.eapply.applications.for_account("someone", application_id)


# --- bad input ------------------------------------------------------------------------------


def test_form_posts_need_the_csrf_token(client: TestClient, platform: Platform) -> None:
    login(platform, client, holder(platform).card)
    draft = start(client)
    assert client.post(draft, data={"claimant.tel": "0312345678"}).status_code == 403
    assert client.post(f"{draft}/prefill", data={"consent": "yes"}).status_code == 403
    assert client.post(f"{draft}/sign", data={}).status_code == 403
    cross = client.post(
        f"{draft}/prefill",
        data={"consent": "yes", "csrf_token": csrf(client)},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403


def test_field_errors_show_beside_the_fields_and_input_is_escaped(
    client: TestClient, platform: Platform
) -> None:
    login(platform, client, holder(platform).card)
    draft = start(client)
    attack = '<script>alert("x")</script>'
    posted = save(
        client,
        draft,
        {
            **CHILD_ALLOWANCE_ANSWERS,
            "claimant.name": attack,
            "claimant.name_kana": "yamada",
            "claimant.tel": "12",
            "account.number": "123",
            "account.kind": "gold",
            "children.0.date_of_birth": "2099-01-01",
        },
    )
    assert posted.status_code == 422
    page = posted.text
    assert attack not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert 'id="e-f-claimant-name_kana"' in page
    assert 'aria-describedby="h-f-claimant-name_kana e-f-claimant-name_kana"' in page
    assert 'aria-invalid="true"' in page
    assert "全角カタカナで入力してください" in page
    assert "電話番号を数字で入力してください" in page
    assert "7文字以上で入力してください" in page
    assert "選択肢から選んでください" in page
    assert "以前の日付を入力してください" in page
    assert "入力してください。" in page  # the required claimant fields the card did not fill
    assert 'href="#f-claimant-name_kana"' in page  # the summary links to the field
    # Oversized and malformed posts.
    huge = client.post(
        draft,
        content=b"x",
        headers={"Content-Length": str(20 * 1024 * 1024), "Content-Type": "multipart/form-data"},
    )
    assert huge.status_code == 413


def test_attachments_are_checked_by_their_bytes(client: TestClient, platform: Platform) -> None:
    login(platform, client, holder(platform).card)
    draft = start(client, DISASTER)
    text_file = {"photos": ("photo.jpg", b"this is not a picture", "image/jpeg")}
    refused = save(client, draft, {"action": "save"}, files=text_file)
    assert refused.status_code == 422
    assert "JPEG / PNG のファイルを添付してください" in refused.text
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    too_big = save(
        client, draft, {"action": "save"}, files={"photos": ("big.png", png + bytes(5 << 20), "")}
    )
    assert "ファイルが大きすぎます（上限 5 MB）" in too_big.text
    assert platform.portal.eapply.drafts.attachments(draft.rsplit("/", 1)[1]) == []
    upload = {"photos": ("../../被害<1>.png", png, "application/octet-stream")}
    saved = save(client, draft, {"action": "save"}, files=upload)
    assert saved.status_code == 303  # saved for later: the missing answers do not stop it
    page = client.get(draft).text
    assert "被害&lt;1&gt;.png" in page
    attached = platform.portal.eapply.drafts.attachments(draft.rsplit("/", 1)[1])
    assert [(a.slot, a.filename, a.media_type) for a in attached] == [
        ("photos", "被害<1>.png", "image/png")
    ]


def test_the_number_is_in_no_page_no_answer_and_no_log(
    client: TestClient, platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    who = holder(platform)
    number = _number_of(platform, who.card)
    login(platform, client, who.card)
    application_id = submitted(client, platform, who)
    pages = [
        client.get(p).text
        for p in (
            "/services",
            "/services/applications",
            f"/services/applications/{application_id}",
        )
    ]
    assert all(number not in p for p in pages)
    assert f"**** **** {number[-4:]}" in pages[2]
    assert number not in caplog.text
    # The back office receives it (the claim states it), inside the signed document only.
    application = platform.portal.eapply.office.get("102016", application_id)
    assert application.answers()["claimant"]["individual_number"] == number  # type: ignore[index]
    assert number not in repr(application)
    assert base64.b64encode(number.encode()).decode() not in caplog.text
