"""Agency-specific codes (機関別符号, SPEC X1): issued, kept and translated only by the hub.

When an agency first handles a person it presents the individual number once; the hub finds
the person's resident-record code in the national identity index and issues a code for
(person, agency): 128 random bits, base32, different for every agency, unrelated to the
number. Later exchanges carry only codes, and only the hub can translate one agency's code
into another's.

At rest the mapping is sealed: each row holds AES-256-GCM(resident code, code) bound to its
agency, a keyed hash of the code (to find the row by code) and a keyed hash of the resident
code (to find a person's other rows). The keys live in ``<data_dir>/keys/hub-codes.key``
(mode 0600): a dump of the database alone holds no number, resident code or code, only
keyed pseudonyms (rows of one person share one) and ciphertexts. Nothing here logs a number
or a code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select

from openmyna.clock import Clock
from openmyna.config import Settings
from openmyna.errors import Unavailable
from openmyna.network.agencies import AgencyDirectory
from openmyna.network.errors import HubKeyError, PersonNotFound, UnknownCode
from openmyna.network.tables import HUB_BODY, HUB_KIND, agency_codes
from openmyna.registry import IdentityEntry, IdentityNotFound
from openmyna.store import Store, StoreConflict, files, open_store

CODE_BYTES = 16  # 128 bits of randomness per code
_CODE = re.compile(r"^[a-z2-7]{26}$")
KEY_FORMAT = "openmyna-hub-codes-key/1"


class IdentityLookup(Protocol):
    """What the hub needs of the national identity index (``IdentityIndex``)."""

    def by_individual_number(self, individual_number: str) -> IdentityEntry:
        """The index entry of an individual number."""
        ...


def ensure_secret_file(path: Path, make: Callable[[], bytes]) -> bytes:
    """Read an owner-only secret file, creating it atomically with ``make()`` if absent."""
    files.private_dir(path.parent)
    if not path.exists():
        files.write_new(path, make())  # racing processes end up with the same secret
    for attempt in range(3):
        try:
            mode = path.stat().st_mode
            data = path.read_bytes()
            break
        except FileNotFoundError:
            if attempt == 2:
                raise HubKeyError("hub key file disappeared", file=path.name) from None
            time.sleep(0.05)
        except OSError:
            raise HubKeyError("hub key file cannot be read", file=path.name) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise HubKeyError("hub key file must be mode 0600", file=path.name)
    return data


@dataclass(frozen=True)
class CodeKeys:
    """The hub's code keys, derived from one 256-bit master secret."""

    seal: bytes = field(repr=False)
    code_index: bytes = field(repr=False)
    person_index: bytes = field(repr=False)
    person_key: bytes = field(repr=False)

    @classmethod
    def from_master(cls, master: bytes) -> CodeKeys:
        """Derive the four keys (HMAC-SHA-256 of the master over a label each)."""

        def derive(label: str) -> bytes:
            return hmac.new(master, f"openmyna hub codes {label}".encode(), "sha256").digest()

        return cls(derive("seal"), derive("code"), derive("person"), derive("record"))

    @classmethod
    def load(cls, data_dir: Path) -> CodeKeys:
        """Read ``<data_dir>/keys/hub-codes.key``, creating it on first use."""

        def make() -> bytes:
            body = {"format": KEY_FORMAT, "master": secrets.token_bytes(32).hex()}
            return (json.dumps(body) + "\n").encode("ascii")

        raw = ensure_secret_file(data_dir / "keys" / "hub-codes.key", make)
        try:
            body = json.loads(raw)
            if body.get("format") != KEY_FORMAT:
                raise ValueError
            master = bytes.fromhex(body["master"])
        except (ValueError, KeyError, TypeError, AttributeError):
            raise HubKeyError("hub code key file is malformed") from None
        if len(master) != 32:
            raise HubKeyError("hub code key file must hold a 32-byte key")
        return cls.from_master(master)


def _new_code() -> str:
    return base64.b32encode(secrets.token_bytes(CODE_BYTES)).decode("ascii").rstrip("=").lower()


def _normal_code(code: str) -> str:
    c = code.strip().lower() if isinstance(code, str) else ""
    if not _CODE.match(c):
        raise UnknownCode("no such agency-specific code for that agency")
    return c


