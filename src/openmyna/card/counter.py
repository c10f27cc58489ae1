"""Counter operations (窓口): who did it, and which identity documents (本人確認書類) were seen.

A counter operation changes a person's card on the strength of the holder standing at the
counter: issuing a card to a registered resident (交付), resetting a PIN (暗証番号の初期化),
lifting a loss suspension (一時停止の解除), the continued-use step after a move (継続利用) and
taking a card back (返納). At the CLI the operator is authenticated by the installation's
operator token (``openmyna.operator``); in the portal's back office, by the clerk's session
and role (``openmyna.portal.backoffice``). This module holds what is recorded with either:
who did it and the documents, from a fixed list.

The list and the rule follow the municipalities' published counter rules for the card: one
photo document issued by a public office (区分A) is enough, otherwise two of the others
(区分B). Sources: the lists of 本人確認書類 for card procedures and PIN resets published by
e.g. 日南市 (city.nichinan.lg.jp, 暗証番号再設定に必要なもの), 大阪狭山市 (暗証番号再設定:
「Aの書類1点」または「Bの書類1点」besides the card), 尼崎市 FAQ 2570 (1点の提示でよい書類 /
2点の提示). Municipalities differ in details (some accept one B document besides the card
for a PIN reset); the one rule here is the stricter common one, A or two B.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from openmyna.card.errors import IdentityCheckMissing
from openmyna.card.register import who
from openmyna.errors import InvalidInput


class IdentityDocument(StrEnum):
    """An identity document shown at the counter (本人確認書類); the value is its name."""

    # 区分A: photo documents issued by a public office; one is enough.
    MY_NUMBER_CARD = "マイナンバーカード"
    DRIVING_LICENCE = "運転免許証"
    DRIVING_RECORD_CERTIFICATE = "運転経歴証明書"
    PASSPORT = "旅券"
    PHYSICAL_DISABILITY_CERTIFICATE = "身体障害者手帳"
    MENTAL_DISABILITY_CERTIFICATE = "精神障害者保健福祉手帳"
    INTELLECTUAL_DISABILITY_CERTIFICATE = "療育手帳"
    RESIDENCE_CARD = "在留カード"
    SPECIAL_PERMANENT_RESIDENT_CERTIFICATE = "特別永住者証明書"
    TEMPORARY_REFUGE_PERMIT = "一時庇護許可書"
    PROVISIONAL_STAY_PERMIT = "仮滞在許可書"
    # 区分B: documents with the name and the address or date of birth; two are needed.
    HEALTH_INSURANCE_CERTIFICATE = "資格確認書"
    PENSION_BOOK = "年金手帳"
    LONG_TERM_CARE_INSURANCE_CARD = "介護保険被保険者証"
    STUDENT_ID = "学生証"
    EMPLOYEE_ID = "社員証"

    @property
    def photo_id(self) -> bool:
        """Whether it is a 区分A document (one is enough)."""
        return self in _CATEGORY_A

    @classmethod
    def parse(cls, text: str) -> IdentityDocument:
        """A document from its Japanese name or English name (``passport``, ``旅券`` …)."""
        value = text.strip()
        try:
            return cls(value)
        except ValueError:
            pass
        try:
            return cls[value.upper().replace("-", "_")]
        except KeyError:
            known = ", ".join(m.name.lower() for m in cls)
            raise InvalidInput(f"unknown identity document (one of: {known})") from None


_CATEGORY_A = frozenset(list(IdentityDocument)[:11])


@dataclass(frozen=True)
class CounterCheck:
    """An authenticated operator and the documents they saw, as the audit log records them."""

    operator: str
    documents: tuple[IdentityDocument, ...]

    @classmethod
    def of(cls, operator: str, documents: list[str] | tuple[str, ...]) -> CounterCheck:
        """Checked: a name (1-64 characters) and one 区分A document or two 区分B ones."""
        name, _ = who(operator, "counter")
        seen = tuple(dict.fromkeys(IdentityDocument.parse(d) for d in documents))
        if not any(d.photo_id for d in seen) and len(seen) < 2:
            raise IdentityCheckMissing(
                "identity verification (本人確認) needs one photo document issued by a public"
                " office (区分A) or two others (区分B): give --identity-document"
            )
        return cls(name, seen)

    @property
    def identity_check(self) -> str:
        """The recorded verification: the documents' names."""
        return "本人確認書類 " + "、".join(d.value for d in self.documents)
