"""Timesheet commands (issue 8): customers' rates per unit, timesheet entries (add, delete, import).

An entry is recorded on an hourly or mixed engagement of the command's company; its client is the
engagement's customer, its zone the engagement's (the company's), and its client must have a rate on the
entry's local date (``billing customers set-rate``). See :mod:`domain.timesheets` for the weeks, locking
and late entries. Imports read the project's own CSV (``entry_id,engagement,start,end,staff,service_code,
notes``; instants ISO 8601 with offset) or a Toggl, Clockify or Harvest export
(:mod:`commands.timesheet_formats`, detected by its header; its ``Client`` names the engagement unless
``--engagement`` is given, an empty client is ``(none)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from commands import timesheet_formats as formats
from commands.bus import UnitOfWork, handler, retrying
from commands.numbering import company_of, next_number
from commands.csvfiles import Problems, header, read_rows, row_error
from commands.customers import load_customer
from commands.engagements import load_engagement
from domain.calendar import local_date, parse_date, parse_instant
from domain.engagement import PACKAGE, Engagement
from domain.errors import Conflict, ImportRejected, ValidationError
from domain.tenancy import DEFAULT_COMPANY, validate_company
from domain.timesheets import TimesheetEntry, TimesheetWeek, entry_id, week_id, week_start


@dataclass(frozen=True)
class SetCustomerRate:
    """From ``effective_from`` on, customer ``customer``'s payer is ``payer`` at ``rate_per_unit`` per 15 minutes."""

    customer: str
    payer: str
    rate_per_unit: str
    effective_from: date
    at: datetime
    company: str = DEFAULT_COMPANY


@dataclass(frozen=True)
class AddTimesheetEntry:
    """Record entry ``entry_id`` on engagement ``engagement`` from ``start`` to ``end`` (aware instants)."""

    entry_id: str
    engagement: str
    start: datetime
    end: datetime
    at: datetime
    company: str = DEFAULT_COMPANY
    staff: str = ""
    service_code: str = ""
    notes: str = ""


@dataclass(frozen=True)
class DeleteTimesheetEntry:
    """Delete an entry of a week not invoiced yet."""

    entry_id: str
    at: datetime
    company: str = DEFAULT_COMPANY


@dataclass(frozen=True)
class ImportTimesheets:
    """Import the entries of CSV ``path`` (the project's format or a Toggl detailed export)."""

    path: str
    at: datetime
    company: str = DEFAULT_COMPANY
    engagement: str | None = None


OWN_COLUMNS = ["entry_id", "engagement", "start", "end", "staff", "service_code", "notes"]


@dataclass(frozen=True)
class InvoiceTimesheetWeek:
    """Issue client ``customer``'s week ``week`` (``2025-W01``) now, through the tick's code path
    (:func:`domain.timesheets.build_week_invoice`): dated the local date of ``at``, units under the policy
    in force at ``at``. The tick later finds the week done; entries recorded afterwards for it are late."""

    customer: str
    week: str
    at: datetime
    company: str = DEFAULT_COMPANY


@handler(InvoiceTimesheetWeek)
def _invoice_week(cmd: InvoiceTimesheetWeek, uow: UnitOfWork) -> str:
    from domain.company import unit_policy_at
    from domain.invoice import CREDIT_NOTE, INVOICE
    from domain.timesheets import build_week_invoice, is_credit, parse_week, week_label

    monday = parse_week(cmd.week)
    customer = load_customer(uow, cmd.customer, cmd.company)
    week = uow.get(week_id(cmd.company, customer.reference, monday))
    if week is None or not (week.entries or week.corrections):
        raise ValidationError("week", f"customer {customer.reference} has no timesheet entries in {week_label(monday)}")
    if week.locked:
        raise Conflict("week", f"{week.describe()} is invoiced already ({week.number})")
    issue_date = local_date(cmd.at, week.timezone)
    if monday > issue_date:
        raise ValidationError("week", f"{week_label(monday)} begins on {monday}, after {issue_date} (the command's local date): "
                                      "a week is invoiced once it has begun")
    policy = unit_policy_at(company_of(uow, cmd.company), cmd.at)
    kind = CREDIT_NOTE if is_credit(week, customer, policy) else INVOICE
    number, seq = next_number(uow, cmd.company, kind, issue_date, f"the invoice of {week.describe()}")
    engagements = {e["engagement"]: load_engagement(uow, e["engagement"], cmd.company)
                   for e in [e for _id, e in week.sorted_entries()] + week.corrections}
    invoice = uow.add(build_week_invoice(week, customer, engagements, policy, issue_date, number, seq))
    week.lock(invoice.id, number)
    return number


@handler(SetCustomerRate)
def _set_rate(cmd: SetCustomerRate, uow: UnitOfWork) -> bool:
    customer = load_customer(uow, cmd.customer, cmd.company)
    return customer.set_rate(cmd.payer, cmd.rate_per_unit, parse_date(cmd.effective_from, "from"))


