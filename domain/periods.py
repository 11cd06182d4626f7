"""Billing periods of consolidation: weekly or monthly, half-open ``[start, end)`` in local dates.

- WEEKLY with a start day 1–7 (ISO weekday, 1 = Monday): every period is seven days starting on that
  weekday. Labelled by the ISO 8601 week of its start date: ``2026-W04`` (``date.isocalendar()``).
- MONTHLY with a start day 1–28: a period runs from that day of one month to that day of the next
  (``dateutil.relativedelta`` from the start, so it never drifts). Labelled by the year and month of its
  start date: ``2026-M01``.

A period *ends* at the first instant of its end date in the customer's zone (local midnight); that instant
is when it becomes closable by the tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from dateutil.relativedelta import relativedelta

from domain.errors import ValidationError

WEEKLY = "WEEKLY"
MONTHLY = "MONTHLY"
MODES = (WEEKLY, MONTHLY)


def validate_mode_and_start_day(mode: str, start_day: int) -> tuple[str, int]:
    """Check a consolidation mode and its start day; return them normalised (mode upper-case).

    Rules (issue 2): WEEKLY takes an ISO weekday 1–7 (Monday–Sunday); MONTHLY a day of month 1–28, so that
    every month has it. Raises :class:`ValidationError` naming ``consolidation`` or ``start_day``.
    """
    m = str(mode).strip().upper()
    if m not in MODES:
        raise ValidationError("consolidation", f"{mode!r} is not one of none, weekly, monthly")
    if isinstance(start_day, bool) or not isinstance(start_day, int):
        raise ValidationError("start_day", f"{start_day!r} is not a whole number")
    if m == WEEKLY and not 1 <= start_day <= 7:
        raise ValidationError(
            "start_day", f"{start_day} is out of range: weekly periods start on an ISO weekday 1-7 (1 = Monday)"
        )
    if m == MONTHLY and not 1 <= start_day <= 28:
        raise ValidationError(
            "start_day", f"{start_day} is out of range: monthly periods start on a day 1-28"
        )
    return m, start_day


@dataclass(frozen=True, order=True)
class BillingPeriod:
    """A natural consolidation period: local dates ``start`` (inclusive) to ``end`` (exclusive)."""

    start: date
    end: date
    mode: str

    @property
    def label(self) -> str:
        """``2026-W04`` for a weekly period (ISO week of its start), ``2026-M01`` for a monthly one."""
        if self.mode == WEEKLY:
            iso = self.start.isocalendar()
            return f"{iso.year}-W{iso.week:02d}"
        return f"{self.start.year}-M{self.start.month:02d}"

    def contains(self, day: date) -> bool:
        """True if local date ``day`` is in ``[start, end)``."""
        return self.start <= day < self.end


@lru_cache(maxsize=8192)
def period_containing(day: date, mode: str, start_day: int) -> BillingPeriod:
    """Return the period of ``mode``/``start_day`` that contains local date ``day`` (pure, so cached: a
    year of invoices falls on a few hundred days)."""
    if mode == WEEKLY:
        start = day - timedelta(days=(day.isoweekday() - start_day) % 7)
        return BillingPeriod(start, start + timedelta(days=7), WEEKLY)
    if day.day >= start_day:
        start = day.replace(day=start_day)
    else:
        start = (day - relativedelta(months=1)).replace(day=start_day)
    return BillingPeriod(start, start + relativedelta(months=1), MONTHLY)


def period_starting(start: date, mode: str) -> BillingPeriod:
    """Return the period of ``mode`` whose first day is ``start`` (a period boundary)."""
    if mode == WEEKLY:
        return BillingPeriod(start, start + timedelta(days=7), WEEKLY)
    return BillingPeriod(start, start + relativedelta(months=1), MONTHLY)
