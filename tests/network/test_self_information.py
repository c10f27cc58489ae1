"""The portal's list (自己情報, 番号法 附則第6条第3項); the allow-list refuses the portal."""

from __future__ import annotations

import pytest

from openmyna.network.allow_list import load_allow_list, parse_allow_list
from openmyna.network.errors import AllowListInvalid, NotAllowed
from openmyna.network.self_information import default_self_information, parse_self_information

ENTRY = """
[[entry]]
requester = "{requester}"
affair = "child_allowance"
provider = "{provider}"
item = "local_tax"
basis = "x"
"""

HEAD = """
schema = 1
version = "2026.1.1"
[affairs.child_allowance]
name_ja = "児童手当の支給"
statute = "児童手当法"
"""


@pytest.mark.parametrize(
    ("requester", "provider"), [("portal", "municipality"), ("municipality", "portal")]
)
def test_the_allow_list_refuses_entries_naming_the_portal(requester: str, provider: str) -> None:
    text = HEAD + ENTRY.format(requester=requester, provider=provider)
    with pytest.raises(AllowListInvalid, match="the portal is not on the allow-list"):
        parse_allow_list(text.encode())
    fine = HEAD + ENTRY.format(requester="municipality", provider="municipality")
    assert len(parse_allow_list(fine.encode())) == 1


def test_the_packaged_lists() -> None:
    rules = default_self_information()
    assert rules.requester_kind == "portal"
    assert rules.affair == "own_information"
    assert "附則第6条第3項" in rules.info.source
    entry = rules.check("portal", "own_information", "municipality", "local_tax")
    assert entry.item == "local_tax"
    for asked in [
        ("portal", "own_information", "prefecture", "local_tax"),  # not from that kind
        ("portal", "child_allowance", "municipality", "local_tax"),  # not its affair
        ("municipality", "own_information", "municipality", "local_tax"),  # not the portal
    ]:
        with pytest.raises(NotAllowed):
            rules.check(*asked)
    assert not any("portal" in e.key for e in load_allow_list().entries)


@pytest.mark.parametrize(
    "broken",
    [
        b"not toml",
        b'schema = 1\nversion = "2026.1.1"\nrequester = "municipality"\naffair = "own_info"\n',
        (
            b'schema = 1\nversion = "2026.1.1"\nrequester = "portal"\naffair = "own_information"\n'
            b'[affair_info]\nname_ja = "x"\nstatute = "y"\n'
            b'[[entry]]\nprovider = "portal"\nitem = "local_tax"\nbasis = "b"\n'
        ),
        (
            b'schema = 1\nversion = "2026.1.1"\nrequester = "portal"\naffair = "own_information"\n'
            b'[affair_info]\nname_ja = "x"\nstatute = "y"\n'
            b'[[entry]]\nprovider = "municipality"\nitem = "no_such_item"\nbasis = "b"\n'
        ),
    ],
)
def test_a_broken_list_is_refused(broken: bytes) -> None:
    with pytest.raises(AllowListInvalid):
        parse_self_information(broken)