def _hourly(uow: UnitOfWork, reference: str, company: str) -> Engagement:
    engagement = load_engagement(uow, reference, company)
    if engagement.pricing == PACKAGE:
        raise ValidationError("engagement", f"engagement {reference} is package-only; timesheets need hourly or mixed pricing")
    return engagement


def _target_week(uow: UnitOfWork, engagement: Engagement, customer: Any, day: date) -> tuple[TimesheetWeek, bool]:
    """The week an entry of local date ``day`` lands in, and whether it is late (its own week is locked)."""
    monday = week_start(day)
    late = False
    last = max(monday, week_start(local_date(uow.at, engagement.timezone))) + timedelta(days=7)
    while True:
        wid = week_id(engagement.company, customer.reference, monday)
        week = uow.get(wid)
        if week is None:
            return uow.add(TimesheetWeek.open(engagement.company, customer.reference, customer.id, monday, engagement.timezone)), late
        if not week.locked:
            return week, late
        week.require_not_before_last_change()  # it was locked after the command's time: not late then
        late = True
        monday += timedelta(days=7)
        if monday > last + timedelta(days=3650):
            raise AssertionError("no open week found")  # unreachable: weeks after the command's are never locked


def add_entry(uow: UnitOfWork, cmd: AddTimesheetEntry) -> bool:
    """Record ``cmd`` in ``uow`` (see :class:`AddTimesheetEntry`); False if it exists with the same data."""
    company = validate_company(cmd.company)
    engagement = _hourly(uow, cmd.engagement, company)
    existing = uow.get(entry_id(company, cmd.entry_id))
    if existing is not None:
        if existing.deleted:
            raise Conflict("entry_id", f"entry {cmd.entry_id} was deleted; record the session under a new entry id")
        if not existing.same_data(cmd.start, cmd.end, engagement.reference, cmd.staff.strip(), cmd.service_code.strip(), cmd.notes.strip()):
            raise Conflict("entry_id", f"entry {cmd.entry_id} exists with other data (delete it first, while its week is not invoiced)")
        return False
    customer = load_customer(uow, engagement.customer_reference, company)
    day = local_date(cmd.start, engagement.timezone)
    if customer.rate_on(day) is None:
        raise ValidationError("rate", f"customer {customer.reference} has no rate per unit on {day}: set one with customers set-rate")
    if engagement.start_date > day or (engagement.end_date is not None and day > engagement.end_date):
        raise ValidationError("start", f"{day} is outside engagement {engagement.reference} ({engagement.start_date} to {engagement.end_date or 'open'})")
    week, late = _target_week(uow, engagement, customer, day)
    entry = uow.add(TimesheetEntry.record(
        company=company, external_id=cmd.entry_id, engagement=engagement.reference, customer_reference=customer.reference,
        start=cmd.start, end=cmd.end, staff=cmd.staff.strip(), service_code=cmd.service_code.strip(), notes=cmd.notes.strip(),
        tz=engagement.timezone, week=week.id, week_monday=week.week_start, late=late))
    week.add(entry)
    return True


@handler(AddTimesheetEntry)
def _add(cmd: AddTimesheetEntry, uow: UnitOfWork) -> bool:
    return add_entry(uow, cmd)


@dataclass(frozen=True)
class CorrectTimesheetEntry:
    """Correct entry ``entry_id``: new ``minutes`` (from its start), or new ``start``/``end``. An entry of a
    week not invoiced yet simply changes; an invoiced one keeps its invoice and its date, and the
    difference in units is billed (negative: credited) on the client's next invoice."""

    entry_id: str
    at: datetime
    company: str = DEFAULT_COMPANY
    minutes: int | None = None
    start: datetime | None = None
    end: datetime | None = None


@handler(CorrectTimesheetEntry)
def _correct(cmd: CorrectTimesheetEntry, uow: UnitOfWork) -> bool:
    from domain.company import unit_policy_at
    from domain.timesheets import parse_period

    entry = uow.require(entry_id(cmd.company, cmd.entry_id), "entry_id", f"timesheet entry {cmd.entry_id!r}", TimesheetEntry)
    if entry.deleted:
        raise Conflict("entry_id", f"entry {cmd.entry_id} was deleted")
    start = cmd.start or entry.start
    if cmd.minutes is not None:
        if cmd.end is not None:
            raise ValidationError("minutes", "give either minutes or end")
        end = start + timedelta(minutes=cmd.minutes)
    else:
        end = cmd.end or entry.end
    seconds = parse_period(start, end)
    if (start, end) == (entry.start, entry.end):
        return False
    engagement = _hourly(uow, entry.engagement, cmd.company)
    customer = load_customer(uow, entry.customer_reference, cmd.company)
    day = local_date(start, engagement.timezone)
    week = uow.get(entry.week)
    if not week.locked:
        week.remove(entry)
        if customer.rate_on(day) is None:
            raise ValidationError("rate", f"customer {customer.reference} has no rate per unit on {day}")
        target, _late = _target_week(uow, engagement, customer, day)
        entry.trigger_event(entry.Corrected, start=start, end=end, seconds=seconds, local_date=day, week=target.id,
                            week_start=target.week_start)
        target.add(entry)
        return True
    week.require_not_before_last_change()  # invoiced after the command's time: nothing to correct then
    if day != entry.local_date:
        raise ValidationError("start", f"entry {cmd.entry_id} is invoiced ({week.number}); a correction keeps its date {entry.local_date}")
    policy = unit_policy_at(company_of(uow, cmd.company), week.due_at)
    old = entry.seconds
    units = week.correction_units(entry.id, old, seconds, policy)
    target, _late = _target_week(uow, engagement, customer, day)
    entry.trigger_event(entry.Corrected, start=start, end=end, seconds=seconds, local_date=day, week=entry.week,
                        week_start=entry.week_start)
    if units:
        target.add_correction(entry, units, old, week.number or "")
    return True


