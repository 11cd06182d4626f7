"""Reads of issue 8's timesheets: entries with their week, lock and invoice; customers' rates."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from projections.paging import Paging, paged
from projections.query_values import _iso, _money
from projections.tables import customer_rates, customers, timesheet_entries


def list_entries(engine: sa.Engine, company: str | None = None, customer: str | None = None, engagement: str | None = None,
                 status: str | None = None, paging: Paging | None = None) -> list[dict[str, Any]]:
    """Timesheet entries by local date, start, entry id (one page with ``paging``): instants ISO 8601 UTC,
    ``minutes`` to the hundredth, ``week`` the Monday of its billing week, ``status`` OPEN / LOCKED / DELETED."""
    t = timesheet_entries
    stmt = sa.select(t)
    for col, value in ((t.c.company, company), (t.c.customer_reference, customer), (t.c.engagement, engagement),
                       (t.c.status, status.upper() if status else None)):
        if value:
            stmt = stmt.where(col == value)
    stmt = stmt.order_by(t.c.company, t.c.local_date, t.c.start, t.c.external_id)
    with engine.connect() as conn:
        rows = conn.execute(paged(conn, stmt, paging)).all()
    return [{"entry_id": r.external_id, "company": r.company, "engagement": r.engagement, "customer": r.customer_reference,
             "start": _iso(r.start), "end": _iso(r.end), "date": _iso(r.local_date), "minutes": f"{r.seconds / 60:.2f}",
             "staff": r.staff, "service_code": r.service_code, "notes": r.notes, "week": _iso(r.week_start), "late": r.late,
             "status": r.status, "invoice": r.invoice_number} for r in rows]


def list_rates(engine: sa.Engine, company: str, customer: str) -> list[dict[str, Any]]:
    """A customer's rates per 15-minute unit by effective date (money in the customer's currency)."""
    r, c = customer_rates, customers
    stmt = (sa.select(r, c.c.currency).join(c, c.c.customer_id == r.c.customer_id)
            .where(r.c.company == company, r.c.customer_reference == customer).order_by(r.c.effective_from))
    with engine.connect() as conn:
        return [{"from": _iso(x.effective_from), "payer": x.payer, "rate_per_unit": _money(x.rate_per_unit, x.currency),
                 "currency": x.currency} for x in conn.execute(stmt)]
