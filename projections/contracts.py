"""Read models of issue 3: contracts, their positions and run history; invoices, their lines and tax
breakdown; the outbox of invoices to send."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from projections.runner import Projection
from projections.writer import Writer
from projections.tables import (
    contract_positions,
    contract_runs,
    contracts,
    invoice_lines,
    invoice_taxes,
    invoices,
    outbox,
)

CT = "billing:Contract."
IV = "billing:Invoice."


def _sid(v: Any) -> str | None:
    return None if v is None else str(v)


# =========================================================================================== contracts
contracts_projection = Projection(
    "contracts",
    [contracts, contract_positions, contract_runs],
    description="contracts, their positions, and the audit trail of their runs",
    version=2,
)


def _position_row(contract_id: str, p: dict) -> dict:
    return {
        "contract_id": contract_id,
        "position": p["position"],
        "description": p["description"],
        "quantity": p["quantity"],
        "unit_price": p["unit_price"],
        "tax_rate": p["tax_rate"],
        "tax_percent": p["tax_percent"],
        "discountable": p["discountable"],
        "attributes": p["attributes"],
    }


@contracts_projection.on(CT + "Created")
def _contract_created(e: Any, w: Writer) -> None:
    cid = str(e.originator_id)
    w.insert(
        contracts,
        {
            "contract_id": cid,
            "reference": e.reference,
            "company": e.company,
            "customer_id": str(e.customer_id),
            "customer_reference": e.customer_reference,
            "name": e.name,
            "currency": e.currency,
            "interval": e.interval,
            "start_date": e.start_date,
            "end_date": e.end_date,
            "next_run_date": e.next_run_date,
            "last_run_date": None,
            "active": True,
            "parked": None,
            "payment_terms_days": e.payment_terms_days,
            "auto_finalize": e.auto_finalize,
            "auto_send": e.auto_send,
            "created_at": e.timestamp,
            "updated_at": e.timestamp,
        },
    )
    for p in e.positions:
        w.insert(contract_positions, _position_row(cid, p))


@contracts_projection.on(CT + "Updated")
def _contract_updated(e: Any, w: Writer) -> None:
    w.update(contracts, {"contract_id": str(e.originator_id)}, {**e.changes, "parked": None, "updated_at": e.timestamp})


@contracts_projection.on(CT + "PositionAdded")
def _position_added(e: Any, w: Writer) -> None:
    w.insert(contract_positions, _position_row(str(e.originator_id), e.position))
    w.update(contracts, {"contract_id": str(e.originator_id)}, {"parked": None, "updated_at": e.timestamp})


@contracts_projection.on(CT + "PositionChanged")
def _position_changed(e: Any, w: Writer) -> None:
    row = _position_row(str(e.originator_id), e.position)
    w.update(
        contract_positions,
        {"contract_id": row.pop("contract_id"), "position": row.pop("position")},
        row,
    )
    w.update(contracts, {"contract_id": str(e.originator_id)}, {"parked": None, "updated_at": e.timestamp})


@contracts_projection.on(CT + "PositionRemoved")
def _position_removed(e: Any, w: Writer) -> None:
    w.delete(contract_positions, {"contract_id": str(e.originator_id), "position": e.position})
    w.update(contracts, {"contract_id": str(e.originator_id)}, {"parked": None, "updated_at": e.timestamp})


@contracts_projection.on(CT + "Deactivated")
def _deactivated(e: Any, w: Writer) -> None:
    w.update(contracts, {"contract_id": str(e.originator_id)}, {"active": False, "updated_at": e.timestamp})


@contracts_projection.on(CT + "Reactivated")
def _reactivated(e: Any, w: Writer) -> None:
    w.update(contracts, {"contract_id": str(e.originator_id)}, {"active": True, "parked": None, "updated_at": e.timestamp})


@contracts_projection.on(CT + "Ended")
def _ended(e: Any, w: Writer) -> None:
    w.update(contracts, {"contract_id": str(e.originator_id)}, {"end_date": e.end_date, "parked": None, "updated_at": e.timestamp})


@contracts_projection.on(IV + "Issued")
def _run_invoice_issued(e: Any, w: Writer) -> None:
    # A draft of a run was finalized: the run history shows its number from now on.
    w.update(contract_runs, {"invoice_id": str(e.originator_id)}, {"invoice_number": e.number})


@contracts_projection.on(CT + "RunRecorded")
def _run_recorded(e: Any, w: Writer) -> None:
    cid = str(e.originator_id)
    w.insert(
        contract_runs,
        {
            "contract_id": cid,
            "version": e.originator_version,
            "run_date": e.run_date,
            "status": e.status,
            "message": e.message,
            "invoice_id": _sid(e.invoice_id),
            "invoice_number": e.invoice_number,
            "recorded_at": e.timestamp,
        },
    )
    if e.status == "FAILED":
        w.update(contracts, {"contract_id": cid}, {"parked": e.message, "updated_at": e.timestamp})
    else:
        w.update(
            contracts,
            {"contract_id": cid},
            {"last_run_date": e.run_date, "next_run_date": e.next_run_date, "updated_at": e.timestamp},
        )


# =========================================================================================== invoices
invoices_projection = Projection(
    "invoices",
    [invoices, invoice_lines, invoice_taxes, outbox],
    description="invoice documents and credit notes, their lines and tax breakdown, and the outbox",
    version=2,
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


@invoices_projection.on(IV + "MarkedOverdue")
def _invoice_overdue(e: Any, w: Writer) -> None:
    w.update(invoices, {"invoice_id": str(e.originator_id)}, {"status": "OVERDUE"})


@invoices_projection.on(IV + "PaymentRecorded")
def _invoice_payment(e: Any, w: Writer) -> None:
    w.update(invoices, {"invoice_id": str(e.originator_id)}, {"paid": e.paid_total})


@invoices_projection.on(IV + "Paid")
def _invoice_paid(e: Any, w: Writer) -> None:
    w.update(invoices, {"invoice_id": str(e.originator_id)}, {"status": "PAID"})


@invoices_projection.on(IV + "Voided")
def _invoice_voided(e: Any, w: Writer) -> None:
    w.update(invoices, {"invoice_id": str(e.originator_id)}, {"status": "VOID"})
    w.delete(outbox, {"invoice_id": str(e.originator_id)})


@invoices_projection.on(IV + "Credited")
def _invoice_credited(e: Any, w: Writer) -> None:
    values: dict[str, Any] = {"credited": e.credited_total}
    if e.fully:
        values["status"] = "CREDITED"
    w.update(invoices, {"invoice_id": str(e.originator_id)}, values)


@invoices_projection.on(IV + "Sent")
def _invoice_sent(e: Any, w: Writer) -> None:
    w.update(outbox, {"invoice_id": str(e.originator_id)}, {"sent_at": e.timestamp})
