"""Forwarding notices to private delivery services (民間送達) by webhook.

The portal forwards a person's notices to a private delivery service only when the person
turned it on, and only to a service on the installation's own list
(``PortalSettings.delivery_services``: a TOML file). A person chooses a service by its id; the
URL is never theirs to give, so no one can make the server call an address of their choosing
(SSRF). The list is read once, when the portal starts.

The list (mode 0600: it holds the secrets)::

    [[service]]
    id = "demo-post"                      # a-z, 0-9 and "-", 2-40
    name = "デモ送達サービス"
    name_en = "Demo delivery service"     # optional
    url = "https://delivery.example/openmyna/notices"   # http only to this machine
    secret = "whsec_…"                    # base64 of 24-64 random bytes

Each delivery is one HTTP ``POST`` of a JSON body, signed as the Standard Webhooks
specification (v1, https://www.standardwebhooks.com/) does it, so a receiver can check it
with any library for that scheme:

- ``webhook-id``: the notice's id, the same at every attempt (the receiver drops duplicates);
- ``webhook-timestamp``: the attempt's time, integer seconds since 1970-01-01 UTC;
- ``webhook-signature``: ``v1,`` and the base64 of HMAC-SHA256 under the service's secret
  (the bytes after ``whsec_``, base64-decoded) over ``<webhook-id>.<webhook-timestamp>.<body>``
  — the id, a full stop, the timestamp as sent, a full stop, then the body's bytes exactly as
  sent.

A receiver should refuse a timestamp more than five minutes from its own clock (a replayed
request) and compare signatures in constant time. An answer 2xx is a delivery; anything else
(another status, a refused connection, a timeout) is retried: after 30 seconds, then twice as
long each time up to an hour, for three days; a delivery is never dropped before that
(at least once). Redirects are not followed, proxies from the environment are not used.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import ipaddress
import re
import stat
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol
from urllib.parse import urlsplit

from openmyna.portal.notices.errors import InvalidDeliveryServices, UnknownDeliveryService

SIGNATURE_VERSION: Final = "v1"
SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the format's prefix, not a secret
#: The first retry, doubled after each failed attempt up to ``MAX_RETRY``.
FIRST_RETRY: Final = dt.timedelta(seconds=30)
MAX_RETRY: Final = dt.timedelta(hours=1)
#: A delivery still failing this long after its notice arrived is given up (``expired``).
GIVE_UP: Final = dt.timedelta(days=3)
#: How long an attempt holds its delivery (another worker leaves it alone meanwhile; a worker
#: that died mid-attempt leaves it to be tried again after this).
LEASE: Final = dt.timedelta(minutes=2)
#: Seconds to connect to a receiver, and for the whole attempt.
CONNECT_TIMEOUT: Final = 3.0
TIMEOUT: Final = 5.0

_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")


@dataclass(frozen=True)
class DeliveryService:
    """One private delivery service of the installation's list."""

    service_id: str
    name: str
    name_en: str
    url: str = field(repr=False)
    secret: bytes = field(repr=False)

    def label(self, language: str) -> str:
        """The service's name in ``language`` (``ja`` or ``en``)."""
        return self.name_en if language == "en" else self.name


