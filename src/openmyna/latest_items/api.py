"""The business-facing API of the latest-4-items service (JSON; errors are problem+json).

Every call carries the business's API key (``Authorization: Bearer lik_…``); a business sees
only its own requests, consents and changes (another's id is ``…_NOT_FOUND``, as an unknown
one). The routes:

- ``POST /latest-items/v1/consent-requests`` ``{"certificate_serial": HEX, "reference"}`` or
  ``{"link": true, "reference"}`` → 201 ``{"request_id", "status", "expires_at",
  "consent_url"?}`` (the one-time link, for a request by link: give it to the person);
- ``GET /latest-items/v1/consent-requests/{id}`` → its status and, once signed, the consent;
- ``GET /latest-items/v1/consents/{id}`` → the consent's status (``active``, ``revoked``);
- ``GET /latest-items/v1/changes?after=SEQ&limit=N`` → the changes after the cursor, oldest
  first, and ``next`` (the cursor to give next time): the polling alternative to webhooks.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute

from openmyna.guard import CREDENTIALS_OR_PARAMETERS
from openmyna.latest_items.businesses import Business
from openmyna.latest_items.provision import FEED_LIMIT, Provided
from openmyna.latest_items.records import Consent, ConsentRequest
from openmyna.latest_items.service import LatestItems

PREFIX = "/latest-items/v1"
_NO_STORE = {"Cache-Control": "no-store"}


class ConsentRequestBody(BaseModel):
    """A business's consent request: the person by certificate serial, or by a link."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    certificate_serial: str | None = Field(None, min_length=1, max_length=40)
    link: bool = False
    reference: str = Field(min_length=1, max_length=64)


def service_of(request: Request) -> LatestItems:
    """The service the app serves (``app.state.latest_items``)."""
    found: LatestItems = request.app.state.latest_items
    return found


def request_json(found: ConsentRequest) -> dict[str, Any]:
    """A consent request as its business reads it."""
    return {
        "request_id": found.request_id,
        "reference": found.reference,
        "status": found.status,
        "created_at": found.created_at.isoformat(),
        "expires_at": found.expires_at.isoformat(),
        "consent_id": found.consent_id,
    }


def consent_json(found: Consent) -> dict[str, Any]:
    """A consent as its business reads it."""
    return {
        "consent_id": found.consent_id,
        "reference": found.reference,
        "status": found.status,
        "granted_at": found.granted_at.isoformat(),
        "revoked_at": found.revoked_at.isoformat() if found.revoked_at else None,
    }


def change_json(p: Provided) -> dict[str, Any]:
    """One change of the feed."""
    return {
        "seq": p.seq,
        "provision_id": p.provision_id,
        "consent_id": p.consent_id,
        "reference": p.reference,
        "reason": p.reason,
        "changed_on": p.changed_on,
        "items": dict(p.items),
    }


Authorization = Annotated[str | None, Header()]


def routes() -> list[BaseRoute]:
    """The API's routes (the service is ``app.state.latest_items``)."""
    api = APIRouter(prefix=PREFIX, tags=["latest-items"])

    def business(request: Request, authorization: str | None) -> Business:
        return service_of(request).businesses.authenticate(authorization)

    @api.post("/consent-requests", status_code=201)
    def create_request(
        request: Request, body: ConsentRequestBody, authorization: Authorization = None
    ) -> JSONResponse:
        """Ask for a person's consent (by the certificate serial you verified, or a link)."""
        service = service_of(request)
        who = business(request, authorization)
        found, token = service.consents.request(
            who,
            certificate_serial=body.certificate_serial,
            link=body.link,
            reference=body.reference,
        )
        answer = request_json(found)
        if token is not None:
            answer["consent_url"] = str(request.base_url).rstrip("/") + f"/consents/link/{token}"
        return JSONResponse(answer, status_code=201, headers=_NO_STORE)

    @api.get("/consent-requests/{request_id}")
    def read_request(
        request: Request, request_id: str, authorization: Authorization = None
    ) -> JSONResponse:
        """A consent request's status (and its consent, once signed)."""
        service = service_of(request)
        found = service.consents.business_request(business(request, authorization), request_id)
        return JSONResponse(request_json(found), headers=_NO_STORE)

    @api.get("/consents/{consent_id}")
    def read_consent(
        request: Request, consent_id: str, authorization: Authorization = None
    ) -> JSONResponse:
        """A consent's status: ``active``, or ``revoked`` (nothing more is provided)."""
        service = service_of(request)
        found = service.consents.business_consent(business(request, authorization), consent_id)
        return JSONResponse(consent_json(found), headers=_NO_STORE)

    @api.get("/changes", openapi_extra=CREDENTIALS_OR_PARAMETERS)
    async def changes(
        request: Request,
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=FEED_LIMIT)] = FEED_LIMIT,
        authorization: Authorization = None,
    ) -> JSONResponse:
        """The changes of your customers' 4 items after the cursor ``after`` (polling)."""
        service = service_of(request)
        who = await run_in_threadpool(business, request, authorization)
        found = await run_in_threadpool(service.provision.feed, who, after, limit)
        body = {
            "changes": [change_json(p) for p in found],
            "next": found[-1].seq if found else after,
        }
        return JSONResponse(body, headers=_NO_STORE)

    return list(api.routes)
