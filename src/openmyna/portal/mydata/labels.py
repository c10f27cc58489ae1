"""The words 自己情報 (P3) shows for the fields and values of the data standard layouts.

The layouts (``network/local_layouts.py``, ``network/insurance_layouts.py``) name fields and
values in English identifiers; people read them in Japanese (or English by the switch). Every
label is a gettext message (``N_``); a field or value without one is shown as it is.
"""

from __future__ import annotations

from openmyna.portal.nav import N_

#: Field names → label.
FIELDS: dict[str, str] = {
    "as_of": N_("基準日"),
    "fiscal_year": N_("課税年度"),
    "levying_lg_code": N_("課税した市区町村（団体コード）"),
    "status": N_("状況"),
    "income_categories": N_("所得の種類"),
    "total_income": N_("総所得金額等"),
    "taxable_income": N_("課税総所得金額"),
    "municipal_tax": N_("市町村民税額"),
    "prefectural_tax": N_("道府県民税額"),
    "dependants": N_("扶養の状況"),
    "spouse": N_("控除対象配偶者"),
    "general": N_("一般扶養親族"),
    "specified": N_("特定扶養親族"),
    "elderly": N_("老人扶養親族"),
    "under_16": N_("年少扶養親族（16歳未満）"),
    "lg_code": N_("市区町村（団体コード）"),
    "resident_since": N_("住民となった日"),
    "left_on": N_("転出・死亡の日"),
    "members": N_("世帯の構成員"),
    "relationship": N_("続柄"),
    "birth_year": N_("生まれた年"),
    "subject": N_("ご本人"),
    "receiving": N_("受給中"),
    "started_on": N_("開始日"),
    "ended_on": N_("廃止日"),
    "assistance_types": N_("扶助の種類"),
    "certificates": N_("手帳"),
    "kind": N_("種類"),
    "grade": N_("等級"),
    "level": N_("程度"),
    "issued_on": N_("交付日"),
    "valid_until": N_("有効期限"),
    "certified": N_("受給資格の認定"),
    "certified_on": N_("認定日"),
    "payment_status": N_("支給の状況"),
    "monthly_amount": N_("月額"),
    "eligible_children": N_("対象児童数"),
    "child_grades": N_("対象児童の障害の等級"),
    "insured": N_("被保険者"),
    "separated_on": N_("離職日"),
    "separation_reason": N_("離職理由"),
    "benefit_status": N_("基本手当の状況"),
    "daily_benefit": N_("基本手当日額"),
    "prescribed_days": N_("所定給付日数"),
    "remaining_days": N_("残りの給付日数"),
    "insured_category": N_("被保険者の種別"),
    "premium_exemption": N_("保険料の免除"),
    "payments": N_("受給している年金"),
    "annual_amount": N_("年額"),
    "disability_grade": N_("障害等級"),
    "insurer_kind": N_("保険者の種類"),
    "insurer_number": N_("保険者番号"),
    "relation": N_("本人・家族の別"),
    "acquired_on": N_("資格取得日"),
    "lost_on": N_("資格喪失日"),
}

#: Fields whose whole numbers are yen.
YEN_FIELDS = frozenset(
    {
        "total_income",
        "taxable_income",
        "municipal_tax",
        "prefectural_tax",
        "monthly_amount",
        "daily_benefit",
        "annual_amount",
    }
)

#: Enumerated values → label (the layouts' enums; the same word in two enums reads the same).
VALUES: dict[str, str] = {
    # 地方税
    "taxed": N_("課税"),
    "per_capita_only": N_("均等割のみ課税"),
    "non_taxable": N_("非課税"),
    "not_declared": N_("未申告"),
    "salary": N_("給与所得"),
    "business": N_("事業所得"),
    "public_pension": N_("公的年金等"),
    "real_estate": N_("不動産所得"),
    "miscellaneous": N_("雑所得"),
    "dividend": N_("配当所得"),
    "other": N_("その他"),
    # 住民票
    "resident": N_("住民"),
    "moved_out": N_("転出"),
    "deceased": N_("死亡"),
    "head": N_("世帯主"),
    "spouse": N_("配偶者"),
    "child": N_("子"),
    "parent": N_("父母"),
    "grandchild": N_("孫"),
    "grandparent": N_("祖父母"),
    "sibling": N_("兄弟姉妹"),
    "other_relative": N_("その他の親族"),
    "non_relative": N_("親族以外"),
    # 生活保護
    "living": N_("生活扶助"),
    "education": N_("教育扶助"),
    "housing": N_("住宅扶助"),
    "medical": N_("医療扶助"),
    "long_term_care": N_("介護扶助"),
    "maternity": N_("出産扶助"),
    "occupational": N_("生業扶助"),
    "funeral": N_("葬祭扶助"),
    # 障害者手帳
    "physical": N_("身体障害者手帳"),
    "intellectual": N_("療育手帳"),
    "mental": N_("精神障害者保健福祉手帳"),
    # 手当
    "none": N_("なし"),
    "full": N_("全部"),
    "partial": N_("一部"),
    "suspended": N_("停止"),
    # 雇用保険
    "eligible": N_("受給資格あり"),
    "receiving": N_("受給中"),
    "ended": N_("終了"),
    "personal": N_("自己都合"),
    "employer": N_("会社都合"),
    "contract_end": N_("契約期間満了"),
    # 年金
    "category_1": N_("第1号被保険者"),
    "category_2": N_("第2号被保険者"),
    "category_3": N_("第3号被保険者"),
    "not_insured": N_("被保険者ではない"),
    "three_quarters": N_("4分の3免除"),
    "half": N_("半額免除"),
    "quarter": N_("4分の1免除"),
    "postponement": N_("納付猶予"),
    "student": N_("学生納付特例"),
    "old_age_basic": N_("老齢基礎年金"),
    "disability_basic": N_("障害基礎年金"),
    "survivors_basic": N_("遺族基礎年金"),
    "old_age_employees": N_("老齢厚生年金"),
    "disability_employees": N_("障害厚生年金"),
    "survivors_employees": N_("遺族厚生年金"),
    # 医療保険
    "national_health_insurance": N_("国民健康保険"),
    "kyokai_kenpo": N_("全国健康保険協会（協会けんぽ）"),
    "society": N_("健康保険組合"),
    "mutual_aid": N_("共済組合"),
    "seamen": N_("船員保険"),
    "late_elderly": N_("後期高齢者医療"),
    "insured": N_("被保険者本人"),
    "dependant": N_("被扶養者"),
}
