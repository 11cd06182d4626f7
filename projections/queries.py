"""The queries behind reports: plain SELECTs over the read models, returning JSON-ready dicts.

Amounts are returned as strings with exactly the currency's decimals (``"1190.00"``); dates as ISO
8601 strings; ``period_end`` is exclusive.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from domain.money import format_amount
from projections.tables import (
    consolidated_invoice_lines,
    consolidated_invoices,
    contract_positions,
    contract_runs,
    contracts,
    customers,
    individual_invoices,
    invoice_lines,
    invoice_taxes,
    invoices,
    outbox,
    projection_positions,
)


def _iso(v: Any) -> Any:
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return v


def _money(v: Decimal | None, currency: str) -> str | None:
    return None if v is None else format_amount(Decimal(v), currency)


def consolidated_row(r: Any) -> dict[str, Any]:
    """A consolidated invoice as a report object."""
    total = r.total if r.total is not None else Decimal(0)
    paid = r.paid if r.paid is not None else Decimal(0)
    return {
        "number": r.number,
        "customer": r.customer_reference,
        "period_start": _iso(r.period_start),
        "period_end": _iso(r.period_end),
        "label": r.label,
        "issue_date": _iso(r.issue_date),
        "due_date": _iso(r.due_date),
        "status": r.status,
        "currency": r.currency,
        "count": r.count,
        "total": _money(total, r.currency),
        "paid": _money(paid, r.currency),
        "balance": _money(total - paid, r.currency),
        "summary": r.summary,
    }


def list_consolidated(
    engine: sa.Engine, customer: str | None = None, status: str | None = None, include_open: bool = False
) -> list[dict[str, Any]]:
    """Consolidated invoices (issued ones; with ``include_open`` also open and empty periods), ordered by
    issue date, number."""
    t = consolidated_invoices
    stmt = sa.select(t)
    if not include_open:
        stmt = stmt.where(t.c.number.is_not(None))
    if customer:
        stmt = stmt.where(t.c.customer_reference == customer)
    if status:
        stmt = stmt.where(t.c.status == status.upper())
    stmt = stmt.order_by(t.c.issue_date, t.c.number, t.c.customer_reference, t.c.period_start)
    with engine.connect() as conn:
        return [consolidated_row(r) for r in conn.execute(stmt)]


def find_consolidated_id(engine: sa.Engine, number: str) -> str | None:
    """The aggregate id of consolidated invoice ``number`` (to load and verify it), or None."""
    t = consolidated_invoices
    with engine.connect() as conn:
        return conn.execute(sa.select(t.c.consolidated_invoice_id).where(t.c.number == number)).scalar()


def show_consolidated(engine: sa.Engine, number: str) -> dict[str, Any] | None:
    """One consolidated invoice with its lines, in (issued_at, number) order; None if unknown."""
    t, lt = consolidated_invoices, consolidated_invoice_lines
    with engine.connect() as conn:
        r = conn.execute(sa.select(t).where(t.c.number == number)).first()
        if r is None:
            return None
        out = consolidated_row(r)
        lines = conn.execute(
            sa.select(lt).where(lt.c.consolidated_invoice_id == r.consolidated_invoice_id).order_by(lt.c.issued_at, lt.c.number)
        )
        out["lines"] = [
            {
                "number": line.number,
                "issued_at": _iso(line.issued_at),
                "local_date": _iso(line.local_date),
                "amount": _money(line.amount, r.currency),
                "attributes": line.attributes,
            }
            for line in lines
        ]
    return out


def consolidated_summary(engine: sa.Engine) -> list[dict[str, Any]]:
    """Per customer: consolidated invoices issued, lines, total, paid, open balance, overdue count.

    Sums are computed in ``Decimal`` (SQLite stores money as exact text)."""
    t = consolidated_invoices
    stmt = (
        sa.select(t.c.customer_reference, t.c.currency, t.c.count, t.c.total, t.c.paid, t.c.status)
        .where(t.c.number.is_not(None))
        .order_by(t.c.customer_reference)
    )
    acc: dict[tuple[str, str], dict[str, Any]] = {}
    with engine.connect() as conn:
        for r in conn.execute(stmt):
            a = acc.setdefault(
                (r.customer_reference, r.currency),
                {"customer": r.customer_reference, "currency": r.currency, "invoices": 0, "lines": 0,
                 "total": Decimal(0), "paid": Decimal(0), "overdue": 0},
            )
            a["invoices"] += 1
            a["lines"] += r.count or 0
            a["total"] += r.total or 0
            a["paid"] += r.paid or 0
            a["overdue"] += r.status == "OVERDUE"
    out = []
    for a in acc.values():
        a["balance"] = format_amount(a["total"] - a["paid"], a["currency"])
        a["total"] = format_amount(a["total"], a["currency"])
        a["paid"] = format_amount(a["paid"], a["currency"])
        out.append(a)
    return out


def list_customers(engine: sa.Engine) -> list[dict[str, Any]]:
    """Every customer with its settings, ordered by reference."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(customers).order_by(customers.c.reference))
        return [
            {
                "reference": r.reference,
                "name": r.name,
                "timezone": r.timezone,
                "currency": r.currency,
                "payment_terms_days": r.payment_terms_days,
                "approved": r.approved,
                "consolidation": r.consolidation,
                "start_day": r.start_day,
                "consolidate_from": _iso(r.consolidate_from),
                "consolidation_ends_at": _iso(r.consolidation_ends_at),
                "summary_attributes": r.summary_attributes,
                "next_close_at": _iso(r.next_close_at),
            }
            for r in rows
        ]


