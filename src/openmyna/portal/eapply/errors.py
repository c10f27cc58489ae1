"""Errors of e-applications (申請, P5), each with a stable code.

Messages never carry the answers of a form, a name, an address or a number: only which
service, draft or field, by id.
"""

from __future__ import annotations

from openmyna.errors import Conflict, InvalidInput, NotFound, OpenMynaError


class FormDefinitionInvalid(OpenMynaError):
    """A form definition or the service catalogue (package data) breaks the schema."""

    code = "FORM_DEFINITION_INVALID"
    http_status = 500


class ServiceNotFound(NotFound):
    """No service with that id in the catalogue."""

    code = "SERVICE_NOT_FOUND"


class DraftNotFound(NotFound):
    """No draft with that id for this person (another person's draft is not found either)."""

    code = "DRAFT_NOT_FOUND"


class ApplicationNotFound(NotFound):
    """No application with that id for this person or this municipality."""

    code = "APPLICATION_NOT_FOUND"


class AttachmentNotFound(NotFound):
    """No attachment of that name on the application."""

    code = "ATTACHMENT_NOT_FOUND"


class FormIncomplete(InvalidInput):
    """The draft's answers do not pass its form's definition yet (signing refused)."""

    code = "FORM_INCOMPLETE"


class DraftNotEditable(Conflict):
    """The draft was submitted, or expired: it cannot change any more."""

    code = "DRAFT_NOT_EDITABLE"


class ConsentRequired(InvalidInput):
    """Reading the card to fill the form needs the person's consent on the page first."""

    code = "PREFILL_CONSENT_REQUIRED"


class CardRequestNotFound(NotFound):
    """No live card request with that token (unknown, expired or already answered)."""

    code = "CARD_REQUEST_NOT_FOUND"


class CardRequestUsed(Conflict):
    """The card request was answered already: a one-time URL works once."""

    code = "CARD_REQUEST_USED"


class CardAnswerInvalid(InvalidInput):
    """What the holder's app posted is not what the card request asked for."""

    code = "CARD_ANSWER_INVALID"


class SignerNotApplicant(OpenMynaError):
    """The signature certificate is not the logged-in person's (another person's card)."""

    code = "SIGNER_NOT_APPLICANT"
    http_status = 403


class SigningTimeInvalid(InvalidInput):
    """The signature's signing time lies outside the signing request's lifetime."""

    code = "SIGNING_TIME_INVALID"


class AlreadySubmitted(Conflict):
    """An application with this id was submitted already, with another document."""

    code = "APPLICATION_ALREADY_SUBMITTED"


class StatusConflict(Conflict):
    """The application's status does not allow this change (e.g. decided before received)."""

    code = "APPLICATION_STATUS_CONFLICT"


class ReasonRequired(InvalidInput):
    """A rejection needs its reason (行政手続法 第8条)."""

    code = "DECISION_REASON_REQUIRED"
