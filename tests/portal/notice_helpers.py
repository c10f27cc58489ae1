"""Helpers of the notice tests (imported as a plain module): codes, posts, delivery services.

An agency knows a person by its own agency-specific code, which it got from the hub with
the number once; the tests get it the same way (``agency_code``).
"""

from __future__ import annotations

import base64
import itertools
from pathlib import Path

from openmyna.platform import Platform
from openmyna.portal.notices import Posted
from openmyna.registry import Resident

MAEBASHI_AGENCY = "lg-102016"
_keys = itertools.count(1)


def agency_code(platform: Platform, person: Resident, agency: str = MAEBASHI_AGENCY) -> str:
    """The agency's own code for the person (issued by the hub on first request)."""
    return platform.network.issue_code(agency, person.individual_number)


def post(
    platform: Platform,
    person: Resident,
    *,
    title: str = "住民税の納税通知書を送付しました",
    body: str = "令和8年度の住民税の納税通知書を送付しました。\n納期限は6月30日です。",
    category: str = "tax",
    link: str | None = None,
    agency: str = MAEBASHI_AGENCY,
    key: str | None = None,
) -> Posted:
    """``agency`` posts a notice to ``person`` in process (``Notices.post``)."""
    return platform.portal.notices.post(
        agency,
        agency_code(platform, person, agency),
        title=title,
        body=body,
        category=category,
        link=link,
        idempotency_key=key or f"test-notice-{next(_keys):06d}",
    )


def secret_text(key: bytes) -> str:
    """A Standard Webhooks secret (``whsec_`` and base64) for ``key``."""
    return "whsec_" + base64.b64encode(key).decode("ascii")


def write_services(path: Path, services: list[tuple[str, str, bytes]]) -> Path:
    """A delivery service list (mode 0600) of (id, url, secret key)."""
    lines: list[str] = []
    for service_id, url, key in services:
        lines += [
            "[[service]]",
            f'id = "{service_id}"',
            f'name = "送達サービス {service_id}"',
            f'name_en = "Delivery service {service_id}"',
            f'url = "{url}"',
            f'secret = "{secret_text(key)}"',
            "",
        ]
    path.write_text("\n".join(lines), "utf-8")
    path.chmod(0o600)
    return path
