"""Settings of the JPKI issuer, read from ``OPENMYNA_PKI_*`` environment variables."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class PkiConfig(BaseSettings):
    """Where the certificates point, and how long OCSP responses and CRLs stay valid."""

    model_config = SettingsConfigDict(env_prefix="OPENMYNA_PKI_", extra="ignore")

    #: The public base URL of this installation: certificates point at ``<base>/ocsp`` and
    #: ``<base>/crl/auth`` / ``<base>/crl/sign``.
    base_url: str = "http://127.0.0.1:8000"
    #: The key-encryption secret; default ``<data_dir>/keys/pki.kek``.
    kek_file: Path | None = None
    #: nextUpdate - thisUpdate of a signed OCSP response.
    ocsp_validity: dt.timedelta = dt.timedelta(hours=1)
    #: A cached OCSP response is signed again once it is this old (well before nextUpdate).
    ocsp_refresh: dt.timedelta = dt.timedelta(minutes=30)
    #: Sign the OCSP response of a new certificate when it is issued (one more RSA
    #: signature per issuance; turn off for bulk seeding, responses are then signed on
    #: first request).
    presign_on_issue: bool = True
    #: How many signed OCSP responses the responder keeps in memory.
    ocsp_cache_size: int = 200_000
    #: How often (seconds, wall clock) a responder looks for status changes made by another
    #: process; changes made through the same ``Jpki`` object are seen at once.
    poll_interval: float = 0.5
    #: nextUpdate - thisUpdate of a CRL.
    crl_validity: dt.timedelta = dt.timedelta(hours=24)
    #: A new CRL is published at least this often, and sooner after a revocation.
    crl_interval: dt.timedelta = dt.timedelta(hours=1)