@handler(DeleteTimesheetEntry)
def _delete(cmd: DeleteTimesheetEntry, uow: UnitOfWork) -> bool:
    entry = uow.require(entry_id(cmd.company, cmd.entry_id), "entry_id", f"timesheet entry {cmd.entry_id!r}", TimesheetEntry)
    if entry.deleted:
        return False
    uow.get(entry.week).remove(entry)
    entry.trigger_event(entry.Deleted)
    return True


# ============================================================================================ import
def _rows(path: str, problems: Problems) -> tuple[str, list[tuple[int, dict[str, str]]]]:
    """The file's format (``own`` or a :data:`formats.FORMATS` name, by its header) and its well-formed
    rows (:func:`read_rows`: no column twice; the own format has no unknown column, an export's other
    columns are ignored); a malformed row is recorded in ``problems``."""
    names = header(path)
    kind = "own" if all(c in names for c in OWN_COLUMNS) else formats.detect(names)
    if kind is None:
        raise ImportRejected(path, [(1, "format", "unknown time-tracker format: expected the columns "
                                    f"{','.join(OWN_COLUMNS)}, or a Toggl, Clockify or Harvest detailed export")])
    rows = []
    for line, row in (read_rows(path, OWN_COLUMNS) if kind == "own" else read_rows(path, formats.FORMATS[kind], others=True)):
        if (err := row_error(row)) is not None:
            problems.add(line, "row", err)
        else:
            rows.append((line, row))
    return kind, rows


@handler(ImportTimesheets)
def _import(cmd: ImportTimesheets, uow: UnitOfWork) -> dict[str, int]:
    """All-or-nothing and idempotent: every row is first checked in a unit of work that is never saved
    (any bad row rejects the file, every bad row listed, nothing written); then the rows are saved in
    batches of :data:`BATCH_ROWS` (each with the engine's retry loop). Importing again changes nothing, and
    after a crash half-way it completes the rest. Returns counts (created, unchanged)."""
    company = validate_company(cmd.company)
    problems = Problems(cmd.path)
    kind, rows = _rows(cmd.path, problems)
    probe = UnitOfWork(uow.store, uow.at)
    commands: list[AddTimesheetEntry] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        def one(row: dict[str, str] = row, line: int = line) -> AddTimesheetEntry:
            c = _command(probe, kind, row, line, cmd, company, seen)
            add_entry(probe, c)
            return c

        c = problems.check(line, one)
        if c is not None:
            commands.append(c)
    problems.raise_if_any()
    counts = {"created": 0, "unchanged": 0}
    for i in range(0, len(commands), BATCH_ROWS):
        batch = commands[i:i + BATCH_ROWS]

        def save(batch: list[AddTimesheetEntry] = batch) -> list[bool]:
            work = UnitOfWork(uow.store, uow.at)
            done = [add_entry(work, c) for c in batch]
            work.commit()
            return done

        for created in retrying(save):
            counts["created" if created else "unchanged"] += 1
    return counts


#: Rows saved together by an import (two or three events each).
BATCH_ROWS = 150


def _command(uow: UnitOfWork, kind: str, row: dict[str, str], line: int, cmd: ImportTimesheets, company: str,
             seen: dict[str, int]) -> AddTimesheetEntry:
    """The entry a row describes (``seen``: ids given so far, for duplicates and Toggl's derived ids)."""
    if kind == "own":
        c = AddTimesheetEntry(row["entry_id"].strip(), cmd.engagement or row["engagement"].strip(), parse_instant(row["start"], "start"),
                              parse_instant(row["end"], "end"), cmd.at, company, row["staff"], row["service_code"], row["notes"])
        if c.entry_id in seen:
            raise ValidationError("entry_id", f"{c.entry_id} is given twice (first on line {seen[c.entry_id]})")
        seen[c.entry_id] = line
        return c
    eng = cmd.engagement or (row.get("Client") or "").strip() or "(none)"
    engagement = load_engagement(uow, eng, company)
    r = formats.parse(kind, row, engagement.timezone)
    return AddTimesheetEntry(formats.derived_id(kind, r, seen), eng, r.start, r.end, cmd.at, company, r.staff, r.service_code, r.notes)
