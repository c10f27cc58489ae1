"""The back office for municipality staff (issue 10 §4): the staff register, its pages, its log.

- ``staff``: roles (clerk, supervisor, administrator) per municipality, the permission each
  step needs, and the append-only staff log of every action with who did it.
- ``service.BackOffice`` (``Builder.backoffice()``): every step a member of staff takes —
  find a resident, the registry's counter (転入, 転出, 転居, 氏名の変更, 死亡), the card counter
  (交付, 暗証番号の初期化, 一時停止 and its lifting, 返納, 券面記載事項変更) — each checked
  against the register and recorded.
- ``handles``: opaque per-session handles for residents (no code of a person in a URL).
- ``cards``: the card at the counter (a card file in the counter's folders).
- ``access``: the registry's personal-data API for staff sessions (beside the operator token).
- ``web``: the pages under ``/backoffice``; ``cli``: ``openmyna backoffice staff …``.
"""
