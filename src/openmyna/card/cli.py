"""``openmyna card …``: issue a card file and use any card (file, vpcd, pcsc) from the shell.

PINs and passwords are asked for with a hidden prompt unless given as options. The
individual number is masked unless ``--reveal`` is given. Domain errors propagate: the main
CLI prints their diagnostics and exits with their exit code.

Counter operations (issuing to a registered resident, PIN reset, lifting a loss suspension,
continued use, the update after a move or a new name, return) first call
``counter_operation``: the operator presents the installation's operator token at a hidden
prompt, and their name and the identity documents seen are recorded in the card register's
audit log.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from rich.console import Console
from rich.table import Table

from openmyna.builder import Builder
from openmyna.bus import Bus
from openmyna.card.cardfile import CardFile
from openmyna.card.client import CardClient
from openmyna.card.counter import CounterCheck
from openmyna.card.eapply_app import register as register_eapply_commands
from openmyna.card.errors import CardError, ReaderUnavailable
from openmyna.card.layout import CertSlot, KeyRef, PinRef
from openmyna.card.lifecycle import CardLifecycle
from openmyna.card.models import ApplicationStatus, CardRecord
from openmyna.card.transport import PCSC_READERS, open_transport
from openmyna.config import load_settings
from openmyna.errors import InvalidInput, OpenMynaError
from openmyna.law import may_hold_sign_cert
from openmyna.numbers import mask_individual_number
from openmyna.operator import operator_configured, require_operator
from openmyna.registry import NewPerson, Registries, Sex, find_municipality

app = typer.Typer(
    help="The My Number Card (マイナンバーカード, C1-C4).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

log = logging.getLogger(__name__)

DEMO_LG_CODE = "102016"  # 群馬県前橋市

Reader = Annotated[
    str,
    typer.Option(
        "--reader",
        "-r",
        help="A card file, or vpcd (the emulated card in pcscd) or pcsc (a real card).",
    ),
]
Actor = Annotated[str, typer.Option("--actor", help="Who records this (for the audit log).")]
Operator = Annotated[
    str, typer.Option("--operator", help="The counter operator's name (recorded in the audit log).")
]
Documents = Annotated[
    list[str],
    typer.Option(
        "--identity-document",
        help="An identity document seen (本人確認書類), e.g. passport, driving_licence, 在留カード;"
        " one photo document (区分A) or two others (repeat the option).",
    ),
]


def _console() -> Console:
    return Console(soft_wrap=True)


def _drain(bus: Bus) -> None:
    """Deliver what this command published (e.g. card events to the JPKI revoker)."""
    try:
        while bus.pump(timeout=0.0):
            pass
    except OpenMynaError as exc:  # delivered again by the next pump
        log.warning("bus pump after a card command failed (%s)", type(exc).__name__)


def _parts() -> Builder:
    """The installation's parts (tests swap in stand-ins here)."""
    return Builder.from_environment()


@contextmanager
def _lifecycle() -> Iterator[tuple[Registries, CardLifecycle]]:
    with _parts() as parts:
        regs, life = parts.registries(), parts.cards()
        _drain(parts.bus())  # the registry's events first: the register is current
        yield regs, life
        _drain(parts.bus())


@contextmanager
def _client(reader: str) -> Iterator[CardClient]:
    client = CardClient(open_transport(reader, settings=load_settings()))
    try:
        yield client
    finally:
        client.close()


def counter_operation(operator: str, documents: list[str]) -> CounterCheck:
    """Authenticate the operator and check the documents: each counter command's first step.

    The installation's token (``Settings.operator_token``) is asked for at a hidden prompt,
    never taken as an option (shell history, the process list); without a configured token
    or with a wrong one the command is refused before it opens anything.
    """
    check = CounterCheck.of(operator, documents)
    settings = load_settings()
    if not operator_configured(settings):
        require_operator(settings, None)  # NO_OPERATOR_CONFIGURED
    presented: str = typer.prompt("Operator token", hide_input=True)
    require_operator(settings, presented)
    return check


def _secret(value: str | None, prompt: str, *, confirm: bool = False) -> str:
    if value is not None:
        return value
    answer: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
    return answer


_FAMILY = [("山田", "ヤマダ"), ("佐藤", "サトウ"), ("鈴木", "スズキ"), ("高橋", "タカハシ")]
_GIVEN = [("太郎", "タロウ", Sex.MALE), ("花子", "ハナコ", Sex.FEMALE), ("健", "ケン", Sex.MALE)]


