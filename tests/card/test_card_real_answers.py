"""The card answers as the real card does where readers written for real cards depend on it.

Each test plays the APDUs of a public reader of the real My Number Card (jpki/myna,
TRETJapanNFCReader, lanesky/mnbcard, AokiApp/jsapdu) and checks the answers those readers
accept; docs/card.md lists the sources.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from card_helpers import HOLDER, NUMBER, TEXT_PIN, data_signer, fresh_card, personalized_card
from cryptography.hazmat.primitives.asymmetric import rsa

from openmyna.card import CardClient, CardFile, CardFileInvalid, MemoryTransport, VirtualCard
from openmyna.card import state as card_state
from openmyna.card.cvcert import decode_certificate, key_id
from openmyna.card.errors import CardFileOutdated
from openmyna.card.files import BinaryEF
from openmyna.card.personalize import HolderData
from openmyna.card.text_ap import (
    CardItems,
    decode_basic_info,
    decode_digests,
    decode_items,
    encode_items,
    signed_part,
)
from openmyna.card.tlv import iter_tlv, read_tlv
from openmyna.config import Settings

JPKI = bytes.fromhex("D392F000260100000001")
TEXT = bytes.fromhex("D3921000310001010408")
FACE = bytes.fromhex("D3921000310001010402")


def tx(card: VirtualCard, apdu: bytes) -> tuple[bytes, int]:
    response = card.transmit(apdu)
    return response[:-2], int.from_bytes(response[-2:], "big")


def select(card: VirtualCard, aid: bytes, fid: int | None = None) -> None:
    assert tx(card, bytes.fromhex("00A4040C0A") + aid)[1] == 0x9000
    if fid is not None:
        assert tx(card, bytes.fromhex("00A4020C02") + fid.to_bytes(2, "big"))[1] == 0x9000


def verify_text_pin(card: VirtualCard) -> None:
    select(card, TEXT, 0x0011)
    assert tx(card, bytes.fromhex("0020008004") + TEXT_PIN.encode())[1] == 0x9000


def go_read_binary(card: VirtualCard, size: int) -> bytes:
    """jpki/myna's Go ``ReadBinary(size)``: Le = what is missing (00 above 255), 90 00 only."""
    out = b""
    while len(out) < size:
        missing = size - len(out)
        le = 0 if missing > 0xFF else missing
        data, sw = tx(card, bytes((0x00, 0xB0, len(out) >> 8, len(out) & 0xFF, le)))
        assert sw == 0x9000, f"{sw:04X}"
        assert data, "an empty 90 00 would loop for ever in that reader"
        out += data
    return out


# --- 1. reading past the end ----------------------------------------------------------------


def test_a_read_past_the_end_answers_90_00_with_what_is_left(card: VirtualCard) -> None:
    select(card, JPKI, 0x000A)
    head, sw = tx(card, bytes.fromhex("00B0000004"))
    size = 4 + int.from_bytes(head[2:4], "big")
    der = b""
    while len(der) < size:  # certificates in 255-byte chunks, as some readers of the real card
        chunk, sw = tx(card, bytes((0x00, 0xB0, len(der) >> 8, len(der) & 0xFF, 0xFF)))
        assert sw == 0x9000
        der += chunk
    assert len(der) == size
    assert len(chunk) < 0xFF  # the last chunk was short, and still 90 00


def test_the_number_read_with_le_17(card: VirtualCard) -> None:
    verify_text_pin(card)
    select(card, TEXT, 0x0001)
    data, sw = tx(card, bytes.fromhex("00B0000011"))  # TRETJapanNFCReader: Le = 17, 90 00
    assert sw == 0x9000
    assert len(data) == 17
    assert data[1:3] == b"\x10\x0c"  # the reader drops the first byte
    assert data[3:15] == NUMBER.encode()
    assert go_read_binary(card, 17) == data  # jpki/myna: ReadBinary(17)


@pytest.mark.parametrize(
    ("aid", "fid", "size"),
    [
        (JPKI, 0x0006, 32),  # jpki/myna reads the token with ReadBinary(0x20)
        (TEXT, 0x0001, 17),  # ReadBinary(17), TRETJapanNFCReader Le = 17
        (TEXT, 0x0003, 336),  # ReadSignature: ReadBinary(336), refuses fewer
        (TEXT, 0x0004, 568),  # ReadCertificate: ReadBinary(568), refuses fewer
        (TEXT, 0x0005, 256),  # ReadBasicInfo: ReadBinary(256), refuses fewer
    ],
)
def test_each_fixed_size_ef_has_the_real_cards_size(
    card: VirtualCard, aid: bytes, fid: int, size: int
) -> None:
    verify_text_pin(card)
    select(card, aid, fid)
    assert len(go_read_binary(card, size)) == size
    data, sw = tx(card, bytes.fromhex("00B00000000000"))  # extended Le: the whole file
    assert (len(data), sw) == (size, 0x9000)


