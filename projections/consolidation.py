"""Read models of issue 2: customers, individual invoices, consolidated invoices and their lines.

Each projection is a :class:`projections.runner.Projection`; handlers take the domain event and a
:class:`projections.runner.Writer`. Handlers only write what the event says (plus its timestamp), so a
rebuild reproduces identical rows.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from projections.runner import Projection
from projections.writer import Writer
from projections.tables import consolidated_invoice_lines, consolidated_invoices, customers, individual_invoices


def _sid(value: Any) -> str | None:
    return None if value is None else str(value)


def _json_safe(attrs: dict) -> dict:
    """Attributes as JSON: Decimals become strings (exact), key order kept."""
    return {k: (str(v) if not isinstance(v, (str, int, bool, type(None))) else v) for k, v in attrs.items()}


# =========================================================================================== customers
customers_projection = Projection(
    "customers", [customers], description="one row per customer: settings, consolidation, next period close", version=3
)
C = "billing:Customer."


@customers_projection.on(C + "Created")
def _customer_created(e: Any, w: Writer) -> None:
    w.insert(
        customers,
        {
            "customer_id": str(e.originator_id),
            "company": e.company,
            "reference": e.reference,
            "name": e.name,
            "timezone": e.timezone,
            "currency": e.currency,
            "payment_terms_days": e.payment_terms_days,
            "approved": e.approved,
            "consolidation": "NONE",
            "start_day": None,
            "consolidate_from": None,
            "consolidation_ends_at": None,
            "summary_attributes": list(e.summary_attributes),
            "autopay": False,
            "next_close_at": None,
            "registered_at": e.timestamp,
            "updated_at": e.timestamp,
        },
    )


@customers_projection.on(C + "Updated")
def _customer_updated(e: Any, w: Writer) -> None:
    w.update(customers, {"customer_id": str(e.originator_id)}, {**e.changes, "updated_at": e.timestamp})


@customers_projection.on(C + "Approved", C + "ApprovalWithdrawn")
def _customer_approval(e: Any, w: Writer) -> None:
    approved = type(e).__name__ == "Approved"
    w.update(customers, {"customer_id": str(e.originator_id)}, {"approved": approved, "updated_at": e.timestamp})


@customers_projection.on(C + "ConsolidationSet")
def _customer_consolidation_set(e: Any, w: Writer) -> None:
    w.update(
        customers,
        {"customer_id": str(e.originator_id)},
        {
            "consolidation": e.mode,
            "start_day": e.start_day,
            "consolidate_from": e.effective_from,
            "consolidation_ends_at": None,
            "next_close_at": e.next_close_at,
            "updated_at": e.timestamp,
        },
    )


@customers_projection.on(C + "ConsolidationDisabled")
def _customer_consolidation_disabled(e: Any, w: Writer) -> None:
    w.update(
        customers,
        {"customer_id": str(e.originator_id)},
        {"consolidation": "NONE", "consolidation_ends_at": e.ends_at, "next_close_at": e.next_close_at, "updated_at": e.timestamp},
    )


@customers_projection.on(C + "PeriodClosed")
def _customer_period_closed(e: Any, w: Writer) -> None:
    w.update(customers, {"customer_id": str(e.originator_id)}, {"next_close_at": e.next_close_at})


# =========================================================================================== individual invoices
individual_invoices_projection = Projection(
    "individual_invoices",
    [individual_invoices],
    description="one row per recorded individual invoice, with the consolidated invoice that includes it",
    version=3,
)
I = "billing:IndividualInvoice."
K = "billing:ConsolidatedInvoice."


@individual_invoices_projection.on(I + "Created")
def _individual_recorded(e: Any, w: Writer) -> None:
    w.insert(
        individual_invoices,
        {
            "invoice_id": str(e.originator_id),
            "company": e.company,
            "number": e.number,
            "customer_id": str(e.customer_id),
            "customer_reference": e.customer_reference,
            "issued_at": e.issued_at,
            "issued_on": e.issued_on,
            "amount": e.amount,
            "currency": e.currency,
            "status": "ISSUED",
            "attributes": _json_safe(e.attributes),
            "consolidated_invoice_id": _sid(e.gathered_into),
            "consolidated_number": None,
            "recorded_at": e.timestamp,
        },
    )


@individual_invoices_projection.on(I + "Cancelled")
def _individual_cancelled(e: Any, w: Writer) -> None:
    w.update(individual_invoices, {"invoice_id": str(e.originator_id)}, {"status": "CANCELLED"})


@individual_invoices_projection.on(K + "LineRemoved")
def _individual_line_removed(e: Any, w: Writer) -> None:
    # (number, period) names one invoice: a period belongs to one customer, so to one company.
    w.update(individual_invoices, {"number": e.number, "consolidated_invoice_id": str(e.originator_id)},
             {"consolidated_invoice_id": _sid(e.moved_to)})


@individual_invoices_projection.on(K + "InvoiceIssued")
def _individual_consolidated(e: Any, w: Writer) -> None:
    w.update(
        individual_invoices,
        {"consolidated_invoice_id": str(e.originator_id)},
        {"consolidated_number": e.number},
    )


# =========================================================================================== consolidated invoices
consolidated_projection = Projection(
    "consolidated_invoices",
    [consolidated_invoices, consolidated_invoice_lines],
    description="one row per consolidation period (OPEN, CLOSED, or an issued invoice) and one per line",
    version=3,
)


@consolidated_projection.on(K + "Created")
def _period_opened(e: Any, w: Writer) -> None:
    w.insert(
        consolidated_invoices,
        {
            "consolidated_invoice_id": str(e.originator_id),
            "company": e.company,
            "number": None,
            "customer_id": str(e.customer_id),
            "customer_reference": e.customer_reference,
            "regime": e.regime,
            "mode": e.mode,
            "label": e.label,
            "sequence": None,
            "period_start": e.period_start,
            "period_end": e.period_end,
            "status": "OPEN",
            "currency": e.currency,
            "count": None,
            "total": None,
            "paid": None,
            "credited": None,
            "closed_at": None,
            "issue_date": None,
            "due_date": None,
            "payment_terms_days": None,
            "summary": None,
            "opened_at": e.timestamp,
        },
    )


@consolidated_projection.on(K + "LineAdded")
def _line_added(e: Any, w: Writer) -> None:
    w.insert(
        consolidated_invoice_lines,
        {
            "consolidated_invoice_id": str(e.originator_id),
            "number": e.number,
            "invoice_id": str(e.invoice_id),
            "issued_at": e.issued_at,
            "local_date": e.local_date,
            "amount": e.amount,
            "attributes": _json_safe(e.attributes),
        },
    )


@consolidated_projection.on(K + "LineRemoved")
def _line_removed(e: Any, w: Writer) -> None:
    w.delete(consolidated_invoice_lines, {"consolidated_invoice_id": str(e.originator_id), "number": e.number})


@consolidated_projection.on(K + "PeriodClosed")
def _period_closed(e: Any, w: Writer) -> None:
    w.update(
        consolidated_invoices,
        {"consolidated_invoice_id": str(e.originator_id)},
        {"status": "CLOSED", "closed_at": e.closed_at, "period_end": e.period_end, "count": e.count, "total": e.total},
    )


@consolidated_projection.on(K + "InvoiceIssued")
def _invoice_issued(e: Any, w: Writer) -> None:
    w.update(
        consolidated_invoices,
        {"consolidated_invoice_id": str(e.originator_id)},
        {
            "number": e.number,
            "sequence": e.sequence,
            "status": "PENDING",
            "issue_date": e.issue_date,
            "due_date": e.due_date,
            "payment_terms_days": e.payment_terms_days,
            "count": e.count,
            "total": e.total,
            "paid": Decimal(0),
            "credited": Decimal(0),
            "summary": e.summary,
        },
    )


@consolidated_projection.on(K + "MarkedOverdue")
def _marked_overdue(e: Any, w: Writer) -> None:
    w.update(consolidated_invoices, {"consolidated_invoice_id": str(e.originator_id)}, {"status": "OVERDUE"})


@consolidated_projection.on(K + "PaymentRecorded")
def _payment_recorded(e: Any, w: Writer) -> None:
    w.update(consolidated_invoices, {"consolidated_invoice_id": str(e.originator_id)}, {"paid": e.paid_total})


@consolidated_projection.on(K + "Paid")
def _paid(e: Any, w: Writer) -> None:
    w.update(consolidated_invoices, {"consolidated_invoice_id": str(e.originator_id)}, {"status": "PAID"})


@consolidated_projection.on(K + "Credited")
def _credited(e: Any, w: Writer) -> None:
    values: dict[str, Any] = {"credited": e.credited_total}
    if e.fully:
        values["status"] = "CREDITED"
    w.update(consolidated_invoices, {"consolidated_invoice_id": str(e.originator_id)}, values)
