"""Time-tracker exports that ``billing timesheets import`` reads besides its own CSV (issue 8), detected by
their header:

- **Toggl Track** detailed report: ``Client, Project, Description, Start date, Start time, End date, End
  time`` (ISO dates, 24-hour times), optional ``User``;
- **Clockify** detailed report: ``Project, Client, Description, User, Start Date, Start Time, End Date, End
  Time`` (dates ``YYYY-MM-DD`` or Clockify's default ``MM/DD/YYYY``; times 24-hour or with ``AM``/``PM``);
- **Harvest** detailed time report: ``Date, Client, Project, Task, Notes, Hours, First Name, Last Name``
  (no clock times: an entry starts at local midnight of its date and lasts its decimal ``Hours``, rounded
  to the second).

Wall-clock times are local to the engagement's zone (the company's). None of these exports carries an
entry id, so one derives from the row's content (client, project, description, start, end) — the same row
imported twice is the same entry; identical rows in one file are numbered ``-2``, ``-3``, … in order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal, InvalidOperation

from domain.calendar import parse_instant, start_of_day, zone
from domain.errors import ValidationError

FORMATS: dict[str, list[str]] = {
    "toggl": ["Client", "Project", "Description", "Start date", "Start time", "End date", "End time"],
    "clockify": ["Project", "Client", "Description", "User", "Start Date", "Start Time", "End Date", "End Time"],
    "harvest": ["Date", "Client", "Project", "Task", "Notes", "Hours", "First Name", "Last Name"],
}


@dataclass(frozen=True)
class ExportRow:
    """One row of an export: the client (names the engagement), its instants and descriptive fields."""

    client: str
    start: datetime
    end: datetime
    staff: str
    service_code: str
    notes: str
    project: str


def detect(header: list[str]) -> str | None:
    """The format whose columns the header has (``toggl``, ``clockify``, ``harvest``), or None."""
    for name, columns in FORMATS.items():
        if all(c in header for c in columns):
            return name
    return None


def _date(text: str, field: str) -> date:
    s = text.strip()
    try:
        if "/" in s:
            m, d, y = (int(x) for x in s.split("/"))
            return date(y, m, d)
        return date.fromisoformat(s)
    except ValueError:
        raise ValidationError(field, f"{text!r} is not a date (YYYY-MM-DD or MM/DD/YYYY)") from None


def _time(text: str, field: str) -> time:
    s = text.strip().upper()
    try:
        meridiem = None
        if s.endswith(("AM", "PM")):
            s, meridiem = s[:-2].strip(), s[-2:]
        t = time.fromisoformat(s if s.count(":") == 2 else s + ":00")
        if meridiem is not None:
            if not 1 <= t.hour <= 12:
                raise ValueError
            t = t.replace(hour=t.hour % 12 + (12 if meridiem == "PM" else 0))
        return t
    except ValueError:
        raise ValidationError(field, f"{text!r} is not a time (HH:MM:SS, 24-hour or with AM/PM)") from None


def local_instant(d: date, t: time, tz: str, field: str) -> datetime:
    """The instant of local date and time ``d t`` in zone ``tz`` (checked against the supported range). A
    wall time the zone skips (the hour clocks jump forward) is a :class:`ValidationError` on ``field``,
    never silently moved; one it repeats (the hour they fall back) is its first occurrence (``fold=0``)."""
    local = datetime.combine(d, t, tzinfo=zone(tz))
    instant = parse_instant(local, field)
    if instant.astimezone(timezone.utc).astimezone(zone(tz)).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise ValidationError(field, f"{d} {t} does not exist in {tz} (the clocks jump forward then)")
    return instant


def parse(kind: str, row: dict[str, str], tz: str) -> ExportRow:
    """The :class:`ExportRow` of ``row`` in format ``kind``; :class:`ValidationError` naming the field."""
    g = lambda k: (row.get(k) or "").strip()  # noqa: E731
    if kind == "toggl":
        start = local_instant(_date(g("Start date"), "start"), _time(g("Start time"), "start"), tz, "start")
        end = local_instant(_date(g("End date"), "end"), _time(g("End time"), "end"), tz, "end")
        return ExportRow(g("Client"), start, end, g("User"), g("Project")[:50], g("Description"), g("Project"))
    if kind == "clockify":
        start = local_instant(_date(g("Start Date"), "start"), _time(g("Start Time"), "start"), tz, "start")
        end = local_instant(_date(g("End Date"), "end"), _time(g("End Time"), "end"), tz, "end")
        return ExportRow(g("Client"), start, end, g("User"), g("Project")[:50], g("Description"), g("Project"))
    if kind == "harvest":
        # a day's start, not a wall time: where clocks jump at midnight, the day begins at 01:00
        start = parse_instant(start_of_day(_date(g("Date"), "start"), tz), "start")
        try:
            hours = Decimal(g("Hours"))
        except InvalidOperation:
            raise ValidationError("hours", f"{g('Hours')!r} is not a number of hours") from None
        if not hours.is_finite() or hours < 0 or hours > 24:
            raise ValidationError("hours", f"{g('Hours')} is not from 0 to 24")
        end = start + timedelta(seconds=int((hours * 3600).to_integral_value()))
        staff = f"{g('First Name')} {g('Last Name')}".strip()
        return ExportRow(g("Client"), start, end, staff, g("Task")[:50], g("Notes"), g("Project"))
    raise ValueError(kind)


def derived_id(kind: str, r: ExportRow, seen: dict[str, int]) -> str:
    """A stable entry id for ``r`` (see the module docstring); ``seen`` counts ids given so far."""
    key = "|".join([r.client, r.project, r.notes, r.start.isoformat(), r.end.isoformat()])
    base = f"{kind}-" + hashlib.sha256(key.encode()).hexdigest()[:16]
    n = seen.get(base, 0)
    seen[base] = n + 1
    return base if n == 0 else f"{base}-{n + 1}"
