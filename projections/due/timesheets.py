"""Due-index rows of timesheet weeks (issue 8): a client-week with entries is due Tuesday 07:00 local after
it ends; invoicing it (``TimesheetLocked``) drops the row."""

from __future__ import annotations

from typing import Any

from projections.due_index import drop_due, due_index_projection, due_row
from projections.tables import due_work
from projections.writer import Writer

TW = "billing:TimesheetWeek."
TIMESHEET = "timesheet"


@due_index_projection.on(TW + "Created")
def _created(e: Any, w: Writer) -> None:
    w.insert(due_work, due_row(TIMESHEET, e, due_at=e.due_at, active=True, key=f"{e.customer_reference}:{e.week_start.isoformat()}",
                               company=e.company))


@due_index_projection.on(TW + "TimesheetLocked")
def _locked(e: Any, w: Writer) -> None:
    drop_due(w, TIMESHEET, e)
