"""Configuration, read in one place from ``OPENMYNA_*`` environment variables.

``load_settings()`` is the only call that reads the environment; every command, process and
the web app get their ``Settings`` from it (through ``openmyna.builder.Builder``), and every
part is handed the piece it needs. Nothing else reads ``OPENMYNA_*``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "openmyna"


class PkiSettings(BaseModel):
    """The JPKI issuer: where its certificates point, how long OCSP answers and CRLs last.

    Read from ``OPENMYNA_PKI_<FIELD>`` (e.g. ``OPENMYNA_PKI_BASE_URL``); durations are ISO 8601
    (``PT2H``) or seconds.
    """

    model_config = ConfigDict(frozen=True)

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
    #: How many certificates' signed OCSP responses the responder keeps in memory (only
    #: certificates this issuer issued; oldest dropped first).
    ocsp_cache_size: int = 200_000
    #: How many answers signed on demand the responder keeps, apart from the certificates':
    #: ``unknown`` answers for serials never issued, and (as many again) answers to requests
    #: for several certificates.
    ocsp_on_demand_cache_size: int = 1_000
    #: On-demand OCSP signatures (an unknown serial, several certificates in one request)
    #: per second, in bursts of up to one second's worth; past it such a request gets
    #: ``tryLater``. A certificate's own answer is never held back.
    ocsp_on_demand_rate: float = 20.0
    #: How often (seconds, wall clock) a responder looks for status changes made by another
    #: process; changes made through the same ``Jpki`` object are seen at once.
    poll_interval: float = 0.5
    #: nextUpdate - thisUpdate of a CRL.
    crl_validity: dt.timedelta = dt.timedelta(hours=24)
    #: A new CRL is published at least this often, and sooner after a revocation.
    crl_interval: dt.timedelta = dt.timedelta(hours=1)


class HttpSettings(BaseModel):
    """The limits every openmyna HTTP server holds a client to (``openmyna.server``).

    Read from ``OPENMYNA_HTTP_<FIELD>`` (e.g. ``OPENMYNA_HTTP_HEADER_TIMEOUT``), in seconds and
    bytes. A deadline counts only while the server is reading, so a slow application does
    not make its client late.
    """

    model_config = ConfigDict(frozen=True)

    #: A request's line and headers must arrive whole within this long of the connection
    #: opening or of the request's first byte (else 408, or a plain close if nothing came).
    header_timeout: float = Field(10.0, gt=0, le=300)
    #: A request's body must arrive whole within this long of its headers (else 408).
    body_timeout: float = Field(30.0, gt=0, le=3600)
    #: An idle keep-alive connection is closed after this long (uvicorn's own timer).
    keep_alive: int = Field(5, ge=1, le=300)
    #: The request line and headers may not exceed this many bytes (else 431).
    max_header_bytes: int = Field(32_768, ge=1024, le=1_048_576)


class PortalSettings(BaseModel):
    """The citizen portal (マイナポータル): sessions and login.

    Read from ``OPENMYNA_PORTAL_<FIELD>`` (e.g. ``OPENMYNA_PORTAL_SESSION_IDLE``); durations
    are ISO 8601 (``PT30M``) or seconds.
    """

    model_config = ConfigDict(frozen=True)

    #: A session with no request for this long ends (the person logs in again).
    session_idle: dt.timedelta = dt.timedelta(minutes=30)
    #: A session ends this long after the login, however active.
    session_absolute: dt.timedelta = dt.timedelta(hours=8)
    #: A login request (QR code, short code) can be answered by the card for this long.
    login_request_ttl: dt.timedelta = dt.timedelta(minutes=5)
    #: The portal's origin as people reach it (``https://portal.example.jp``), which the card
    #: signs with each login request; ``None``: the origin the browser used (one machine).
    public_origin: str | None = None
    #: Login requests (QR codes) one client address may start per minute.
    login_starts_per_minute: int = Field(30, ge=1)
    #: Card answers and short-code look-ups one client address may make per minute.
    login_answers_per_minute: int = Field(60, ge=1)
    #: Answers one login request takes (a refused one counts) before it fails.
    login_answer_attempts: int = Field(5, ge=1)
    #: The session cookie's ``Secure`` flag: ``None`` sets it unless the request came over
    #: plain HTTP to this machine (``http://127.0.0.1``), where a browser could not send it
    #: back otherwise; ``True`` always (behind TLS), ``False`` never.
    cookie_secure: bool | None = None
    #: The demo wallet page (``/wallet``: pick a demo card, type its PIN); ``openmyna demo``
    #: turns it on, and nothing else should.
    demo_wallet: bool = False
    #: The private delivery services (民間送達) notices may be forwarded to: a TOML file,
    #: mode 0600 (``openmyna.portal.notices.delivery``); ``None``: none is offered.
    delivery_services: Path | None = None
    #: Public statistics (``/statistics``): figures are counted again only this long after
    #: the last count; every request in between reads them from memory.
    statistics_ttl: dt.timedelta = dt.timedelta(minutes=5)
    #: Counts of people (cards, holders) below this are shown as ``X`` (秘匿), with as many
    #: others as keep them from being derived from the totals; ``1`` shows every count.
    statistics_min_count: int = Field(default=3, ge=1)


class Settings(BaseSettings):
    """Where openmyna keeps its data, which backends it uses, and how its parts behave."""

    model_config = SettingsConfigDict(
        env_prefix="OPENMYNA_",
        extra="ignore",
        # OPENMYNA_PKI_BASE_URL -> pki.base_url: one split after the section name.
        env_nested_delimiter="_",
        env_nested_max_split=1,
    )

    data_dir: Path = Field(default_factory=_default_data_dir)
    #: ``None``: one SQLite file per body under ``data_dir``; else a PostgreSQL URL
    #: (``postgresql+psycopg://…``) in which each body gets its own schema.
    database_url: str | None = None
    #: Prefix for PostgreSQL schema names, so several installations (or test runs) can
    #: share one database without seeing each other.
    schema_prefix: str = ""
    #: ``None``: the embedded bus (a durable log in the data dir); else ``nats://host:port``.
    bus_url: str | None = None
    #: Name of the JetStream stream when ``bus_url`` is NATS.
    bus_stream: str = "OPENMYNA"
    #: The sandbox clock (``openmyna.clock.clock_from_setting``): ``None`` for the system
    #: clock, a fixed instant (``2027-04-01T09:00+09:00``) or an offset from now (``+30d``).
    clock: str | None = None
    #: The JPKI issuer's settings (``OPENMYNA_PKI_*``).
    pki: PkiSettings = Field(default_factory=PkiSettings)
    #: The installation operator's token (``OPENMYNA_OPERATOR_TOKEN``): routes that return
    #: personal data and the CLI's counter operations require it (``openmyna.operator``).
    #: ``None``: none is configured, and those routes and operations are refused.
    operator_token: SecretStr | None = None
    #: The HTTP servers' timeouts and limits (``OPENMYNA_HTTP_*``).
    http: HttpSettings = Field(default_factory=HttpSettings)
    #: The citizen portal (``OPENMYNA_PORTAL_*``).
    portal: PortalSettings = Field(default_factory=PortalSettings)

    def ensure_data_dir(self) -> Path:
        """Create the data directory if needed (owner-only) and return it."""
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.data_dir


def load_settings() -> Settings:
    """The installation's settings, read from the environment (the one place that does)."""
    return Settings()
