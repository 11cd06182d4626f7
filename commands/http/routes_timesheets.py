"""``/v1/timesheet-entries`` and ``/v1/customers/{reference}/rates``: weekly timesheet invoicing (issue 8,
over the bus commands of :mod:`commands.timesheets`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import Field

from commands.http.app import Engine, Principal, admin, at_of, engine_of, execute, page, principal, read
from commands.http.models import AT, CSV, LIMIT, Strict

router = APIRouter()


class EntryIn(Strict):
    entry_id: str = Field(description="External key, unique per company")
    engagement: str = Field(description="An hourly or mixed engagement")
    start: str = Field(description="ISO 8601 instant with offset")
    end: str | None = Field(default=None, description="ISO 8601 instant with offset (or minutes)")
    minutes: int | None = Field(default=None, description="Duration instead of end, 0-1440")
    staff: str = ""
    service_code: str = ""
    notes: str = ""
    at: str | None = AT


class RateIn(Strict):
    payer: str
    rate_per_unit: str = Field(description="Per 15 minutes, decimal string in the customer's currency")
    effective_from: str = Field(alias="from", description="First local date (ISO 8601)")
    at: str | None = AT


def _entry(engine: Engine, company: str, entry_id: str) -> dict[str, Any]:
    from domain.errors import NotFound
    from projections.timesheet_queries import list_entries

    rows = [r for r in read(engine, lambda s: list_entries(s.read_engine, company)) if r["entry_id"] == entry_id]
    if not rows:
        raise NotFound("entry_id", f"no timesheet entry {entry_id!r}")
    return rows[0]


@router.post("/timesheet-entries", status_code=201, tags=["timesheets"])
def add_entry(body: EntryIn, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """Record a timesheet entry (the same data again: unchanged; other data: 409)."""
    from datetime import timedelta

    from commands.timesheets import AddTimesheetEntry
    from domain.calendar import parse_instant
    from domain.errors import ValidationError

    start = parse_instant(body.start, "start")
    if (body.end is None) == (body.minutes is None):
        raise ValidationError("end", "give either end or minutes")
    if body.minutes is not None and not 0 <= body.minutes <= 1440:
        raise ValidationError("minutes", f"{body.minutes} is not from 0 to 1440")
    end = parse_instant(body.end, "end") if body.end is not None else start + timedelta(minutes=body.minutes or 0)
    execute(engine, AddTimesheetEntry(body.entry_id, body.engagement, start, end, at_of(body.at), who.company, body.staff,
                                      body.service_code, body.notes))
    return _entry(engine, who.company, body.entry_id)


@router.get("/timesheet-entries", tags=["timesheets"])
def list_entries(customer: str | None = None, engagement: str | None = None, status: str | None = None, limit: int = LIMIT,
                 cursor: str | None = None, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    from domain.errors import ValidationError
    from projections import timesheet_queries
    from projections.paging import require_known

    if status is not None and status.upper() not in ("OPEN", "LOCKED", "DELETED"):
        raise ValidationError("status", f"{status!r} is not one of open, locked, deleted")
    read(engine, lambda s: require_known(s.read_engine, customer=customer, engagement=engagement, company=who.company))
    return page(engine, limit, cursor, lambda s, p: timesheet_queries.list_entries(s.read_engine, who.company, customer, engagement, status, paging=p))


class CorrectionIn(Strict):
    minutes: int | None = Field(default=None, description="The true duration from the start, 0-1440")
    start: str | None = None
    end: str | None = None
    at: str | None = AT


@router.post("/timesheet-entries/{entry_id}/correct", tags=["timesheets"])
def correct_entry(entry_id: str, body: CorrectionIn, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """Correct an entry; an invoiced one bills the difference in units on the client's next invoice."""
    from commands.timesheets import CorrectTimesheetEntry
    from domain.calendar import parse_instant
    from domain.errors import ValidationError

    if body.minutes is None and body.start is None and body.end is None:
        raise ValidationError("minutes", "give minutes, or start and/or end")
    if body.minutes is not None and not 0 <= body.minutes <= 1440:
        raise ValidationError("minutes", f"{body.minutes} is not from 0 to 1440")
    execute(engine, CorrectTimesheetEntry(entry_id, at_of(body.at), who.company, body.minutes,
                                          parse_instant(body.start, "start") if body.start else None,
                                          parse_instant(body.end, "end") if body.end else None))
    return _entry(engine, who.company, entry_id)


@router.delete("/timesheet-entries/{entry_id}", tags=["timesheets"])
def delete_entry(entry_id: str, at: str | None = None, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """Delete an entry whose week is not invoiced yet (409 naming the invoice otherwise)."""
    from commands.timesheets import DeleteTimesheetEntry

    execute(engine, DeleteTimesheetEntry(entry_id, at_of(at), who.company))
    return _entry(engine, who.company, entry_id)


@router.post("/timesheet-entries/import", tags=["timesheets"])
def import_entries(csv_text: str = CSV, engagement: str | None = None, at: str | None = None, who: Principal = Depends(principal),
                   engine: Engine = Depends(engine_of)) -> dict[str, int]:
    """Import entries from a CSV body: the project's columns or a Toggl detailed export; all or nothing."""
    from commands.http.uploads import as_file
    from commands.timesheets import ImportTimesheets

    with as_file(csv_text) as path:
        return execute(engine, ImportTimesheets(path, at_of(at), who.company, engagement))


@router.post("/timesheet-weeks/{customer}/{week}/invoice", status_code=201, tags=["timesheets"])
def invoice_week(customer: str, week: str, at: str | None = None, who: Principal = Depends(admin),
                 engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """Issue the client's invoice for ISO week ``week`` (``2025-W01``) now (admin keys; the tick's code path)."""
    from commands.timesheets import InvoiceTimesheetWeek

    number = execute(engine, InvoiceTimesheetWeek(customer, week, at_of(at), who.company))
    return {"number": number}


@router.post("/customers/{reference}/rates", status_code=201, tags=["timesheets"])
def set_rate(reference: str, body: RateIn, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> list[dict[str, Any]]:
    """The customer's payer and rate per 15-minute unit from a date on."""
    from commands.timesheets import SetCustomerRate
    from domain.calendar import parse_date

    execute(engine, SetCustomerRate(reference, body.payer, body.rate_per_unit, parse_date(body.effective_from, "from"), at_of(body.at), who.company))
    from projections.timesheet_queries import list_rates

    return read(engine, lambda s: list_rates(s.read_engine, who.company, reference))


@router.get("/customers/{reference}/rates", tags=["timesheets"])
def rates(reference: str, limit: int = LIMIT, cursor: str | None = None, who: Principal = Depends(principal),
          engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """The customer's payers and rates per unit, a page like every list."""
    from projections.paging import require_known, sliced
    from projections.timesheet_queries import list_rates

    read(engine, lambda s: require_known(s.read_engine, customer=reference, company=who.company))
    return page(engine, limit, cursor, lambda s, p: sliced(list_rates(s.read_engine, who.company, reference), p))