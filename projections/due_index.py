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

from projections.runner import Projection
from projections.writer import Writer
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


# ------------------------------------------------------------------------------------------- contracts
CT = "billing:Contract."
IV = "billing:Invoice."


@due_index_projection.on(CT + "Created")
def _contract_created(e: Any, w: Writer) -> None:
    w.insert(
        due_work,
        {
            "kind": CONTRACT,
            "aggregate_id": str(e.originator_id),
            "due_at": e.next_due_at,
            "active": True,
            "natural_key": e.reference,
            "company": e.company,
            "timezone": e.timezone,
            "schedule_start": e.start_date,
            "schedule_interval": e.interval,
            "schedule_end": e.end_date,
            "next_run": e.next_run_date,
        },
    )


@due_index_projection.on(CT + "Updated")
def _contract_updated(e: Any, w: Writer) -> None:
    values: dict[str, Any] = {"due_at": e.next_due_at}
    for field, column in (("start_date", "schedule_start"), ("interval", "schedule_interval"),
                          ("end_date", "schedule_end"), ("next_run_date", "next_run")):
        if field in e.changes:
            values[column] = e.changes[field]
    w.update(due_work, {"kind": CONTRACT, "aggregate_id": str(e.originator_id)}, values)


@due_index_projection.on(CT + "Ended")
def _contract_ended(e: Any, w: Writer) -> None:
    w.update(due_work, {"kind": CONTRACT, "aggregate_id": str(e.originator_id)}, {"due_at": e.next_due_at, "schedule_end": e.end_date})


@due_index_projection.on(CT + "RunRecorded")
def _contract_ran(e: Any, w: Writer) -> None:
    w.update(due_work, {"kind": CONTRACT, "aggregate_id": str(e.originator_id)}, {"due_at": e.next_due_at, "next_run": e.next_run_date})


@due_index_projection.on(CT + "PositionAdded", CT + "PositionChanged", CT + "PositionRemoved", CT + "Deactivated", CT + "Reactivated")
def _contract_due_changed(e: Any, w: Writer) -> None:
    w.update(due_work, {"kind": CONTRACT, "aggregate_id": str(e.originator_id)}, {"due_at": e.next_due_at})


# ------------------------------------------------------------------------------------------- invoices
def _overdue_row(e: Any, number: str, company: str | None) -> dict[str, Any]:
    return {
        "kind": OVERDUE,
        "aggregate_id": str(e.originator_id),
        "due_at": e.overdue_at,
        "active": True,
        "natural_key": number,
        "company": company,
    }


@due_index_projection.on(IV + "Created")
def _invoice_created(e: Any, w: Writer) -> None:
    if e.overdue_at is not None:
        w.insert(due_work, _overdue_row(e, e.number, e.company))


@due_index_projection.on(IV + "Issued")
def _invoice_issued(e: Any, w: Writer) -> None:
    w.insert(due_work, _overdue_row(e, e.number, e.company))


@due_index_projection.on(IV + "MarkedOverdue", IV + "Paid", IV + "Voided")
def _invoice_settled(e: Any, w: Writer) -> None:
    w.delete(due_work, {"kind": OVERDUE, "aggregate_id": str(e.originator_id)})


@due_index_projection.on(IV + "Credited")
def _invoice_credited(e: Any, w: Writer) -> None:
    if e.fully:
        w.delete(due_work, {"kind": OVERDUE, "aggregate_id": str(e.originator_id)})
