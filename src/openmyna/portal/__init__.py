"""The citizen portal (マイナポータル, SPEC P1–P8): pages a person uses with their card.

- ``service.Portal``: the portal's state (``Builder.portal()``): sessions and accounts.
- ``accounts``: who a verified card is, by the portal's own agency-specific code for them
  (never the individual number), kept across card renewals by the issuer's linkage.
- ``sessions``: server-side sessions (secure cookies, CSRF, idle and absolute expiry).
- ``pages``, ``web``, ``nav``: how pages are served (HTML errors, security headers, the
  menu); ``i18n``: Japanese first, English from a gettext catalogue, dates in Japan time.
"""
