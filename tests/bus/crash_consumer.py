"""Child process of the crash test: consume slowly, report each applied event, get killed.

Settings come from the ``OPENMYNA_*`` environment. Each handled event prints ``done <n>``
after its effect committed and then lingers inside the handler, so a SIGKILL lands between
the effect and the acknowledgement.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bus_effects import effect_handler, open_effects

from openmyna.bus import Event, open_bus
from openmyna.config import Settings


def main() -> None:
    """Consume until killed."""
    consumer = sys.argv[1]
    settings = Settings()
    store = open_effects(settings)
    bus = open_bus(settings, ack_wait=1.0)
    apply = effect_handler(store, consumer)

    def handler(event: Event) -> None:
        apply(event)
        print(f"done {event.data['n']}", flush=True)
        time.sleep(0.3)

    bus.subscribe(consumer, ["crash.>"], handler)
    print("ready", flush=True)
    while True:
        bus.pump(timeout=1.0)


if __name__ == "__main__":
    main()
