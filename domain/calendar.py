"""Dates, instants and IANA time zones.

Billing periods are half-open ``[start, end)`` ranges of local dates in the billing party's IANA time zone
(``zoneinfo`` + ``tzdata``). An instant belongs to the local date it falls on in that zone. A local date
"begins" at the first instant whose wall-clock date is that date: local midnight, or the end of a DST gap
where a zone skips midnight.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from domain.errors import ValidationError


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


def parse_instant(text: str, field: str = "at") -> datetime:
    """Parse an ISO 8601 instant with an offset (``2026-01-01T00:00:00+01:00`` or ``...Z``).

    A bare date (``2026-01-01``) means midnight UTC of that day. Returns an aware datetime in UTC. Raises
    :class:`ValidationError` naming ``field`` for anything else, including a date-time without an offset,
    which names no instant.
    """
    s = text.strip() if isinstance(text, str) else text
    if not isinstance(s, str) or not s:
        raise ValidationError(field, f"{text!r} is not an ISO 8601 instant (like 2026-01-31T00:00:00Z)")
    try:
        if len(s) == 10:
            return datetime.combine(date.fromisoformat(s), time(0), tzinfo=timezone.utc)
        value = datetime.fromisoformat(s.replace("z", "Z"))
    except ValueError:
        raise ValidationError(
            field, f"{text!r} is not an ISO 8601 instant (like 2026-01-31T00:00:00Z)"
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            field, f"{text!r} has no UTC offset; write it like 2026-01-31T00:00:00Z or with +01:00"
        )
    return value.astimezone(timezone.utc)


def parse_date(text: str | date, field: str) -> date:
    """Parse an ISO 8601 calendar date (``2026-01-31``); raises :class:`ValidationError` naming ``field``."""
    if isinstance(text, date) and not isinstance(text, datetime):
        return text
    try:
        if not isinstance(text, str) or len(text.strip()) != 10:
            raise ValueError
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(field, f"{text!r} is not an ISO 8601 date (like 2026-01-31)") from None


def days(n: int) -> timedelta:
    """Return ``timedelta(days=n)``."""
    return timedelta(days=n)