# --- 2. the 券面事項入力補助AP's files ----------------------------------------------------------


def test_the_text_ap_is_laid_out_and_signed_as_the_real_card(card: VirtualCard) -> None:
    verify_text_pin(card)
    files = {}
    for fid in (1, 2, 3, 4, 5):
        select(card, TEXT, fid)
        files[fid], sw = tx(card, bytes.fromhex("00B00000000000"))
        assert sw == 0x9000
    number_digest, items_digest, signature = decode_digests(files[3])
    # DF31 over the whole EF 0001; DF32 from the first item to the end of FF20 (jsapdu)
    assert number_digest == hashlib.sha256(files[1]).digest()
    _, value, end = read_tlv(files[2])
    first = int.from_bytes(dict(iter_tlv(value))[0xDF21][:2], "big")
    assert items_digest == hashlib.sha256(files[2][first:end]).digest()
    # EF 0004: 7F21 { 5F4E issuer | subject | key, 5F37 }, not an X.509 certificate
    assert files[4][:5] == bytes.fromhex("7F21820233")
    cert = decode_certificate(files[4])
    assert cert.self_signed
    signer_key = data_signer().certificate.public_key()
    assert isinstance(signer_key, rsa.RSAPublicKey)
    assert cert.public_numbers == signer_key.public_numbers()
    assert cert.verifies(signed_part(number_digest, items_digest), signature)
    # EF 0005: FF40 { DF41 4 bytes, DF42 the 16-byte id of the key that signs }
    ap_info, kid = decode_basic_info(files[5])
    assert len(ap_info) == 4
    assert kid == cert.subject_id == key_id(cert.public_key())


def test_ef_0004_and_0005_are_free_to_read(card: VirtualCard) -> None:
    select(card, TEXT, 0x0005)
    assert tx(card, bytes.fromhex("00B0000004"))[1] == 0x9000
    select(card, TEXT, 0x0004)
    assert tx(card, bytes.fromhex("00B0000004")) == (bytes.fromhex("7F218202"), 0x9000)
    select(card, TEXT, 0x0003)
    assert tx(card, bytes.fromhex("00B0000004"))[1] == 0x6982


def test_the_client_verifies_the_new_layout_and_sees_tampering(card: VirtualCard) -> None:
    client = CardClient(MemoryTransport(card))
    assert client.read_text_data(TEXT_PIN).intact
    app = card.files.application(TEXT)
    assert app is not None
    ef = app.files[0x0001]
    assert isinstance(ef, BinaryEF)
    ef.data = ef.data[:-1] + b"\x01"  # a byte of the padding: DF31 covers the whole EF
    assert not CardClient(MemoryTransport(card)).read_text_data(TEXT_PIN).intact


def test_the_items_sit_where_fixed_offset_readers_look(card: VirtualCard) -> None:
    """lanesky/mnbcard reads the item offsets' low bytes at 9, 11, 13 and 15."""
    verify_text_pin(card)
    select(card, TEXT, 0x0002)
    data, sw = tx(card, bytes.fromhex("00B0000000"))
    assert sw == 0x9000
    assert data[:3] == bytes.fromhex("FF2082")
    found = []
    for at in (9, 11, 13, 15):
        start = data[at]
        found.append(data[start + 3 : start + 3 + data[start + 2]].decode())
    assert found == [HOLDER.name, HOLDER.address, "19800517", "1"]


# --- 3. short EF identifiers ------------------------------------------------------------------


