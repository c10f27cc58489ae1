"""Rate limits of the login: fixed one-minute windows per key, in memory, on the injected clock.

A key is a client address (``start:<ip>``, ``answer:<ip>``) or a login request
(``request:<id>``). Each process counts on its own (one web process serves the portal; behind
several, the limit applies per process). The client address is the connection's peer: behind
a reverse proxy, configure it to pass the client's address (uvicorn's ``--proxy-headers``).
"""

from __future__ import annotations

import datetime as dt
import math
import threading

from openmyna.clock import Clock
from openmyna.portal.login.errors import LoginRateLimited

WINDOW = dt.timedelta(minutes=1)
#: Past this many keys, windows that have ended are dropped (memory stays bounded).
PRUNE_AT = 50_000


class RateLimits:
    """Counts of events per key in the current one-minute window."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._windows: dict[str, tuple[dt.datetime, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, what: str) -> None:
        """Count one event of ``key``; ``LOGIN_RATE_LIMITED`` (with Retry-After) past ``limit``."""
        now = self.clock.now()
        with self._lock:
            start, count = self._windows.get(key, (now, 0))
            if now - start >= WINDOW:
                start, count = now, 0
            if count >= limit:
                wait = (start + WINDOW - now).total_seconds()
                raise LoginRateLimited(
                    f"too many {what}: try again in a minute", retry_after=math.ceil(wait)
                )
            self._windows[key] = (start, count + 1)
            if len(self._windows) > PRUNE_AT:
                self._prune(now)

    def _prune(self, now: dt.datetime) -> None:
        ended = [k for k, (start, _) in self._windows.items() if now - start >= WINDOW]
        for key in ended:
            del self._windows[key]
