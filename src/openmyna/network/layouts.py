"""Data standard layouts (データ標準レイアウト): typed, versioned schemas of information items.

A provider node answers a permitted query with one information item (特定個人情報) in the
layout named by the item id and a version; the requester validates it with
:func:`validate_item` before use. Layouts carry no identity: no name, address, number or
agency code travels inside an item (principle 2) — household members, for instance, are
described by relationship and birth year only.

Amounts are non-negative integers in yen; fiscal years are Japanese fiscal years (年度,
April to March) between :data:`MIN_FISCAL_YEAR` and :data:`MAX_FISCAL_YEAR`. Every model
forbids unknown fields, so a provider that drifts from the layout is refused, not guessed at.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from openmyna.network.errors import MalformedItem, UnknownLayout
from openmyna.registry.errors import InvalidLgCode
from openmyna.registry.municipalities import validate_lg_code

MIN_FISCAL_YEAR = 2000
MAX_FISCAL_YEAR = 2100
#: Upper bound on any yen amount in a layout (10 trillion yen): catches unit mix-ups.
MAX_YEN = 10**13


def _lg_code(value: str) -> str:
    try:
        return validate_lg_code(value)
    except InvalidLgCode as exc:
        raise ValueError("not a valid local government code") from exc


Yen = Annotated[int, Field(strict=True, ge=0, le=MAX_YEN)]
Count = Annotated[int, Field(strict=True, ge=0, le=99)]
FiscalYear = Annotated[int, Field(strict=True, ge=MIN_FISCAL_YEAR, le=MAX_FISCAL_YEAR)]
BirthYear = Annotated[int, Field(strict=True, ge=1880, le=MAX_FISCAL_YEAR)]
LgCode = Annotated[str, Field(strict=True, pattern=r"^[0-9]{6}$"), AfterValidator(_lg_code)]
Flag = Annotated[bool, Field(strict=True)]


def _unique_sorted(values: tuple[str, ...]) -> tuple[str, ...]:
    # Sets travel as sorted lists so that a layout serialises to the same bytes every time.
    if len(set(values)) != len(values):
        raise ValueError("values repeat")
    return tuple(sorted(values))


class ItemLayout(BaseModel):
    """Base of every layout: frozen, unknown fields forbidden, dated by ``as_of``."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)

    #: The item id used in the allow-list (情報項目).
    item: ClassVar[str]
    #: The layout version; a new version is a new class, old ones stay for old records.
    version: ClassVar[int]
    #: The Japanese name of the item.
    name_ja: ClassVar[str]

    #: The date the provider's data is valid for (基準日).
    as_of: dt.date


# --- 地方税関係情報 -------------------------------------------------------------------------


class TaxStatus(enum.StrEnum):
    """Resident-tax status of the person for the fiscal year (課税区分)."""

    TAXED = "taxed"  # 課税（所得割あり）
    PER_CAPITA_ONLY = "per_capita_only"  # 均等割のみ課税
    NON_TAXABLE = "non_taxable"  # 非課税
    NOT_DECLARED = "not_declared"  # 未申告


class IncomeCategory(enum.StrEnum):
    """Kinds of income (所得の種類) that make up total income."""

    SALARY = "salary"  # 給与所得
    BUSINESS = "business"  # 事業所得
    PUBLIC_PENSION = "public_pension"  # 公的年金等に係る雑所得
    REAL_ESTATE = "real_estate"  # 不動産所得
    MISCELLANEOUS = "miscellaneous"  # その他の雑所得
    DIVIDEND = "dividend"  # 配当所得
    OTHER = "other"


