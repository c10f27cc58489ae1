"""HTTP routes of the registry, under ``/api/registry``.

Public: the municipalities with their counts (no person). Everything else returns personal
data and runs the guard it is given (``openmyna.guard``: the operator token, or a staff
session with a role at the municipality of the path), on the router, so that no route of it
can go without. No resident-record code or individual number travels in a
URL (paths and query strings end up in logs, histories and proxies): a lookup sends the code
in the request body. Individual numbers are masked, never returned in full.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import BaseRoute

from openmyna.guard import Guard
from openmyna.numbers import mask_individual_number
from openmyna.registry.models import Resident, Status
from openmyna.registry.registries import Registries

PREFIX = "/api/registry"
#: The registry's routes that return no personal data (every other one is guarded).
PUBLIC_PATHS = frozenset({f"{PREFIX}/municipalities"})
#: A page holds at most this many residents.
MAX_LIMIT = 500
#: The largest offset accepted: well above the largest municipality's population (横浜市,
#: some 3.8 million), and far inside every database's integer range (a larger one gave 500).
MAX_OFFSET = 10_000_000


class ResidentLookup(BaseModel):
    """The body of a lookup: which resident (住民票コード, 11 digits)."""

    model_config = ConfigDict(extra="forbid")

    resident_code: str = Field(min_length=11, max_length=11, pattern=r"^[0-9]{11}$")


def _resident_view(r: Resident) -> dict[str, Any]:
    return {
        "resident_code": r.resident_code,
        "individual_number": mask_individual_number(r.individual_number),
        "name": f"{r.family_name} {r.given_name}",
        "kana": f"{r.family_name_kana} {r.given_name_kana}",
        "former_surname": r.former_surname,
        "date_of_birth": r.date_of_birth.isoformat(),
        "sex": int(r.sex),
        "address": r.address,
        "household_id": r.household_id,
        "relationship": r.relationship.value,
        "status": r.status.value,
    }


def routes(registries: Registries, guard: Guard) -> list[BaseRoute]:
    """The registry's routes over ``registries``; the personal ones behind ``guard``."""
    api = APIRouter(prefix=PREFIX, tags=["registry"])

    @api.get("/municipalities")
    def municipalities() -> list[dict[str, Any]]:
        """Every municipality with a registry, with its count of current residents."""
        return [
            {
                "lg_code": m.lg_code,
                "name": m.name,
                "prefecture": m.prefecture,
                "residents": registries.count(m.lg_code),
            }
            for m in registries.list_municipalities()
        ]

    # Every route of this router runs the guard first: a new one cannot leave it out.
    personal = APIRouter(prefix=PREFIX, tags=["registry"], dependencies=[Depends(guard)])

    @personal.get("/{lg_code}/residents")
    def residents(
        lg_code: str,
        status: Status = Status.CURRENT,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> dict[str, Any]:
        """A page of one municipality's residents (numbers masked; operator or staff)."""
        reg = registries.municipality(lg_code)
        rows = reg.list_residents(status=status, limit=limit, offset=offset)
        return {"total": reg.count(status), "items": [_resident_view(r) for r in rows]}

    @personal.post("/{lg_code}/residents/lookup")
    def resident(lg_code: str, lookup: ResidentLookup) -> dict[str, Any]:
        """One resident's current record, or their latest removed record (operator or staff)."""
        return _resident_view(registries.municipality(lg_code).get(lookup.resident_code))

    # The routes themselves, not include_router (newer FastAPI keeps that as an opaque branch).
    return [*api.routes, *personal.routes]
