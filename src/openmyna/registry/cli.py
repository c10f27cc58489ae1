"""``openmyna registry …``: the resident registries from the command line (SPEC R1–R4).

Individual numbers are masked unless ``--reveal`` is given. Domain errors propagate: the
main CLI prints their diagnostics and exits with their exit code.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from openmyna.builder import Builder
from openmyna.numbers import mask_individual_number
from openmyna.registry.errors import InvalidDate, InvalidResidentData, ResidentNotFound
from openmyna.registry.index import IdentityNotFound
from openmyna.registry.models import NewPerson, Resident, Sex, Status
from openmyna.registry.municipalities import known_municipalities, validate_lg_code
from openmyna.registry.registries import Registries
from openmyna.registry.services import MunicipalRegistry

app = typer.Typer(
    help="Resident registries (住民基本台帳, R1-R4).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _console() -> Console:
    # Made per call so the terminal width (COLUMNS) is read when the command runs.
    return Console(soft_wrap=True)


LgCode = Annotated[str, typer.Option("--lg-code", "-m", help="Local government code (6 digits).")]
OptLgCode = Annotated[
    str | None,
    typer.Option("--lg-code", "-m", help="Municipality (default: from the national index)."),
]
Code = Annotated[str, typer.Argument(help="Resident-record code (住民票コード, 11 digits).")]
On = Annotated[str | None, typer.Option("--on", help="Date of the event, YYYY-MM-DD (today).")]
Actor = Annotated[str, typer.Option("--actor", help="Who records this (for the audit log).")]


class MoveKind(StrEnum):
    """Which move: within the municipality (転居), out (転出) or in (転入)."""

    within = "within"
    out = "out"
    in_ = "in"


@contextmanager
def _registries() -> Iterator[Registries]:
    with Builder.from_environment() as parts:
        yield parts.registries()


def _date(text: str | None, today: dt.date, field: str = "on") -> dt.date:
    if text is None:
        return today
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidDate("dates are written YYYY-MM-DD", field=field) from None


def _sex(text: str) -> Sex:
    words = {"male": Sex.MALE, "m": Sex.MALE, "男": Sex.MALE, "female": Sex.FEMALE}
    words |= {"f": Sex.FEMALE, "女": Sex.FEMALE}
    if text.strip().lower() in words:
        return words[text.strip().lower()]
    try:
        return Sex(int(text))
    except ValueError:
        raise InvalidResidentData("sex is 1 (male), 2 (female), 0 or 9 (ISO 5218)") from None


def _registry(regs: Registries, lg_code: str) -> MunicipalRegistry:
    """A municipality's registry, created from the data file on first use."""
    validate_lg_code(lg_code)
    if not any(m.lg_code == lg_code for m in regs.list_municipalities()):
        regs.add_municipality(lg_code)
    return regs.municipality(lg_code)


def _locate(regs: Registries, code: str, lg_code: str | None) -> MunicipalRegistry:
    """The registry holding a resident: given, or where the national index places them."""
    if lg_code is not None:
        return _registry(regs, lg_code)
    try:
        return regs.municipality(regs.index.by_resident_code(code).lg_code)
    except IdentityNotFound:
        raise ResidentNotFound("the national index does not know that resident") from None


def _number(r: Resident, reveal: bool) -> str:
    return r.individual_number if reveal else mask_individual_number(r.individual_number)


def _summary(r: Resident, verb: str) -> None:
    _console().print(
        f"{verb}: {r.resident_code} {r.name} ({r.lg_code}, {r.status.value})", markup=False
    )


@app.command()
def municipalities() -> None:
    """List the municipalities known from the data file, with their registries."""
    with _registries() as regs:
        registered = {m.lg_code for m in regs.list_municipalities()}
        table = Table(title="Municipalities (市区町村)")
        for col in ("lg_code", "name", "population 2018", "registry", "residents"):
            table.add_column(col, justify="right" if col != "name" else "left")
        for m in known_municipalities():
            has = m.lg_code in registered
            table.add_row(
                m.lg_code,
                m.full_name,
                f"{m.population:,}" + ("" if m.population_source == "documents" else " (approx.)"),
                "yes" if has else "-",
                f"{regs.municipality(m.lg_code).count():,}" if has else "-",
            )
        _console().print(table)