class Dependants(BaseModel):
    """Dependants counted for the resident tax (扶養親族・控除対象配偶者)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spouse: Flag = False  # 控除対象配偶者の有無
    general: Count = 0  # 一般扶養
    specified: Count = 0  # 特定扶養 (19–22)
    elderly: Count = 0  # 老人扶養 (70+)
    under_16: Count = 0  # 年少扶養 (no deduction, still counted)

    @property
    def total(self) -> int:
        """All dependants including the spouse."""
        return int(self.spouse) + self.general + self.specified + self.elderly + self.under_16


class LocalTaxInfo(ItemLayout):
    """地方税関係情報: the person's resident tax (個人住民税) for one fiscal year."""

    item: ClassVar[str] = "local_tax"
    version: ClassVar[int] = 1
    name_ja: ClassVar[str] = "地方税関係情報"

    fiscal_year: FiscalYear  # 課税年度; income of the previous calendar year
    levying_lg_code: LgCode  # the municipality that levied it (resident there on January 1)
    status: TaxStatus
    income_categories: Annotated[tuple[IncomeCategory, ...], AfterValidator(_unique_sorted)] = ()
    total_income: Yen  # 総所得金額等
    taxable_income: Yen  # 課税総所得金額
    municipal_tax: Yen  # 市町村民税額
    prefectural_tax: Yen  # 道府県民税額
    dependants: Dependants = Dependants()

    @property
    def income_year(self) -> int:
        """The calendar year whose income the tax is computed on."""
        return self.fiscal_year - 1

    @model_validator(mode="after")
    def _consistent(self) -> LocalTaxInfo:
        if self.taxable_income > self.total_income:
            raise ValueError("taxable income exceeds total income")
        if self.status is TaxStatus.NON_TAXABLE and (self.municipal_tax or self.prefectural_tax):
            raise ValueError("a non-taxable person has no tax amounts")
        if self.status is TaxStatus.TAXED and not (self.municipal_tax or self.prefectural_tax):
            raise ValueError("a taxed person has a tax amount")
        if self.as_of.year < self.income_year:
            raise ValueError("as_of precedes the income year")
        return self


# --- 住民票関係情報 -------------------------------------------------------------------------


class Relationship(enum.StrEnum):
    """Relationship to the head of household (続柄)."""

    HEAD = "head"  # 世帯主
    SPOUSE = "spouse"  # 妻・夫
    CHILD = "child"  # 子
    PARENT = "parent"  # 父・母
    GRANDCHILD = "grandchild"  # 孫
    GRANDPARENT = "grandparent"  # 祖父・祖母
    SIBLING = "sibling"  # 兄弟姉妹
    OTHER_RELATIVE = "other_relative"  # その他の親族
    NON_RELATIVE = "non_relative"  # 縁故者・同居人


class ResidenceStatus(enum.StrEnum):
    """Whether the person is on the queried municipality's registry."""

    RESIDENT = "resident"  # 住民
    MOVED_OUT = "moved_out"  # 転出（除票）
    DECEASED = "deceased"  # 死亡（除票）


