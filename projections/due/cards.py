"""Due-index rows of credit cards (issue 9):

- ``card_statement``: a card whose oldest open statement closes at ``due_at`` (the local start of the day
  after its end date), with the plan the tick needs to plan a catch-up without loading the card: zone,
  closing day, boundary, active flag and the open statements ``[seq, start, end]``;
- ``card_recurring``: a card with recurring charges, due at the local start of the earliest next posting
  date, with the plan (zone, each charge's day and next date);
- ``overdue`` rows of closed statements that are owed (the one overdue source marks them).

Every row is computed from the event alone (the card's events carry the open statements after them)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from domain.calendar import start_of_day
from projections.due_index import drop_due, due_index_projection, due_row, update_due
from projections.tables import due_work
from projections.writer import Writer

CC = "billing:CreditCard."
ST = "billing:CreditCardInvoice."
STATEMENT = "card_statement"
RECURRING = "card_recurring"
OVERDUE = "overdue"


def _close_at(open_: list, tz: str) -> Any:
    return start_of_day(date.fromisoformat(open_[0][2]) + timedelta(days=1), tz) if open_ else None


@due_index_projection.on(CC + "Created")
def _card(e: Any, w: Writer) -> None:
    plan = {"timezone": e.timezone, "closing_day": e.closing_day, "boundary": e.boundary, "active": True, "open": [e.first]}
    w.insert(due_work, due_row(STATEMENT, e, due_at=_close_at([e.first], e.timezone), active=True, key=e.reference,
                               company=e.company, plan=plan))
    w.insert(due_work, due_row(RECURRING, e, due_at=None, active=False, key=e.reference, company=e.company,
                               plan={"timezone": e.timezone, "charges": {}}))


def _replan(e: Any, w: Writer, **changes: Any) -> None:
    t = due_work
    import sqlalchemy as sa

    row = w.query(sa.select(t.c.plan).where(t.c.kind == STATEMENT, t.c.aggregate_id == str(e.originator_id))).first()
    if row is None:
        return
    plan = {**row.plan, **changes}
    update_due(w, STATEMENT, e, due_at=_close_at(plan["open"], plan["timezone"]), active=bool(plan["open"]), plan=plan)


@due_index_projection.on(CC + "Updated")
def _updated(e: Any, w: Writer) -> None:
    changes = {k: v for k, v in e.changes.items() if k in ("closing_day", "boundary")}
    if changes:
        _replan(e, w, **changes)


@due_index_projection.on(CC + "ActiveSet", CC + "StatementsOpened", CC + "StatementCycleSet", CC + "StatementDeleted",
                         CC + "PeriodClosed")
def _cycle(e: Any, w: Writer) -> None:
    plan = e.cycle
    update_due(w, STATEMENT, e, due_at=_close_at(plan["open"], plan["timezone"]), active=bool(plan["open"]), plan=plan)


@due_index_projection.on(CC + "RecurringChargeSet", CC + "RecurringChargePosted")
def _recurring(e: Any, w: Writer) -> None:
    t = due_work
    import sqlalchemy as sa

    row = w.query(sa.select(t.c.plan).where(t.c.kind == RECURRING, t.c.aggregate_id == str(e.originator_id))).first()
    if row is None:
        return
    tz = row.plan["timezone"]
    dates = sorted(d for _day, d in e.schedule.values() if d)
    due = start_of_day(date.fromisoformat(dates[0]), tz) if dates else None
    update_due(w, RECURRING, e, due_at=due, active=due is not None, plan={"timezone": tz, "charges": e.schedule})


@due_index_projection.on(ST + "InvoiceIssued")
def _statement_issued(e: Any, w: Writer) -> None:
    if e.status == "PENDING":
        w.insert(due_work, due_row(OVERDUE, e, due_at=e.overdue_at, active=True, key=e.number, company=e.company))


@due_index_projection.on(ST + "MarkedOverdue", ST + "Paid")
def _statement_settled(e: Any, w: Writer) -> None:
    drop_due(w, OVERDUE, e)
