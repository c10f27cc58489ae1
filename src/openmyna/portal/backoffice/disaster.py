"""罹災証明書 (disaster victim certificate): the damage grades a decision certifies.

災害対策基本法 第90条の2 第1項: 市町村長は、当該市町村の地域に係る災害が発生した場合において、
当該災害の被災者から申請があつたときは、遅滞なく、住家の被害その他当該市町村長が定める種類の被害の
状況を調査し、罹災証明書を交付しなければならない.

The grades of damage to a home (住家の被害の程度) and the share of the loss (損害割合) each
stands for are the Cabinet Office's: 内閣府政策統括官（防災担当）「災害の被害認定基準について」
(令和3年6月24日 府政防第670号) and its 「災害に係る住家の被害認定基準運用指針」. The staff
member who surveyed the home (or read the survey) chooses the grade; this module does not
compute it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from openmyna.errors import InvalidInput
from openmyna.portal.nav import N_

#: The form of the application (data/forms/disaster-certificate.toml).
FORM_ID: Final = "disaster-certificate"


class DamageGradeRequired(InvalidInput):
    """A certificate states the grade of the damage: one of ``GRADES``."""

    code = "DAMAGE_GRADE_REQUIRED"


@dataclass(frozen=True)
class DamageGrade:
    """One grade of damage to a home, with the share of the loss it covers."""

    value: str
    #: The name the certificate prints (Japanese, as the 認定基準 names it).
    name: str
    #: 損害割合 (the economic loss as a share of the home), as the 認定基準 words it.
    share: str


#: Worst first (the order of the 認定基準).
GRADES: Final = (
    DamageGrade("total", N_("全壊"), N_("損害割合50％以上")),
    DamageGrade("large_half", N_("大規模半壊"), N_("損害割合40％以上50％未満")),
    DamageGrade("medium_half", N_("中規模半壊"), N_("損害割合30％以上40％未満")),
    DamageGrade("half", N_("半壊"), N_("損害割合20％以上30％未満")),
    DamageGrade("quasi_half", N_("準半壊"), N_("損害割合10％以上20％未満")),
    DamageGrade("below_quasi_half", N_("準半壊に至らない（一部損壊）"), N_("損害割合10％未満")),
)
_BY_VALUE: Final = {g.value: g for g in GRADES}
#: How the decision's record states the grade (the notice quotes it).
GRADE_PREFIX: Final = "被害の程度："


def damage_grade(value: str | None) -> DamageGrade:
    """The grade named ``value`` (``DAMAGE_GRADE_REQUIRED`` for none or another)."""
    found = _BY_VALUE.get((value or "").strip())
    if found is None:
        raise DamageGradeRequired("choose the grade of the damage")
    return found


def grade_in(reason: str) -> DamageGrade | None:
    """The grade a decision's recorded reason states, if any."""
    for line in reason.splitlines():
        if line.startswith(GRADE_PREFIX):
            name = line.removeprefix(GRADE_PREFIX).split("（損害割合")[0].strip()
            return next((g for g in GRADES if g.name == name), None)
    return None
