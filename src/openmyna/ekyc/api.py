"""The business-facing HTTP API of the eKYC platform operator, under ``/api/ekyc``.

Every route takes the business's API key as ``Authorization: Bearer ekyc_…``. Errors are
problem+json with stable codes: the platform's own (``EKYC_BAD_API_KEY`` 401,
``EKYC_BUSINESS_SUSPENDED`` 403, ``EKYC_BAD_INPUT`` / ``INVALID_INPUT`` 400) and, for a
refused customer signature, the JPKI verifier's code (``CERT_REVOKED``, ``CERT_FORGED``,
``WRONG_CA``, …) with HTTP 422 — the business's request was fine, the customer's signature
is not — except ``CMS_MALFORMED`` (400) and ``STATUS_UNKNOWN`` (503: ask again later).

- ``POST /api/ekyc/verifications`` — a customer's signature: ``{"cms", "data"}`` (a detached
  CMS SignedData and the data it signs) or ``{"certificate", "data", "signature"}`` (a raw
  PKCS#1 v1.5 signature), each base64; the answer: the certificate, its status at the time
  of use (OCSP), and the 4 items read from it.
- ``GET /api/ekyc/audit`` — the business's own audit log (newest first).
- ``GET /api/ekyc/usage?month=YYYY-MM`` — the business's own queries and amount that month.
"""

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute

from openmyna import problems
from openmyna.ekyc.errors import BadApiKey, BadRequestData
from openmyna.ekyc.service import (
    MAX_CERT_BYTES,
    MAX_DATA_BYTES,
    SIGNATURE_BYTES,
    Caller,
    EkycPlatform,
    Verification,
)
from openmyna.guard import CREDENTIALS_OR_PARAMETERS
from openmyna.pki.cms import MAX_CMS_BYTES
from openmyna.pki.errors import CmsMalformed, StatusUnknown, VerificationFailed

PREFIX = "/api/ekyc"
# No ``from __future__ import annotations`` here: the routes' dependency alias (``WhoDep``)
# is local to ``routes`` and FastAPI must see the annotations evaluated.


