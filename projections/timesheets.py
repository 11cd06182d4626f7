"""Read models of issue 8's timesheets: customers' rates per unit, and every timesheet entry with its week,
whether it was late, and its state (``OPEN``, ``LOCKED`` once its week is invoiced, ``DELETED``) and
invoice."""

from __future__ import annotations

from typing import Any

from projections.runner import Projection
from projections.tables import customer_rates, timesheet_entries
from projections.writer import Writer

TE = "billing:TimesheetEntry."
TW = "billing:TimesheetWeek."

timesheets_projection = Projection(
    "timesheets", [customer_rates, timesheet_entries], version=2,
    description="customers' rates per 15-minute unit, and timesheet entries with their week, lock and invoice",
)


@timesheets_projection.on("billing:Customer.RateSet")
def _rate(e: Any, w: Writer) -> None:
    cid = str(e.originator_id)
    w.delete(customer_rates, {"customer_id": cid, "effective_from": e.effective_from})
    w.insert(customer_rates, {"customer_id": cid, "effective_from": e.effective_from, "company": e.company,
                              "customer_reference": e.customer_reference, "payer": e.payer, "rate_per_unit": e.rate_per_unit})


@timesheets_projection.on(TE + "Created")
def _entry(e: Any, w: Writer) -> None:
    w.insert(timesheet_entries, {
        "entry_id": str(e.originator_id), "external_id": e.external_id, "company": e.company, "engagement": e.engagement,
        "customer_reference": e.customer_reference, "start": e.start, "end": e.end, "local_date": e.local_date,
        "seconds": e.seconds, "staff": e.staff, "service_code": e.service_code, "notes": e.notes, "week_id": str(e.week),
        "week_start": e.week_start, "late": e.late, "status": "OPEN", "invoice_id": None, "invoice_number": None,
        "recorded_at": e.timestamp,
    })


@timesheets_projection.on(TE + "Corrected")
def _corrected(e: Any, w: Writer) -> None:
    w.update(timesheet_entries, {"entry_id": str(e.originator_id)}, {"start": e.start, "end": e.end, "seconds": e.seconds,
                                                                     "local_date": e.local_date, "week_id": str(e.week),
                                                                     "week_start": e.week_start})


@timesheets_projection.on(TE + "Deleted")
def _deleted(e: Any, w: Writer) -> None:
    w.update(timesheet_entries, {"entry_id": str(e.originator_id)}, {"status": "DELETED"})


@timesheets_projection.on(TW + "TimesheetLocked")
def _locked(e: Any, w: Writer) -> None:
    for eid in e.entries:
        w.update(timesheet_entries, {"entry_id": eid}, {"status": "LOCKED", "invoice_id": None if e.invoice_id is None else str(e.invoice_id),
                                                        "invoice_number": e.number})
