"""Reads of issue 8: engagements with their terms and the fee periods they billed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from projections.paging import Paging, paged
from projections.query_values import _iso, _money
from projections.tables import engagement_periods, engagements


def list_engagements(engine: sa.Engine, company: str | None = None, customer: str | None = None, reference: str | None = None,
                     paging: Paging | None = None, with_periods: bool = False) -> list[dict[str, Any]]:
    """Engagements ordered by company, reference (one page with ``paging``); money as decimal strings in the
    engagement's currency, dates ISO 8601 (``end_date`` inclusive; a period's ``end`` exclusive). With
    ``with_periods`` each has ``periods``: the fee periods billed, oldest first."""
    t, p = engagements, engagement_periods
    billed = sa.select(sa.func.count()).where(p.c.engagement_id == t.c.engagement_id).scalar_subquery()
    stmt = sa.select(t, billed.label("periods_billed"))
    if company:
        stmt = stmt.where(t.c.company == company)
    if customer:
        stmt = stmt.where(t.c.customer_reference == customer)
    if reference:
        stmt = stmt.where(t.c.reference == reference)
    stmt = stmt.order_by(t.c.company, t.c.reference)
    with engine.connect() as conn:
        rows = conn.execute(paged(conn, stmt, paging)).all()
        periods: dict[str, list] = {}
        if with_periods and rows:
            ids = [r.engagement_id for r in rows]
            for i in range(0, len(ids), 500):
                for x in conn.execute(sa.select(p).where(p.c.engagement_id.in_(ids[i:i + 500])).order_by(p.c.engagement_id, p.c.period_start)):
                    periods.setdefault(x.engagement_id, []).append(x)
    out = []
    for r in rows:
        d = {
            "reference": r.reference, "company": r.company, "customer": r.customer_reference, "name": r.name,
            "pricing": r.pricing.lower(), "currency": r.currency, "timezone": r.timezone, "start_date": _iso(r.start_date),
            "end_date": _iso(r.end_date), "fee": _money(r.fee, r.currency),
            "schedule": r.schedule.lower() if r.schedule else None, "proration": r.proration.lower(),
            "tax_rate": r.tax_rate, "tax_percent": str(Decimal(r.tax_percent).normalize()),
            "payment_terms_days": r.payment_terms_days,
            "terms": [{"start": a, "end": b, "fee": c} for a, b, c in r.terms],
            "billed_through": _iso(r.billed_through), "periods_billed": r.periods_billed, "next_due_at": _iso(r.next_due_at),
        }
        if with_periods:
            d["periods"] = [{"start": _iso(x.period_start), "end": _iso(x.period_end), "amount": _money(x.amount, r.currency),
                             "number": x.number} for x in periods.get(r.engagement_id, [])]
        out.append(d)
    return out
