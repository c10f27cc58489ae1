"""The citizen portal (マイナポータル, SPEC P1–P8): pages a person uses with their card.

- ``service.Portal``: the portal's state (``Builder.portal()``): sessions, accounts, notices.
- ``accounts``: who a verified card is, by the portal's own agency-specific code for them
  (never the individual number), kept across card renewals by the issuer's linkage.
- ``sessions``: server-side sessions (secure cookies, CSRF, idle and absolute expiry).
- ``notices``: お知らせ (P4): agencies post over mutual TLS, the person's ``/notices``,
  forwarding to private delivery services (民間送達) by signed webhook.
- ``pages``, ``web``, ``nav``: how pages are served (HTML errors, security headers, the
  menu); ``i18n``: Japanese first, English from a gettext catalogue, dates in Japan time.
"""
