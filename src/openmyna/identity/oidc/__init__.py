"""The OpenID Connect provider for businesses (デジタル認証アプリ's role), on the card login.

``Oidc`` (``service.py``) is what the platform holds; ``web.routes()`` its endpoints and the
consent screen; ``cli`` the administrator's ``openmyna oidc client …``. docs/identity.md
says how a business integrates and what each scope and level means.
"""

from openmyna.identity.oidc.clients import SCOPES, Client, Clients
from openmyna.identity.oidc.provider import ACR_CARD, EndUser, Provider
from openmyna.identity.oidc.service import Oidc

__all__ = ["ACR_CARD", "SCOPES", "Client", "Clients", "EndUser", "Oidc", "Provider"]
