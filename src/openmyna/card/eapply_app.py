"""The holder's app for the portal's e-applications: fill a form from the card, sign it.

A page of the portal hands the person a one-time URL (``…/services/card/<token>``); the
holder's app answers it with the card, over HTTP only (this package knows nothing of the
portal's code):

- ``openmyna card prefill URL --reader READER``: ``GET`` the URL, which names the card items
  the form takes; read them from the 券面事項入力補助AP with its 4-digit PIN (the number only
  if the form asks for it: otherwise only the 4 items are read, ``read_basic_items``) and
  ``POST`` them as JSON.
- ``openmyna card sign-application URL --reader READER``: ``GET`` the URL, which carries the
  application's document (its canonical bytes); show what is signed; sign it with the
  signature key (the 6-16 character password) as a detached CMS SignedData built around the
  card's signature (``openmyna.pki.cms``: the key never leaves the card) and ``POST`` the CMS.

The wire format (JSON):

- ``GET`` → ``{"kind": "prefill", "items": ["name", …], "service": {"ja", "en"},
  "municipality", "expires_at"}`` or ``{"kind": "sign", "document": BASE64, "sha256": HEX,
  …}``;
- ``POST`` prefill ← ``{"name", "address", "date_of_birth": "YYYY-MM-DD", "sex": 1|2|9|0,
  "individual_number"?}``, sign ← ``{"cms": BASE64(DER)}``; the answer is JSON, or an RFC
  9457 problem naming the refusal's code.

The demo wallet page of the portal uses ``read_items`` and ``sign_document`` too.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import sys
from collections.abc import Iterable
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx2
import typer

from openmyna.card.client import CardClient
from openmyna.card.errors import PortalUnreachable
from openmyna.card.layout import CertSlot, KeyRef, PinRef
from openmyna.card.login import http_client, origin_of
from openmyna.card.transport import open_transport
from openmyna.clock import clock_from_setting
from openmyna.config import load_settings
from openmyna.errors import InvalidInput, OpenMynaError
from openmyna.pki.cms import build_detached

#: What a form can take from the text AP, in the card's order.
CARD_ITEMS = ("name", "address", "date_of_birth", "sex", "individual_number")
TIMEOUT = 30.0


class PortalRefused(OpenMynaError):
    """The portal refused what the card sent (its code is ``remote_code``)."""

    code = "PORTAL_REFUSED"


def read_items(client: CardClient, pin: str, wanted: Iterable[str]) -> dict[str, Any]:
    """The card items ``wanted``, read with the text AP's PIN, as the portal takes them."""
    asked = set(wanted)
    unknown = asked - set(CARD_ITEMS)
    if unknown:
        raise InvalidInput("the portal asked for something the card does not hold")
    number: str | None = None
    if "individual_number" in asked:
        data = client.read_text_data(pin)
        items, number = data.items, data.individual_number
    else:
        items = client.read_basic_items(pin)
    values: dict[str, Any] = {
        "name": items.name,
        "address": items.address,
        "date_of_birth": items.date_of_birth.isoformat(),
        "sex": items.sex,
        "individual_number": number,
    }
    return {k: v for k, v in values.items() if k in asked}


def sign_document(
    client: CardClient, password: str, document: bytes, *, signing_time: dt.datetime
) -> bytes:
    """A detached CMS SignedData over ``document`` with the card's signature key."""
    client.verify(PinRef.SIGN, password)
    certificate = client.certificate_der(CertSlot.SIGN)
    return build_detached(
        document,
        certificate,
        lambda data: client.sign(KeyRef.SIGN, password, data=data),
        signing_time=signing_time,
    )


# --- over HTTP ------------------------------------------------------------------------------


def _http() -> httpx2.Client:
    """The HTTP client, as the card login's (tests hand in the web app's test client)."""
    return http_client(TIMEOUT)


def _checked_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or "/card/" not in parts.path:
        raise InvalidInput("give the one-time URL the portal's page shows (…/services/card/…)")
    return url


