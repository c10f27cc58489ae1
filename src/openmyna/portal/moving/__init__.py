"""引越しワンストップ (moving one-stop, issue 10 §3): the online move-out notice to the
municipality one leaves, the planned move-in its registry tells the destination of, a counter
visit booked at the destination, and the move-in finished there by the back office.

- ``service.MovingOneStop`` (``Portal.moving``, built by ``Builder.portal_moving()``): every
  step, checked and logged; it follows the registries' moves on the bus.
- ``book``: the moving store's rows (recorded notices, planned move-ins, visits).
- ``hours``: the counters' hours for visits (``data/counters.toml``).
- ``web``: the person's pages under ``/moving``; ``office``: the staff's under
  ``/backoffice/moves``.
"""
