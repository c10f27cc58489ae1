"""Layouts of the social insurance items national bodies provide.

雇用保険関係情報 (unemployment insurance, from Hello Work), 年金関係情報 (national and
employees' pensions, from the pension service) and 医療保険資格関係情報 (health insurance
eligibility, from the insurers). Insurer numbers identify the insurer, never the person.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from openmyna.network.item_layout import Flag, ItemLayout, Yen

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