def _b64_length(raw: int) -> int:
    return 4 * ((raw + 2) // 3)


class VerificationRequest(BaseModel):
    """A customer's signature: CMS + data, or certificate + data + signature (base64)."""

    model_config = ConfigDict(extra="forbid")

    data: str = Field(
        min_length=1,
        max_length=_b64_length(MAX_DATA_BYTES),
        description="The data the customer signed (the business's challenge), base64.",
    )
    cms: str | None = Field(
        default=None,
        max_length=_b64_length(MAX_CMS_BYTES),
        description="A detached CMS SignedData (DER, base64) over ``data``.",
    )
    certificate: str | None = Field(
        default=None,
        max_length=_b64_length(MAX_CERT_BYTES),
        description="The signature certificate (DER, base64), with ``signature``.",
    )
    signature: str | None = Field(
        default=None,
        max_length=_b64_length(SIGNATURE_BYTES),
        description="RSASSA-PKCS1-v1_5 with SHA-256 over ``data`` (base64), with ``certificate``.",
    )

    @model_validator(mode="after")
    def _one_form(self) -> "VerificationRequest":
        raw = self.certificate is not None or self.signature is not None
        if (self.cms is None) == (not raw) or (raw and None in (self.certificate, self.signature)):
            raise ValueError("give cms, or certificate and signature")
        return self


class CertificateView(BaseModel):
    """The signature certificate that was checked."""

    serial: str
    kind: str = "sign"
    not_before: str
    not_after: str
    der: str = Field(description="The certificate (DER, base64), for the business's record.")


class StatusView(BaseModel):
    """The certificate's status at the time of use."""

    state: str = Field(description="``good``: neither revoked nor suspended now.")
    source: str = Field(description="Where the status came from: ``ocsp``.")
    checked_at: str


class ItemsView(BaseModel):
    """The 4 basic items (基本4情報) read from the signature certificate."""

    name: str
    name_substitute: str = Field(description="The name with 〓 for characters outside JIS X 0208.")
    address: str
    address_substitute: str
    date_of_birth: str
    sex: int = Field(description="ISO 5218: 1 male, 2 female, 9 not applicable, 0 unknown.")


class VerificationView(BaseModel):
    """An accepted customer signature."""

    result: str = "accepted"
    reference: str = Field(description="The platform's record of this check (audit log).")
    data_sha256: str
    signing_time: str | None = Field(description="The CMS signing-time (as the signer claims).")
    certificate: CertificateView
    status: StatusView
    items: ItemsView


def _view(v: Verification) -> VerificationView:
    items = v.items
    return VerificationView(
        reference=v.reference,
        data_sha256=v.data_sha256,
        signing_time=v.signing_time.isoformat() if v.signing_time else None,
        certificate=CertificateView(
            serial=f"{v.serial:x}",
            not_before=v.not_before.isoformat(),
            not_after=v.not_after.isoformat(),
            der=base64.b64encode(v.certificate_der).decode("ascii"),
        ),
        status=StatusView(
            state=v.status, source=v.status_source, checked_at=v.checked_at.isoformat()
        ),
        items=ItemsView(
            name=items.name,
            name_substitute=items.name_substitute,
            address=items.address,
            address_substitute=items.address_substitute,
            date_of_birth=items.date_of_birth.isoformat(),
            sex=items.sex,
        ),
    )


def _decode(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequestData(f"the {what} is not base64", field=what) from None


def _refusal_status(refused: VerificationFailed) -> int:
    if isinstance(refused, CmsMalformed):
        return 400
    if isinstance(refused, StatusUnknown):
        return 503
    return 422


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {problems.PROBLEM_JSON: {}}}


def routes(platform: EkycPlatform) -> list[BaseRoute]:
    """The business-facing routes over ``platform``."""

    def caller(request: Request, response: Response) -> Caller:
        # Answers carry the 4 items or the business's records: never kept by a cache.
        response.headers["Cache-Control"] = "no-store"
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise BadApiKey("an API key is required: Authorization: Bearer ekyc_…")
        return platform.authenticate(token.strip())

    WhoDep = Annotated[Caller, Depends(caller)]  # noqa: N806 - a type alias
    responses: dict[int | str, dict[str, Any]] = {
        400: _problem("Malformed input (INVALID_INPUT, EKYC_BAD_INPUT, CMS_MALFORMED)."),
        401: _problem("No valid API key (EKYC_BAD_API_KEY)."),
        403: _problem("The business is suspended (EKYC_BUSINESS_SUSPENDED)."),
        422: _problem("The customer's signature or certificate is refused (its code)."),
        503: _problem("No trustworthy certificate status now (STATUS_UNKNOWN)."),
    }
    api = APIRouter(prefix=PREFIX, tags=["ekyc"], responses=responses)

    @api.post("/verifications", response_model=VerificationView)
    async def verify(body: VerificationRequest, who: WhoDep) -> Any:
        """Verify a customer's JPKI signature: certificate, status (OCSP) and the 4 items."""
        data = _decode(body.data, "data")
        try:
            if body.cms is not None:
                cms = _decode(body.cms, "cms")
                done = await run_in_threadpool(platform.verify_cms, who, cms, data)
            else:
                assert body.certificate is not None
                assert body.signature is not None
                cert = _decode(body.certificate, "certificate")
                signature = _decode(body.signature, "signature")
                done = await run_in_threadpool(platform.verify_raw, who, cert, data, signature)
        except VerificationFailed as refused:
            return problems.response(
                refused, status=_refusal_status(refused), headers={"Cache-Control": "no-store"}
            )
        return _view(done)

    @api.get("/audit", openapi_extra=CREDENTIALS_OR_PARAMETERS)
    def audit(
        who: WhoDep, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[dict[str, Any]]:
        """The calling business's own audit log, newest first (no personal data)."""
        return [
            {
                "entry_id": e.entry_id,
                "recorded_at": e.recorded_at.isoformat(),
                "action": e.action,
                "result": e.result,
                "actor": e.actor,
                "cert_serial": e.cert_serial,
                "data_sha256": e.data_sha256,
                "cert_status": e.cert_status,
                "status_source": e.status_source,
                "billed": e.billed,
                "price_yen": e.price_yen,
            }
            for e in platform.audit(who.business.business_id, limit=limit)
        ]

    @api.get("/usage", openapi_extra=CREDENTIALS_OR_PARAMETERS)
    def usage(
        who: WhoDep, month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")]
    ) -> dict[str, Any]:
        """The calling business's queries and billed amount in a month (YYYY-MM, JST)."""
        [line] = platform.bill(month, who.business.business_id)
        return {
            "month": line.month,
            "queries": line.queries,
            "billed": line.billed,
            "amount_yen": line.amount_yen,
        }

    return list(api.routes)
