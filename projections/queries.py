"""The queries behind reports: plain SELECTs over the read models, returning JSON-ready dicts.

Amounts are returned as strings with exactly the currency's decimals (``"1190.00"``); dates as ISO
8601 strings; ``period_end`` is exclusive.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from domain.money import EXACT, format_amount
from projections.paging import Paging, paged
from projections.query_values import _iso, _money
from projections.tables import (
    consolidated_invoice_lines,
    consolidated_invoices,
    customers,
    individual_invoices,
    projection_errors,
    projection_positions,
)


def consolidated_row(r: Any) -> dict[str, Any]:
    """A consolidated invoice as a report object."""
    total = r.total if r.total is not None else Decimal(0)
    paid = r.paid if r.paid is not None else Decimal(0)
    credited = r.credited if r.credited is not None else Decimal(0)
    return {
        "number": r.number,
        "company": r.company,
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
        "credited": _money(credited, r.currency),
        "balance": _money(total - paid - credited, r.currency),
        "summary": r.summary,
    }


def list_consolidated(
    engine: sa.Engine, customer: str | None = None, status: str | None = None, include_open: bool = False,
    paging: Paging | None = None, company: str | None = None,
) -> list[dict[str, Any]]:
    """Consolidated invoices (issued ones; with ``include_open`` also open and empty periods), ordered by
    issue date, number; one page of them with ``paging``."""
    t = consolidated_invoices
    stmt = sa.select(t)
    if not include_open:
        stmt = stmt.where(t.c.number.is_not(None))
    if company is not None:
        stmt = stmt.where(t.c.company == company)
    if customer:
        stmt = stmt.where(t.c.customer_reference == customer)
    if status:
        stmt = stmt.where(t.c.status == status.upper())
    stmt = stmt.order_by(t.c.issue_date, t.c.number, t.c.company, t.c.customer_reference, t.c.period_start)
    with engine.connect() as conn:
        return [consolidated_row(r) for r in conn.execute(paged(conn, stmt, paging))]


def show_consolidated(engine: sa.Engine, number: str, company: str = "default") -> dict[str, Any] | None:
    """``company``'s consolidated invoice ``number`` with its lines, in (issued_at, number) order; None if
    unknown."""
    t, lt = consolidated_invoices, consolidated_invoice_lines
    with engine.connect() as conn:
        r = conn.execute(sa.select(t).where(t.c.number == number, t.c.company == company)).first()
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


def consolidated_summary(engine: sa.Engine, company: str | None = None) -> list[dict[str, Any]]:
    """Per customer: consolidated invoices issued, lines, total, paid, open balance, overdue count.

    Sums are computed exactly in ``Decimal`` (SQLite stores money as exact text)."""
    t = consolidated_invoices
    stmt = (
        sa.select(t.c.customer_reference, t.c.currency, t.c.count, t.c.total, t.c.paid, t.c.credited, t.c.status)
        .where(t.c.number.is_not(None))
        .order_by(t.c.customer_reference)
    )
    if company is not None:
        stmt = stmt.where(t.c.company == company)
    acc: dict[tuple[str, str], dict[str, Any]] = {}
    with engine.connect() as conn:
        for r in conn.execute(stmt):
            a = acc.setdefault(
                (r.customer_reference, r.currency),
                {"customer": r.customer_reference, "currency": r.currency, "invoices": 0, "lines": 0,
                 "total": Decimal(0), "paid": Decimal(0), "credited": Decimal(0), "overdue": 0},
            )
            a["invoices"] += 1
            a["lines"] += r.count or 0
            a["total"] = EXACT.add(a["total"], r.total or 0)
            a["paid"] = EXACT.add(a["paid"], r.paid or 0)
            a["credited"] = EXACT.add(a["credited"], r.credited or 0)
            a["overdue"] += r.status == "OVERDUE"
    out = []
    for a in acc.values():
        a["balance"] = format_amount(EXACT.subtract(EXACT.subtract(a["total"], a["paid"]), a.pop("credited")), a["currency"])
        a["total"] = format_amount(a["total"], a["currency"])
        a["paid"] = format_amount(a["paid"], a["currency"])
        out.append(a)
    return out


def list_customers(engine: sa.Engine, paging: Paging | None = None, reference: str | None = None,
                   company: str | None = None) -> list[dict[str, Any]]:
    """Customers (every one, or the one with ``reference``; of ``company``, or of all) with their
    settings, ordered by company, reference."""
    stmt = sa.select(customers).order_by(customers.c.company, customers.c.reference)
    if company is not None:
        stmt = stmt.where(customers.c.company == company)
    if reference is not None:
        stmt = stmt.where(customers.c.reference == reference)
    with engine.connect() as conn:
        rows = conn.execute(paged(conn, stmt, paging))
        return [
            {
                "company": r.company,
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
                "autopay": r.autopay,
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
    paging: Paging | None = None,
    company: str | None = None,
) -> list[dict[str, Any]]:
    """Individual invoices, optionally of one customer and issued (local date) in ``[date_from, date_to]``
    (both inclusive), ordered by issue instant and number; one page of them with ``paging``."""
    t = individual_invoices
    stmt = sa.select(t)
    if company is not None:
        stmt = stmt.where(t.c.company == company)
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
        stmt = paged(conn, stmt, paging)
        return [
            {
                "number": r.number,
                "company": r.company,
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
    """Each projection's position, lag behind the event log's ``head``, and the events it could not apply
    (``errors``: notification id, topic, originator, error; oldest first)."""
    with engine.connect() as conn:
        try:
            got = {r.name: r.position for r in conn.execute(sa.select(projection_positions.c.name, projection_positions.c.position))}
            failed: dict[str, list[dict[str, Any]]] = {}
            for r in conn.execute(sa.select(projection_errors).order_by(projection_errors.c.notification_id)):
                failed.setdefault(r.name, []).append({
                    "notification_id": r.notification_id, "topic": r.topic, "originator_id": r.originator_id,
                    "originator_version": r.originator_version, "error": r.error,
                })
        except (sa.exc.OperationalError, sa.exc.ProgrammingError):
            got, failed = {}, {}
    return [
        {"name": n, "position": got.get(n, 0), "head": head, "lag": max(0, head - got.get(n, 0)), "errors": failed.get(n, [])}
        for n in names
    ]


# Contracts, runs, invoices and the outbox (issue 3) live in projections.invoice_queries.
from projections.invoice_queries import list_contracts, list_invoices, list_outbox, list_runs  # noqa: E402,F401
