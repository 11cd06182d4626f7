"""Due-index rows of engagements (issue 8): an engagement whose next fee period is due at ``due_at`` (the
first instant of the period's start in the engagement's zone), with the plan of its periods (zone,
schedule, proration, currency, terms) from which the tick plans every due period of a catch-up without
loading the engagement: the next period not billed starts on ``due_at``'s local date."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from domain.engagement import Term
from projections.due_index import due_index_projection, due_row, update_due
from projections.tables import due_work
from projections.writer import Writer

EG = "billing:Engagement."
PACKAGE_FEE = "package_fee"


def _iso(d: Any) -> str | None:
    return d.isoformat() if d is not None else None


@due_index_projection.on(EG + "Created")
def _created(e: Any, w: Writer) -> None:
    if e.schedule is None:
        return  # hourly: no fee periods (timesheets are another source)
    plan = {"timezone": e.timezone, "schedule": e.schedule, "proration": e.proration, "currency": e.currency,
            "terms": [Term(e.start_date, e.end_date, e.fee).to_event()]}
    w.insert(due_work, due_row(PACKAGE_FEE, e, due_at=e.next_due_at, active=e.next_due_at is not None, key=e.reference,
                               company=e.company, plan=plan))


def _replan(e: Any, w: Writer, change: Any) -> None:
    t = due_work
    row = w.query(sa.select(t.c.plan).where(t.c.kind == PACKAGE_FEE, t.c.aggregate_id == str(e.originator_id))).first()
    if row is None:
        return
    plan = dict(row.plan)
    plan["terms"] = [list(x) for x in plan["terms"]]
    change(plan)
    update_due(w, PACKAGE_FEE, e, due_at=e.next_due_at, active=e.next_due_at is not None, plan=plan)


@due_index_projection.on(EG + "Updated")
def _updated(e: Any, w: Writer) -> None:
    def change(plan: dict) -> None:
        if "fee" in e.changes:
            plan["terms"][-1][2] = str(e.changes["fee"])
    _replan(e, w, change)


@due_index_projection.on(EG + "Ended")
def _ended(e: Any, w: Writer) -> None:
    _replan(e, w, lambda plan: plan["terms"][-1].__setitem__(1, _iso(e.end_date)))


@due_index_projection.on(EG + "Renewed")
def _renewed(e: Any, w: Writer) -> None:
    _replan(e, w, lambda plan: plan["terms"].append(Term(e.start_date, e.end_date, e.fee).to_event()))


@due_index_projection.on(EG + "PeriodBilled")
def _billed(e: Any, w: Writer) -> None:
    # the plan is unchanged: the next period starts on the local date of ``due_at`` (no read per period)
    update_due(w, PACKAGE_FEE, e, due_at=e.next_due_at, active=e.next_due_at is not None)
