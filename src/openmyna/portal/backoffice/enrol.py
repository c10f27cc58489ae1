"""Who holds a card, for the staff register: the account a card logs in to, and its holder's name.

The card signs a fresh challenge with its user-authentication key (the holder's PIN), the
portal's login verifier checks the certificate — chain, policy, revocation status — and the
portal's account of that certificate is the member of staff (made at this first sight if the
person never logged in), as at a login. Used by ``openmyna backoffice staff grant`` and by
``openmyna demo`` for its staff member's card.
"""

from __future__ import annotations

import secrets

from openmyna.card import CardClient, KeyRef
from openmyna.pki.verify import AuthResult
from openmyna.portal.accounts import Account
from openmyna.portal.service import Portal


def holder_account(portal: Portal, client: CardClient, pin: str) -> tuple[AuthResult, Account]:
    """The verified certificate of the card in ``client`` and the portal account it opens."""
    client.require_my_number_card()
    certificate = client.auth_certificate()
    challenge = secrets.token_bytes(32)
    signature = client.sign(KeyRef.AUTH, pin, data=challenge)
    verified = portal.logins.verifier.verify_auth(certificate, challenge, signature)
    return verified, portal.accounts.for_login(verified)


def holder_name(portal: Portal, verified: AuthResult) -> str:
    """The name the identity index holds for a verified certificate's holder (the register's
    default name for a member of staff: the employer's own record, never the portal's)."""
    record = portal.accounts.issuer.record(verified.serial)
    return portal.accounts.identities.by_resident_code(record.resident_code).name
