"""Login with the card (P1): the smartphone-style flow, the card-facing endpoint, the wallet.

- ``service.Logins``: login requests (QR code, short code, expiry), the card's answer
  verified by ``openmyna.pki.Verifier``, the session collected by the browser that asked,
  and the JPKI revocation log followed (a revoked certificate's sessions end).
- ``web``: the pages (``/login``, the waiting page and its polling, ``/wallet``) and the
  card-facing API (``/login/r/{id}``, ``/login/code/{code}``).
- ``wallet``: the demo cards and the demo wallet (only while ``openmyna demo`` runs).
- ``limits``: rate limits per client address and per request.

The holder's side (what the card signs, the HTTP client) is ``openmyna.card.login``.
"""
