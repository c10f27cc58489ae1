"""The installation's operator: who may see personal data and run counter operations.

One secret stands for the operator, for scripts: the token in the settings
(``OPENMYNA_OPERATOR_TOKEN``). HTTP routes that return personal data take it as
``Authorization: Bearer <token>`` (beside a staff session of the portal's back office,
``openmyna.guard``); the CLI's counter operations and staff commands ask for it at a hidden
prompt. ``require_operator`` compares in constant time and says nothing about the token.
"""

from __future__ import annotations

import hmac

from openmyna.config import Settings
from openmyna.errors import OpenMynaError

#: The shortest token accepted: a shorter secret is refused as if none were configured.
MIN_TOKEN_LENGTH = 16


class OperatorRequired(OpenMynaError):
    """The operation needs the installation operator's token, and it was missing or wrong."""

    code = "OPERATOR_REQUIRED"
    http_status = 401


class NoOperatorConfigured(OpenMynaError):
    """No usable operator token is configured: operations that need one are refused."""

    code = "NO_OPERATOR_CONFIGURED"
    http_status = 503


def operator_configured(settings: Settings) -> bool:
    """Whether the settings hold an operator token long enough to be used."""
    token = settings.operator_token
    return token is not None and len(token.get_secret_value()) >= MIN_TOKEN_LENGTH


def require_operator(settings: Settings, presented: str | None) -> None:
    """Pass if ``presented`` is the operator token; else ``OPERATOR_REQUIRED``."""
    if not operator_configured(settings):
        raise NoOperatorConfigured(
            "no operator token is configured (OPENMYNA_OPERATOR_TOKEN, at least "
            f"{MIN_TOKEN_LENGTH} characters)"
        )
    assert settings.operator_token is not None
    expected = settings.operator_token.get_secret_value().encode("utf-8")
    if presented is None or not hmac.compare_digest(presented.encode("utf-8"), expected):
        raise OperatorRequired("this needs the installation operator's token")
