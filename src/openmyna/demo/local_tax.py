"""The back office's ``LocalTaxSource`` over the child-allowance scenario's exchange.

The back office (``portal.backoffice.child_allowance``) asks for a claimant's local tax at
the municipality of 1 January; this runs the scenario's batch (``scenario.run_child_allowance``:
``local_tax`` and ``resident_registry`` under ``child_allowance``, from B's node to A's
through the hub) without its refused request, so the exchange is the scenario's, not a copy.
``Builder.application_desk`` wires it.
"""

from __future__ import annotations

from openmyna.demo.scenario import ChildAllowanceApplication, run_child_allowance
from openmyna.network.local import LocalNetwork
from openmyna.portal.backoffice.child_allowance import FetchedTax


class ScenarioLocalTax:
    """``LocalTaxSource`` over the network in this process."""

    def __init__(self, network: LocalNetwork) -> None:
        self.network = network

    def fetch(self, *, individual_number: str, at_lg_code: str, from_lg_code: str) -> FetchedTax:
        """A's ``local_tax`` for the person, asked by B's node (and recorded at the hub)."""
        report = run_child_allowance(
            self.network,
            ChildAllowanceApplication(
                individual_number=individual_number,
                at_lg_code=at_lg_code,
                previous_lg_code=from_lg_code,
            ),
            show_refusal=False,
        )
        tax = next(r for r in report.received if r.item == "local_tax")
        return FetchedTax(
            local_tax=report.local_tax,
            exchange_id=tax.exchange_id,
            also=tuple(r.item for r in report.received if r.item != "local_tax"),
            recorded_at_hub=any(r.exchange_id == tax.exchange_id for r in report.hub_records),
        )