def test_read_binary_by_short_ef_id(card: VirtualCard) -> None:
    select(card, TEXT)
    assert tx(card, bytes.fromhex("00B08100000000"))[1] == 0x6982  # EF 0001: PIN first
    assert tx(card, bytes.fromhex("00B0840004")) == (bytes.fromhex("7F218202"), 0x9000)
    # jsapdu: VERIFY 00 20 00 80|SFI, then READ BINARY 00 B0 80|SFI 00 with Le = 65536
    assert tx(card, bytes.fromhex("0020009104") + TEXT_PIN.encode())[1] == 0x9000
    number, sw = tx(card, bytes.fromhex("00B08100000000"))
    assert (number[3:15], sw) == (NUMBER.encode(), 0x9000)
    tail, sw = tx(card, bytes.fromhex("00B081030C"))  # P2 is the offset
    assert (tail, sw) == (NUMBER.encode(), 0x9000)
    assert tx(card, bytes.fromhex("00B0000300"))[0][:12] == NUMBER.encode()  # now current
    assert tx(card, bytes.fromhex("00B09E0000"))[1] == 0x6A82  # no EF 001E here
    assert tx(card, bytes.fromhex("00B0910000"))[1] == 0x6981  # EF 0011 is the PIN
    assert tx(card, bytes.fromhex("00B0A10000"))[1] == 0x6A86  # P1 b7-b6 must be 00
    assert tx(card, bytes.fromhex("00B0800000"))[1] == 0x6A82  # SFI 0 names no EF
    select(card, FACE)
    assert tx(card, bytes.fromhex("00B08200000000"))[1] == 0x6982  # PIN-A first
    assert tx(card, bytes.fromhex("002000930C") + NUMBER.encode())[1] == 0x9000
    entries, sw = tx(card, bytes.fromhex("00B08200000000"))
    assert (entries[:2], sw) == (bytes.fromhex("FF20"), 0x9000)


def test_the_jpki_ap_has_no_short_ef_ids(card: VirtualCard) -> None:
    select(card, JPKI)
    assert tx(card, bytes.fromhex("00B0860000"))[1] == 0x6A86  # OpenSC selects every EF
    assert tx(card, bytes.fromhex("002000980431323334"))[1] == 0x6A86
    # a short id outside any application is refused too
    assert tx(card, bytes.fromhex("00A4000C023F00"))[1] == 0x9000
    assert tx(card, bytes.fromhex("00B0810000"))[1] == 0x6A86


# --- 4. the 4 items longer than 127 bytes ----------------------------------------------------


@pytest.mark.parametrize(
    ("address", "length_field"),
    [("東" * 43, b"\x81\x81"), ("東" * 90, b"\x82\x01\x0e"), ("前橋市", b"\x09")],
)
def test_long_items_have_ber_long_form_lengths(address: str, length_field: bytes) -> None:
    items = CardItems("山田 太郎", address, dt.date(1980, 5, 17), 1)
    encoded = encode_items(items)
    assert encoded[:3] == bytes.fromhex("FF2082")  # the wrapper: always 82 xx xx
    assert b"\xdf\x23" + length_field + address.encode() in encoded
    assert decode_items(encoded) == items
    _, value, _ = read_tlv(encoded)
    fields = list(iter_tlv(value))
    offsets = fields[0][1]
    for i, (tag, _) in enumerate(fields[1:]):
        at = int.from_bytes(offsets[2 * i : 2 * i + 2], "big")
        assert encoded[at : at + 2] == tag.to_bytes(2, "big")


def test_a_card_with_a_long_address_reads_and_verifies() -> None:
    holder = HolderData(
        individual_number=NUMBER,
        name="寿限無寿限無五劫の擦り切れ海砂利水魚の水行末雲来末風来末",
        address="北海道札幌市中央区北一条西二丁目一番地　札幌市役所本庁舎ビル十八階東側会議室前"
        "（旧庁舎側の入口から入って右手の階段を上がった先）",
        date_of_birth=dt.date(1980, 5, 17),
        sex=2,
        card_expiry=dt.date(2035, 5, 17),
    )
    assert len(holder.address.encode()) > 127
    client = CardClient(MemoryTransport(personalized_card(holder=holder, with_sign_cert=False)))
    data = client.read_text_data(TEXT_PIN)
    assert data.intact
    assert (data.items.name, data.items.address) == (holder.name, holder.address)


# --- the card file format ---------------------------------------------------------------------


def test_a_card_file_of_the_old_layout_is_refused_with_its_own_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    path = tmp_path / "old.card"
    card = fresh_card()
    with monkeypatch.context() as old:
        old.setattr(card_state, "FORMAT", 1)  # as openmyna wrote card files before
        CardFile.create(path, card, settings=settings).close()
    with pytest.raises(CardFileOutdated) as refused:
        CardFile.open(path, settings=settings)
    assert refused.value.code == "CARD_FILE_OUTDATED"
    assert isinstance(refused.value, CardFileInvalid)  # the same exit code and HTTP status
    CardFile.create(path, fresh_card(), settings=settings, overwrite=True).close()
    CardFile.open(path, settings=settings).close()
