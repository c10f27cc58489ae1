"""Drafts: an application being filled in (一時保存), its answers, attachments and pre-fill.

Every method takes the account asking and finds only that account's drafts: another
person's draft id is ``DRAFT_NOT_FOUND``, exactly like an id that does not exist.

A save keeps the answers that passed and returns every error; the page shows the errors
beside the fields. Files are checked by their first bytes (PDF, JPEG, PNG), not by the type
the browser claims, and by the size the form allows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from openmyna.clock import Clock
from openmyna.portal.eapply.catalogue import Catalogue, Service
from openmyna.portal.eapply.errors import DraftNotEditable, DraftNotFound
from openmyna.portal.eapply.forms import (
    Answers,
    Checked,
    FieldError,
    FormDefinition,
    check_answers,
    field_key,
)
from openmyna.portal.eapply.models import (
    AttachmentInfo,
    CardRequestStatus,
    Draft,
    DraftStatus,
    PrefillItems,
)
from openmyna.portal.eapply.tables import attachments, card_requests, drafts
from openmyna.store import Store

#: A draft is kept this long after its last change (then it can no longer be edited).
DRAFT_TTL = dt.timedelta(days=7)
_MAGIC = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}
_KIND_NAMES = {"application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG"}
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


def aware(value: dt.datetime) -> dt.datetime:
    """A stored time as timezone-aware UTC (SQLite returns naive UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Upload:
    """A file the browser sent for one attachment of the form."""

    slot: str
    filename: str
    content: bytes = field(repr=False)


def sniffed_type(content: bytes) -> str | None:
    """The media type the file's first bytes show (PDF, JPEG, PNG), or ``None``."""
    for media_type, signatures in _MAGIC.items():
        if any(content.startswith(sig) for sig in signatures):
            return media_type
    return None


def safe_filename(name: str) -> str:
    """A file name as shown and signed: no path, no control characters, at most 120."""
    base = re.split(r"[/\\]", name)[-1]
    cleaned = _UNSAFE_NAME.sub("", unicodedata.normalize("NFC", base)).strip()
    return (cleaned or "file")[-120:]


def _draft(row: RowMapping) -> Draft:
    return Draft(
        draft_id=row["draft_id"],
        account_id=row["account_id"],
        service_id=row["service_id"],
        status=DraftStatus(row["status"]),
        answers=json.loads(row["answers"]),
        prefilled=frozenset(json.loads(row["prefilled"])),
        consented_at=aware(row["consented_at"]) if row["consented_at"] else None,
        created_at=aware(row["created_at"]),
        updated_at=aware(row["updated_at"]),
        expires_at=aware(row["expires_at"]),
    )


def _info(row: RowMapping) -> AttachmentInfo:
    return AttachmentInfo(
        row["slot"], row["filename"], row["media_type"], row["size"], row["sha256"]
    )


def _dump(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class Drafts:
    """The drafts of every account, in the e-applications' store."""

    def __init__(self, store: Store, clock: Clock, catalogue: Catalogue) -> None:
        self.store = store
        self.clock = clock
        self.catalogue = catalogue

    def start(self, account_id: str, service_id: str) -> Draft:
        """A new, empty draft of ``service_id`` for the account."""
        service = self.catalogue.service(service_id)
        now = self.clock.now()
        draft_id = secrets.token_hex(16)
        with self.store.transaction() as s:
            s.execute(
                insert(drafts).values(
                    draft_id=draft_id,
                    account_id=account_id,
                    service_id=service.service_id,
                    form_id=service.form.id,
                    form_version=service.form.version,
                    status=DraftStatus.EDITING.value,
                    answers="{}",
                    prefilled="[]",
                    consented_at=None,
                    created_at=now,
                    updated_at=now,
                    expires_at=now + DRAFT_TTL,
                )
            )
        return self.get(account_id, draft_id)

    def row(self, s: Session, account_id: str, draft_id: str) -> RowMapping:
        """The account's draft row (``DRAFT_NOT_FOUND`` for anyone else's)."""
        row = (
            s.execute(
                select(drafts).where(
                    drafts.c.draft_id == draft_id[:32], drafts.c.account_id == account_id
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise DraftNotFound("no such draft", draft_id=draft_id[:32])
        return row

    def get(self, account_id: str, draft_id: str) -> Draft:
        """One of the account's drafts."""
        with self.store.transaction() as s:
            return _draft(self.row(s, account_id, draft_id))

    def open_drafts(self, account_id: str) -> list[Draft]:
        """The account's drafts not yet submitted nor expired, newest first."""
        now = self.clock.now()
        with self.store.transaction() as s:
            rows = s.execute(
                select(drafts)
                .where(
                    drafts.c.account_id == account_id,
                    drafts.c.status != DraftStatus.SUBMITTED.value,
                )
                .order_by(drafts.c.updated_at.desc())
            ).mappings()
            found = [_draft(r) for r in rows]
        return [d for d in found if d.expires_at > now]

    def service_of(self, draft: Draft) -> Service:
        """The service a draft applies for."""
        return self.catalogue.service(draft.service_id)

    def editable(self, s: Session, account_id: str, draft_id: str) -> RowMapping:
        """The draft row, if it may still change (``DRAFT_NOT_EDITABLE`` otherwise)."""
        row = self.row(s, account_id, draft_id)
        if row["status"] == DraftStatus.SUBMITTED.value or aware(row["expires_at"]) <= (
            self.clock.now()
        ):
            raise DraftNotEditable("the draft was submitted or has expired")
        return row

    def save(
        self,
        account_id: str,
        draft_id: str,
        raw: Mapping[str, str],
        *,
        uploads: Iterable[Upload] = (),
        remove: Iterable[str] = (),
    ) -> Checked:
        """Check and keep the answers (those that passed); the errors, by input name.

        A draft out for signing goes back to editing (its signing request is cancelled).
        """
        now = self.clock.now()
        with self.store.transaction() as s:
            row = self.editable(s, account_id, draft_id)
            form = self.catalogue.service(row["service_id"]).form
            old = json.loads(row["answers"])
            checked = check_answers(form, raw, self.clock.today(), kept=old)
            kept = _passed(form, checked, old)
            file_errors = self._files(s, form, draft_id, list(uploads), set(remove), now)
            checked.errors.update(file_errors)
            for attachment in form.attachments:
                missing = attachment.required and attachment.name not in file_errors
                if missing and not self._has_file(s, draft_id, attachment.name):
                    checked.errors[attachment.name] = FieldError("attachment_required")
            prefilled = set(json.loads(row["prefilled"]))
            still = {k for k in prefilled if _value_at(kept, k) == _value_at(old, k)}
            s.execute(
                update(drafts)
                .where(drafts.c.draft_id == row["draft_id"])
                .values(
                    answers=_dump(kept),
                    prefilled=_dump(sorted(still)),
                    status=DraftStatus.EDITING.value,
                    updated_at=now,
                    expires_at=now + DRAFT_TTL,
                )
            )
            cancel_pending(s, row["draft_id"])
        return checked

    def _has_file(self, s: Session, draft_id: str, slot: str) -> bool:
        found = s.execute(
            select(attachments.c.attachment_id).where(
                attachments.c.draft_id == draft_id, attachments.c.slot == slot
            )
        ).first()
        return found is not None

    def _files(
        self,
        s: Session,
        form: FormDefinition,
        draft_id: str,
        uploads: list[Upload],
        remove: set[str],
        now: dt.datetime,
    ) -> dict[str, FieldError]:
        errors: dict[str, FieldError] = {}
        slots = {a.name: a for a in form.attachments}
        for slot in remove & set(slots):
            s.execute(
                delete(attachments).where(
                    attachments.c.draft_id == draft_id, attachments.c.slot == slot
                )
            )
        for upload in uploads:
            definition = slots.get(upload.slot)
            if definition is None or not upload.content:
                continue
            media_type = sniffed_type(upload.content)
            if len(upload.content) > definition.max_bytes:
                limit = f"{definition.max_bytes // (1024 * 1024)} MB"
                errors[upload.slot] = FieldError("attachment_size", {"limit": limit})
                continue
            if media_type is None or media_type not in definition.media_types:
                kinds = " / ".join(_KIND_NAMES[t] for t in definition.media_types)
                errors[upload.slot] = FieldError("attachment_type", {"types": kinds})
                continue
            s.execute(
                delete(attachments).where(
                    attachments.c.draft_id == draft_id, attachments.c.slot == upload.slot
                )
            )
            s.execute(
                insert(attachments).values(
                    attachment_id=secrets.token_hex(16),
                    draft_id=draft_id,
                    slot=upload.slot,
                    filename=safe_filename(upload.filename),
                    media_type=media_type,
                    size=len(upload.content),
                    sha256=hashlib.sha256(upload.content).hexdigest(),
                    content=upload.content,
                    created_at=now,
                )
            )
        return errors

    def attachments(self, draft_id: str) -> list[AttachmentInfo]:
        """The files attached to a draft (or to the application it became)."""
        with self.store.transaction() as s:
            return self.attached(s, draft_id)

    @staticmethod
    def attached(s: Session, draft_id: str) -> list[AttachmentInfo]:
        """The files attached to a draft (inside ``s``)."""
        columns = [c for c in attachments.c if c.name != "content"]
        rows = s.execute(
            select(*columns).where(attachments.c.draft_id == draft_id).order_by(attachments.c.slot)
        ).mappings()
        return [_info(r) for r in rows]

    def attachment_content(self, draft_id: str, slot: str) -> tuple[AttachmentInfo, bytes] | None:
        """One attached file and its bytes, if there is one."""
        with self.store.transaction() as s:
            row = (
                s.execute(
                    select(attachments).where(
                        attachments.c.draft_id == draft_id, attachments.c.slot == slot[:40]
                    )
                )
                .mappings()
                .first()
            )
        return None if row is None else (_info(row), bytes(row["content"]))

    def consent(self, s: Session, row: RowMapping) -> None:
        """Record the person's consent to fill this draft from their card (inside ``s``)."""
        s.execute(
            update(drafts)
            .where(drafts.c.draft_id == row["draft_id"])
            .values(consented_at=self.clock.now())
        )

    def fill(self, s: Session, row: RowMapping, items: PrefillItems) -> None:
        """Put the card's items into the fields the form marks (inside ``s``)."""
        form = self.catalogue.service(row["service_id"]).form
        answers: Answers = json.loads(row["answers"])
        filled = set(json.loads(row["prefilled"]))
        values: dict[str, object] = {
            "name": items.name,
            "address": items.address,
            "date_of_birth": items.date_of_birth.isoformat() if items.date_of_birth else None,
            "sex": None if items.sex is None else str(items.sex),
            "individual_number": items.individual_number,
        }
        for section in form.sections:
            if section.repeat is not None:
                continue
            target = answers.setdefault(section.id, {})
            for f in section.fields:
                value = values.get(f.prefill) if f.prefill else None
                if value is None:
                    continue
                if f.type == "choice" and value not in {c.value for c in f.choices}:
                    continue  # e.g. a sex code the form does not offer
                target[f.name] = value
                filled.add(field_key(section.id, f.name))
        s.execute(
            update(drafts)
            .where(drafts.c.draft_id == row["draft_id"])
            .values(
                answers=_dump(answers),
                prefilled=_dump(sorted(filled)),
                status=DraftStatus.EDITING.value,
                updated_at=self.clock.now(),
            )
        )


def cancel_pending(s: Session, draft_id: str, kind: str | None = None) -> None:
    """Cancel the draft's card requests still out (of ``kind``, or all)."""
    condition = (card_requests.c.draft_id == draft_id) & (
        card_requests.c.status == CardRequestStatus.PENDING.value
    )
    if kind is not None:
        condition = condition & (card_requests.c.kind == kind)
    s.execute(
        update(card_requests).where(condition).values(status=CardRequestStatus.CANCELLED.value)
    )


def _passed(form: FormDefinition, checked: Checked, old: Answers) -> Answers:
    """The answers that passed; a number that failed leaves the one kept before."""
    kept: Answers = {}
    for section in form.sections:
        value = checked.answers.get(section.id)
        if section.repeat is None and isinstance(value, dict):
            earlier = old.get(section.id)
            before: dict[str, object] = earlier if isinstance(earlier, dict) else {}
            kept[section.id] = {}
            for f in section.fields:
                if field_key(section.id, f.name) not in checked.errors:
                    kept[section.id][f.name] = value.get(f.name)
                elif f.type == "individual_number" and before.get(f.name):
                    kept[section.id][f.name] = before[f.name]
        elif isinstance(value, list):
            kept[section.id] = value
    return kept


def _value_at(answers: Answers, key: str) -> object:
    section, _, name = key.partition(".")
    values = answers.get(section)
    return values.get(name) if isinstance(values, dict) else None