@app.command()
def add(
    lg_code: LgCode,
    family_name: Annotated[str, typer.Option("--family-name", help="氏")],
    given_name: Annotated[str, typer.Option("--given-name", help="名")],
    family_kana: Annotated[str, typer.Option("--family-kana", help="氏の振り仮名")],
    given_kana: Annotated[str, typer.Option("--given-kana", help="名の振り仮名")],
    born: Annotated[str, typer.Option("--born", help="Date of birth, YYYY-MM-DD.")],
    sex: Annotated[str, typer.Option("--sex", help="1/male/男, 2/female/女, 0, 9.")],
    birth: Annotated[
        bool, typer.Option("--birth", help="A birth (出生) into --household.")
    ] = False,
    address: Annotated[str | None, typer.Option("--address", help="New household here.")] = None,
    household: Annotated[str | None, typer.Option("--household", help="Join this.")] = None,
    relationship: Annotated[
        str | None, typer.Option("--relationship", help="続柄, e.g. 世帯主, 妻, 子.")
    ] = None,
    from_country: Annotated[
        str | None, typer.Option("--from-country", help="Moving in from abroad: from where.")
    ] = None,
    stay_expires_on: Annotated[
        str | None,
        typer.Option(
            "--stay-expires-on",
            help="A foreign resident's end of stay (在留期間等の満了の日), YYYY-MM-DD.",
        ),
    ] = None,
    on: On = None,
    actor: Actor = "cli",
) -> None:
    """Register a new resident: a birth (--birth) or a move-in from abroad."""
    with _registries() as regs:
        reg = _registry(regs, lg_code)
        today = regs.clock.today()
        p = NewPerson(
            family_name=family_name,
            given_name=given_name,
            family_name_kana=family_kana,
            given_name_kana=given_kana,
            date_of_birth=_date(born, today, "born"),
            sex=_sex(sex),
            relationship=relationship,
            stay_expires_on=(
                None
                if stay_expires_on is None
                else _date(stay_expires_on, today, "stay_expires_on")
            ),
        )
        if birth:
            if household is None:
                raise InvalidResidentData("a birth joins a household: give --household")
            r = reg.birth(p, household_id=household, actor=actor)
        else:
            r = reg.move_in_from_abroad(
                p,
                on=_date(on, today),
                address=address,
                household_id=household,
                from_country=from_country,
                actor=actor,
            )
        _summary(r, "registered")
        _console().print(f"household: {r.household_id}", markup=False)


@app.command()
def move(
    kind: Annotated[MoveKind, typer.Argument(help="within (転居), out (転出) or in (転入).")],
    code: Code,
    lg_code: OptLgCode = None,
    address: Annotated[str | None, typer.Option("--address", help="The new address.")] = None,
    household: Annotated[str | None, typer.Option("--household", help="Join this.")] = None,
    relationship: Annotated[str | None, typer.Option("--relationship", help="続柄.")] = None,
    whole_household: Annotated[
        bool, typer.Option("--whole-household", help="within: move every member.")
    ] = False,
    destination: Annotated[
        str | None, typer.Option("--destination", help="out: the new address (転出先).")
    ] = None,
    to_lg_code: Annotated[
        str | None, typer.Option("--to-lg-code", help="out: the destination municipality.")
    ] = None,
    from_lg_code: Annotated[
        str | None, typer.Option("--from-lg-code", help="in: where the move-out was.")
    ] = None,
    on: On = None,
    actor: Actor = "cli",
) -> None:
    """Move a resident: within the municipality, out of it, or into it (after a move-out)."""
    with _registries() as regs:
        today = regs.clock.today()
        day = _date(on, today)
        if kind is MoveKind.in_:
            if lg_code is None or from_lg_code is None:
                raise InvalidResidentData("a move-in needs --lg-code and --from-lg-code")
            r = _registry(regs, lg_code).move_in(
                code,
                from_lg_code=from_lg_code,
                on=day,
                address=address,
                household_id=household,
                relationship=relationship,
                actor=actor,
            )
            _summary(r, "moved in")
            return
        reg = _locate(regs, code, lg_code)
        if kind is MoveKind.within:
            r = reg.move_within(
                code,
                on=day,
                address=address,
                household_id=household,
                relationship=relationship,
                whole_household=whole_household,
                actor=actor,
            )
            _summary(r, "moved within")
            return
        if destination is None:
            raise InvalidResidentData("a move-out needs --destination")
        cert = reg.move_out(
            code,
            planned_on=day,
            destination=destination,
            destination_lg_code=to_lg_code,
            actor=actor,
        )
        _console().print(
            f"moved out: {cert.resident_code} from {cert.from_lg_code} on "
            f"{cert.planned_on.isoformat()} (certificate {cert.certificate_id})",
            markup=False,
        )


