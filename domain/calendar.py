"""Dates, instants and IANA time zones.

Billing periods are half-open ``[start, end)`` ranges of local dates in the billing party's IANA time zone
(``zoneinfo`` + ``tzdata``). An instant belongs to the local date it falls on in that zone. A local date
"begins" at the first instant whose wall-clock date is that date: local midnight, or the end of a DST gap
where a zone skips midnight.

**Supported range** (issue 6, item 4): dates from :data:`MIN_DATE` 1900-01-01 to :data:`MAX_DATE`
2999-12-31, and instants from 1900-01-02 to 2999-12-30 (UTC), so that every local date of an instant, in
any zone, is a supported date. Everything the engine derives from an accepted date (a
period end, a due date a year later, the next run) stays far inside what Python, PostgreSQL and SQLite
represent; input outside the range is refused naming the field.

**Instants** (issue 6, item 13) are ISO 8601 date-times *with* a UTC offset (``2026-01-06T10:00:00Z``,
``…+01:00``), everywhere: on the command line, in every import file, over HTTP. A bare date or a date-time
without an offset names no instant and is refused with a hint; dates (``--from``, ``start_date``) are
plain ISO 8601 calendar dates.
"""

from __future__ import annotations

import re

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from domain.errors import ValidationError

#: First and last supported date (see the module docstring).
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2999, 12, 31)


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=None)
def zone(name: str) -> ZoneInfo:
    """Return the ``ZoneInfo`` of IANA zone ``name``; raises :class:`ValidationError` (field ``timezone``)."""
    if not isinstance(name, str) or name not in _zones():
        raise ValidationError("timezone", f"{name!r} is not an IANA time zone (like Europe/Berlin)")
    return ZoneInfo(name)


def validate_timezone(name: str) -> str:
    """Return ``name`` if it is an IANA time zone known to ``tzdata``, else raise :class:`ValidationError`."""
    zone(name)
    return name


@lru_cache(maxsize=65536)
def start_of_day(day: date, tz: str) -> datetime:
    """Return the first instant (UTC) of local date ``day`` in zone ``tz``.

    That is local midnight, or, in a zone whose DST change skips midnight, the instant the clocks jump
    (``zoneinfo`` resolves a non-existent wall time with the offset in force before the gap, which names
    exactly that instant).
    """
    local = datetime.combine(day, time(0), tzinfo=zone(tz))
    return local.astimezone(timezone.utc)


def local_date(at: datetime, tz: str) -> date:
    """Return the local date of instant ``at`` (aware) in zone ``tz``."""
    return at.astimezone(zone(tz)).date()


def _in_range(day: date, field: str, text: object) -> None:
    if not MIN_DATE <= day <= MAX_DATE:
        raise ValidationError(field, f"{text} is out of the supported range {MIN_DATE} to {MAX_DATE}")


def parse_instant(text: str | datetime, field: str = "at") -> datetime:
    """Parse an ISO 8601 instant with a UTC offset (``2026-01-01T00:00:00+01:00`` or ``...Z``).

    Returns an aware datetime in UTC. Raises :class:`ValidationError` naming ``field`` for anything else:
    a bare date or a date-time without an offset (which names no instant), or an instant whose local or
    UTC date is outside the supported range (:data:`MIN_DATE` … :data:`MAX_DATE`).
    """
    if isinstance(text, datetime):
        value = text
    else:
        s = text.strip() if isinstance(text, str) else text
        if not isinstance(s, str) or not s or len(s) > 40:
            raise ValidationError(field, f"{text!r} is not an ISO 8601 instant (like 2026-01-31T00:00:00Z)")
        if len(s) == 10 and s[4:5] == "-":
            raise ValidationError(
                field, f"{s!r} is a date, not an instant; write it with a time and offset, like {s}T00:00:00Z or {s}T00:00:00+01:00"
            )
        try:
            value = datetime.fromisoformat(s.replace("z", "Z"))
        except ValueError:
            raise ValidationError(
                field, f"{text!r} is not an ISO 8601 instant (like 2026-01-31T00:00:00Z)"
            ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            field, f"{text!r} has no UTC offset; write it like 2026-01-31T00:00:00Z or with +01:00"
        )
    # Check the wall date first: converting 0001-01-01T00:00+14:00 to UTC would overflow. An accepted
    # instant is at least a day inside the date range, so its local date in any zone lies within it.
    _in_range(value.date(), field, text)
    utc = value.astimezone(timezone.utc)
    if not MIN_DATE < utc.date() < MAX_DATE:
        raise ValidationError(field, f"{text} is out of the supported range {MIN_DATE + timedelta(days=1)} to {MAX_DATE - timedelta(days=1)} (UTC)")
    return utc


_CALENDAR_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(text: str | date, field: str) -> date:
    """Parse an ISO 8601 calendar date (``2026-01-31``) within the supported range.

    Raises :class:`ValidationError` naming ``field`` for anything else."""
    if isinstance(text, date) and not isinstance(text, datetime):
        value = text
    else:
        try:
            if not isinstance(text, str) or not _CALENDAR_DATE.fullmatch(text.strip()):
                raise ValueError  # a week date (2026-W01-1) or an ordinal one is not a calendar date
            value = date.fromisoformat(text.strip())
        except ValueError:
            raise ValidationError(field, f"{text!r} is not an ISO 8601 date (like 2026-01-31)") from None
    _in_range(value, field, text)
    return value


def days(n: int) -> timedelta:
    """Return ``timedelta(days=n)``."""
    return timedelta(days=n)


#: Business-day calendars for due dates (issue 9): a country's public holidays from the ``holidays``
#: package, or ``NONE`` (weekends only).
CALENDARS = ("BR", "US", "GB", "NONE")


def validate_calendar(value: object, field: str = "holidays") -> str:
    """``BR``, ``US``, ``GB`` or ``none`` (upper-cased); :class:`ValidationError` naming ``field``."""
    key = str(value).strip().upper() if value not in (None, "") else "NONE"
    if key not in CALENDARS:
        raise ValidationError(field, f"{value!r} is not one of BR, US, GB, none")
    return key


@lru_cache(maxsize=4096)
def _holidays(country: str, year: int) -> frozenset[date]:
    import holidays

    return frozenset(holidays.country_holidays(country, years=year))


def next_business_day(day: date, country: str) -> date:
    """``day`` if it is a business day, else the next one: not a Saturday or Sunday and, unless ``country``
    is ``NONE``, not a national public holiday of ``country`` (the ``holidays`` package's calendar:
    ``BR`` Brazil, ``US`` United States, ``GB`` United Kingdom, nationwide holidays only)."""
    while day.weekday() >= 5 or (country != "NONE" and day in _holidays(country, day.year)):
        day += timedelta(days=1)
    return day
