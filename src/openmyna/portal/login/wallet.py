"""The demo wallet (``/wallet``, only while ``openmyna demo`` runs): demo cards in the browser.

``openmyna demo`` issues cards to a few demo residents and writes them under
``$OPENMYNA_DATA_DIR/demo-cards/``: one card file each, ``cards.json`` (who each is, by a
label and a role, never the number; their demo PINs) and a ``README.txt``. The wallet page
lets a visitor pick one and type its PIN; ``DemoWallet.sign`` then does what the holder's
app does (``openmyna card login``): it opens the card file, reads the auth certificate and
has the card sign the request's challenge through ``CardClient``
(``openmyna.card.login.sign_challenge``), and the page posts the answer to the same
``Logins.answer`` as the card-facing endpoint. A wrong PIN is counted by the card itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from openmyna.card import CardClient, CardFile, MemoryTransport
from openmyna.card.login import CardAnswer, LoginChallenge, sign_challenge
from openmyna.config import Settings
from openmyna.portal.login.errors import DemoCardNotFound
from openmyna.portal.login.service import LoginRequest

CARDS_DIR = "demo-cards"
LIST_FILE = "cards.json"
README_FILE = "README.txt"
_NAME = re.compile(r"[a-z0-9-]{1,40}")


@dataclass(frozen=True)
class DemoCard:
    """One demo card: its file, who holds it (a label, not the number) and its demo PINs."""

    #: The card file's stem (``morita-kenta``): how the wallet and the list name it.
    name: str
    label_ja: str
    label_en: str
    #: ``applicant``, ``spouse``, ``child``, ``minor``, ``elderly``, ``staff``.
    role: str
    age: int
    lg_code: str
    card_id: str
    auth_pin: str
    #: None for a card without a signature certificate (a holder under 15).
    sign_password: str | None

    @property
    def file(self) -> str:
        """The card file's name in the demo-cards folder."""
        return f"{self.name}.card"

    def label(self, language: str) -> str:
        """The label in the page's language."""
        return self.label_ja if language == "ja" else self.label_en

    def __repr__(self) -> str:
        return f"DemoCard(card_id={self.card_id!r}, role={self.role!r})"


def cards_dir(settings: Settings) -> Path:
    """Where the demo cards are: ``$OPENMYNA_DATA_DIR/demo-cards``."""
    return settings.data_dir / CARDS_DIR


def write_cards(directory: Path, cards: list[DemoCard]) -> Path:
    """Write the list of demo cards (``cards.json``); its path."""
    path = directory / LIST_FILE
    body = {"version": 1, "cards": [asdict(c) for c in cards]}
    path.write_text(json.dumps(body, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def read_cards(directory: Path) -> list[DemoCard]:
    """The demo cards listed in ``directory`` (none if there is no list)."""
    path = directory / LIST_FILE
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        found = [DemoCard(**entry) for entry in body["cards"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    return [c for c in found if _NAME.fullmatch(c.name)]


class DemoWallet:
    """The demo cards of an installation, used as the holder's app would use them."""

    def __init__(self, directory: Path, settings: Settings) -> None:
        self.directory = directory
        self.settings = settings

    def cards(self) -> list[DemoCard]:
        """The demo cards whose files exist."""
        return [c for c in read_cards(self.directory) if (self.directory / c.file).is_file()]

    def card(self, name: str) -> DemoCard:
        """One demo card by name (``DEMO_CARD_NOT_FOUND``)."""
        for found in self.cards():
            if found.name == name:
                return found
        raise DemoCardNotFound("no demo card by that name")

    def sign(self, name: str, request: LoginRequest, pin: str) -> CardAnswer:
        """The card ``name`` answers ``request`` after ``pin`` (the card counts wrong PINs)."""
        card = self.card(name)
        challenge = LoginChallenge(
            url=request.url,
            origin=request.origin,
            request_id=request.request_id,
            nonce=request.nonce,
            short_code=request.display_code,
            expires_at=request.expires_at.isoformat(),
        )
        with CardFile.open(self.directory / card.file, settings=self.settings) as opened:
            return sign_challenge(CardClient(MemoryTransport(opened.card)), challenge, pin)
