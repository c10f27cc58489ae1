"""HTTP routes of the registry, under ``/api/registry``.

Read-only views for operators; individual numbers are masked, never returned in full.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from openmyna.numbers import mask_individual_number
from openmyna.registry.models import Resident, Status
from openmyna.registry.registries import Registries


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


def router(registries: Registries) -> APIRouter:
    """The registry's routes over ``registries``."""
    api = APIRouter(prefix="/api/registry", tags=["registry"])

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

    @api.get("/{lg_code}/residents")
    def residents(
        lg_code: str,
        status: Status = Status.CURRENT,
        limit: int = Query(50, ge=1, le=500),
        offset: int = Query(0, ge=0),
    ) -> dict[str, Any]:
        """A page of one municipality's residents (numbers masked)."""
        reg = registries.municipality(lg_code)
        rows = reg.list_residents(status=status, limit=limit, offset=offset)
        return {"total": reg.count(status), "items": [_resident_view(r) for r in rows]}

    @api.get("/{lg_code}/residents/{resident_code}")
    def resident(lg_code: str, resident_code: str) -> dict[str, Any]:
        """One resident's current record, or their latest removed record."""
        return _resident_view(registries.municipality(lg_code).get(resident_code))

    return api
