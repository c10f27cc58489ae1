"""最新の4情報提供サービス (SPEC J4): the latest 4 items for businesses, on the person's consent.

A business that verified a person once (eKYC with the signature certificate) learns their
current 4 items (name, address, date of birth, sex) after a move or a change of name,
because the person consented, signed with the signature certificate on the portal's 同意
page. The registry's events on the bus drive it: a move at the counter reaches the
business without anyone re-entering it. Revoking the consent stops it; every grant,
revocation, provision and refusal is a row of an append-only log.

- ``businesses``: the register (operator CLI), API keys by hash, derived webhook secrets;
- ``consents``: consent requests (by certificate serial or one-time link), listing and
  revocation; ``signing``: the card signature (the e-applications' one-time card request);
  ``records``: what both return, and the append-only log;
- ``provision``: the bus consumer, the outbox, webhooks (Standard Webhooks, retried) and
  the polling feed;
- ``api``: the business-facing HTTP API (problem+json); ``cli``: ``openmyna latest-items``.
"""

from openmyna.latest_items.businesses import Business, Businesses, Registered
from openmyna.latest_items.consents import Consents
from openmyna.latest_items.provision import Provided, Provision
from openmyna.latest_items.records import Consent, ConsentRequest
from openmyna.latest_items.service import LatestItems
from openmyna.latest_items.signing import ConsentSigning

__all__ = [
    "Business",
    "Businesses",
    "Consent",
    "ConsentRequest",
    "ConsentSigning",
    "Consents",
    "LatestItems",
    "Provided",
    "Provision",
    "Registered",
]
