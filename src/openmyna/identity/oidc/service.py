"""The OpenID Connect provider as the platform holds it (``Builder.oidc()``)."""

from __future__ import annotations

from types import TracebackType

from openmyna.identity.oidc.provider import Provider
from openmyna.identity.oidc.signing import ConsentSigning


class Oidc:
    """デジタル認証アプリ's server side: the provider and its consent's signature step."""

    def __init__(self, provider: Provider, signing: ConsentSigning) -> None:
        self.provider = provider
        self.signing = signing
        self.clients = provider.clients

    def close(self) -> None:
        """Release the database connections."""
        self.provider.store.close()

    def __enter__(self) -> Oidc:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
