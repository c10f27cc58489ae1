"""Layouts of the items local bodies provide (municipalities and prefectures).

地方税関係情報 (the resident tax), 住民票関係情報 (residence and household, without basic
items), 生活保護関係情報 (public assistance), 障害者関係情報 (disability certificates),
児童扶養手当関係情報 and 特別児童扶養手当関係情報 (the two child allowances). No layout
carries identity: household members, for instance, are described by relationship and birth
year only (principle 2).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from openmyna.network.item_layout import (
    BirthYear,
    Count,
    FiscalYear,
    Flag,
    ItemLayout,
    LgCode,
    Yen,
    unique_sorted,
)

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
    income_categories: Annotated[tuple[IncomeCategory, ...], AfterValidator(unique_sorted)] = ()
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
    assistance_types: Annotated[tuple[AssistanceType, ...], AfterValidator(unique_sorted)] = ()

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