def list_individual(
    engine: sa.Engine,
    customer: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Individual invoices, optionally of one customer and issued (local date) in ``[date_from, date_to]``
    (both inclusive), ordered by issue instant and number."""
    t = individual_invoices
    stmt = sa.select(t)
    if customer:
        stmt = stmt.where(t.c.customer_reference == customer)
    if date_from:
        stmt = stmt.where(t.c.issued_on >= date_from)
    if date_to:
        stmt = stmt.where(t.c.issued_on <= date_to)
    stmt = stmt.order_by(t.c.issued_at, t.c.number)
    if limit:
        stmt = stmt.limit(limit)
    with engine.connect() as conn:
        return [
            {
                "number": r.number,
                "customer": r.customer_reference,
                "issued_at": _iso(r.issued_at),
                "issued_on": _iso(r.issued_on),
                "amount": _money(r.amount, r.currency),
                "currency": r.currency,
                "status": r.status,
                "consolidated_number": r.consolidated_number,
                "attributes": r.attributes,
            }
            for r in conn.execute(stmt)
        ]


def projection_status(engine: sa.Engine, head: int, names: list[str]) -> list[dict[str, Any]]:
    """Each projection's position and lag behind the event log's ``head``."""
    with engine.connect() as conn:
        try:
            got = {r.name: r.position for r in conn.execute(sa.select(projection_positions))}
        except sa.exc.OperationalError:
            got = {}
        except sa.exc.ProgrammingError:
            got = {}
    return [{"name": n, "position": got.get(n, 0), "head": head, "lag": max(0, head - got.get(n, 0))} for n in names]


# ================================================================================================ issue 3

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


def list_contracts(engine: sa.Engine, company: str | None = None, customer: str | None = None, reference: str | None = None) -> list[dict[str, Any]]:
    """Contracts with their positions, ordered by company, reference."""
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
        rows = conn.execute(stmt).all()
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


def list_runs(engine: sa.Engine, reference: str | None = None, company: str | None = None) -> list[dict[str, Any]]:
    """The run history (audit trail): contract, run date, status, message, invoice; in recorded order."""
    r, c = contract_runs, contracts
    stmt = sa.select(r, c.c.reference, c.c.company).join(c, c.c.contract_id == r.c.contract_id)
    if reference:
        stmt = stmt.where(c.c.reference == reference)
    if company:
        stmt = stmt.where(c.c.company == company)
    stmt = stmt.order_by(c.c.reference, r.c.version)
    with engine.connect() as conn:
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
) -> list[dict[str, Any]]:
    """Invoice documents with lines and tax breakdown; issue date in ``[date_from, date_to]`` (inclusive);
    ordered by company, issue date, number (drafts last within a day)."""
    t = invoices
    stmt = sa.select(t)
    for col, val in ((t.c.company, company), (t.c.customer_reference, customer), (t.c.kind, kind), (t.c.number, number), (t.c.invoice_id, invoice_id)):
        if val:
            stmt = stmt.where(col == val)
    if status:
        stmt = stmt.where(t.c.status == status.upper())
    if date_from:
        stmt = stmt.where(t.c.issue_date >= date_from)
    if date_to:
        stmt = stmt.where(t.c.issue_date <= date_to)
    stmt = stmt.order_by(t.c.company, t.c.kind, t.c.issue_date, t.c.sequence.is_(None), t.c.sequence, t.c.invoice_id)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
        ids = [r.invoice_id for r in rows]
        lines: dict[str, list] = {}
        taxes: dict[str, list] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            for ln in conn.execute(sa.select(invoice_lines).where(invoice_lines.c.invoice_id.in_(chunk)).order_by(invoice_lines.c.invoice_id, invoice_lines.c.line)):
                lines.setdefault(ln.invoice_id, []).append(ln)
            for tx in conn.execute(sa.select(invoice_taxes).where(invoice_taxes.c.invoice_id.in_(chunk))):
                taxes.setdefault(tx.invoice_id, []).append(tx)
    for rows_of_invoice in taxes.values():
        # In Python: on SQLite money columns are text, and ORDER BY would sort "7" after "19".
        rows_of_invoice.sort(key=lambda t: (-Decimal(t.tax_percent), t.tax_rate))
    return [_invoice(r, lines.get(r.invoice_id, []), taxes.get(r.invoice_id, [])) for r in rows]


def list_outbox(engine: sa.Engine, include_sent: bool = False) -> list[dict[str, Any]]:
    """Issued invoices queued for sending (auto-send), oldest first."""
    stmt = sa.select(outbox)
    if not include_sent:
        stmt = stmt.where(outbox.c.sent_at.is_(None))
    stmt = stmt.order_by(outbox.c.queued_at, outbox.c.company, outbox.c.number)
    with engine.connect() as conn:
        return [
            {"number": r.number, "company": r.company, "customer": r.customer_reference,
             "queued_at": _iso(r.queued_at), "sent_at": _iso(r.sent_at)}
            for r in conn.execute(stmt)
        ]