def _demo_resident(regs: Registries, lg_code: str, today: dt.date) -> str:
    """Register a demo person moving in from abroad; their resident-record code."""
    m = find_municipality(lg_code)
    if not any(x.lg_code == m.lg_code for x in regs.list_municipalities()):
        regs.add_municipality(m.lg_code)
    rng = random.SystemRandom()
    family, family_kana = rng.choice(_FAMILY)
    given, given_kana, sex = rng.choice(_GIVEN)
    born = dt.date(rng.randint(1950, 2000), rng.randint(1, 12), rng.randint(1, 28))
    person = NewPerson(family, given, family_kana, given_kana, born, sex)
    address = f"{m.full_name}デモ町{rng.randint(1, 9)}丁目{rng.randint(1, 30)}番"
    r = regs.municipality(m.lg_code).move_in_from_abroad(
        person, on=today, address=address, from_country="USA", actor="card new"
    )
    return r.resident_code


def _summary(record: CardRecord) -> str:
    reason = f" ({record.status_reason.value})" if record.status_reason else ""
    line = (
        f"card {record.card_id}: {record.status.value}{reason}, resident {record.resident_code}"
        f" ({record.lg_code}), issued {record.issued_on}, valid to {record.expires_on}"
    )
    if record.data_stale and record.status.valid:
        items = " and ".join(record.data_stale_items)
        line += (
            f"\n  card data STALE since {record.data_stale_since}: the {items} changed in the"
            " registry; update the card at the counter (openmyna card update)"
        )
    return line


def _issuer_card(reader: str) -> CardFile:
    """The card file the counter writes (the issuer's writes are not sent over PC/SC)."""
    if reader.partition(":")[0] in PCSC_READERS:
        raise ReaderUnavailable(
            "the counter writes a card file: the issuer's secure channel to a card in a"
            " PC/SC reader is not emulated (give the card file's path)",
            reader=reader,
        )
    return CardFile.open(reader, settings=load_settings())


@app.command()
def new(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where to write the card file.")],
    auth_pin: Annotated[str | None, typer.Option(help="Auth PIN, 4 digits.")] = None,
    sign_password: Annotated[
        str | None, typer.Option(help="Signature password: 6-16 of A-Z and 0-9, both kinds.")
    ] = None,
    text_pin: Annotated[
        str | None, typer.Option(help="券面事項入力補助 PIN, 4 digits (default: the auth PIN).")
    ] = None,
    resident: Annotated[
        str | None, typer.Option(help="Issue for this resident-record code (default: a demo).")
    ] = None,
    lg_code: Annotated[
        str, typer.Option("--lg-code", "-m", help="Municipality of the demo resident.")
    ] = DEMO_LG_CODE,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing file.")] = False,
    operator: Annotated[
        str | None, typer.Option("--operator", help="With --resident: the counter operator.")
    ] = None,
    documents: Annotated[
        list[str] | None,
        typer.Option("--identity-document", help="With --resident: an identity document seen."),
    ] = None,
) -> None:
    """Issue a My Number Card (for a new demo resident unless --resident) into a card file.

    Issuing to a registered resident (``--resident``) is a counter operation (交付): it needs
    the operator token, ``--operator`` and ``--identity-document``.
    """
    if out.exists() and not overwrite:
        raise InvalidInput("the card file exists already (use --overwrite)")
    check: CounterCheck | None = None
    if resident is not None:
        if operator is None:
            raise InvalidInput("issuing to a registered resident needs --operator")
        check = counter_operation(operator, documents or [])
    auth = _secret(auth_pin, "Auth PIN (4 digits)", confirm=True)
    password = _secret(sign_password, "Signature password (6-16 of A-Z, 0-9)", confirm=True)
    with _lifecycle() as (regs, life):
        code = resident or _demo_resident(regs, lg_code, life.clock.today())
        pending = [a for a in life.applications(code) if a.status is ApplicationStatus.PENDING]
        application = pending[0] if pending else life.apply(code, actor="card new")
        issued = life.issue(
            code,
            auth_pin=auth,
            sign_password=password,
            text_pin=text_pin,
            identity_check=check.identity_check if check else "demo: card new",
            application_id=application.application_id,
            actor=check.operator if check else "card new",
        )
        CardFile.create(out, issued.card, settings=regs.settings, overwrite=overwrite).close()
    console = _console()
    console.print(f"issued: {_summary(issued.record)}", markup=False)
    has_sign = "yes" if issued.record.sign_cert_serial else "no (under 15)"
    console.print(f"signature certificate: {has_sign}", markup=False)
    console.print(f"card file: {out}", markup=False)