class HouseholdMember(BaseModel):
    """One household member, without identity: relationship and birth year only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    relationship: Relationship
    birth_year: BirthYear
    subject: Flag = False  # the person the query is about


class ResidentRegistryInfo(ItemLayout):
    """住民票関係情報: residence status and household composition (世帯構成), no basic items."""

    item: ClassVar[str] = "resident_registry"
    version: ClassVar[int] = 1
    name_ja: ClassVar[str] = "住民票関係情報"

    lg_code: LgCode  # the municipality whose registry answers
    status: ResidenceStatus
    resident_since: dt.date  # 住民となった年月日
    left_on: dt.date | None = None  # 転出・死亡の日
    members: tuple[HouseholdMember, ...] = Field(min_length=1, max_length=50)

    @model_validator(mode="after")
    def _consistent(self) -> ResidentRegistryInfo:
        subjects = sum(m.subject for m in self.members)
        heads = sum(m.relationship is Relationship.HEAD for m in self.members)
        if subjects != 1:
            raise ValueError("exactly one member is the subject")
        if heads != 1:
            raise ValueError("a household has exactly one head")
        if any(m.birth_year > self.as_of.year for m in self.members):
            raise ValueError("a member is born after as_of")
        if self.resident_since > self.as_of:
            raise ValueError("resident_since is after as_of")
        if (self.status is ResidenceStatus.RESIDENT) != (self.left_on is None):
            raise ValueError("left_on is set exactly when the person is no longer resident")
        if self.left_on is not None and self.left_on < self.resident_since:
            raise ValueError("left_on precedes resident_since")
        return self


# --- 生活保護関係情報 -----------------------------------------------------------------------


class AssistanceType(enum.StrEnum):
    """The eight kinds of public assistance (扶助の種類, 生活保護法 §11)."""

    LIVING = "living"  # 生活扶助
    EDUCATION = "education"  # 教育扶助
    HOUSING = "housing"  # 住宅扶助
    MEDICAL = "medical"  # 医療扶助
    LONG_TERM_CARE = "long_term_care"  # 介護扶助
    MATERNITY = "maternity"  # 出産扶助
    OCCUPATIONAL = "occupational"  # 生業扶助
    FUNERAL = "funeral"  # 葬祭扶助


class WelfareInfo(ItemLayout):
    """生活保護関係情報: whether the person's household receives public assistance."""

    item: ClassVar[str] = "welfare"
    version: ClassVar[int] = 1
    name_ja: ClassVar[str] = "生活保護関係情報"

    receiving: Flag
    started_on: dt.date | None = None
    ended_on: dt.date | None = None
    assistance_types: Annotated[tuple[AssistanceType, ...], AfterValidator(_unique_sorted)] = ()

    @model_validator(mode="after")
    def _consistent(self) -> WelfareInfo:
        if self.receiving:
            if self.started_on is None or not self.assistance_types:
                raise ValueError("receiving assistance needs a start date and a type")
            if self.ended_on is not None:
                raise ValueError("current assistance has no end date")
        elif self.assistance_types:
            raise ValueError("no assistance types when not receiving")
        if self.ended_on is not None and (
            self.started_on is None or self.ended_on < self.started_on
        ):
            raise ValueError("ended_on needs an earlier started_on")
        if self.started_on is not None and self.started_on > self.as_of:
            raise ValueError("started_on is after as_of")
        return self


# --- 障害者関係情報 -------------------------------------------------------------------------


class _Certificate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    issued_on: dt.date
    valid_until: dt.date | None = None

    @model_validator(mode="after")
    def _dates(self) -> _Certificate:
        if self.valid_until is not None and self.valid_until < self.issued_on:
            raise ValueError("valid_until precedes issued_on")
        return self


class PhysicalDisabilityCertificate(_Certificate):
    """身体障害者手帳: grades 1 (most severe) to 6."""

    kind: Literal["physical"]
    grade: Annotated[int, Field(strict=True, ge=1, le=6)]


class IntellectualDisabilityCertificate(_Certificate):
    """療育手帳: level A (severe) or B (other), as most prefectures grade it."""

    kind: Literal["intellectual"]
    level: Literal["A", "B"]


class MentalDisabilityCertificate(_Certificate):
    """精神障害者保健福祉手帳: grades 1 to 3, valid for two years."""

    kind: Literal["mental"]
    grade: Annotated[int, Field(strict=True, ge=1, le=3)]
    valid_until: dt.date


DisabilityCertificate = Annotated[
    PhysicalDisabilityCertificate | IntellectualDisabilityCertificate | MentalDisabilityCertificate,
    Field(discriminator="kind"),
]


class DisabilityInfo(ItemLayout):
    """障害者関係情報: the disability certificates (障害者手帳) the person holds."""

    item: ClassVar[str] = "disability"
    version: ClassVar[int] = 1
    name_ja: ClassVar[str] = "障害者関係情報"

    certificates: tuple[DisabilityCertificate, ...] = Field(default=(), max_length=3)

    @model_validator(mode="after")
    def _one_per_kind(self) -> DisabilityInfo:
        kinds = [c.kind for c in self.certificates]
        if len(kinds) != len(set(kinds)):
            raise ValueError("at most one certificate of each kind")
        if any(c.issued_on > self.as_of for c in self.certificates):
            raise ValueError("a certificate is issued after as_of")
        return self


# --- 雇用保険関係情報 -----------------------------------------------------------------------


class SeparationReason(enum.StrEnum):
    """Reason for leaving the job (離職理由), as it affects the benefit."""

    PERSONAL = "personal"  # 自己都合
    EMPLOYER = "employer"  # 倒産・解雇等（特定受給資格者）
    CONTRACT_END = "contract_end"  # 期間満了（特定理由離職者を含む）
    OTHER = "other"


