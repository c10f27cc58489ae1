"""The signature step of the consent screen: the 4 items (and ``sign``) from the card.

As デジタル認証アプリ does, the 4 items are not typed and not taken from any register: the
person signs, with the signature certificate and its 6-16 character password, a consent
document that says what goes to whom, and the items are read from that certificate
(``SignatureResult.items``, its subjectAltName) once the verifier accepted it (chain,
validity, policy, revocation status at the time of use) and the issuer confirmed it is the
logged-in person's (``Holders``, as for the e-applications).

The card's side is the e-applications' one-time URL, unchanged: ``GET /oidc/card/<token>``
gives ``{"kind": "sign", "document", "sha256", …}`` and ``POST`` takes ``{"cms"}``, so
``openmyna card sign-application URL --reader …`` (``openmyna.card.eapply_app``) and the
same card code sign it. The CMS is checked as an application's is
(``openmyna.pki.cms.parse_detached``: over exactly that document, its signing time within
the request's life).

With the ``sign`` scope the business gives the SHA-256 of its document (the authorization
parameter ``sign_document_sha256``); the consent document carries it, so the CMS returned
(the ``signature`` claim) is the person's signature over a statement naming that hash.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
from typing import Any

from sqlalchemy import select, update

from openmyna.identity.oidc.provider import Authorization, Provider, sha256
from openmyna.identity.oidc.tables import authorizations
from openmyna.pki.cms import parse_detached
from openmyna.portal.eapply.cards import Holders, SignatureVerifier
from openmyna.portal.eapply.errors import (
    CardRequestNotFound,
    CardRequestUsed,
    SignerNotApplicant,
    SigningTimeInvalid,
)

#: How far a signing time may lie outside the request's life (clocks differ a little).
SIGNING_SKEW = dt.timedelta(minutes=5)
#: ISO/IEC 5218, the code the card and the certificate carry, as OIDC's ``gender`` claim.
GENDER = {1: "male", 2: "female", 0: "unknown", 9: "not applicable"}


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class ConsentSigning:
    """Signature requests of authorization requests, and their answers from the card."""

    def __init__(
        self, provider: Provider, *, verifier: SignatureVerifier, holders: Holders
    ) -> None:
        self.provider = provider
        self.verifier = verifier
        self.holders = holders

    def document(self, auth: Authorization) -> bytes:
        """The consent document the person signs: what goes to whom, when."""
        body: dict[str, Any] = {
            "type": "openmyna-oidc-consent/1",
            "issuer": self.provider.issuer,
            "client_id": auth.client.client_id,
            "client_name": auth.client.name,
            "scopes": auth.scopes,
            "authorization_id": auth.authorization_id,
            "nonce": secrets.token_hex(16),
            "prepared_at": self.provider.clock.now().isoformat(),
        }
        digest = auth.params.get("sign_document_sha256")
        if "sign" in auth.scopes and digest:
            body["document_sha256"] = digest
        return json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")

    def request(self, auth: Authorization) -> str:
        """A one-time signature request for the authorization: its URL's token."""
        token = secrets.token_urlsafe(32)
        with self.provider.store.transaction() as s:
            s.execute(
                update(authorizations)
                .where(authorizations.c.authorization_id == auth.authorization_id)
                .values(
                    status="signing",
                    sign_token_sha256=sha256(token),
                    document=self.document(auth),
                    signed=None,
                )
            )
        return token

    def _row(self, token: str) -> Any:
        with self.provider.store.transaction() as s:
            row = (
                s.execute(
                    select(authorizations).where(
                        authorizations.c.sign_token_sha256 == sha256(token[:64])
                    )
                )
                .mappings()
                .first()
            )
        if row is None or _aware(row["expires_at"]) <= self.provider.clock.now():
            raise CardRequestNotFound("no such card request: the link is wrong or old")
        if row["status"] != "signing":
            raise CardRequestUsed("the card request was answered already")
        return row

    def task(self, token: str) -> dict[str, Any]:
        """What the one-time URL asks of the card (the e-applications' wire format)."""
        row = self._row(token)
        document = bytes(row["document"])
        client = self.provider.clients.get(row["client_id"])
        return {
            "kind": "sign",
            "service": {"ja": f"{client.name} への提供の同意", "en": f"Consent for {client.name}"},
            "municipality": client.name,
            "expires_at": _aware(row["expires_at"]).isoformat(),
            "document": base64.b64encode(document).decode("ascii"),
            "sha256": hashlib.sha256(document).hexdigest(),
        }

    def answer(self, token: str, cms_der: bytes) -> str:
        """Verify the CMS over the consent document; keep what the certificate carries.

        Returns the authorization's id.
        """
        row = self._row(token)
        document = bytes(row["document"])
        signature = parse_detached(cms_der)
        signature.check_content(document)
        now = self.provider.clock.now()
        created = _aware(row["created_at"])
        if not created - SIGNING_SKEW <= signature.signing_time <= now + SIGNING_SKEW:
            raise SigningTimeInvalid("the signing time is outside the signing request's life")
        result = self.verifier.verify_signature(
            signature.certificate_der, signature.signed_attributes, signature.signature
        )
        if row["subject_id"] is None or not self.holders.same_holder(
            row["subject_id"], result.serial
        ):
            raise SignerNotApplicant("the consent is signed with another person's card")
        items = result.items
        signed: dict[str, Any] = {
            "name": items.name,
            "address": items.address,
            "birthdate": items.date_of_birth.isoformat(),
            "gender": GENDER.get(items.sex, "unknown"),
        }
        params = json.loads(row["params"])
        if "sign" in params.get("scope", "").split():
            signed["signature"] = {
                "cms": base64.b64encode(cms_der).decode("ascii"),
                "document": base64.b64encode(document).decode("ascii"),
            }
        with self.provider.store.transaction() as s:
            done = s.execute(
                update(authorizations)
                .where(
                    authorizations.c.authorization_id == row["authorization_id"],
                    authorizations.c.status == "signing",
                )
                .values(status="signed", signed=json.dumps(signed, ensure_ascii=False))
            )
        if not getattr(done, "rowcount", 0):
            raise CardRequestUsed("the card request was answered already")
        return str(row["authorization_id"])
