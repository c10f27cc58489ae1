"""The service catalogue: which municipality offers which form online, searchable.

``data/catalogue.toml`` names the categories and life events (both languages) and, for each
form of ``data/forms/``, the municipalities that accept it online (``"all"`` or a list of
local government codes). A service is one form at one municipality (``<lg_code>-<form id>``),
received by that municipality's office the form names. Everything is checked when the
catalogue loads: a form that does not parse, an unknown category, life event, form or
municipality stops the portal from starting (``FORM_DEFINITION_INVALID``), so a broken
definition never reaches a page.
"""

from __future__ import annotations

import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from openmyna.errors import OpenMynaError
from openmyna.network.agencies import municipality_agency_id
from openmyna.portal.eapply.errors import FormDefinitionInvalid, ServiceNotFound
from openmyna.portal.eapply.forms import FormDefinition, FormId, Ident, Text
from openmyna.registry import Municipality, find_municipality, known_municipalities

DATA = files("openmyna.portal.eapply").joinpath("data")
QUERY_MAX = 50


class CatalogueFile(BaseModel):
    """``data/catalogue.toml`` as read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    categories: dict[Ident, Text]
    life_events: dict[Ident, Text]
    offers: dict[FormId, Literal["all"] | tuple[str, ...]]


@dataclass(frozen=True)
class Service:
    """One form offered online by one municipality."""

    service_id: str
    municipality: Municipality
    form: FormDefinition

    @property
    def lg_code(self) -> str:
        """The receiving municipality's local government code."""
        return self.municipality.lg_code

    @property
    def agency_id(self) -> str:
        """The receiving municipality on the network (``lg-<code>``)."""
        return municipality_agency_id(self.lg_code)


def _searchable(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


@dataclass(frozen=True)
class Catalogue:
    """Every service, with the categories and life events they are tagged with."""

    forms: dict[str, FormDefinition]
    categories: dict[str, Text]
    life_events: dict[str, Text]
    services: tuple[Service, ...]

    def service(self, service_id: str) -> Service:
        """A service by id (``SERVICE_NOT_FOUND`` if none)."""
        for s in self.services:
            if s.service_id == service_id:
                return s
        raise ServiceNotFound("no such service", service_id=service_id[:80])

    def municipalities(self) -> list[Municipality]:
        """The municipalities offering at least one service, in the data file's order."""
        offering = {s.lg_code for s in self.services}
        return [m for m in known_municipalities() if m.lg_code in offering]

    def search(
        self,
        *,
        lg_code: str | None = None,
        category: str | None = None,
        life_event: str | None = None,
        query: str | None = None,
    ) -> list[Service]:
        """The services matching every filter given (unknown filter values match nothing)."""
        words = _searchable(query or "")[:QUERY_MAX].split()
        found = []
        for s in self.services:
            f = s.form
            if lg_code and s.lg_code != lg_code:
                continue
            if category and f.category != category:
                continue
            if life_event and life_event not in f.life_events:
                continue
            if words:
                text = _searchable(" ".join((f.title.ja, f.title.en, f.summary.ja, f.summary.en)))
                if not all(w in text for w in words):
                    continue
            found.append(s)
        return found


def _toml(path: Traversable) -> dict[str, object]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise FormDefinitionInvalid(f"{path.name} is not TOML: {exc}", file=path.name) from None


def _where(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return ".".join(str(p) for p in first["loc"]) + ": " + first["msg"]


def load_form(path: Traversable) -> FormDefinition:
    """One form definition file, validated (``FORM_DEFINITION_INVALID`` saying where)."""
    try:
        form = FormDefinition.model_validate(_toml(path))
    except ValidationError as exc:
        raise FormDefinitionInvalid(
            f"{path.name} breaks the form schema: {_where(exc)}", file=path.name
        ) from None
    if path.name != f"{form.id}.toml":
        raise FormDefinitionInvalid(f"{path.name} must be named after its id", file=path.name)
    return form


def load_catalogue(folder: Traversable = DATA) -> Catalogue:
    """The catalogue and every form under ``folder`` (the package's data by default)."""
    forms: dict[str, FormDefinition] = {}
    for path in sorted(folder.joinpath("forms").iterdir(), key=lambda p: p.name):
        if path.name.endswith(".toml"):
            form = load_form(path)
            forms[form.id] = form
    try:
        listed = CatalogueFile.model_validate(_toml(folder.joinpath("catalogue.toml")))
    except ValidationError as exc:
        raise FormDefinitionInvalid(
            f"catalogue.toml breaks the schema: {_where(exc)}", file="catalogue.toml"
        ) from None
    for form in forms.values():
        if form.category not in listed.categories:
            raise FormDefinitionInvalid(f"{form.id}: unknown category {form.category}")
        unknown = set(form.life_events) - set(listed.life_events)
        if unknown:
            raise FormDefinitionInvalid(f"{form.id}: unknown life events {sorted(unknown)}")
    return Catalogue(forms, listed.categories, listed.life_events, _services(forms, listed))


def _services(forms: dict[str, FormDefinition], listed: CatalogueFile) -> tuple[Service, ...]:
    every = [m.lg_code for m in known_municipalities()]
    services = []
    for form_id, where in listed.offers.items():
        if form_id not in forms:
            raise FormDefinitionInvalid(f"catalogue.toml offers an unknown form {form_id}")
        codes: Iterable[str] = every if where == "all" else where
        for code in codes:
            try:
                municipality = find_municipality(code)
            except OpenMynaError:
                raise FormDefinitionInvalid(
                    f"catalogue.toml: {form_id} at an unknown municipality {code}"
                ) from None
            services.append(Service(f"{code}-{form_id}", municipality, forms[form_id]))
    order = {code: i for i, code in enumerate(every)}
    return tuple(sorted(services, key=lambda s: (order[s.lg_code], s.form.id)))