class BenefitStatus(enum.StrEnum):
    """State of the basic allowance (基本手当)."""

    NONE = "none"  # no claim
    ELIGIBLE = "eligible"  # 受給資格決定済み、未支給
    RECEIVING = "receiving"  # 受給中
    ENDED = "ended"  # 支給終了


class UnemploymentInsuranceInfo(ItemLayout):
    """雇用保険関係情報: insured status, job separation and the basic allowance."""

    item: ClassVar[str] = "unemployment_insurance"
    version: ClassVar[int] = 1
    name_ja: ClassVar[str] = "雇用保険関係情報"

    insured: Flag  # 被保険者である
    separated_on: dt.date | None = None  # 離職日
    separation_reason: SeparationReason | None = None
    benefit_status: BenefitStatus = BenefitStatus.NONE
    daily_benefit: Yen = 0  # 基本手当日額
    prescribed_days: Annotated[int, Field(strict=True, ge=0, le=360)] = 0  # 所定給付日数
    remaining_days: Annotated[int, Field(strict=True, ge=0, le=360)] = 0

    @model_validator(mode="after")
    def _consistent(self) -> UnemploymentInsuranceInfo:
        if (self.separated_on is None) != (self.separation_reason is None):
            raise ValueError("separated_on and separation_reason come together")
        if self.separated_on is not None and self.separated_on > self.as_of:
            raise ValueError("separated_on is after as_of")
        if self.remaining_days > self.prescribed_days:
            raise ValueError("remaining_days exceeds prescribed_days")
        if self.benefit_status is BenefitStatus.NONE:
            if self.daily_benefit or self.prescribed_days:
                raise ValueError("no benefit figures without a claim")
        elif self.separated_on is None or self.prescribed_days == 0:
            raise ValueError("a benefit needs a separation and prescribed days")
        return self


# --- 年金関係情報 ---------------------------------------------------------------------------


class InsuredCategory(enum.StrEnum):
    """National pension insured category (国民年金の被保険者種別)."""

    CATEGORY_1 = "category_1"  # 第1号（自営業・学生等）
    CATEGORY_2 = "category_2"  # 第2号（会社員・公務員）
    CATEGORY_3 = "category_3"  # 第3号（第2号の被扶養配偶者）
    NOT_INSURED = "not_insured"  # 被保険者でない（受給者等）


class PremiumExemption(enum.StrEnum):
    """National pension premium exemption (保険料免除・納付猶予・学生納付特例)."""

    NONE = "none"
    FULL = "full"  # 全額免除
    THREE_QUARTERS = "three_quarters"  # 4分の3免除
    HALF = "half"  # 半額免除
    QUARTER = "quarter"  # 4分の1免除
    POSTPONEMENT = "postponement"  # 納付猶予
    STUDENT = "student"  # 学生納付特例


class PensionKind(enum.StrEnum):
    """Kinds of public pension paid (年金の種類)."""

    OLD_AGE_BASIC = "old_age_basic"  # 老齢基礎年金
    DISABILITY_BASIC = "disability_basic"  # 障害基礎年金
    SURVIVORS_BASIC = "survivors_basic"  # 遺族基礎年金
    OLD_AGE_EMPLOYEES = "old_age_employees"  # 老齢厚生年金
    DISABILITY_EMPLOYEES = "disability_employees"  # 障害厚生年金
    SURVIVORS_EMPLOYEES = "survivors_employees"  # 遺族厚生年金


_DISABILITY_MAX_GRADE = {PensionKind.DISABILITY_BASIC: 2, PensionKind.DISABILITY_EMPLOYEES: 3}


