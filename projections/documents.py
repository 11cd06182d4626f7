"""The read model of every document of every source (issue 7): invoices of contracts, credit notes, and
consolidated invoices and card statements, in one table ``invoices`` (``kind`` INVOICE, CREDIT_NOTE, CONSOLIDATED or STATEMENT, ``source``
what produced it), with lines (``invoice_lines``; a consolidated invoice's lines stay in
``consolidated_invoice_lines``) and tax breakdown (``invoice_taxes``), and the outbox of invoices to send.
The lifecycle handlers serve every document aggregate alike: one lifecycle, one projection of it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from projections.runner import Projection
from projections.tables import invoice_lines, invoice_taxes, invoices, outbox
from projections.writer import Writer

IV = "billing:Invoice."
K = "billing:ConsolidatedInvoice."
CS = "billing:CreditCardInvoice."
#: The tax "rate" of consolidated lines (amounts as recorded): see domain.consolidated_invoice.
AS_RECORDED = "as recorded"


def _sid(v: Any) -> str | None:
    return None if v is None else str(v)

invoices_projection = Projection(
    "invoices",
    [invoices, invoice_lines, invoice_taxes, outbox],
    description="every document (invoices, credit notes, consolidated invoices, card statements), lines, tax breakdown, outbox",
    version=5,
)


@invoices_projection.on(IV + "Created")
def _invoice_created(e: Any, w: Writer) -> None:
    iid = str(e.originator_id)
    w.insert(
        invoices,
        {
            "invoice_id": iid,
            "number": e.number,
            "sequence": e.sequence,
            "kind": e.kind,
            "status": "DRAFT" if e.number is None else "ISSUED",
            "company": e.company,
            "customer_id": str(e.customer_id),
            "customer_reference": e.customer_reference,
            "source": e.source,
            "currency": e.currency,
            "net": e.net,
            "tax": e.tax,
            "gross": e.gross,
            "paid": Decimal(0),
            "credited": Decimal(0),
            "issue_date": e.issue_date,
            "due_date": e.due_date,
            "payment_terms_days": e.payment_terms_days,
            "period_start": e.period_start,
            "period_end": e.period_end,
            "references_number": e.references,
            "reason": e.reason,
            "auto_send": e.auto_send,
            "created_at": e.timestamp,
        },
    )
    for i, line in enumerate(e.lines, start=1):
        w.insert(
            invoice_lines,
            {
                "invoice_id": iid,
                "line": i,
                "position": line["position"],
                "description": line["description"],
                "quantity": line["quantity"],
                "unit_price": line["unit_price"],
                "net": line["net"],
                "tax_rate": line["tax_rate"],
                "tax_percent": line["tax_percent"],
                "attributes": line["attributes"],
            },
        )
    for t in e.tax_breakdown:
        w.insert(
            invoice_taxes,
            {"invoice_id": iid, "tax_rate": t["name"], "tax_percent": t["percent"], "base": t["base"], "tax": t["tax"]},
        )
    if e.number is not None and e.auto_send:
        _queue(w, iid, e.number, e.company, e.customer_reference, e.timestamp)


def _queue(w: Writer, iid: str, number: str, company: str, customer: str, at: Any) -> None:
    w.insert(
        outbox,
        {"invoice_id": iid, "number": number, "company": company, "customer_reference": customer, "queued_at": at, "sent_at": None},
    )


@invoices_projection.on(IV + "Issued")
def _invoice_issued(e: Any, w: Writer) -> None:
    iid = str(e.originator_id)
    values: dict[str, Any] = {"number": e.number, "sequence": e.sequence, "status": "ISSUED"}
    if e.issue_date is not None:
        values.update(issue_date=e.issue_date, due_date=e.due_date)
    w.update(invoices, {"invoice_id": iid}, values)
    row = w.query(
        invoices.select()
        .with_only_columns(invoices.c.company, invoices.c.customer_reference, invoices.c.auto_send)
        .where(invoices.c.invoice_id == iid)
    ).first()
    if row is not None and row.auto_send:
        _queue(w, iid, e.number, row.company, row.customer_reference, e.timestamp)


@invoices_projection.on(IV + "MarkedOverdue", K + "MarkedOverdue", CS + "MarkedOverdue")
def _invoice_overdue(e: Any, w: Writer) -> None:
    w.update(invoices, {"invoice_id": str(e.originator_id)}, {"status": "OVERDUE"})


@invoices_projection.on(IV + "PaymentRecorded", K + "PaymentRecorded", CS + "PaymentRecorded")
def _invoice_payment(e: Any, w: Writer) -> None:
    w.update(invoices, {"invoice_id": str(e.originator_id)}, {"paid": e.paid_total})


@invoices_projection.on(IV + "Paid", K + "Paid", CS + "Paid")
def _invoice_paid(e: Any, w: Writer) -> None:
    w.update(invoices, {"invoice_id": str(e.originator_id)}, {"status": "PAID"})


@invoices_projection.on(IV + "Voided")
def _invoice_voided(e: Any, w: Writer) -> None:
    w.update(invoices, {"invoice_id": str(e.originator_id)}, {"status": "VOID", "reason": e.reason})
    w.delete(outbox, {"invoice_id": str(e.originator_id)})


@invoices_projection.on(IV + "Credited", K + "Credited")
def _invoice_credited(e: Any, w: Writer) -> None:
    values: dict[str, Any] = {"credited": e.credited_total}
    if e.fully:
        values["status"] = "CREDITED"
    w.update(invoices, {"invoice_id": str(e.originator_id)}, values)


@invoices_projection.on(IV + "Sent")
def _invoice_sent(e: Any, w: Writer) -> None:
    w.update(outbox, {"invoice_id": str(e.originator_id)}, {"sent_at": e.timestamp})


@invoices_projection.on(K + "InvoiceIssued")
def _consolidated_issued(e: Any, w: Writer) -> None:
    """A consolidated invoice is a document too (its lines are in consolidated_invoice_lines)."""
    iid = str(e.originator_id)
    w.insert(
        invoices,
        {
            "invoice_id": iid, "number": e.number, "sequence": e.sequence, "kind": "CONSOLIDATED", "status": "ISSUED",
            "company": e.company, "customer_id": _sid(e.customer_id), "customer_reference": e.customer_reference,
            "source": f"consolidation:{e.number.rsplit('-', 1)[0]}", "currency": e.currency,
            "net": e.total, "tax": Decimal(0), "gross": e.total, "paid": Decimal(0), "credited": Decimal(0),
            "issue_date": e.issue_date, "due_date": e.due_date, "payment_terms_days": e.payment_terms_days,
            "period_start": e.period_start, "period_end": e.period_end, "references_number": None, "reason": "", "auto_send": False,
            "created_at": e.timestamp,
        },
    )
    w.insert(invoice_taxes, {"invoice_id": iid, "tax_rate": AS_RECORDED, "tax_percent": Decimal(0), "base": e.total, "tax": Decimal(0)})



@invoices_projection.on(CS + "InvoiceIssued")
def _statement_issued(e: Any, w: Writer) -> None:
    """A closed card statement is a document (kind STATEMENT, source ``card:<reference>``; its charges are
    in ``card_charges``; no tax: ``net`` = ``gross`` = the statement's total)."""
    w.insert(invoices, {
        "invoice_id": str(e.originator_id), "number": e.number, "sequence": e.seq, "kind": "STATEMENT", "status": e.status,
        "company": e.company, "customer_id": str(e.card_id), "customer_reference": e.card_reference,
        "source": f"card:{e.card_reference}", "currency": e.currency, "net": e.total_amount, "tax": Decimal(0),
        "gross": e.total_amount, "paid": Decimal(0), "credited": Decimal(0), "issue_date": e.issue_date,
        "due_date": e.due_date, "payment_terms_days": (e.due_date - e.issue_date).days, "period_start": e.start_date,
        "period_end": e.end_date, "references_number": None, "reason": "", "auto_send": False, "created_at": e.timestamp,
    })
