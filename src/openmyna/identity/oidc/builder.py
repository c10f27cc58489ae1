"""Building the provider from the installation's parts (``Builder.oidc()`` calls this)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import TYPE_CHECKING

from openmyna.identity.oidc.provider import Provider
from openmyna.identity.oidc.service import Oidc
from openmyna.identity.oidc.signing import ConsentSigning
from openmyna.identity.oidc.status import CardStatus

if TYPE_CHECKING:
    from openmyna.builder import Builder


def build_oidc(builder: Builder) -> Oidc:
    """The provider on its own store, the portal's accounts and the JPKI issuer."""
    from openmyna.identity.oidc.tables import OIDC_BODY, OIDC_KIND
    from openmyna.pki import CertKind, RevocationChecker, Verifier
    from openmyna.pki.keys import installation_kek
    from openmyna.portal.eapply.holders import IssuerHolders
    from openmyna.store import open_store

    settings = builder.settings
    jpki = builder.jpki(follow_events=True)
    kek = installation_kek(settings)
    # The pairwise subjects' key: derived from the installation's secret, so it is as
    # stable as the installation (and never stored beside the subjects).
    subject_secret = hmac.new(kek, b"openmyna oidc pairwise subject", hashlib.sha256).digest()
    provider = Provider(
        open_store(settings, OIDC_KIND, OIDC_BODY),
        builder.clock,
        kek=kek,
        subject_secret=subject_secret,
        status=CardStatus(lambda: builder.portal().accounts, jpki),
        public_origin=settings.portal.public_origin,
    )
    # The consent's signature is checked as an application's: status asked anew each time.
    revocation = RevocationChecker(
        builder.clock, ocsp_fetch=jpki.ocsp_fetcher(), max_age=dt.timedelta(0)
    )
    verifier = Verifier(
        {k: jpki.ca_certificate(k) for k in CertKind}, builder.clock, revocation=revocation
    )
    holders = IssuerHolders(lambda: builder.portal().accounts, jpki)
    return Oidc(provider, ConsentSigning(provider, verifier=verifier, holders=holders))
