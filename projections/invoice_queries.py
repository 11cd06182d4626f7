"""The queries behind contract and invoice reports: plain SELECTs over the read models, returning
JSON-ready dicts (amounts as strings with the currency's decimals, dates ISO 8601, ``period_end``
exclusive)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from projections.paging import Paging, paged
from projections.query_values import _iso, _money
from projections.tables import (
    consolidated_invoice_lines,
    contract_positions,
    contract_runs,
    contracts,
    invoice_lines,
    invoice_taxes,
    invoices,
    outbox,
)


class _ConsolidatedLine:
    """A consolidated invoice's line (an individual invoice, as recorded) shaped like an invoice line."""

    def __init__(self, ln: Any):
        self.line = 0
        self.position = 0
        self.description = f"{ln.number} ({ln.local_date.isoformat()})"
        self.quantity = Decimal(1)
        self.unit_price = ln.amount
        self.net = ln.amount
        self.tax_rate = "as recorded"
        self.tax_percent = Decimal(0)
        self.attributes = ln.attributes


def _dec(v: Any) -> str | None:
    """A quantity or percentage as plain text without trailing zeros (``1``, ``0.5``, ``19``)."""
    return None if v is None else format(Decimal(v).normalize(), "f")


def _position(r: Any, currency: str) -> dict[str, Any]:
    return {
        "position": r.position,
        "description": r.description,
        "quantity": _dec(r.quantity),
        "unit_price": _money(r.unit_price, currency),
        "tax_rate": r.tax_rate,
        "tax_percent": _dec(r.tax_percent),
        "discountable": r.discountable,
        "attributes": r.attributes,
    }


def list_contracts(engine: sa.Engine, company: str | None = None, customer: str | None = None, reference: str | None = None,
                   paging: Paging | None = None) -> list[dict[str, Any]]:
    """Contracts with their positions, ordered by company, reference; one page of them with ``paging``."""
    t, pt = contracts, contract_positions
    stmt = sa.select(t)
    if company:
        stmt = stmt.where(t.c.company == company)
    if customer:
        stmt = stmt.where(t.c.customer_reference == customer)
    if reference:
        stmt = stmt.where(t.c.reference == reference)
    stmt = stmt.order_by(t.c.company, t.c.reference)
    with engine.connect() as conn:
        rows = conn.execute(paged(conn, stmt, paging)).all()
        ids = [r.contract_id for r in rows]
        positions: dict[str, list] = {}
        for i in range(0, len(ids), 500):
            for p in conn.execute(sa.select(pt).where(pt.c.contract_id.in_(ids[i : i + 500])).order_by(pt.c.contract_id, pt.c.position)):
                positions.setdefault(p.contract_id, []).append(p)
    return [
        {
            "reference": r.reference,
            "company": r.company,
            "customer": r.customer_reference,
            "name": r.name,
            "currency": r.currency,
            "interval": r.interval,
            "start_date": _iso(r.start_date),
            "end_date": _iso(r.end_date),
            "next_run_date": _iso(r.next_run_date),
            "last_run_date": _iso(r.last_run_date),
            "active": r.active and (r.end_date is None or r.next_run_date <= r.end_date),
            "active_flag": r.active,
            "parked": r.parked,
            "payment_terms_days": r.payment_terms_days,
            "auto_finalize": r.auto_finalize,
            "auto_send": r.auto_send,
            "positions": [_position(p, r.currency) for p in positions.get(r.contract_id, [])],
        }
        for r in rows
    ]


def list_runs(engine: sa.Engine, reference: str | None = None, company: str | None = None,
              paging: Paging | None = None) -> list[dict[str, Any]]:
    """The run history (audit trail): contract, run date, status, message, invoice; in recorded order;
    one page of it with ``paging``."""
    r, c = contract_runs, contracts
    stmt = sa.select(r, c.c.reference, c.c.company).join(c, c.c.contract_id == r.c.contract_id)
    if reference:
        stmt = stmt.where(c.c.reference == reference)
    if company:
        stmt = stmt.where(c.c.company == company)
    stmt = stmt.order_by(c.c.reference, r.c.version)
    with engine.connect() as conn:
        stmt = paged(conn, stmt, paging)
        return [
            {
                "contract": x.reference,
                "company": x.company,
                "run_date": _iso(x.run_date),
                "status": x.status,
                "message": x.message,
                "invoice_number": x.invoice_number,
                "invoice_id": x.invoice_id,
                "recorded_at": _iso(x.recorded_at),
            }
            for x in conn.execute(stmt)
        ]


