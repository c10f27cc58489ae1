"""代理人 (P8): a principal grants a proxy scoped, time-limited access to their portal.

- ``scopes``: the one map from a page's path to the scope it belongs to (default-deny).
- ``service.Proxies``: grants, one-time invitation codes, acting, the append-only proxy log;
  ``Proxies.admit`` is the check ``portal.pages`` makes on every request of an acting session.
- ``web``: the /proxy page (the principal's grants and log, the proxy's grants) and its forms.
"""
