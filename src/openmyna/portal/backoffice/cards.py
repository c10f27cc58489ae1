"""The card at the counter: in this installation, a card file in one of the counter's folders.

At a real counter the holder hands over their card and it goes into the terminal's reader.
Here a card is a card file (``openmyna.card.CardFile``), and the counter reads the folders
it is configured with, under the data dir:

- ``counter-cards/``: cards the back office issued (``<card id>.card``, "handed over");
- ``demo-cards/``: the demo residents' cards that ``openmyna demo`` writes.

A page names a card file by its folder and file name, as listed here; nothing else (no
path, no ``..``) is accepted. The file opened must be the card the register knows for the
resident being served (``COUNTER_CARD_NOT_THE_HOLDERS``), so a clerk cannot rewrite one
person's card at another's counter visit.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from openmyna.card import CardFile, VirtualCard
from openmyna.config import Settings
from openmyna.errors import OpenMynaError
from openmyna.portal.backoffice.errors import CounterCardNotFound, NotTheHoldersCard

#: Where the back office writes the cards it issues.
ISSUED_FOLDER = "counter-cards"
#: Where ``openmyna demo`` writes the demo residents' cards.
DEMO_FOLDER = "demo-cards"
SUFFIX = ".card"
#: At most this many files are listed (and opened to find a holder's card) per folder.
MAX_FILES = 500


@dataclass(frozen=True)
class CounterCard:
    """A card file the counter can read: ``<folder>/<name>``."""

    folder: str
    name: str

    @property
    def key(self) -> str:
        """How a form names it."""
        return f"{self.folder}/{self.name}"


class CounterCards:
    """The counter's card folders under the data dir."""

    def __init__(self, settings: Settings, folders: tuple[str, ...] = (ISSUED_FOLDER, DEMO_FOLDER)):
        self.settings = settings
        self.folders = folders

    def _folder(self, name: str) -> Path:
        return self.settings.data_dir / name

    def listing(self) -> list[CounterCard]:
        """Every card file in the folders, by folder then name."""
        found: list[CounterCard] = []
        for folder in self.folders:
            path = self._folder(folder)
            if not path.is_dir():
                continue
            names = sorted(
                e.name for e in os.scandir(path) if e.is_file() and e.name.endswith(SUFFIX)
            )
            found.extend(CounterCard(folder, n) for n in names[:MAX_FILES])
        return found

    def _path(self, key: str) -> Path:
        folder, _, name = (key or "").partition("/")
        if CounterCard(folder, name) not in self.listing():
            raise CounterCardNotFound("no such card file at the counter")
        return self._folder(folder) / name

    def find(self, card_id: str) -> CounterCard | None:
        """The file of a card, if one of the folders holds it (by name, else by opening)."""
        cards = self.listing()
        for c in cards:
            if c.name == f"{card_id}{SUFFIX}":
                return c
        for c in cards:
            try:
                with CardFile.open(self._folder(c.folder) / c.name, settings=self.settings) as f:
                    if f.card.card_id == card_id:
                        return c
            except OpenMynaError:
                continue  # not a card of this installation, or in use elsewhere
        return None

    @contextmanager
    def holders(self, key: str, card_id: str) -> Iterator[CardFile]:
        """The card file ``key``, open, if it is the card ``card_id``; saved when done."""
        with CardFile.open(self._path(key), settings=self.settings) as f:
            if f.card.card_id != card_id:
                raise NotTheHoldersCard("that card file is not the resident's card")
            yield f
            f.save()

    def hand_over(self, card: VirtualCard) -> CounterCard:
        """Write a newly issued card to ``counter-cards/<card id>.card``."""
        folder = self._folder(ISSUED_FOLDER)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = f"{card.card_id}{SUFFIX}"
        CardFile.create(folder / name, card, settings=self.settings).close()
        return CounterCard(ISSUED_FOLDER, name)
