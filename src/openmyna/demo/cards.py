"""Demo cards: ``openmyna demo`` issues My Number Cards to a few demo residents, to log in with.

Who gets one (each issued at the counter of their municipality by the real lifecycle and the
real JPKI issuer, into a card file under ``$OPENMYNA_DATA_DIR/demo-cards/``):

- the child-allowance family (``demo.family``): the applicant (the head of household), the
  spouse, and their 6-year-old, a minor under 15 whose card has no signature certificate
  (署名用電子証明書, 公的個人認証法 第3条: not issued under 15);
- a town resident of 15–17 (a minor who holds a signature certificate);
- an elderly town resident (75 or over);
- a staff member of municipality B (神戸市), where the family applies: a working-age
  resident there, for the back office's staff login: the staff register grants the card's
  account the administrator's role at B (``portal.backoffice``).

``cards.json`` lists who each is by a label and a role (never the number) with the card id
and the demo PINs; ``README.txt`` says the same for a person. A second run reuses the cards
whose files exist and which the register still holds valid, and issues the others again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from openmyna.card import CardClient, CardFile, CardNotFound, MemoryTransport
from openmyna.demo.family import FAMILY_FROM, FAMILY_TO, find_family
from openmyna.law import age_on
from openmyna.portal.backoffice.enrol import holder_account, holder_name
from openmyna.portal.backoffice.staff import Role
from openmyna.portal.login.wallet import (
    README_FILE,
    DemoCard,
    cards_dir,
    read_cards,
    write_cards,
)
from openmyna.registry import Registries, Resident, Status, find_municipality

if TYPE_CHECKING:
    from openmyna.platform import Platform

#: Each demo card's auth PIN (4 digits; the 券面事項入力補助 PIN is the same); the signature
#: password is ``DEMO`` followed by it.
PINS = ("1234", "2345", "3456", "4567", "5678", "6789")
_PAGE = 2000


@dataclass(frozen=True)
class Wanted:
    """A demo card to issue: whose, and how to describe them."""

    name: str
    role: str
    resident: Resident
    what_ja: str
    what_en: str


def _town_resident(
    registries: Registries,
    lg_code: str,
    today: dt.date,
    fits: Callable[[int], bool],
    taken: set[str],
) -> Resident | None:
    """The first current resident of ``lg_code`` whose age fits (registration order)."""
    reg = registries.municipality(lg_code)
    offset = 0
    while True:
        page = reg.list_residents(status=Status.CURRENT, limit=_PAGE, offset=offset)
        for r in page:
            if r.resident_code not in taken and fits(age_on(r.date_of_birth, today)):
                return r
        if len(page) < _PAGE:
            return None
        offset += _PAGE


def wanted_cards(platform: Platform) -> list[Wanted]:
    """The demo residents who get a card (those the town has)."""
    registries = platform.registries
    today = platform.clock.today()
    found: list[Wanted] = []
    family = find_family(registries)
    known = {m.lg_code for m in registries.list_municipalities()}
    if family is not None:
        roles = (
            ("applicant", "児童手当の申請者", "child-allowance applicant"),
            ("spouse", "申請者の配偶者", "the applicant's spouse"),
            ("child", "申請者の子、署名用電子証明書なし", "the applicant's child, no signature"),
        )
        for member, (role, what_ja, what_en) in zip(family.members, roles, strict=False):
            found.append(Wanted(f"family-{role}", role, member, what_ja, what_en))
    taken = {w.resident.resident_code for w in found}
    others = (
        ("minor", FAMILY_FROM, lambda a: 15 <= a <= 17, "未成年", "a minor"),
        ("elderly", FAMILY_FROM, lambda a: a >= 75, "高齢者", "an elderly resident"),
        ("staff", FAMILY_TO, lambda a: 25 <= a <= 60, "市の職員・デモ", "city staff, demo"),
    )
    for role, lg_code, fits, what_ja, what_en in others:
        if lg_code not in known:
            continue
        r = _town_resident(registries, lg_code, today, fits, taken)
        if r is not None:
            taken.add(r.resident_code)
            found.append(Wanted(role, role, r, what_ja, what_en))
    return found


def _labels(w: Wanted, today: dt.date) -> tuple[str, str]:
    r = w.resident
    age = age_on(r.date_of_birth, today)
    place = find_municipality(r.lg_code)
    ja = f"{r.family_name} {r.given_name}（{w.what_ja}、{age}歳、{place.name}）"
    en = f"{r.family_name} {r.given_name} ({w.what_en}, {age}, {place.name})"
    return ja, en


def _still_valid(platform: Platform, directory: Path, card: DemoCard) -> bool:
    if not (directory / card.file).is_file():
        return False
    try:
        return platform.cards.card(card.card_id).status.valid
    except CardNotFound:
        return False


def issue_demo_cards(platform: Platform) -> tuple[Path, list[DemoCard], int]:
    """Issue (or reuse) the demo cards; their folder, the cards and how many were issued now."""
    settings = platform.settings
    directory = cards_dir(settings)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    kept = {c.name: c for c in read_cards(directory) if _still_valid(platform, directory, c)}
    life = platform.cards
    today = platform.clock.today()
    cards: list[DemoCard] = []
    issued = 0
    for index, w in enumerate(wanted_cards(platform)):
        if w.name in kept:
            cards.append(kept[w.name])
            continue
        pin = PINS[index % len(PINS)]
        code = w.resident.resident_code
        replace = life.valid_card(code) is not None
        application = life.apply(code, actor="openmyna demo", reason="demo card")
        done = life.issue(
            code,
            auth_pin=pin,
            sign_password=f"DEMO{pin}",
            identity_check="demo: openmyna demo",
            application_id=application.application_id,
            replace=replace,
            actor="openmyna demo",
            reason="demo card",
        )
        label_ja, label_en = _labels(w, today)
        card = DemoCard(
            name=w.name,
            label_ja=label_ja,
            label_en=label_en,
            role=w.role,
            age=age_on(w.resident.date_of_birth, today),
            lg_code=w.resident.lg_code,
            card_id=done.record.card_id,
            auth_pin=pin,
            sign_password=f"DEMO{pin}" if done.record.sign_cert_serial else None,
        )
        CardFile.create(directory / card.file, done.card, settings=settings, overwrite=True).close()
        cards.append(card)
        issued += 1
    write_cards(directory, cards)
    _readme(directory, cards)
    if issued:
        platform.sync_once()  # the card events to the JPKI issuer and the register
    _staff_roles(platform, directory, cards)
    return directory, cards, issued


#: The back-office role the demo's staff member holds at their municipality.
STAFF_ROLE = Role.ADMINISTRATOR


def _staff_roles(platform: Platform, directory: Path, cards: list[DemoCard]) -> None:
    """Grant the staff card's account its role at its municipality (once)."""
    for c in cards:
        if c.role != "staff":
            continue
        with CardFile.open(directory / c.file, settings=platform.settings) as f:
            client = CardClient(MemoryTransport(f.card))
            verified, account = holder_account(platform.portal, client, c.auth_pin)
        register = platform.backoffice.staff
        if register.grant_at(account.account_id, c.lg_code) is None:
            name = holder_name(platform.portal, verified)
            register.grant(c.lg_code, account.account_id, STAFF_ROLE, name, by=None)


def _readme(directory: Path, cards: list[DemoCard]) -> None:
    lines = [
        "openmyna demo cards (synthetic people; not real cards)",
        "",
        "Each file is a My Number Card of a demo resident, sealed with this installation's",
        "card storage key: it opens only with OPENMYNA_DATA_DIR set to this installation.",
        "Log in at the portal's /login (http://127.0.0.1:8000/login unless --port says otherwise):",
        "the demo wallet (/wallet) reads these files,",
        "or answer the QR code's URL with the holder's app:",
        "",
        "  openmyna card login URL --reader <file>",
        "",
        "Three wrong PINs in a row lock a card's PIN (the card counts them); the counter",
        "resets it: openmyna card unlock.",
        "",
    ]
    for c in cards:
        signature = c.sign_password or "none (under 15)"
        lines += [
            f"{c.file}",
            f"  {c.label_ja}",
            f"  {c.label_en}",
            f"  role: {c.role}; card id: {c.card_id}",
            f"  auth PIN (and 券面事項入力補助 PIN): {c.auth_pin}; signature password: {signature}",
            "",
        ]
    path = directory / README_FILE
    path.write_text("\n".join(lines), encoding="utf-8")
    path.chmod(0o600)