def _invoice(r: Any, lines: list, taxes: list) -> dict[str, Any]:
    cur = r.currency
    return {
        "id": r.invoice_id,
        "number": r.number,
        "kind": r.kind,
        "status": r.status,
        "company": r.company,
        "customer": r.customer_reference,
        "source": r.source,
        "issue_date": _iso(r.issue_date),
        "due_date": _iso(r.due_date),
        "period_start": _iso(r.period_start),
        "period_end": _iso(r.period_end),
        "currency": cur,
        "net": _money(r.net, cur),
        "tax": _money(r.tax, cur),
        "gross": _money(r.gross, cur),
        "paid": _money(r.paid, cur),
        "credited": _money(r.credited, cur),
        "balance": _money(Decimal(r.gross) - Decimal(r.paid) - Decimal(r.credited), cur),
        "references": r.references_number,
        "reason": r.reason,
        "tax_breakdown": [
            {"tax_rate": t.tax_rate, "tax_percent": _dec(t.tax_percent), "base": _money(t.base, cur), "tax": _money(t.tax, cur)}
            for t in taxes
        ],
        "lines": [
            {
                "line": ln.line,
                "position": ln.position,
                "description": ln.description,
                "quantity": _dec(ln.quantity),
                "unit_price": _money(ln.unit_price, cur),
                "net": _money(ln.net, cur),
                "tax_rate": ln.tax_rate,
                "tax_percent": _dec(ln.tax_percent),
                "attributes": ln.attributes,
            }
            for ln in lines
        ],
    }


def list_invoices(
    engine: sa.Engine,
    company: str | None = None,
    customer: str | None = None,
    status: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    kind: str | None = None,
    number: str | None = None,
    invoice_id: str | None = None,
    paging: Paging | None = None,
) -> list[dict[str, Any]]:
    """Documents with lines and tax breakdown; issue date in ``[date_from, date_to]`` (inclusive); ordered
    by company, kind, issue date, number (drafts last within a day). ``kind`` None lists the engine's
    invoices and credit notes (not consolidated invoices); ``ALL`` every document of every source."""
    t = invoices
    stmt = sa.select(t)
    for col, val in ((t.c.company, company), (t.c.customer_reference, customer), (t.c.number, number), (t.c.invoice_id, invoice_id)):
        if val:
            stmt = stmt.where(col == val)
    if kind is None and invoice_id is None:
        stmt = stmt.where(t.c.kind.in_(["INVOICE", "CREDIT_NOTE"]))
    elif kind is not None and kind.upper() != "ALL":
        stmt = stmt.where(t.c.kind == kind.upper())
    if status:
        stmt = stmt.where(t.c.status == status.upper())
    if date_from:
        stmt = stmt.where(t.c.issue_date >= date_from)
    if date_to:
        stmt = stmt.where(t.c.issue_date <= date_to)
    stmt = stmt.order_by(t.c.company, t.c.kind, t.c.issue_date, t.c.sequence.is_(None), t.c.sequence, t.c.invoice_id)
    with engine.connect() as conn:
        rows = conn.execute(paged(conn, stmt, paging)).all()
        ids = [r.invoice_id for r in rows]
        lines: dict[str, list] = {}
        taxes: dict[str, list] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            for ln in conn.execute(sa.select(invoice_lines).where(invoice_lines.c.invoice_id.in_(chunk)).order_by(invoice_lines.c.invoice_id, invoice_lines.c.line)):
                lines.setdefault(ln.invoice_id, []).append(ln)
            for tx in conn.execute(sa.select(invoice_taxes).where(invoice_taxes.c.invoice_id.in_(chunk))):
                taxes.setdefault(tx.invoice_id, []).append(tx)
        consolidated = [r.invoice_id for r in rows if r.kind == "CONSOLIDATED"]
        for i in range(0, len(consolidated), 500):
            cl = consolidated_invoice_lines
            stmt_lines = (sa.select(cl).where(cl.c.consolidated_invoice_id.in_(consolidated[i : i + 500]))
                          .order_by(cl.c.consolidated_invoice_id, cl.c.issued_at, cl.c.number))
            for ln in conn.execute(stmt_lines):
                of_invoice = lines.setdefault(ln.consolidated_invoice_id, [])
                shaped = _ConsolidatedLine(ln)
                shaped.line = shaped.position = len(of_invoice) + 1
                of_invoice.append(shaped)
    for rows_of_invoice in taxes.values():
        # In Python: on SQLite money columns are text, and ORDER BY would sort "7" after "19".
        rows_of_invoice.sort(key=lambda t: (-Decimal(t.tax_percent), t.tax_rate))
    return [_invoice(r, lines.get(r.invoice_id, []), taxes.get(r.invoice_id, [])) for r in rows]


def list_outbox(engine: sa.Engine, include_sent: bool = False, paging: Paging | None = None,
                company: str | None = None) -> list[dict[str, Any]]:
    """Issued invoices queued for sending (auto-send), oldest first; one page of them with ``paging``."""
    stmt = sa.select(outbox)
    if company is not None:
        stmt = stmt.where(outbox.c.company == company)
    if not include_sent:
        stmt = stmt.where(outbox.c.sent_at.is_(None))
    stmt = stmt.order_by(outbox.c.queued_at, outbox.c.company, outbox.c.number)
    with engine.connect() as conn:
        stmt = paged(conn, stmt, paging)
        return [
            {"number": r.number, "company": r.company, "customer": r.customer_reference,
             "queued_at": _iso(r.queued_at), "sent_at": _iso(r.sent_at)}
            for r in conn.execute(stmt)
        ]