class PensionPayment(BaseModel):
    """One pension the person receives, with its annual amount (年金額)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: PensionKind
    annual_amount: Yen
    disability_grade: Annotated[int, Field(strict=True, ge=1, le=3)] | None = None

    @model_validator(mode="after")
    def _grade(self) -> PensionPayment:
        top = _DISABILITY_MAX_GRADE.get(self.kind)
        if top is None:
            if self.disability_grade is not None:
                raise ValueError("only disability pensions have a grade")
        elif self.disability_grade is None or self.disability_grade > top:
            raise ValueError("a disability pension needs a grade in its range")
        return self


class PensionInfo(ItemLayout):
    """年金関係情報: insured category, premium exemption and pensions received."""

    item: ClassVar[str] = "pension"
    version: ClassVar[int] = 1
    name_ja: ClassVar[str] = "年金関係情報"

    insured_category: InsuredCategory
    premium_exemption: PremiumExemption = PremiumExemption.NONE
    payments: tuple[PensionPayment, ...] = Field(default=(), max_length=6)

    @model_validator(mode="after")
    def _consistent(self) -> PensionInfo:
        kinds = [p.kind for p in self.payments]
        if len(kinds) != len(set(kinds)):
            raise ValueError("each pension kind appears once")
        exempt = self.premium_exemption is not PremiumExemption.NONE
        if exempt and self.insured_category is not InsuredCategory.CATEGORY_1:
            raise ValueError("premium exemption applies to category 1 only")
        return self


# --- 医療保険資格関係情報 -------------------------------------------------------------------


class InsurerKind(enum.StrEnum):
    """Kinds of public health insurer (医療保険者の種別)."""

    NATIONAL_HEALTH_INSURANCE = "national_health_insurance"  # 国民健康保険
    KYOKAI_KENPO = "kyokai_kenpo"  # 全国健康保険協会（協会けんぽ）
    SOCIETY = "society"  # 健康保険組合
    MUTUAL_AID = "mutual_aid"  # 共済組合
    SEAMEN = "seamen"  # 船員保険
    LATE_ELDERLY = "late_elderly"  # 後期高齢者医療


class InsuredRelation(enum.StrEnum):
    """The person's place in the insurance (本人・家族)."""

    INSURED = "insured"  # 被保険者本人
    DEPENDANT = "dependant"  # 被扶養者


class HealthInsuranceEligibilityInfo(ItemLayout):
    """医療保険資格関係情報: which insurer covers the person, and since when."""

    item: ClassVar[str] = "health_insurance_eligibility"
    version: ClassVar[int] = 1
    name_ja: ClassVar[str] = "医療保険資格関係情報"

    insurer_kind: InsurerKind
    # 保険者番号 identifies the insurer, not the person: 6 digits for NHI, 8 for others.
    insurer_number: Annotated[str, Field(strict=True, pattern=r"^[0-9]{6}([0-9]{2})?$")]
    relation: InsuredRelation
    acquired_on: dt.date  # 資格取得日
    lost_on: dt.date | None = None  # 資格喪失日

    @model_validator(mode="after")
    def _consistent(self) -> HealthInsuranceEligibilityInfo:
        nhi = self.insurer_kind is InsurerKind.NATIONAL_HEALTH_INSURANCE
        if nhi != (len(self.insurer_number) == 6):
            raise ValueError("national health insurance numbers have 6 digits, others 8")
        if self.lost_on is not None and self.lost_on < self.acquired_on:
            raise ValueError("lost_on precedes acquired_on")
        if self.acquired_on > self.as_of:
            raise ValueError("acquired_on is after as_of")
        return self


# --- 児童扶養手当関係情報 / 特別児童扶養手当関係情報 -------------------------------------------


class PaymentStatus(enum.StrEnum):
    """Payment status of an allowance after the income test (所得制限)."""

    NONE = "none"  # 受給資格なし
    FULL = "full"  # 全部支給
    PARTIAL = "partial"  # 一部支給
    SUSPENDED = "suspended"  # 全部支給停止


class _Allowance(ItemLayout):
    certified: Flag  # 受給資格の認定を受けている
    certified_on: dt.date | None = None
    payment_status: PaymentStatus = PaymentStatus.NONE
    monthly_amount: Yen = 0

    def _check_allowance(self, children: int) -> None:
        if self.certified != (self.certified_on is not None):
            raise ValueError("certified_on is set exactly when certified")
        if self.certified_on is not None and self.certified_on > self.as_of:
            raise ValueError("certified_on is after as_of")
        if not self.certified and self.payment_status is not PaymentStatus.NONE:
            raise ValueError("no payment status without certification")
        if self.certified and (self.payment_status is PaymentStatus.NONE or children == 0):
            raise ValueError("a certified allowance has a payment status and children")
        paying = self.payment_status in (PaymentStatus.FULL, PaymentStatus.PARTIAL)
        if paying != (self.monthly_amount > 0):
            raise ValueError("monthly_amount is positive exactly when paying")


