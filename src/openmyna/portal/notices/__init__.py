"""お知らせ (SPEC P4): notices agencies send to people through the portal.

- ``Notices`` (``service``): post (agencies, by their own code for the person), read (the
  person, only their own), forward to a private delivery service (民間送達) by webhook.
- ``api``: the agency-facing API, over mutual TLS with the network's node certificates
  (``openmyna portal notices-api``).
- ``delivery``: the installation's list of delivery services, the webhook's signature
  (Standard Webhooks v1, HMAC-SHA256) and its retries.
- ``web``: the person's pages ``/notices`` and ``/notices/delivery``.
"""

from openmyna.portal.notices.delivery import (
    DeliveryService,
    DeliveryServices,
    load_delivery_services,
)
from openmyna.portal.notices.service import (
    DeliverySetting,
    Notice,
    NoticePage,
    Notices,
    Posted,
)

__all__ = [
    "DeliveryService",
    "DeliveryServices",
    "DeliverySetting",
    "Notice",
    "NoticePage",
    "Notices",
    "Posted",
    "load_delivery_services",
]