class AgencyCodes:
    """The hub's agency-specific codes: issue, translate, list a person's codes."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        identities: IdentityLookup,
        keys: CodeKeys,
        agencies: AgencyDirectory,
    ) -> None:
        self.store = store
        self.agencies = agencies
        self._clock = clock
        self._identities = identities
        self._keys = keys
        self._aead = AESGCM(keys.seal)

    @classmethod
    def open(
        cls,
        settings: Settings,
        clock: Clock,
        identities: IdentityLookup,
        *,
        agencies: AgencyDirectory | None = None,
    ) -> AgencyCodes:
        """Open the hub's database (kind ``hub``, body ``core``) and its code keys."""
        keys = CodeKeys.load(settings.ensure_data_dir())
        store = open_store(settings, HUB_KIND, HUB_BODY)
        return cls(store, clock, identities, keys, agencies or AgencyDirectory.default())

    def close(self) -> None:
        """Release the database connections."""
        self.store.close()

    # --- keyed hashes and sealing ----------------------------------------------------------

    def _code_index(self, agency_id: str, code: str) -> str:
        msg = f"{agency_id}\0{code}".encode()
        return hmac.new(self._keys.code_index, msg, hashlib.sha256).hexdigest()

    def _person_index(self, resident_code: str) -> str:
        return hmac.new(self._keys.person_index, resident_code.encode(), "sha256").hexdigest()

    def _record_key(self, resident_code: str) -> str:
        return hmac.new(self._keys.person_key, resident_code.encode(), "sha256").hexdigest()

    def _seal(self, agency_id: str, person_index: str, resident_code: str, code: str) -> bytes:
        nonce = secrets.token_bytes(12)
        aad = f"{agency_id}\0{person_index}".encode()
        return nonce + self._aead.encrypt(nonce, f"{resident_code}:{code}".encode(), aad)

    def _open_sealed(self, agency_id: str, person_index: str, sealed: bytes) -> tuple[str, str]:
        aad = f"{agency_id}\0{person_index}".encode()
        try:
            plain = self._aead.decrypt(sealed[:12], sealed[12:], aad).decode("ascii")
        except (InvalidTag, UnicodeDecodeError, ValueError):
            # A row that does not open under its own agency is tampered with or foreign.
            raise HubKeyError("a sealed code row does not open with the hub's key") from None
        resident_code, _, code = plain.partition(":")
        return resident_code, code

    # --- internals ---------------------------------------------------------------------------

    def _resident_of(self, agency_id: str, code: str) -> str:
        """The resident-record code behind an agency's code, or ``UNKNOWN_CODE``."""
        self.agencies.get_agency(agency_id)
        c = _normal_code(code)
        with self.store.transaction() as s:
            row = s.execute(
                select(agency_codes.c.person_index, agency_codes.c.sealed).where(
                    agency_codes.c.code_index == self._code_index(agency_id, c),
                    agency_codes.c.agency_id == agency_id,
                )
            ).first()
        if row is None:
            raise UnknownCode("no such agency-specific code for that agency")
        resident_code, stored = self._open_sealed(agency_id, row.person_index, row.sealed)
        if not hmac.compare_digest(stored, c):
            raise UnknownCode("no such agency-specific code for that agency")
        return resident_code

    def _code_for(self, agency_id: str, resident_code: str) -> str:
        """The agency's code for a person, issued now if the person has none there."""
        person_index = self._person_index(resident_code)
        for _ in range(3):
            with self.store.transaction() as s:
                row = s.execute(
                    select(agency_codes.c.sealed).where(
                        agency_codes.c.person_index == person_index,
                        agency_codes.c.agency_id == agency_id,
                    )
                ).first()
            if row is not None:
                return self._open_sealed(agency_id, person_index, row.sealed)[1]
            code = _new_code()
            try:
                with self.store.transaction() as s:
                    s.execute(
                        agency_codes.insert().values(
                            agency_id=agency_id,
                            code_index=self._code_index(agency_id, code),
                            person_index=person_index,
                            sealed=self._seal(agency_id, person_index, resident_code, code),
                            issued_at=self._clock.now(),
                        )
                    )
                return code
            except StoreConflict:
                continue  # another hub process issued it at the same moment: read theirs
        raise Unavailable("could not issue an agency-specific code; try again")

    # --- public API --------------------------------------------------------------------------

    def issue(self, agency_id: str, individual_number: str) -> str:
        """The agency's code for the person with that number (issued on first request)."""
        self.agencies.get_agency(agency_id)
        try:
            entry = self._identities.by_individual_number(individual_number)
        except IdentityNotFound:
            raise PersonNotFound("no person with that individual number") from None
        return self._code_for(agency_id, entry.resident_code)

    def translate(self, from_agency: str, code: str, to_agency: str) -> str:
        """The target agency's code for the person behind ``from_agency``'s ``code``.

        If the person has no code at the target agency yet, one is issued: the provider then
        receives a code it holds no data under and answers so, and the requester learns
        nothing about whether the provider knew the person.
        """
        return self.route(from_agency, code, to_agency)[0]

    def route(self, from_agency: str, code: str, to_agency: str) -> tuple[str, str]:
        """``translate``, and the person's exchange-record key, in one database round trip."""
        result = self.route_many([(from_agency, code, to_agency)])[0]
        if isinstance(result, UnknownCode):
            raise result
        return result

    def route_many(
        self, routes: Sequence[tuple[str, str, str]]
    ) -> list[tuple[str, str] | UnknownCode]:
        """``route`` for many (from agency, code, to agency): one query for all of them.

        Each answer is (the target agency's code, the person's record key), or ``UnknownCode``.
        """
        for from_agency, _, to_agency in routes:
            self.agencies.get_agency(from_agency)
            self.agencies.get_agency(to_agency)
        wanted = [(f, _normal_code(c), t) for f, c, t in routes]
        indices = {self._code_index(f, c): (f, c) for f, c, _ in wanted}
        targets = sorted({t for _, _, t in wanted})
        src, dst = agency_codes.alias("src"), agency_codes.alias("dst")
        # The source rows and, through their person index, the targets' rows.
        q = (
            select(
                src.c.code_index,
                src.c.agency_id,
                src.c.person_index,
                src.c.sealed,
                dst.c.agency_id.label("target_agency"),
                dst.c.sealed.label("target"),
            )
            .select_from(
                src.outerjoin(
                    dst,
                    (dst.c.person_index == src.c.person_index) & (dst.c.agency_id.in_(targets)),
                )
            )
            .where(src.c.code_index.in_(list(indices)))
        )
        with self.store.transaction() as s:
            rows = s.execute(q).all() if indices else []
        found: dict[str, tuple[str, str, bytes, dict[str, bytes]]] = {}
        for row in rows:
            entry = found.setdefault(
                row.code_index, (row.agency_id, row.person_index, row.sealed, {})
            )
            if row.target_agency is not None:
                entry[3][row.target_agency] = row.target
        out: list[tuple[str, str] | UnknownCode] = []
        for f, c, t in wanted:
            hit = found.get(self._code_index(f, c))
            unknown = UnknownCode("no such agency-specific code for that agency")
            if hit is None or hit[0] != f:
                out.append(unknown)
                continue
            _, person_index, sealed, held = hit
            resident_code, stored = self._open_sealed(f, person_index, sealed)
            if not hmac.compare_digest(stored, c):
                out.append(unknown)
                continue
            key = self._record_key(resident_code)
            target = held.get(t)
            if target is not None:
                out.append((self._open_sealed(t, person_index, target)[1], key))
            else:
                out.append((self._code_for(t, resident_code), key))
        return out

    def codes_of_person(self, code: str, agency: str) -> dict[str, str]:
        """Every code of the person behind ``agency``'s ``code``, by agency id."""
        resident_code = self._resident_of(agency, code)
        person_index = self._person_index(resident_code)
        with self.store.transaction() as s:
            rows = s.execute(
                select(agency_codes.c.agency_id, agency_codes.c.sealed)
                .where(agency_codes.c.person_index == person_index)
                .order_by(agency_codes.c.agency_id)
            ).all()
        return {
            r.agency_id: self._open_sealed(r.agency_id, person_index, r.sealed)[1] for r in rows
        }

    def person_key(self, agency: str, code: str) -> str:
        """The opaque key that names this person in the hub's exchange records."""
        return self._record_key(self._resident_of(agency, code))

    def person_key_of_number(self, individual_number: str) -> str:
        """The exchange-record key of the person with that number (for the portal)."""
        try:
            entry = self._identities.by_individual_number(individual_number)
        except IdentityNotFound:
            raise PersonNotFound("no person with that individual number") from None
        return self._record_key(entry.resident_code)