class ChildRearingAllowanceInfo(_Allowance):
    """児童扶養手当関係情報: certification and payment of the child-rearing allowance."""

    item: ClassVar[str] = "child_rearing_allowance"
    version: ClassVar[int] = 1
    name_ja: ClassVar[str] = "児童扶養手当関係情報"

    eligible_children: Count = 0  # 対象児童数

    @model_validator(mode="after")
    def _consistent(self) -> ChildRearingAllowanceInfo:
        self._check_allowance(self.eligible_children)
        return self


class SpecialChildAllowanceInfo(_Allowance):
    """特別児童扶養手当関係情報: the allowance for raising a child with a disability."""

    item: ClassVar[str] = "special_child_allowance"
    version: ClassVar[int] = 1
    name_ja: ClassVar[str] = "特別児童扶養手当関係情報"

    # Disability grade (1 or 2) of each child the allowance is paid for.
    child_grades: tuple[Annotated[int, Field(strict=True, ge=1, le=2)], ...] = Field(
        default=(), max_length=20
    )

    @model_validator(mode="after")
    def _consistent(self) -> SpecialChildAllowanceInfo:
        self._check_allowance(len(self.child_grades))
        return self


# --- registry -------------------------------------------------------------------------------

_ALL: tuple[type[ItemLayout], ...] = (
    LocalTaxInfo,
    ResidentRegistryInfo,
    WelfareInfo,
    DisabilityInfo,
    UnemploymentInsuranceInfo,
    PensionInfo,
    HealthInsuranceEligibilityInfo,
    ChildRearingAllowanceInfo,
    SpecialChildAllowanceInfo,
)


def _registry() -> dict[str, dict[int, type[ItemLayout]]]:
    out: dict[str, dict[int, type[ItemLayout]]] = {}
    for cls in _ALL:
        versions = out.setdefault(cls.item, {})
        if cls.version in versions:
            raise RuntimeError(f"duplicate layout {cls.item} v{cls.version}")
        versions[cls.version] = cls
    return out


#: Every layout: item id → version → model class.
LAYOUTS: Mapping[str, Mapping[int, type[ItemLayout]]] = _registry()
#: The item ids that have a layout (the allow-list may name only these).
ITEMS: frozenset[str] = frozenset(LAYOUTS)


def latest_version(item: str) -> int:
    """The newest layout version of ``item``."""
    versions = LAYOUTS.get(item)
    if not versions:
        raise UnknownLayout("no layout for this item", item=item)
    return max(versions)


def layout_for(item: str, version: int | None = None) -> type[ItemLayout]:
    """The layout class of ``item`` at ``version`` (the latest when None)."""
    chosen = latest_version(item) if version is None else version
    cls = LAYOUTS.get(item, {}).get(chosen)
    if cls is None:
        raise UnknownLayout("no layout for this item and version", item=item, version=chosen)
    return cls


def _describe(exc: ValidationError) -> str:
    # Field locations and error kinds only: the offending values may be personal data.
    parts = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = ".".join(str(p) for p in err["loc"]) or "<item>"
        # Our own validators' messages are fixed sentences; others may echo input.
        why = err["msg"] if err["type"] == "value_error" else err["type"]
        parts.append(f"{loc}: {why}")
    return "; ".join(parts)


def validate_item(item: str, version: int, payload: Any) -> ItemLayout:
    """Validate a provider's ``payload`` against the layout; raise ``MalformedItem`` if bad."""
    cls = layout_for(item, version)
    if not isinstance(payload, dict):
        raise MalformedItem("item data is not an object", item=item, version=version)
    try:
        return cls.model_validate(payload)
    except ValidationError as exc:
        raise MalformedItem(
            "item data does not match its layout",
            item=item,
            version=version,
            errors=_describe(exc),
        ) from None
