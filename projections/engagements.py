"""Read models of issue 8: engagements and the fee periods they billed (the invoices themselves are in
:mod:`projections.documents`)."""

from __future__ import annotations

from typing import Any

from domain.engagement import Term
from projections.runner import Projection
from projections.tables import engagement_periods, engagements
from projections.writer import Writer

EG = "billing:Engagement."

engagements_projection = Projection(
    "engagements", [engagements, engagement_periods], version=2,
    description="engagements (package fees, hourly) and every fee period billed",
)


@engagements_projection.on(EG + "Created")
def _created(e: Any, w: Writer) -> None:
    w.insert(engagements, {
        "engagement_id": str(e.originator_id), "reference": e.reference, "company": e.company,
        "customer_id": str(e.customer_id), "customer_reference": e.customer_reference, "name": e.name,
        "pricing": e.pricing, "currency": e.currency, "timezone": e.timezone, "start_date": e.start_date,
        "end_date": e.end_date, "fee": e.fee, "schedule": e.schedule, "proration": e.proration, "tax_rate": e.tax_rate,
        "tax_percent": e.tax_percent, "payment_terms_days": e.payment_terms_days,
        "terms": [Term(e.start_date, e.end_date, e.fee).to_event()],
        "billed_through": None, "next_due_at": e.next_due_at, "created_at": e.timestamp,
        "updated_at": e.timestamp,
    })


def _terms(w: Writer, e: Any) -> list:
    import sqlalchemy as sa

    row = w.query(sa.select(engagements.c.terms).where(engagements.c.engagement_id == str(e.originator_id))).first()
    return [list(t) for t in row.terms] if row is not None else []


def _set(w: Writer, e: Any, **values: Any) -> None:
    w.update(engagements, {"engagement_id": str(e.originator_id)}, {**values, "next_due_at": e.next_due_at, "updated_at": e.timestamp})


@engagements_projection.on(EG + "Updated")
def _updated(e: Any, w: Writer) -> None:
    changes = dict(e.changes)
    if "fee" in changes:
        terms = _terms(w, e)
        terms[-1][2] = str(changes["fee"])
        changes["terms"] = terms
    _set(w, e, **changes)


@engagements_projection.on(EG + "Ended")
def _ended(e: Any, w: Writer) -> None:
    terms = _terms(w, e)
    terms[-1][1] = e.end_date.isoformat()
    _set(w, e, end_date=e.end_date, terms=terms)


@engagements_projection.on(EG + "Renewed")
def _renewed(e: Any, w: Writer) -> None:
    terms = _terms(w, e) + [Term(e.start_date, e.end_date, e.fee).to_event()]
    _set(w, e, end_date=e.end_date, fee=e.fee, terms=terms)


@engagements_projection.on(EG + "PeriodBilled")
def _billed(e: Any, w: Writer) -> None:
    eid = str(e.originator_id)
    w.insert(engagement_periods, {"engagement_id": eid, "period_start": e.start, "period_end": e.end, "amount": e.amount,
                                  "invoice_id": str(e.invoice_id), "number": e.number, "billed_at": e.timestamp})
    _set(w, e, billed_through=e.start)
