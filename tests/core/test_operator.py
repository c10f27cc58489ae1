"""The operator token: required, compared in constant time, never echoed."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from openmyna.config import Settings
from openmyna.operator import (
    NoOperatorConfigured,
    OperatorRequired,
    operator_configured,
    require_operator,
)

TOKEN = "s3cret-operator-token-0123"


def test_the_right_token_passes_and_others_are_refused() -> None:
    settings = Settings(operator_token=SecretStr(TOKEN))
    assert operator_configured(settings)
    require_operator(settings, TOKEN)
    for wrong in (None, "", TOKEN[:-1], TOKEN + "x", TOKEN.upper()):
        with pytest.raises(OperatorRequired) as caught:
            require_operator(settings, wrong)
        assert caught.value.http_status == 401
        assert TOKEN not in caught.value.diagnostics()


def test_without_a_usable_token_nothing_passes() -> None:
    for settings in (Settings(), Settings(operator_token=SecretStr("short"))):
        assert not operator_configured(settings)
        with pytest.raises(NoOperatorConfigured):
            require_operator(settings, "short")


def test_the_token_is_read_from_the_environment_and_not_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from openmyna.config import load_settings

    monkeypatch.setenv("OPENMYNA_OPERATOR_TOKEN", TOKEN)
    settings = load_settings()
    assert operator_configured(settings)
    assert TOKEN not in repr(settings)