def _answer(response: httpx2.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400:
        code = body.get("title") if isinstance(body, dict) else None
        detail = body.get("detail") if isinstance(body, dict) else None
        raise PortalRefused(
            str(detail or "the portal refused the request"),
            remote_code=str(code or response.status_code)[:64],
            status=response.status_code,
        )
    if not isinstance(body, dict):
        raise PortalRefused("the portal did not answer with JSON", status=response.status_code)
    return body


def _exchange(url: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        with _http() as http:
            if payload is None:
                return _answer(http.get(url))
            return _answer(http.post(url, json=payload))
    except httpx2.TransportError as exc:
        raise PortalUnreachable(
            "the portal does not answer", origin=origin_of(url), error=type(exc).__name__
        ) from None


def _secret(from_stdin: bool, prompt: str) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    answer: str = typer.prompt(prompt, hide_input=True)
    return answer


Reader = Annotated[
    str,
    typer.Option(
        "--reader",
        "-r",
        help="A card file, or vpcd (the emulated card in pcscd) or pcsc (a real card).",
    ),
]
Url = Annotated[str, typer.Argument(help="The one-time URL the portal's page shows.")]


def prefill(
    url: Url,
    reader: Reader,
    pin_stdin: Annotated[
        bool, typer.Option("--pin-stdin", help="Read the 4-digit PIN from standard input.")
    ] = False,
) -> None:
    """Fill a portal form from the card's 券面事項入力補助AP (the page asked, you consented)."""
    target = _checked_url(url)
    task = _exchange(target)
    if task.get("kind") != "prefill":
        raise InvalidInput("this URL asks for a signature: use card sign-application")
    wanted = [str(i) for i in task.get("items", [])]
    title = (task.get("service") or {}).get("ja", "")
    typer.echo(f"{title} ({task.get('municipality', '')}): the form takes {', '.join(wanted)}")
    pin = _secret(pin_stdin, "券面事項入力補助 PIN (4 digits)")
    with CardClient(open_transport(reader, settings=load_settings())) as client:
        client.require_my_number_card()
        items = read_items(client, pin, wanted)
    _exchange(target, items)
    typer.echo("The form is filled in: go back to the page.")


def sign_application(
    url: Url,
    reader: Reader,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read the signature password from standard input."),
    ] = False,
    show: Annotated[bool, typer.Option("--show", help="Print the whole document signed.")] = False,
) -> None:
    """Sign a portal application with the card's signature certificate and submit it."""
    target = _checked_url(url)
    task = _exchange(target)
    if task.get("kind") != "sign":
        raise InvalidInput("this URL asks for the card's items: use card prefill")
    try:
        document = base64.b64decode(str(task["document"]), validate=True)
    except (KeyError, ValueError):
        raise PortalRefused("the portal sent no document to sign") from None
    digest = hashlib.sha256(document).hexdigest()
    if task.get("sha256") != digest:
        raise PortalRefused("the document does not match its digest")
    title = (task.get("service") or {}).get("ja", "")
    typer.echo(f"Signing: {title} to {task.get('municipality', '')}")
    typer.echo(f"document SHA-256: {digest}")
    if show:
        typer.echo(document.decode("utf-8", "replace"))
    password = _secret(password_stdin, "Signature password (6-16 characters)")
    now = clock_from_setting(load_settings().clock).now()
    with CardClient(open_transport(reader, settings=load_settings())) as client:
        client.require_my_number_card()
        cms = sign_document(client, password, document, signing_time=now)
    answer = _exchange(target, {"cms": base64.b64encode(cms).decode("ascii")})
    typer.echo(f"Submitted: reference {answer.get('reference', '')}")


def register(app: typer.Typer) -> None:
    """Add ``prefill`` and ``sign-application`` to ``openmyna card``."""
    app.command("prefill")(prefill)
    app.command("sign-application")(sign_application)
