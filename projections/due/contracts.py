"""Due-index rows of contracts (issue 3): a contract whose next run is due at ``due_at`` (the first
instant of its run date in the customer's zone, so the next run date is ``due_at``'s local date; ``active``
= the contract is active and not parked), with the plan of its runs (zone, schedule start, interval, end)
from which the tick plans catch-ups. The plan changes only with the schedule; a run moves ``due_at``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from projections.due_index import due_index_projection, due_row, update_due
from projections.tables import due_work
from projections.writer import Writer

CT = "billing:Contract."
CONTRACT = "contract"


def _plan(timezone: str, start: Any, interval: str, end: Any) -> dict[str, Any]:
    iso = (lambda d: d.isoformat() if d is not None else None)  # noqa: E731
    return {"timezone": timezone, "start": iso(start), "interval": interval, "end": iso(end)}


@due_index_projection.on(CT + "Created")
def _contract_created(e: Any, w: Writer) -> None:
    w.insert(due_work, due_row(CONTRACT, e, due_at=e.next_due_at, active=True, key=e.reference, company=e.company,
                               plan=_plan(e.timezone, e.start_date, e.interval, e.end_date)))


def _replan(e: Any, w: Writer, **changes: Any) -> None:
    """The schedule changed: re-read the row's plan and update the fields that changed."""
    t = due_work
    row = w.query(sa.select(t.c.plan).where(t.c.kind == CONTRACT, t.c.aggregate_id == str(e.originator_id))).first()
    plan = dict(row.plan) if row is not None else {}
    plan.update({k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in changes.items()})
    update_due(w, CONTRACT, e, due_at=e.next_due_at, plan=plan)


@due_index_projection.on(CT + "Updated")
def _contract_updated(e: Any, w: Writer) -> None:
    names = {"start_date": "start", "interval": "interval", "end_date": "end"}
    changed = {names[k]: v for k, v in e.changes.items() if k in names}
    if changed:
        _replan(e, w, **changed)
    else:
        update_due(w, CONTRACT, e, due_at=e.next_due_at)


@due_index_projection.on(CT + "Ended")
def _contract_ended(e: Any, w: Writer) -> None:
    _replan(e, w, end=e.end_date)


@due_index_projection.on(CT + "RunRecorded", CT + "PositionAdded", CT + "PositionChanged", CT + "PositionRemoved", CT + "Deactivated", CT + "Reactivated")
def _contract_due_changed(e: Any, w: Writer) -> None:
    update_due(w, CONTRACT, e, due_at=e.next_due_at)
