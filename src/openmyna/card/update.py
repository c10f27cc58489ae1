"""The counter's update of a card after a move or a new name (券面記載事項変更, SPEC C2 and J2).

What the municipality does at the counter, in this order (潟上市 「引越し・改姓等による
マイナンバーカード券面記載事項の変更手続き」: 変更情報の追記 and ICチップ内情報の更新, with the
continued-use step at a move-in; いちき串木野市 「住所変更等に伴うマイナンバーカード電子証明書の
更新・発行申請」: the signature certificate ends with the change and is issued again on request):

1. the holder enters their 4-digit PIN on the counter's terminal (越谷市 「マイナンバーカードの
   記載事項の変更手続き」 asks for the 住民基本台帳用暗証番号; openmyna's card has no 住基AP, so
   the 券面事項入力補助AP's PIN stands in: it is the PIN of the data being rewritten);
2. the new items are written on the face (``surface``, the 追記欄), one line each;
3. the chip's 券面事項入力補助AP gets the new 4 items, signed again (``rewrite_text_data``);
4. the signature certificates of the card are revoked (affiliationChanged: its 4 items are
   old), and a new one is issued on request with a new signature password, for a new key
   generated in the card;
5. the register records the update (and the continued use), and stages ``card.updated``.

Run again after a crash, the update finds what is left to do: the chip's items are compared
with the registry's, and the register takes the signature certificate that is on the card.
"""

from __future__ import annotations

import datetime as dt

from openmyna.card.surface import EndorsedItem, Endorsement
from openmyna.card.text_ap import CardItems

#: The 4 items in the order the face lists them, with the line each change gets.
_ITEMS: tuple[tuple[str, EndorsedItem], ...] = (
    ("name", EndorsedItem.NAME),
    ("address", EndorsedItem.ADDRESS),
    ("date_of_birth", EndorsedItem.DATE_OF_BIRTH),
    ("sex", EndorsedItem.SEX),
)
#: How the face writes a sex (ISO/IEC 5218 code → the card's 男 / 女).
_SEX_TEXT = {1: "男", 2: "女"}


def items_of(name: str, address: str, date_of_birth: dt.date, sex: int) -> CardItems:
    """The 4 items as the chip holds them."""
    return CardItems(name, address, date_of_birth, int(sex))


def changed_items(on_chip: CardItems, current: CardItems) -> tuple[str, ...]:
    """The items that differ between the chip and the registry, in the face's order."""
    return tuple(f for f, _ in _ITEMS if getattr(on_chip, f) != getattr(current, f))


def _text(field: str, items: CardItems) -> str:
    value = getattr(items, field)
    if field == "sex":
        return _SEX_TEXT.get(int(value), "")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def endorsements(changed: tuple[str, ...], items: CardItems, on: dt.date) -> list[Endorsement]:
    """The 追記欄 lines for ``changed`` items: the day and the new value."""
    kinds = dict(_ITEMS)
    return [Endorsement(on, kinds[f], _text(f, items)) for f in changed]