@app.command()
def rename(
    code: Code,
    lg_code: OptLgCode = None,
    family_name: Annotated[str | None, typer.Option("--family-name")] = None,
    family_kana: Annotated[str | None, typer.Option("--family-kana")] = None,
    given_name: Annotated[str | None, typer.Option("--given-name")] = None,
    given_kana: Annotated[str | None, typer.Option("--given-kana")] = None,
    keep_former_surname: Annotated[
        bool, typer.Option("--keep-former-surname", help="Record the old surname (旧氏).")
    ] = False,
    on: On = None,
    actor: Actor = "cli",
) -> None:
    """Change a resident's name (氏名の変更)."""
    with _registries() as regs:
        r = _locate(regs, code, lg_code).change_name(
            code,
            on=_date(on, regs.clock.today()),
            family_name=family_name,
            family_name_kana=family_kana,
            given_name=given_name,
            given_name_kana=given_kana,
            keep_former_surname=keep_former_surname,
            actor=actor,
        )
        _summary(r, "renamed")


@app.command()
def death(code: Code, lg_code: OptLgCode = None, on: On = None, actor: Actor = "cli") -> None:
    """Record a resident's death (死亡); the record becomes a removed record (除票)."""
    with _registries() as regs:
        r = _locate(regs, code, lg_code).record_death(
            code, on=_date(on, regs.clock.today()), actor=actor
        )
        _summary(r, "died")


@app.command()
def abroad(
    code: Code,
    country: Annotated[str, typer.Option("--country", help="Where to.")],
    lg_code: OptLgCode = None,
    on: On = None,
    actor: Actor = "cli",
) -> None:
    """Record a move abroad (国外転出) on the planned date (--on)."""
    with _registries() as regs:
        r = _locate(regs, code, lg_code).move_abroad(
            code, planned_on=_date(on, regs.clock.today()), country=country, actor=actor
        )
        _summary(r, "moved abroad")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Sex):
        return int(value)
    if isinstance(value, StrEnum):
        return value.value
    return value


@app.command()
def show(
    code: Code,
    lg_code: OptLgCode = None,
    reveal: Annotated[
        bool, typer.Option("--reveal", help="Show the individual number unmasked.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a resident's record (the current one, else the latest removed record)."""
    with _registries() as regs:
        if lg_code is None:
            try:
                lg_code = regs.index.by_resident_code(code).lg_code
            except IdentityNotFound:
                raise ResidentNotFound("the national index does not know that resident") from None
        r = _registry(regs, lg_code).get(code)
    fields = {k: _jsonable(v) for k, v in asdict(r).items()}
    fields["individual_number"] = _number(r, reveal)
    if as_json:
        typer.echo(json.dumps(fields, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"住民票 {r.resident_code}" if r.is_current else f"除票 {r.resident_code}")
    table.add_column("field")
    table.add_column("value")
    for key, value in fields.items():
        if value is not None:
            table.add_row(key, str(value))
    _console().print(table)


@app.command("list")
def list_(
    lg_code: OptLgCode = None,
    count: Annotated[bool, typer.Option("--count", help="Print only how many.")] = False,
    removed: Annotated[bool, typer.Option("--removed", help="Removed records (除票).")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many rows.")] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0)] = 0,
    reveal: Annotated[bool, typer.Option("--reveal", help="Unmask numbers.")] = False,
) -> None:
    """List residents (masked) of one municipality, or count them (all municipalities)."""
    status = Status.REMOVED if removed else Status.CURRENT
    with _registries() as regs:
        if count:
            typer.echo(str(regs.count(lg_code, status=status)))
            return
        codes = [lg_code] if lg_code else [m.lg_code for m in regs.list_municipalities()]
        rows: list[Resident] = []
        for c in codes:
            if len(rows) >= limit:
                break
            rows += regs.municipality(c).list_residents(
                status=status, limit=limit - len(rows), offset=offset
            )
        table = Table(title="除票 (removed records)" if removed else "住民 (residents)")
        for col in ("resident code", "name", "kana", "born", "sex", "address", "続柄", "number"):
            table.add_column(col)
        if removed:
            table.add_column("removed")
        for r in rows:
            cells = [
                r.resident_code,
                r.name,
                r.name_kana,
                r.date_of_birth.isoformat(),
                r.sex.ja,
                r.address,
                r.relationship.value,
                _number(r, reveal),
            ]
            if removed:
                reason = r.removal_reason.ja if r.removal_reason else ""
                cells.append(f"{r.removed_on} {reason}")
            table.add_row(*cells)
        _console().print(table)


@app.command()
def index(
    code: Code,
    reveal: Annotated[bool, typer.Option("--reveal", help="Unmask the number.")] = False,
) -> None:
    """Show a person's national identity index entry (本人確認情報)."""
    with _registries() as regs:
        e = regs.index.by_resident_code(code)
    number = e.individual_number if reveal else mask_individual_number(e.individual_number)
    _console().print(
        f"{e.resident_code} {e.name} {e.date_of_birth} {e.sex.ja} {e.address} "
        f"[{e.status.value} @ {e.lg_code}] {number}",
        markup=False,
    )
