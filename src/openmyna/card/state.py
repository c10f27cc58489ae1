"""The card's persistent state as bytes, for the encrypted card file only.

This is the chip's memory: applications, files, PIN digests and counters, and the private
keys. It is only ever written inside the authenticated encryption of ``cardfile`` (or kept in
memory by tests); nothing else reads it, and no API returns a private key from it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from openmyna.card.engine import VirtualCard
from openmyna.card.files import EF, AppKind, Application, BinaryEF, KeyEF, PinEF
from openmyna.card.pin import PinState
from openmyna.card.surface import CardSurface

#: 2: the 券面事項入力補助AP as the real card lays it out (a ``7F21`` certificate in EF 0004,
#: EF 0005, fixed-size EFs, the digests the real card's readers compute). A format-1 state
#: holds the old layout, signed over other bytes; it cannot be rewritten without the issuer's
#: card data signer, so it is refused (``OutdatedCardState``) and the card is reissued.
FORMAT = 2


class OutdatedCardState(ValueError):
    """A card state written by an older openmyna, in a layout this one no longer reads."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _dump_ef(ef: EF) -> dict[str, Any]:
    if isinstance(ef, BinaryEF):
        return {"fid": ef.fid, "type": "binary", "data": _b64(ef.data), "read_pin": ef.read_pin}
    if isinstance(ef, PinEF):
        return {"fid": ef.fid, "type": "pin", "pin": ef.pin.to_json()}
    der = ef.key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return {"fid": ef.fid, "type": "key", "key": _b64(der), "pin_fid": ef.pin_fid}


def _load_ef(data: dict[str, Any]) -> EF:
    kind, fid = data["type"], int(data["fid"])
    if kind == "binary":
        read_pin = data["read_pin"]
        return BinaryEF(fid, _unb64(data["data"]), None if read_pin is None else int(read_pin))
    if kind == "pin":
        return PinEF(fid, PinState.from_json(data["pin"]))
    if kind == "key":
        # The file is authenticated (AES-GCM), so the key is ours: skip the slow RSA checks.
        key = serialization.load_der_private_key(
            _unb64(data["key"]), None, unsafe_skip_rsa_key_validation=True
        )
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("a key EF holds an RSA key")
        return KeyEF(fid, key, int(data["pin_fid"]))
    raise ValueError("unknown EF type")


def dump_card(card: VirtualCard, surface: CardSurface | None = None) -> bytes:
    """The card's state as JSON bytes (contains private keys: encrypt before storing).

    ``surface`` is the printed face (the 追記欄's lines), kept beside the chip's state.
    """
    state = {
        "format": FORMAT,
        "card_id": card.card_id,
        "personalized": card.personalized,
        "applications": [
            {
                "aid": app.aid.hex(),
                "kind": app.kind.value,
                "label": app.label,
                "files": [_dump_ef(ef) for ef in app.files.values()],
            }
            for app in card.files.applications()
        ],
        "surface": (surface or CardSurface()).to_json(),
    }
    return json.dumps(state, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def load_card(data: bytes) -> VirtualCard:
    """Rebuild a card from ``dump_card`` output (``ValueError`` if it is not one)."""
    return load_state(data)[0]


def load_state(data: bytes) -> tuple[VirtualCard, CardSurface]:
    """The card and its printed face from ``dump_card`` output (``ValueError`` if not one).

    A state saved before the face was kept has no ``surface``: its 追記欄 is empty.
    """
    try:
        state = json.loads(data.decode("utf-8"))
        if isinstance(state.get("format"), int) and 0 < state["format"] < FORMAT:
            raise OutdatedCardState("the card state is in an older layout")
        if state.get("format") != FORMAT:
            raise ValueError("unknown card state format")
        apps = []
        for a in state["applications"]:
            app = Application(bytes.fromhex(a["aid"]), AppKind(a["kind"]), str(a["label"]))
            for f in a["files"]:
                app.add(_load_ef(f))
            apps.append(app)
        card = VirtualCard(str(state["card_id"]), apps, personalized=bool(state["personalized"]))
        return card, CardSurface.from_json(list(state.get("surface", [])))
    except (KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise ValueError("malformed card state") from exc
