"""The signed bytes of an application: one canonical JSON document.

The document is JSON in the canonical form of RFC 8785 (JCS) for the values it holds:
UTF-8, no insignificant whitespace, object members sorted by name, strings with only the
escapes JSON requires (``"``, ``\\``, control characters; no ``\\u`` for other characters),
integers in decimal. Every member name is ASCII (section, field and attachment names are
identifiers by the form schema) and integers stay within ±999,999,999, so Python's
``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` produces exactly
the JCS bytes. The same answers always give the same bytes, which the applicant signs and
the municipality verifies as they were stored.

Members (``format`` names this layout)::

    {"answers": {<section>: {<field>: value} | [{<field>: value}, …]},
     "application_id": "…", "attachments": [{"media_type", "name", "sha256", "size",
     "slot"}], "format": "openmyna-eapply/1", "prepared_at": "2026-04-01T09:00:00+09:00",
     "receiver": {"agency_id": "lg-281000", "department": "…", "lg_code": "281000",
     "municipality": "兵庫県神戸市"}, "service": {"form_id", "form_version", "service_id",
     "title"}}

Attachments are signed by their SHA-256, not their content.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from openmyna.clock import JST
from openmyna.portal.eapply.catalogue import Service
from openmyna.portal.eapply.models import AttachmentInfo

FORMAT = "openmyna-eapply/1"


def canonical_json(value: object) -> bytes:
    """``value`` as canonical JSON bytes (RFC 8785 for strings, integers, booleans, null)."""
    return json.dumps(
        value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def document(
    *,
    application_id: str,
    service: Service,
    answers: dict[str, Any],
    attachments: Sequence[AttachmentInfo],
    prepared_at: dt.datetime,
) -> bytes:
    """The bytes the applicant signs for ``service`` with these answers."""
    form = service.form
    return canonical_json(
        {
            "format": FORMAT,
            "application_id": application_id,
            "service": {
                "service_id": service.service_id,
                "form_id": form.id,
                "form_version": form.version,
                "title": form.title.ja,
            },
            "receiver": {
                "lg_code": service.lg_code,
                "agency_id": service.agency_id,
                "municipality": service.municipality.full_name,
                "department": form.receiver.department.ja,
            },
            "answers": answers,
            "attachments": [
                {
                    "slot": a.slot,
                    "name": a.filename,
                    "media_type": a.media_type,
                    "size": a.size,
                    "sha256": a.sha256,
                }
                for a in sorted(attachments, key=lambda a: a.slot)
            ],
            "prepared_at": prepared_at.astimezone(JST).replace(microsecond=0).isoformat(),
        }
    )


def read_document(data: bytes) -> dict[str, Any]:
    """A signed document read back (it was written by ``document``)."""
    value = json.loads(data.decode("utf-8"))
    if not isinstance(value, dict) or value.get("format") != FORMAT:
        raise ValueError("not an openmyna e-application document")
    return value
