"""The facade the CLI, the demo and the web app use: all municipalities and the index."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Protocol

from openmyna.bus import Bus, relay
from openmyna.clock import Clock
from openmyna.config import Settings
from openmyna.errors import OpenMynaError
from openmyna.registry.errors import MunicipalityNotFound
from openmyna.registry.index import IdentityIndex, NumberSource
from openmyna.registry.models import MunicipalityInfo, NumberIssuer, Status
from openmyna.registry.municipalities import find_municipality, validate_lg_code
from openmyna.registry.services import MunicipalRegistry
from openmyna.registry.tables import REGISTRY_KIND, outbox
from openmyna.store import open_store

log = logging.getLogger(__name__)


class Numbering(NumberIssuer, NumberSource, Protocol):
    """What the registries need of the numbering authority (J-LIS role)."""


class Registries:
    """Every municipality's registry (each its own database), keeping the national index current.

    With a bus, the index follows the registries' events as a durable consumer, each
    committed event is relayed from the registry's outbox to the bus (``auto_relay``) and the
    bus is pumped so the index catches up (``auto_pump``); unsent outbox rows of every
    registered municipality are relayed when this opens. The index, the numbering authority
    and the bus belong to the caller (``openmyna.builder.Builder`` wires them).
    """

    def __init__(
        self,
        settings: Settings,
        index: IdentityIndex,
        clock: Clock,
        *,
        numbers: Callable[[], Numbering],
        bus: Bus | None = None,
        auto_relay: bool = True,
        auto_pump: bool = True,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.bus = bus
        self.auto_relay = auto_relay
        self.auto_pump = auto_pump
        self._numbers = numbers
        self._open: dict[str, MunicipalRegistry] = {}
        self._lock = threading.RLock()  # the web app and its event thread share this
        self.index = index
        if bus is not None:
            self.index.subscribe(bus)
            if auto_relay:
                for m in self.index.municipalities():
                    self.municipality(m.lg_code)
                self._pump()

    # --- wiring ------------------------------------------------------------------------------

    def _relay(self, registry: MunicipalRegistry) -> int:
        if self.bus is None:
            return 0
        try:
            return relay(registry.store.transaction, outbox, self.bus)
        except (OpenMynaError, OSError) as exc:
            # Committed events stay in the outbox and go out on the next relay.
            log.warning(
                "relay from registry %s failed (%s); events kept in the outbox",
                registry.lg_code,
                type(exc).__name__,
            )
            return 0

    def _pump(self, timeout: float = 0.0, *, quiet: bool = True) -> int:
        if self.bus is None or not self.auto_pump:
            return 0
        total = 0
        try:
            while True:
                n = self.bus.pump(timeout=timeout)
                total += n
                if n == 0:
                    return total
                timeout = 0.0
        except OpenMynaError as exc:
            if not quiet:
                raise
            # The change is committed; the failed deliveries are retried on the next pump.
            log.warning("bus pump after a registry change failed (%s)", type(exc).__name__)
            return total

    def _after_commit(self, registry: MunicipalRegistry) -> None:
        if self.auto_relay and self._relay(registry):
            self._pump()

    # --- municipalities ------------------------------------------------------------------

    def add_municipality(self, lg_code: str) -> MunicipalityInfo:
        """Create the registry of a municipality from the data file (idempotent)."""
        m = find_municipality(lg_code)
        open_store(self.settings, REGISTRY_KIND, m.lg_code).close()
        return self.index.register_municipality(m)

    def municipality(self, lg_code: str) -> MunicipalRegistry:
        """The registry of a municipality added before."""
        validate_lg_code(lg_code)
        with self._lock:
            reg = self._open.get(lg_code)
            if reg is not None:
                return reg
            if not self.index.has_municipality(lg_code):
                raise MunicipalityNotFound("that municipality has no registry yet", lg_code=lg_code)
            store = open_store(self.settings, REGISTRY_KIND, lg_code)
            reg = MunicipalRegistry(
                store,
                find_municipality(lg_code),
                self.clock,
                numbers=self._numbers,
                peers=self.municipality,
                index=self.index,
            )
            opened = reg
            reg.set_after_commit(lambda: self._after_commit(opened))
            self._open[lg_code] = reg
        if self.auto_relay:
            self._relay(reg)  # anything committed but not published before a crash
        return reg

    def list_municipalities(self) -> list[MunicipalityInfo]:
        """Every municipality with a registry."""
        return self.index.municipalities()

    def count(self, lg_code: str | None = None, *, status: Status = Status.CURRENT) -> int:
        """How many residents (of one municipality, or of all)."""
        codes = [lg_code] if lg_code else [m.lg_code for m in self.list_municipalities()]
        return sum(self.municipality(c).count(status) for c in codes)

    def sync(self, timeout: float = 0.0) -> int:
        """Relay every open registry's outbox and pump the bus until idle; events relayed.

        ``timeout``: how long the first pump may wait for events to arrive (NATS).
        """
        with self._lock:
            open_now = list(self._open.values())
        relayed = sum(self._relay(r) for r in open_now)
        self._pump(timeout, quiet=False)
        return relayed

    def close(self) -> None:
        """Close every municipality's database this opened (not the index, numbers or bus)."""
        with self._lock:
            for reg in self._open.values():
                reg.store.close()
            self._open.clear()

    def __enter__(self) -> Registries:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
