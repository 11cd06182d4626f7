"""The tick's due index: one row per aggregate that has (or may have) work at some instant.

The scheduler brings this projection up to date first, then selects the rows due at or before the tick's
instant, and decides on the *aggregates* it loads for them (DESIGN.md: nothing else reads a read model to
decide a command). A stale or superfluous row therefore costs a load, never a wrong invoice.

Kinds:

- ``consolidation``: a customer whose first open period closes at ``due_at`` (``active`` = approved);
- ``overdue``: an issued, unpaid invoice that becomes overdue at ``due_at``;
- ``contract``: a contract whose next run is due at ``due_at`` (the first instant of its run date in the
  customer's zone; ``active`` = the contract is active and not parked).
"""

from __future__ import annotations

from typing import Any

from projections.runner import Projection, Writer
from projections.tables import due_work

due_index_projection = Projection(
    "due_index", [due_work], description="the scheduler's index of due work (periods to close, runs, overdue checks)"
)
C = "billing:Customer."
K = "billing:ConsolidatedInvoice."

CONSOLIDATION = "consolidation"
OVERDUE = "overdue"
CONTRACT = "contract"


@due_index_projection.on(C + "Created")
def _customer_created(e: Any, w: Writer) -> None:
    w.insert(
        due_work,
        {
            "kind": CONSOLIDATION,
            "aggregate_id": str(e.originator_id),
            "due_at": None,
            "active": e.approved,
            "natural_key": e.reference,
            "company": None,
        },
    )


@due_index_projection.on(C + "Approved")
def _customer_approved(e: Any, w: Writer) -> None:
    w.update(due_work, {"kind": CONSOLIDATION, "aggregate_id": str(e.originator_id)}, {"active": True, "due_at": e.next_close_at})


@due_index_projection.on(C + "ApprovalWithdrawn")
def _customer_withdrawn(e: Any, w: Writer) -> None:
    w.update(due_work, {"kind": CONSOLIDATION, "aggregate_id": str(e.originator_id)}, {"active": False})


@due_index_projection.on(C + "ConsolidationSet", C + "ConsolidationDisabled", C + "PeriodClosed")
def _customer_next_close(e: Any, w: Writer) -> None:
    w.update(due_work, {"kind": CONSOLIDATION, "aggregate_id": str(e.originator_id)}, {"due_at": e.next_close_at})


@due_index_projection.on(K + "InvoiceIssued")
def _consolidated_issued(e: Any, w: Writer) -> None:
    w.insert(
        due_work,
        {
            "kind": OVERDUE,
            "aggregate_id": str(e.originator_id),
            "due_at": e.overdue_at,
            "active": True,
            "natural_key": e.number,
            "company": None,
        },
    )


@due_index_projection.on(K + "MarkedOverdue", K + "Paid")
def _consolidated_settled(e: Any, w: Writer) -> None:
    w.delete(due_work, {"kind": OVERDUE, "aggregate_id": str(e.originator_id)})