class DeliveryServices(Mapping[str, DeliveryService]):
    """The installation's delivery services, by id, in the order listed."""

    def __init__(self, services: list[DeliveryService] | None = None) -> None:
        self._by_id: dict[str, DeliveryService] = {}
        for s in services or []:
            if s.service_id in self._by_id:
                raise InvalidDeliveryServices("a delivery service is listed twice")
            self._by_id[s.service_id] = s

    def __getitem__(self, service_id: str) -> DeliveryService:
        return self._by_id[service_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def get_service(self, service_id: str) -> DeliveryService:
        """The service with that id, or ``UNKNOWN_DELIVERY_SERVICE``."""
        found = self._by_id.get(service_id) if isinstance(service_id, str) else None
        if found is None:
            raise UnknownDeliveryService("that delivery service is not offered here")
        return found


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_service_url(url: str) -> str:
    """``url`` if it is an https URL (or http to this machine) without credentials."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise InvalidDeliveryServices("a delivery service URL is malformed") from None
    host = parts.hostname or ""
    if (
        parts.scheme not in ("https", "http")
        or not host
        or (parts.scheme == "http" and not _loopback(host))
        or parts.username is not None
        or parts.fragment
    ):
        raise InvalidDeliveryServices(
            "a delivery service URL is https://… (http only to this machine), without a "
            "user or a fragment"
        )
    return url


def webhook_secret(text: str) -> bytes:
    """The key of a ``whsec_…`` secret (24 to 64 bytes)."""
    if not text.startswith(SECRET_PREFIX):
        raise InvalidDeliveryServices("a delivery service secret starts with whsec_")
    try:
        key = base64.b64decode(text[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidDeliveryServices("a delivery service secret is not base64") from None
    if not 24 <= len(key) <= 64:
        raise InvalidDeliveryServices("a delivery service secret is 24 to 64 bytes")
    return key


def parse_delivery_services(text: str) -> DeliveryServices:
    """The services of a list's TOML text."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        raise InvalidDeliveryServices("the delivery service list is not valid TOML") from None
    rows = raw.get("service", [])
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InvalidDeliveryServices("the delivery service list holds [[service]] tables")
    services: list[DeliveryService] = []
    for row in rows:
        try:
            service_id, name, url, secret = (str(row[k]) for k in ("id", "name", "url", "secret"))
        except KeyError as exc:
            raise InvalidDeliveryServices(f"a delivery service lacks {exc.args[0]}") from None
        if not _ID.match(service_id):
            raise InvalidDeliveryServices("a delivery service id is 2-40 of a-z, 0-9 and -")
        services.append(
            DeliveryService(
                service_id=service_id,
                name=name,
                name_en=str(row.get("name_en") or name),
                url=check_service_url(url),
                secret=webhook_secret(secret),
            )
        )
    return DeliveryServices(services)


def load_delivery_services(path: Path | None) -> DeliveryServices:
    """The installation's list (none configured: no service is offered)."""
    if path is None:
        return DeliveryServices()
    try:
        mode = path.stat().st_mode
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        raise InvalidDeliveryServices("the delivery service list cannot be read") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InvalidDeliveryServices("the delivery service list must be mode 0600")
    return parse_delivery_services(text)


# --- signing --------------------------------------------------------------------------------


def signed_content(webhook_id: str, timestamp: int, body: bytes) -> bytes:
    """The bytes a signature covers: ``<id>.<timestamp>.<body>``."""
    return f"{webhook_id}.{timestamp}.".encode("ascii") + body


def sign(secret: bytes, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header's value: ``v1,<base64 HMAC-SHA256>``."""
    mac = hmac.new(secret, signed_content(webhook_id, timestamp, body), hashlib.sha256)
    return f"{SIGNATURE_VERSION},{base64.b64encode(mac.digest()).decode('ascii')}"


def signed_headers(secret: bytes, webhook_id: str, at: dt.datetime, body: bytes) -> dict[str, str]:
    """The headers of one attempt under ``secret``: content type, id, timestamp, signature.

    Every webhook openmyna sends uses these (the notices' deliveries, the latest-4-items
    service's provisions).
    """
    timestamp = int(at.timestamp())
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, webhook_id, timestamp, body),
    }


def webhook_headers(
    service: DeliveryService, webhook_id: str, at: dt.datetime, body: bytes
) -> dict[str, str]:
    """The headers of one attempt to a delivery service."""
    return signed_headers(service.secret, webhook_id, at, body)


def retry_delay(attempts: int) -> dt.timedelta:
    """How long to wait after the ``attempts``-th failed attempt."""
    doublings = min(max(attempts - 1, 0), 32)  # past the cap long before: no overflow
    delay: dt.timedelta = FIRST_RETRY * (2**doublings)
    return min(delay, MAX_RETRY)


# --- sending --------------------------------------------------------------------------------

#: What an attempt may meet besides a delivery: the receiver could not be reached at all.
UNREACHABLE: Final = frozenset({"connect_error", "timeout"})
DELIVERED: Final = "delivered"


class WebhookSender(Protocol):
    """How a delivery is sent (``HttpSender``; a stand-in in tests)."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> str:
        """Send one attempt: ``delivered`` (2xx), ``http_<status>`` or an ``UNREACHABLE`` word."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class HttpSender:
    """Webhook attempts over HTTP(S): short timeouts, no redirects, no proxies from the env."""

    def __init__(self) -> None:
        import httpx2

        self._httpx = httpx2
        self._client = httpx2.Client(
            timeout=httpx2.Timeout(TIMEOUT, connect=CONNECT_TIMEOUT),
            follow_redirects=False,
            trust_env=False,
        )

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> str:
        """Send one attempt and say what it met (never raises for the receiver's failures)."""
        httpx = self._httpx
        try:
            answer = self._client.post(url, content=body, headers=dict(headers))
            answer.read()
            answer.close()
        except httpx.ConnectError:
            return "connect_error"
        except httpx.TimeoutException:
            return "timeout"
        except httpx.TransportError:
            return "transport_error"
        return DELIVERED if 200 <= answer.status_code < 300 else f"http_{answer.status_code}"

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()
