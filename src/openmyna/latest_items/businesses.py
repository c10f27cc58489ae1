"""The businesses that use the latest-4-items service, as an operator registered them.

A business (in the real service, a 署名検証者 with J-LIS's agreement) is registered by the
installation's operator (``openmyna latest-items business add``, behind the operator token).
Registration prints two secrets once, and the database keeps neither:

- the **API key** (``lik_…``): the business's ``Authorization: Bearer`` on the API; only its
  SHA-256 is stored, and a key is checked by its hash;
- the **webhook secret** (``whsec_…``, Standard Webhooks v1, as the portal's notices use): an
  HMAC-SHA256 of the business id under the service's own key file
  (``<data_dir>/keys/latest-items-webhook.key``, 0600, made on first use), so the service
  can sign for any business without storing a secret per business.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert, select

from openmyna.clock import Clock
from openmyna.latest_items.errors import BusinessUnauthorized, InvalidBusiness
from openmyna.latest_items.tables import businesses
from openmyna.pki.keys import load_or_create_kek
from openmyna.portal.notices.delivery import SECRET_PREFIX, check_service_url
from openmyna.portal.notices.errors import InvalidDeliveryServices
from openmyna.store import Store

API_KEY_PREFIX = "lik_"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Business:
    """A registered business."""

    business_id: str
    name: str
    name_en: str
    webhook_url: str | None = field(repr=False)
    registered_at: dt.datetime

    def label(self, language: str) -> str:
        """The business's name in ``language``."""
        return self.name_en if language == "en" else self.name


@dataclass(frozen=True)
class Registered:
    """A new business and its two secrets, shown once."""

    business: Business
    api_key: str = field(repr=False)
    webhook_secret: str = field(repr=False)


def key_hash(api_key: str) -> str:
    """What the table keeps of an API key."""
    return hashlib.sha256(api_key.encode("utf-8", "replace")).hexdigest()


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _business(row: object) -> Business:
    m = row._mapping  # type: ignore[attr-defined]
    return Business(
        m["business_id"], m["name"], m["name_en"], m["webhook_url"], _aware(m["registered_at"])
    )


def _name(value: str, what: str) -> str:
    text = value.strip()
    if not 1 <= len(text) <= 100 or _CONTROL.search(text):
        raise InvalidBusiness(f"the {what} is 1 to 100 characters, without control characters")
    return text


class Businesses:
    """The register of businesses, their API keys (by hash) and webhook secrets (derived)."""

    def __init__(self, store: Store, clock: Clock, key_file: Path) -> None:
        self.store = store
        self.clock = clock
        self._key_file = key_file
        self._key: bytes | None = None

    def _webhook_key(self) -> bytes:
        if self._key is None:
            self._key = load_or_create_kek(self._key_file)
        return self._key

    def webhook_secret(self, business_id: str) -> bytes:
        """The key the business's webhooks are signed with (32 bytes)."""
        message = f"latest-items-webhook:{business_id}".encode("ascii")
        return hmac.new(self._webhook_key(), message, hashlib.sha256).digest()

    def register(
        self, name: str, *, name_en: str | None = None, webhook_url: str | None = None
    ) -> Registered:
        """Register a business; its API key and webhook secret are returned, once."""
        shown = _name(name, "name")
        shown_en = _name(name_en, "English name") if name_en else shown
        if webhook_url is not None:
            try:
                check_service_url(webhook_url)
            except InvalidDeliveryServices:
                raise InvalidBusiness(
                    "the webhook URL is https://… (http only to this machine), without a user "
                    "or a fragment"
                ) from None
            if len(webhook_url) > 400:
                raise InvalidBusiness("the webhook URL is at most 400 characters")
        business_id = secrets.token_hex(16)
        api_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        now = self.clock.now().astimezone(dt.UTC)
        with self.store.transaction() as s:
            s.execute(
                insert(businesses).values(
                    business_id=business_id,
                    name=shown,
                    name_en=shown_en,
                    api_key_hash=key_hash(api_key),
                    webhook_url=webhook_url,
                    registered_at=now,
                )
            )
        secret = SECRET_PREFIX + base64.b64encode(self.webhook_secret(business_id)).decode()
        return Registered(Business(business_id, shown, shown_en, webhook_url, now), api_key, secret)

    def get(self, business_id: str) -> Business | None:
        """A business by id, or None."""
        with self.store.transaction() as s:
            row = s.execute(
                select(businesses).where(businesses.c.business_id == business_id[:32])
            ).first()
        return None if row is None else _business(row)

    def all(self) -> list[Business]:
        """Every registered business, oldest first."""
        with self.store.transaction() as s:
            rows = s.execute(select(businesses).order_by(businesses.c.registered_at)).all()
        return [_business(r) for r in rows]

    def authenticate(self, authorization: str | None) -> Business:
        """The business whose API key an ``Authorization: Bearer`` header carries."""
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key.startswith(API_KEY_PREFIX) or len(key) > 100:
            raise BusinessUnauthorized("give the business's API key as a Bearer token")
        with self.store.transaction() as s:
            row = s.execute(
                select(businesses).where(businesses.c.api_key_hash == key_hash(key.strip()))
            ).first()
        if row is None:
            raise BusinessUnauthorized("the API key is not a registered business's")
        return _business(row)
