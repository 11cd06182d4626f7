"""Reads of issue 9: cards, statements (with the source system's field names), charges, the summary and
payment statuses. Money as decimal strings in the card's currency (exact sums, never rounded); dates ISO
8601, a statement's ``start_date`` and ``end_date`` both inclusive local dates in the card's zone."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from domain.credit_card_invoice import PAYMENT_TYPE
from projections.card_tables import card_charges, card_recurring_charges, card_statements, credit_cards
from projections.paging import Paging, paged
from projections.query_values import _iso, _money

OPEN, CLOSED = "open", "closed"


def card_references(engine: sa.Engine, company: str) -> list[str]:
    """Every card reference of ``company`` (active or not), ordered."""
    with engine.connect() as conn:
        return list(conn.execute(sa.select(credit_cards.c.reference).where(credit_cards.c.company == company)
                                 .order_by(credit_cards.c.reference)).scalars())


def list_cards(engine: sa.Engine, company: str | None, reference: str | None = None, paging: Paging | None = None) -> list[dict[str, Any]]:
    """Cards ordered by company, reference, each with its open statement count and recurring charges."""
    t, s = credit_cards, card_statements
    open_count = sa.select(sa.func.count()).where(s.c.card_id == t.c.card_id, s.c.status == "OPEN").scalar_subquery()
    closed_count = sa.select(sa.func.count()).where(s.c.card_id == t.c.card_id, s.c.is_closed.is_(True)).scalar_subquery()
    stmt = sa.select(t, open_count.label("open_statements"), closed_count.label("closed_statements"))
    if company:
        stmt = stmt.where(t.c.company == company)
    if reference:
        stmt = stmt.where(t.c.reference == reference)
    stmt = stmt.order_by(t.c.company, t.c.reference)
    with engine.connect() as conn:
        rows = conn.execute(paged(conn, stmt, paging)).all()
        recurring: dict[str, list] = {}
        if reference and rows:
            for r in conn.execute(sa.select(card_recurring_charges).where(card_recurring_charges.c.card_id == rows[0].card_id)
                                  .order_by(card_recurring_charges.c.charge_id)):
                recurring.setdefault(r.card_id, []).append(r)
    return [{
        "reference": r.reference, "company": r.company, "holder": r.holder, "last4": r.last4, "currency": r.currency,
        "timezone": r.timezone, "closing_day": r.closing_day, "due_day": r.due_day, "due_after_days": r.due_after_days,
        "boundary": r.boundary.lower(), "holidays": r.holidays if r.holidays != "NONE" else "none", "active": r.active,
        "open_statements": r.open_statements, "closed_statements": r.closed_statements,
        **({"recurring_charges": [{"charge_id": x.charge_id, "payment_type": "fixed", "day": x.day,
                                   "amount": _money(x.amount, r.currency), "merchant": x.merchant, "next_date": _iso(x.next_date)}
                                  for x in recurring.get(r.card_id, [])]} if reference else {}),
    } for r in rows]


def _statement(r: Any) -> dict[str, Any]:
    return {
        "id": r.number, "number": r.number, "company": r.company, "card": r.card_reference, "credit_card_id": r.card_reference,
        "seq": r.seq, "currency": r.currency, "start_date": _iso(r.start_date), "end_date": _iso(r.end_date),
        "is_closed": bool(r.is_closed), "total_amount": _money(r.total_amount, r.currency), "purchases_count": r.purchases_count,
        "refunds_count": r.refunds_count, "late_count": r.late_count,
        "billing_period_days": (r.end_date - r.start_date).days + 1, "due_date": _iso(r.due_date),
        "status": r.status, "payment_status": None if not r.is_closed else r.status,
        "paid_amount": _money(r.paid, r.currency), "closed_at": _iso(r.closed_at),
    }


def list_statements(engine: sa.Engine, company: str | None, card: str | None = None, state: str | None = None,
                    number: str | None = None, paging: Paging | None = None, with_charges: bool = False) -> list[dict[str, Any]]:
    """Statements ordered by company, card, sequence; ``state`` ``open`` or ``closed`` filters. With
    ``with_charges`` each has ``charges`` as a statement lists them: by date, then charge id (a late or
    waiting charge keeps its own date)."""
    s = card_statements
    stmt = sa.select(s)
    if company:
        stmt = stmt.where(s.c.company == company)
    if card:
        stmt = stmt.where(s.c.card_reference == card)
    if number:
        stmt = stmt.where(s.c.number == number)
    if state == OPEN:
        stmt = stmt.where(s.c.status == "OPEN")
    elif state == CLOSED:
        stmt = stmt.where(s.c.is_closed.is_(True))
    stmt = stmt.order_by(s.c.company, s.c.card_reference, s.c.seq)
    with engine.connect() as conn:
        rows = conn.execute(paged(conn, stmt, paging)).all()
        charges: dict[str, list] = {}
        if with_charges and rows:
            ids = [r.statement_id for r in rows]
            for i in range(0, len(ids), 500):
                c = card_charges
                for x in conn.execute(sa.select(c).where(c.c.statement_id.in_(ids[i:i + 500])).order_by(c.c.statement_id, c.c.date, c.c.charge_id, c.c.line)):
                    charges.setdefault(x.statement_id, []).append(x)
    out = []
    for r in rows:
        d = _statement(r)
        if with_charges:
            d["charges"] = [{"charge_id": x.charge_id, "date": _iso(x.date), "amount": _money(x.amount, r.currency),
                             "merchant": x.merchant, "late": x.late, "installment": f"{x.part}/{x.parts}" if x.parts > 1 else None,
                             "attributes": x.attributes} for x in charges.get(r.statement_id, [])]
        out.append(d)
    return out


def summary(engine: sa.Engine, company: str | None, card: str | None = None) -> dict[str, Any]:
    """Counts and exact totals per currency: statements open/closed/overdue, charges and refunds (of
    every statement), closed totals and what is still owed on them."""
    s, c = card_statements, card_charges
    where = [s.c.company == company] if company else []
    if card:
        where.append(s.c.card_reference == card)
    with engine.connect() as conn:
        cards = conn.execute(sa.select(sa.func.count()).select_from(credit_cards).where(
            *([credit_cards.c.company == company] if company else []),
            *([credit_cards.c.reference == card] if card else []))).scalar() or 0
        per: dict[str, dict[str, Any]] = {}
        for r in conn.execute(sa.select(s.c.currency, s.c.status, s.c.is_closed, s.c.total_amount, s.c.paid).where(*where)):
            d = per.setdefault(r.currency, {"statements": 0, "open": 0, "closed": 0, "overdue": 0, "closed_total": Decimal(0),
                                            "open_total": Decimal(0), "owed": Decimal(0)})
            d["statements"] += 1
            if r.is_closed:
                d["closed"] += 1
                d["closed_total"] += r.total_amount
                if r.status in ("PENDING", "OVERDUE"):
                    d["owed"] += r.total_amount - r.paid
            else:
                d["open"] += 1
                d["open_total"] += r.total_amount
            d["overdue"] += r.status == "OVERDUE"
        for r in conn.execute(sa.select(s.c.currency, c.c.amount).select_from(c.join(s, s.c.statement_id == c.c.statement_id))
                              .where(*where)):
            d = per[r.currency]
            key = "refunds" if r.amount < 0 else "charges"
            d[key] = d.get(key, 0) + 1
            d[key + "_total"] = d.get(key + "_total", Decimal(0)) + r.amount
    return {"company": company, "card": card, "cards": cards, "currencies": [
        {"currency": cur, "statements": d["statements"], "open": d["open"], "closed": d["closed"], "overdue": d["overdue"],
         "charges": d.get("charges", 0), "charges_total": _money(d.get("charges_total", Decimal(0)), cur),
         "refunds": d.get("refunds", 0), "refunds_total": _money(d.get("refunds_total", Decimal(0)), cur),
         "closed_total": _money(d["closed_total"], cur), "open_total": _money(d["open_total"], cur), "owed": _money(d["owed"], cur)}
        for cur, d in sorted(per.items())]}


def payment_statuses(engine: sa.Engine, company: str | None, status: str | None = None, paging: Paging | None = None) -> list[dict[str, Any]]:
    """The payment status of every closed statement (the source system's ``PaymentStatus`` with payment
    type ``credit_card``): expected amount (the total), paid amount, due date, status PENDING, OVERDUE or
    PAID; ordered by due date, number."""
    s = card_statements
    stmt = sa.select(s).where(s.c.is_closed.is_(True))
    if company:
        stmt = stmt.where(s.c.company == company)
    if status:
        stmt = stmt.where(s.c.status == status.upper())
    stmt = stmt.order_by(s.c.due_date, s.c.number)
    with engine.connect() as conn:
        rows = conn.execute(paged(conn, stmt, paging)).all()
    return [{"id": r.number, "payment_type": PAYMENT_TYPE, "reference": r.number, "card": r.card_reference,
             "expected_amount": _money(r.total_amount, r.currency), "paid_amount": _money(r.paid, r.currency),
             "currency": r.currency, "due_date": _iso(r.due_date), "status": r.status} for r in rows]
