"""Due-index rows of consolidation (issue 2): a customer whose first open period closes at ``due_at``
(``active`` = approved), and an issued consolidated invoice that becomes overdue at ``due_at``."""

from __future__ import annotations

from typing import Any

from projections.due_index import drop_due, due_index_projection, due_row, update_due
from projections.tables import due_work
from projections.writer import Writer

C = "billing:Customer."
K = "billing:ConsolidatedInvoice."
CONSOLIDATION = "consolidation"
OVERDUE = "overdue"


@due_index_projection.on(C + "Created")
def _customer_created(e: Any, w: Writer) -> None:
    w.insert(due_work, due_row(CONSOLIDATION, e, due_at=None, active=e.approved, key=e.reference, company=e.company))


@due_index_projection.on(C + "Approved")
def _customer_approved(e: Any, w: Writer) -> None:
    update_due(w, CONSOLIDATION, e, active=True, due_at=e.next_close_at)


@due_index_projection.on(C + "ApprovalWithdrawn")
def _customer_withdrawn(e: Any, w: Writer) -> None:
    update_due(w, CONSOLIDATION, e, active=False)


@due_index_projection.on(C + "ConsolidationSet", C + "ConsolidationDisabled", C + "PeriodClosed")
def _customer_next_close(e: Any, w: Writer) -> None:
    update_due(w, CONSOLIDATION, e, due_at=e.next_close_at)


@due_index_projection.on(K + "InvoiceIssued")
def _consolidated_issued(e: Any, w: Writer) -> None:
    w.insert(due_work, due_row(OVERDUE, e, due_at=e.overdue_at, active=True, key=e.number, company=e.company))


@due_index_projection.on(K + "MarkedOverdue", K + "Paid")
def _consolidated_settled(e: Any, w: Writer) -> None:
    drop_due(w, OVERDUE, e)


@due_index_projection.on(K + "Credited")
def _consolidated_credited(e: Any, w: Writer) -> None:
    if e.fully:
        drop_due(w, OVERDUE, e)
