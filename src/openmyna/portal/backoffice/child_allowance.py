"""児童手当 (child allowance) at the back office: the claimant's local tax over the network.

A claim (認定請求, 児童手当法 第7条) comes to the municipality where the family lives now (B).
The claimant's income is known from the resident tax (住民税), which the municipality where
they lived on 1 January levied (地方税法 第39条, 第318条: 賦課期日は当該年度の初日の属する年の
1月1日). If that was another municipality (A), B does not ask for a tax certificate any more:
it obtains A's local-tax information (地方税関係情報) over the network, under its own agency
and the affair ``child_allowance``, and the hub records the exchange like any other.

The exchange is the network's child-allowance scenario (``openmyna.demo.scenario``), now
driven from the back office through ``LocalTaxSource`` (the builder gives it
``openmyna.demo.local_tax.ScenarioLocalTax``: the portal does not import the demo): the
claimant's number comes from the signed claim (the form asks for it, as the paper claim
does), B's registry says where they moved in from.

The income limit (所得制限) and its source: ``income_limit``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final, Protocol

from openmyna.errors import Conflict
from openmyna.network.local_layouts import LocalTaxInfo

#: The form of the claim (data/forms/child-allowance-claim.toml).
FORM_ID: Final = "child-allowance-claim"

#: The income limits ended with the allowance for October 2024 (令和6年10月分): the
#: 子ども・子育て支援法等の一部を改正する法律 (令和6年法律第47号) deleted 児童手当法 第5条
#: (所得制限) and the 特例給付; the law in force has no income limit.
LIMITS_ABOLISHED_FROM: Final = dt.date(2024, 10, 1)
#: 所得制限限度額 and 所得上限限度額 (yen) by the number of dependants (扶養親族等の数),
#: 児童手当法施行令 第1条 and 第7条 as in force from June 2022 to September 2024 (内閣府
#: 「児童手当制度のご案内」). Beyond five dependants each adds 380,000 yen.
LIMITS_BEFORE_2024: Final = {
    0: (6_220_000, 8_580_000),
    1: (6_600_000, 8_960_000),
    2: (6_980_000, 9_340_000),
    3: (7_360_000, 9_720_000),
    4: (7_740_000, 10_100_000),
    5: (8_120_000, 10_480_000),
}
_PER_MORE_DEPENDANT: Final = 380_000


@dataclass(frozen=True)
class IncomeLimit:
    """The income limit for an allowance month, or none (``limit`` None)."""

    month: dt.date
    dependants: int
    #: 所得制限限度額 (below it: the allowance in full), None since October 2024.
    limit: int | None
    #: 所得上限限度額 (from it: no allowance at all), None where there was none.
    ceiling: int | None

    def assess(self, income: int) -> str:
        """``no_limit``, ``within``, ``special`` (特例給付) or ``over`` for ``income``."""
        if self.limit is None:
            return "no_limit"
        if income < self.limit:
            return "within"
        if self.ceiling is None or income < self.ceiling:
            return "special"
        return "over"


def income_limit(month: dt.date, dependants: int) -> IncomeLimit:
    """The income limit of the allowance for ``month`` with ``dependants`` dependants."""
    if month >= LIMITS_ABOLISHED_FROM:
        return IncomeLimit(month, dependants, None, None)
    extra = max(0, dependants - 5) * _PER_MORE_DEPENDANT
    limit, ceiling = LIMITS_BEFORE_2024[min(max(0, dependants), 5)]
    has_ceiling = month >= dt.date(2022, 6, 1)  # 所得上限 from the allowance for June 2022
    return IncomeLimit(month, dependants, limit + extra, ceiling + extra if has_ceiling else None)


class LevyingHere(Conflict):
    """The claimant lived here on 1 January: this municipality's own tax records apply."""

    code = "LOCAL_TAX_LEVIED_HERE"


class ClaimantNotResident(Conflict):
    """The number on the claim is not of a current resident of this municipality."""

    code = "CLAIMANT_NOT_RESIDENT_HERE"


class LocalTaxNotChecked(Conflict):
    """A child-allowance claim is approved only after the claimant's income was looked at."""

    code = "LOCAL_TAX_NOT_CHECKED"


@dataclass(frozen=True)
class FetchedTax:
    """What B obtained from A over the network for one claim."""

    local_tax: LocalTaxInfo | None
    exchange_id: str
    #: The other items obtained in the same batch (``resident_registry``), by item.
    also: tuple[str, ...]
    #: The hub's record of the local-tax exchange exists (情報提供等記録).
    recorded_at_hub: bool


class LocalTaxSource(Protocol):
    """Where the back office gets another municipality's local-tax information."""

    def fetch(self, *, individual_number: str, at_lg_code: str, from_lg_code: str) -> FetchedTax:
        """A's ``local_tax`` for the person, asked by B under ``child_allowance``."""
        ...


def fiscal_year_on(today: dt.date) -> int:
    """The latest fiscal year whose resident tax is levied by ``today`` (notified in June)."""
    return today.year if today.month >= 6 else today.year - 1


def allowance_month(today: dt.date) -> dt.date:
    """The first month the allowance is paid for on a claim made ``today`` (the next month).

    児童手当法 第8条第2項: 支給は、受給資格者が認定の請求をした日の属する月の翌月から始める.
    """
    return dt.date(today.year + today.month // 12, today.month % 12 + 1, 1)