def _cert_text(cert: x509.Certificate, pem: bool) -> str:
    if pem:
        return cert.public_bytes(serialization.Encoding.PEM).decode("ascii").rstrip()
    return "\n".join(
        [
            f"subject: {cert.subject.rfc4514_string()}",
            f"issuer: {cert.issuer.rfc4514_string()}",
            f"serial: {cert.serial_number:X}",
            f"valid: {cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}",
        ]
    )


@app.command()
def read(
    reader: Reader,
    auth_cert: Annotated[bool, typer.Option("--auth-cert", help="The auth certificate.")] = False,
    auth_ca: Annotated[bool, typer.Option("--auth-ca", help="The auth CA certificate.")] = False,
    sign_cert: Annotated[
        bool, typer.Option("--sign-cert", help="The signature certificate (password).")
    ] = False,
    sign_ca: Annotated[bool, typer.Option("--sign-ca", help="The signature CA.")] = False,
    pem: Annotated[bool, typer.Option("--pem", help="Print certificates as PEM.")] = False,
    items: Annotated[
        bool, typer.Option("--items", help="The 4 items and the number (text AP PIN).")
    ] = False,
    face_image: Annotated[
        Path | None, typer.Option(help="Write the 券面AP face picture here (PIN-A).")
    ] = None,
    pin: Annotated[str | None, typer.Option(help="PIN or password for what is read.")] = None,
    reveal: Annotated[bool, typer.Option(help="Show the individual number in full.")] = False,
) -> None:
    """Read certificates, the 4 items or the face data from a card."""
    console = _console()
    with _client(reader) as client:
        client.require_my_number_card()
        slots = [
            (flag, slot)
            for flag, slot in (
                (auth_cert, CertSlot.AUTH),
                (auth_ca, CertSlot.AUTH_CA),
                (sign_cert, CertSlot.SIGN),
                (sign_ca, CertSlot.SIGN_CA),
            )
            if flag
        ]
        for _, slot in slots:
            if slot is CertSlot.SIGN:
                client.verify(PinRef.SIGN, _secret(pin, "Signature password"))
            console.print(_cert_text(client.certificate(slot), pem), markup=False)
        if items:
            data = client.read_text_data(_secret(pin, "券面事項入力補助 PIN (4 digits)"))
            number = data.individual_number
            shown = number if reveal else mask_individual_number(number)
            it = data.items
            console.print(f"individual number: {shown}", markup=False)
            console.print(f"name: {it.name}\naddress: {it.address}", markup=False)
            console.print(f"date of birth: {it.date_of_birth}\nsex: {it.sex}", markup=False)
            console.print(f"signature: {'valid' if data.intact else 'INVALID'}", markup=False)
        if face_image is not None:
            face = client.read_face(_secret(pin, "PIN-A (the 12-digit individual number)"))
            face_image.write_bytes(face.data.face_image)
            console.print(
                f"face picture written to {face_image}; card valid to"
                f" {face.data.card_expiry}; signature {'valid' if face.intact else 'INVALID'}",
                markup=False,
            )
        if not (slots or items or face_image):
            cert = client.auth_certificate()
            console.print("My Number Card (JPKI token JPKIAPICCTOKEN2)", markup=False)
            console.print(_cert_text(cert, pem), markup=False)


@app.command("pin")
def pin_(
    reader: Reader,
    status: Annotated[bool, typer.Option("--status", help="Show the tries left.")] = False,
    change: Annotated[
        str | None, typer.Option("--change", help="Change a PIN: auth, sign or text.")
    ] = None,
    current: Annotated[str | None, typer.Option(help="The current PIN.")] = None,
    new_pin: Annotated[str | None, typer.Option("--new", help="The new PIN.")] = None,
) -> None:
    """Show PIN tries left, or change a PIN."""
    with _client(reader) as client:
        if change is not None:
            which = PinRef.parse(change)
            old = _secret(current, "Current PIN")
            fresh = _secret(new_pin, "New PIN", confirm=True)
            client.change_pin(which, old, fresh)
            _console().print(f"{which.name.lower()} PIN changed", markup=False)
        if status or change is None:
            table = Table("PIN", "tries left")
            for ref in (PinRef.AUTH, PinRef.SIGN, PinRef.TEXT):
                try:
                    left = str(client.tries_left(ref))
                except CardError as exc:
                    left = exc.code
                table.add_row(ref.rule.label, left)
            _console().print(table)


