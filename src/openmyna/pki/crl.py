"""Certificate revocation lists (CRL), one per CA, numbered and stored when published."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy.orm import Session

from openmyna.pki import records
from openmyna.pki.ca import CertificateAuthority
from openmyna.pki.profiles import SIGNATURE_HASH, CertKind, whole_seconds
from openmyna.pki.records import RevocationReason, utc
from openmyna.pki.tables import crls
from openmyna.store import Store, StoreConflict

#: How many published CRLs of each CA are kept (the newest, plus one for overlap).
KEEP_CRLS = 2


@dataclass(frozen=True)
class PublishedCrl:
    """A CRL as stored: its number, validity, the log position it covers, and its DER."""

    kind: CertKind
    number: int
    this_update: dt.datetime
    next_update: dt.datetime
    last_change: int
    der: bytes = dataclasses.field(repr=False)

    def load(self) -> x509.CertificateRevocationList:
        """The parsed CRL."""
        return x509.load_der_x509_crl(self.der)


def build_crl(
    ca: CertificateAuthority,
    entries: Sequence[tuple[int, dt.datetime, RevocationReason | None]],
    *,
    number: int,
    this_update: dt.datetime,
    next_update: dt.datetime,
) -> x509.CertificateRevocationList:
    """A CRL signed by the CA itself, with CRL number, AKI and a reason code per entry."""
    ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(whole_seconds(this_update))
        .next_update(whole_seconds(next_update))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )
    for serial, when, reason in entries:
        revoked = (
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(whole_seconds(when))
        )
        # RFC 5280 5.3.1: the reason code "unspecified" should be left out.
        if reason is not None and reason is not RevocationReason.UNSPECIFIED:
            revoked = revoked.add_extension(x509.CRLReason(reason.flag()), critical=False)
        builder = builder.add_revoked_certificate(revoked.build())
    return builder.sign(ca.key, SIGNATURE_HASH)


def latest(s: Session, kind: CertKind) -> PublishedCrl | None:
    """The newest published CRL of a CA, or None if none was published yet."""
    row = s.execute(
        sa.select(crls).where(crls.c.kind == kind.value).order_by(crls.c.number.desc()).limit(1)
    ).first()
    if row is None:
        return None
    return PublishedCrl(
        kind=kind,
        number=int(row.number),
        this_update=utc(row.this_update),
        next_update=utc(row.next_update),
        last_change=int(row.last_change),
        der=bytes(row.der),
    )


def store_crl(s: Session, published: PublishedCrl) -> None:
    """Record a newly published CRL and drop all but the newest few of that CA."""
    s.execute(
        crls.insert().values(
            kind=published.kind.value,
            number=published.number,
            this_update=utc(published.this_update),
            next_update=utc(published.next_update),
            last_change=published.last_change,
            der=published.der,
        )
    )
    s.execute(
        crls.delete().where(
            crls.c.kind == published.kind.value,
            crls.c.number <= published.number - KEEP_CRLS,
        )
    )


def publish(
    store: Store, ca: CertificateAuthority, now: dt.datetime, validity: dt.timedelta
) -> PublishedCrl:
    """Build, sign and store the next CRL of ``ca`` (number + 1) listing what is revoked now."""
    kind = CertKind(ca.kind)
    try:
        with store.transaction() as s:
            previous = latest(s, kind)
            last_change = records.last_log_id(s)
            entries = records.unexpired_revoked(s, kind, now)
            number = previous.number + 1 if previous else 1
            built = build_crl(
                ca, entries, number=number, this_update=now, next_update=now + validity
            )
            published = PublishedCrl(
                kind=kind,
                number=number,
                this_update=built.last_update_utc,
                next_update=built.next_update_utc or now + validity,
                last_change=last_change,
                der=built.public_bytes(serialization.Encoding.DER),
            )
            store_crl(s, published)
    except StoreConflict:
        # Another process published the same number first: its CRL is as current.
        with store.transaction() as s:
            found = latest(s, kind)
        if found is None:  # pragma: no cover - the conflict means one exists
            raise
        return found
    return published
