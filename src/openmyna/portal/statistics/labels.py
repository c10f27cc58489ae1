"""The names the statistics page gives to kinds, statuses, items and affairs (gettext messages).

The Japanese names of the items and affairs are those of the network's data
(``ItemLayout.name_ja``, the allow-list's ``name_ja``), repeated here so that the catalogue
can give their English; ``tests/portal/test_statistics.py`` checks that both lists match the
network's. An id the network no longer knows (an old record) is shown as it is.
"""

from __future__ import annotations

from openmyna.card.models import CardStatus
from openmyna.portal.nav import N_
from openmyna.registry import MunicipalityKind

KINDS: dict[MunicipalityKind, str] = {
    MunicipalityKind.SPECIAL_WARD: N_("特別区"),
    MunicipalityKind.DESIGNATED_CITY: N_("政令指定都市"),
    MunicipalityKind.CITY: N_("市（政令指定都市を除く）"),
    MunicipalityKind.TOWN_VILLAGE: N_("町村"),
}

STATUSES: dict[CardStatus, str] = {
    CardStatus.ACTIVE: N_("有効"),
    CardStatus.SUSPENDED: N_("一時停止"),
    CardStatus.REVOKED: N_("失効"),
    CardStatus.EXPIRED: N_("有効期限切れ"),
    CardStatus.RETURNED: N_("返納"),
}

ITEMS: dict[str, str] = {
    "local_tax": N_("地方税関係情報"),
    "resident_registry": N_("住民票関係情報"),
    "welfare": N_("生活保護関係情報"),
    "disability": N_("障害者関係情報"),
    "unemployment_insurance": N_("雇用保険関係情報"),
    "pension": N_("年金関係情報"),
    "health_insurance_eligibility": N_("医療保険資格関係情報"),
    "child_rearing_allowance": N_("児童扶養手当関係情報"),
    "special_child_allowance": N_("特別児童扶養手当関係情報"),
}

AFFAIRS: dict[str, str] = {
    "nursery_certification": N_("保育所等の利用に当たっての認定（教育・保育給付認定）"),
    "child_allowance": N_("児童手当の支給"),
    "jasso_scholarship": N_("奨学金（学資）の貸与・支給"),
    "special_support_education": N_("特別支援教育就学奨励費の支給"),
    "child_rearing_allowance": N_("児童扶養手当の支給"),
    "public_assistance": N_("生活保護の決定及び実施"),
    "special_child_allowance": N_("特別児童扶養手当の支給"),
    "disability_services": N_("障害福祉サービス（自立支援給付）の支給"),
    "disability_medical_subsidy": N_("障害者・児に対する医療費助成（自立支援医療）"),
    "family_care_leave_benefit": N_("介護休業給付金の支給"),
    "care_insurance_premium_reduction": N_("介護保険料の減免"),
    "childbirth_lump_sum": N_("出産育児一時金の支給"),
    "public_housing": N_("公営住宅の入居"),
    "pension_premium_exemption": N_("国民年金保険料の免除・納付猶予"),
    "pension_student_deferment": N_("国民年金保険料の学生納付特例"),
    "pension_claim": N_("各種年金の裁定請求"),
    "pension_recipient_notifications": N_(
        "年金受給者の各種届出の審査（年金額改定請求書、加算額開始事由該当届、支給停止事由消滅届）"
    ),
    "disability_basic_pension_income_check": N_("20歳前傷病による障害基礎年金受給者の所得確認"),
    "mental_health_certificate": N_("精神障害者保健福祉手帳の交付"),
    "national_health_insurance": N_("国民健康保険の資格及び保険給付"),
}