@app.command()
def sign(
    reader: Reader,
    data: Annotated[Path | None, typer.Option("--data", help="File to sign (SHA-256).")] = None,
    digest: Annotated[
        str | None, typer.Option("--digest", help="A SHA-256 digest in hex to sign.")
    ] = None,
    key: Annotated[str, typer.Option("--key", help="auth or sign.")] = "auth",
    pin: Annotated[str | None, typer.Option(help="Auth PIN or signature password.")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the raw signature here.")] = None,
) -> None:
    """Sign a file or a digest with a card key; prints the signature in hex."""
    if (data is None) == (digest is None):
        raise InvalidInput("give --data FILE or --digest HEX")
    key_ref = {"auth": KeyRef.AUTH, "sign": KeyRef.SIGN}.get(key.lower())
    if key_ref is None:
        raise InvalidInput("--key is auth or sign")
    raw_digest: bytes | None = None
    if digest is not None:
        try:
            raw_digest = bytes.fromhex(digest)
        except ValueError:
            raise InvalidInput("--digest is hex") from None
        if len(raw_digest) != 32:
            raise InvalidInput("--digest is a SHA-256 digest (32 bytes)")
    prompt = "Auth PIN" if key_ref is KeyRef.AUTH else "Signature password"
    with _client(reader) as client:
        secret = _secret(pin, prompt)
        if data is not None:
            signature = client.sign(key_ref, secret, data=data.read_bytes())
        else:
            signature = client.sign(key_ref, secret, digest=raw_digest)
    if out is not None:
        out.write_bytes(signature)
    typer.echo(signature.hex())


@app.command()
def login(
    url: Annotated[
        str,
        typer.Argument(help="The login request's URL (the QR code), or the portal's with --code."),
    ],
    reader: Reader,
    code: Annotated[
        str | None,
        typer.Option("--code", help="The login code shown on the screen, instead of the URL."),
    ] = None,
    pin_stdin: Annotated[
        bool, typer.Option("--pin-stdin", help="Read the auth PIN from standard input.")
    ] = False,
) -> None:
    """Log a waiting browser in to a portal: the card signs its login request (the holder's app).

    Fetches the request at URL, shows its login code (compare it with the screen), asks for
    the 4-digit auth PIN, has the card sign the challenge with its auth key and posts the
    certificate and the signature (openmyna.card.login). A wrong PIN is counted by the card.
    """
    from openmyna.card import login as protocol

    console = _console()
    with protocol.http_client() as http:
        if code is None:
            challenge = protocol.fetch_challenge(http, url)
        else:
            challenge = protocol.fetch_by_code(http, url, code)
        console.print(
            f"login request {challenge.short_code} at {challenge.origin}"
            f" (until {challenge.expires_at})",
            markup=False,
        )
        with _client(reader) as client:
            client.require_my_number_card()
            if pin_stdin:
                pin = sys.stdin.readline().strip()
            else:
                pin = _secret(None, "Auth PIN (4 digits)")
            answer = protocol.sign_challenge(client, challenge, pin)
        protocol.post_answer(http, challenge, answer)
    console.print("logged in: the waiting browser continues", markup=False)


# --- the card register (lifecycle) ------------------------------------------------------------


@app.command()
def status(
    card_id: Annotated[str | None, typer.Argument(help="A card id.")] = None,
    resident: Annotated[str | None, typer.Option(help="All cards of a resident.")] = None,
) -> None:
    """Show a card's status in the register (or every card of a resident)."""
    with _lifecycle() as (_, life):
        records = [life.card(card_id)] if card_id else life.cards(resident_code=resident)
    for r in records:
        _console().print(_summary(r), markup=False)


@app.command()
def lost(card_id: str, actor: Actor = "holder") -> None:
    """Report a card lost: it is suspended (一時停止) and its certificates with it."""
    with _lifecycle() as (_, life):
        _console().print(_summary(life.report_lost(card_id, actor=actor)), markup=False)


def _reason(what: str, check: CounterCheck) -> str:
    return f"{what}; {check.identity_check}"


@app.command()
def found(card_id: str, operator: Operator, documents: Documents) -> None:
    """Lift the suspension of a lost card found again, at the counter (一時停止の解除)."""
    check = counter_operation(operator, documents)
    with _lifecycle() as (_, life):
        record = life.report_found(
            card_id, actor=check.operator, reason=_reason("found again", check)
        )
    _console().print(_summary(record), markup=False)


@app.command("return")
def return_(card_id: str, operator: Operator, documents: Documents) -> None:
    """Take a card back at the counter (返納): it and its certificates end."""
    check = counter_operation(operator, documents)
    with _lifecycle() as (_, life):
        record = life.return_card(
            card_id, actor=check.operator, reason=_reason("returned by the holder", check)
        )
    _console().print(_summary(record), markup=False)


@app.command()
def unlock(
    reader: Reader,
    which: Annotated[str, typer.Option("--pin", help="auth, sign or text.")],
    operator: Operator,
    documents: Documents,
    new_pin: Annotated[str | None, typer.Option("--new", help="Set this new PIN.")] = None,
) -> None:
    """Reset a PIN at the counter (a card file only: the issuer writes the card)."""
    pin = PinRef.parse(which)
    check = counter_operation(operator, documents)
    with _lifecycle() as (_, life), _issuer_card(reader) as f:
        life.unlock_pin(
            f.card,
            pin,
            identity_check=check.identity_check,
            new_value=new_pin,
            actor=check.operator,
        )
    _console().print("PIN reset", markup=False)


@app.command()
def update(
    reader: Reader,
    operator: Operator,
    documents: Documents,
    no_sign_cert: Annotated[
        bool,
        typer.Option(
            "--no-sign-cert", help="The holder wants no new signature certificate (署名用)."
        ),
    ] = False,
) -> None:
    """Update a card after a move or a new name, at the counter (券面記載事項変更).

    Writes the new items on the face (追記欄) and the chip, revokes the signature certificate
    and issues a new one with a new password (asked for) unless --no-sign-cert. The holder
    enters their 4-digit 券面事項入力補助 PIN.
    """
    check = counter_operation(operator, documents)
    with _parts() as parts:
        parts.registries()  # keeps the identity index current from the registry's events
        life = parts.cards()
        parts.jpki(follow_events=True)
        _drain(parts.bus())  # the registry's events first: the index and the register current
        with _issuer_card(reader) as f:
            record = life.card(f.card.card_id)
            entry = parts.identity_index().by_resident_code(record.resident_code)
            holder_pin = _secret(None, "Holder's 券面事項入力補助 PIN (4 digits)")
            password = None
            if not no_sign_cert and may_hold_sign_cert(entry.date_of_birth, life.clock.today()):
                password = _secret(None, "New signature password (6-16 of A-Z, 0-9)", confirm=True)
            done = life.update_card_data(
                f.card,
                f.surface,
                holder_pin=holder_pin,
                sign_password=password,
                identity_check=check.identity_check,
                actor=check.operator,
            )
        _drain(parts.bus())
    console = _console()
    console.print(_summary(done.record), markup=False)
    changed = ", ".join(done.changed_items) or "none (the chip was current)"
    console.print(f"items rewritten on the chip and the face: {changed}", markup=False)
    if done.continued:
        console.print("continued use after the move-in: recorded", markup=False)
    previous = done.previous_sign_cert
    if previous is not None:
        if previous in done.revoked_sign_certs:
            fate = "revoked"
        elif done.changed_items or done.new_sign_cert:
            fate = "revoked already (by the registry's change)"
        else:
            fate = "kept (its 4 items are current)"
        console.print(f"previous signature certificate {previous}: {fate}", markup=False)
    new_cert = done.new_sign_cert or "none"
    console.print(f"new signature certificate: {new_cert}", markup=False)


@app.command()
def check() -> None:
    """Apply validity ends and move deadlines as of today (run daily)."""
    with _lifecycle() as (_, life):
        changed = life.check_deadlines()
    for r in changed:
        _console().print(_summary(r), markup=False)
    _console().print(f"{len(changed)} card(s) changed", markup=False)


@app.command("continue")
def continue_(card_id: str, operator: Operator, documents: Documents) -> None:
    """Record the continued-use step (継続利用) after a move-in, at the counter."""
    check = counter_operation(operator, documents)
    with _lifecycle() as (_, life):
        record = life.record_continued_use(
            card_id, actor=check.operator, reason=_reason("continued use after a move", check)
        )
    _console().print(_summary(record), markup=False)


def _register_transport_commands() -> None:
    """Commands of the PC/SC transports (``card insert``), when that module is installed."""
    # The transport engineer's module (vpcd/pcsc); absent until it is written.
    try:
        module = importlib.import_module("openmyna.card.transport.cli")
    except ModuleNotFoundError as exc:
        if exc.name != "openmyna.card.transport.cli":
            raise
        return
    module.register(app)


_register_transport_commands()
register_eapply_commands(app)  # card prefill, card sign-application (the portal's P5)

__all__ = ["app"]
