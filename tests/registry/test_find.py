"""The counter's search (``MunicipalRegistry.find``): part of the name or kana, date of birth."""

from __future__ import annotations

import datetime as dt

import pytest
from registry_helpers import MAEBASHI, person

from openmyna.errors import OpenMynaError
from openmyna.registry import Registries, Status


def test_find_by_part_of_the_name_or_kana_and_the_date_of_birth(regs: Registries) -> None:
    reg = regs.municipality(MAEBASHI)
    day = regs.clock.today()
    taro = reg.move_in_from_abroad(person(), on=day, address="群馬県前橋市大手町1番")
    hanako = reg.move_in_from_abroad(
        person("山田", "花子", "やまだ", "はなこ", dt.date(1990, 1, 2)),
        on=day,
        address="群馬県前橋市大手町2番",
    )
    sato = reg.move_in_from_abroad(
        person("佐藤", "100%", "サトウ", "ヒャク", dt.date(1970, 3, 4)),
        on=day,
        address="群馬県前橋市大手町3番",
    )

    def codes(**query: object) -> list[str]:
        return [r.resident_code for r in reg.find(**query)]  # type: ignore[arg-type]

    assert codes(name="山田") == [taro.resident_code, hanako.resident_code]
    assert codes(name="山田　花") == [hanako.resident_code]  # a full-width space is ignored
    assert codes(name="田太") == [taro.resident_code]  # across family and given name
    assert codes(kana="ヤマダハナコ") == [hanako.resident_code]  # katakana finds hiragana
    assert codes(kana="やまだ たろう") == [taro.resident_code]  # and the other way round
    assert codes(name="山田", date_of_birth=dt.date(1990, 1, 2)) == [hanako.resident_code]
    assert codes(date_of_birth=dt.date(1980, 5, 17)) == [taro.resident_code]
    assert codes(name="%") == [sato.resident_code]  # wildcards are literal, not everyone
    assert codes(name="_") == []
    assert codes(name="山田", limit=1) == [taro.resident_code]
    reg.record_death(taro.resident_code, on=day)
    assert codes(name="山田") == [hanako.resident_code]
    assert codes(name="山田", status=None) == [taro.resident_code, hanako.resident_code]
    assert codes(name="山田", status=Status.REMOVED) == [taro.resident_code]
    with pytest.raises(OpenMynaError) as nothing:
        reg.find(name=" ", kana="")
    assert nothing.value.code == "INVALID_RESIDENT_DATA"
