"""What e-applications are made of: drafts, card requests, applications and their status.

The status model (each change one append-only ``StatusChange``, with who, when and why)::

    submitted ──receive──► received ──decide──► approved
    (申請済み)              (受付済み)     └────► rejected (却下: a reason is required)

- ``submitted``: the portal verified the signature and the certificate's status and
  delivered the application to the receiving municipality's inbox;
- ``received``: the municipality's back office recorded its receipt (受付);
- ``approved`` / ``rejected``: the decision (決定 / 却下), with its grounds. A refusal states
  its reason (行政手続法 第8条第1項: 申請により求められた許認可等を拒否する処分をする場合は、
  同時に、当該処分の理由を示さなければならない).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

from openmyna.numbers.redaction import masked_repr


class ApplicationStatus(StrEnum):
    """Where an application stands."""

    SUBMITTED = "submitted"
    RECEIVED = "received"
    APPROVED = "approved"
    REJECTED = "rejected"

    @property
    def decided(self) -> bool:
        """Whether a decision was made (approved or rejected)."""
        return self in (ApplicationStatus.APPROVED, ApplicationStatus.REJECTED)


class Outcome(StrEnum):
    """A decision on an application."""

    APPROVED = "approved"
    REJECTED = "rejected"

    @property
    def status(self) -> ApplicationStatus:
        """The status the decision leads to."""
        return ApplicationStatus(self.value)


#: Which status each change may start from.
TRANSITIONS: dict[ApplicationStatus, tuple[ApplicationStatus, ...]] = {
    ApplicationStatus.SUBMITTED: (),
    ApplicationStatus.RECEIVED: (ApplicationStatus.SUBMITTED,),
    ApplicationStatus.APPROVED: (ApplicationStatus.RECEIVED,),
    ApplicationStatus.REJECTED: (ApplicationStatus.RECEIVED,),
}


class DraftStatus(StrEnum):
    """Where a draft stands."""

    EDITING = "editing"
    SIGNING = "signing"
    SUBMITTED = "submitted"


class CardRequestKind(StrEnum):
    """What a card request asks the holder's app to do."""

    PREFILL = "prefill"
    SIGN = "sign"


class CardRequestStatus(StrEnum):
    """Where a card request stands."""

    PENDING = "pending"
    ANSWERED = "answered"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Draft:
    """An application being filled in, the person's own."""

    draft_id: str
    account_id: str
    service_id: str
    status: DraftStatus
    answers: dict[str, object] = field(repr=False)
    #: The input names the card filled.
    prefilled: frozenset[str]
    consented_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    expires_at: dt.datetime


@dataclass(frozen=True)
class AttachmentInfo:
    """A file attached to a draft or an application (its content is read separately)."""

    slot: str
    filename: str
    media_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class CardRequest:
    """A one-time request for the holder's card (fill the form, or sign)."""

    request_id: str
    kind: CardRequestKind
    draft_id: str
    account_id: str
    status: CardRequestStatus
    last_error: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    answered_at: dt.datetime | None

    def live(self, now: dt.datetime) -> bool:
        """Whether the holder's app may still answer it."""
        return self.status is CardRequestStatus.PENDING and now < self.expires_at


@dataclass(frozen=True)
class CardTask:
    """What the holder's app is asked to do (``GET`` on the one-time URL)."""

    kind: CardRequestKind
    service_title: dict[str, str]
    municipality: str
    expires_at: dt.datetime
    #: ``prefill``: the card items the form takes (the number only if the form asks for it).
    items: tuple[str, ...] = ()
    #: ``sign``: the bytes to sign (the application's canonical document).
    document: bytes = field(default=b"", repr=False)
    #: The portal page waiting for the answer (the demo wallet links back to it).
    return_to: str = ""


@dataclass(frozen=True)
class PrefillItems:
    """What the holder's app read from the 券面事項入力補助AP and posts (what was asked)."""

    name: str | None = None
    address: str | None = None
    date_of_birth: dt.date | None = None
    sex: int | None = None
    #: Only when the form asks for the number (and the request said so).
    individual_number: str | None = None

    def given(self) -> set[str]:
        """The items that were sent."""
        return {k for k, v in vars(self).items() if v is not None}

    def __repr__(self) -> str:
        return masked_repr(self)


@dataclass(frozen=True)
class StatusChange:
    """One change of an application's status (a row of the append-only log)."""

    event_id: int
    application_id: str
    lg_code: str
    status: ApplicationStatus
    recorded_at: dt.datetime
    actor: str
    reason: str


@dataclass(frozen=True)
class Application:
    """A signed application, delivered to the receiving municipality."""

    application_id: str
    reference: str
    account_id: str
    service_id: str
    form_id: str
    form_version: int
    lg_code: str
    #: The signed document (canonical JSON, UTF-8).
    document: bytes = field(repr=False)
    document_sha256: str
    #: The detached CMS SignedData (DER) over ``document``.
    cms: bytes = field(repr=False)
    signer_serial: int
    signer_subject_id: str
    signed_at: dt.datetime
    submitted_at: dt.datetime
    status: ApplicationStatus
    status_at: dt.datetime

    def answers(self) -> dict[str, object]:
        """The answers, as signed."""
        from openmyna.portal.eapply.canonical import read_document

        answers = read_document(self.document)["answers"]
        assert isinstance(answers, dict)
        return answers
