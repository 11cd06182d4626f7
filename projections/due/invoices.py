"""Due-index rows of invoice documents (issue 3): an issued, unpaid invoice that becomes overdue at
``due_at`` (the first instant of the day after its due date in the customer's zone)."""

from __future__ import annotations

from typing import Any

from projections.due_index import drop_due, due_index_projection, due_row
from projections.tables import due_work
from projections.writer import Writer

IV = "billing:Invoice."
OVERDUE = "overdue"


@due_index_projection.on(IV + "Created")
def _invoice_created(e: Any, w: Writer) -> None:
    if e.overdue_at is not None:
        w.insert(due_work, due_row(OVERDUE, e, due_at=e.overdue_at, active=True, key=e.number, company=e.company))


@due_index_projection.on(IV + "Issued")
def _invoice_issued(e: Any, w: Writer) -> None:
    w.insert(due_work, due_row(OVERDUE, e, due_at=e.overdue_at, active=True, key=e.number, company=e.company))


@due_index_projection.on(IV + "MarkedOverdue", IV + "Paid", IV + "Voided")
def _invoice_settled(e: Any, w: Writer) -> None:
    drop_due(w, OVERDUE, e)


@due_index_projection.on(IV + "Credited")
def _invoice_credited(e: Any, w: Writer) -> None:
    if e.fully:
        drop_due(w, OVERDUE, e)
