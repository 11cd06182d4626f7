"""Contract run schedules: ``start + n × interval`` with ``dateutil.relativedelta`` (DESIGN.md).

Run dates are computed from the anchor, never by repeated addition, so they never drift: a monthly
contract from Jan 31 runs Jan 31, Feb 28 (29), Mar 31, Apr 30, ...
"""

from __future__ import annotations

from datetime import date

from dateutil.relativedelta import relativedelta

from domain.errors import ValidationError

MONTHS = {"MONTHLY": 1, "QUARTERLY": 3, "SEMI_ANNUAL": 6, "ANNUAL": 12}


def validate_interval(interval: str) -> str:
    """Normalise an interval name (``monthly``, ``quarterly``, ``semi-annual``/``semi_annual``, ``annual``)."""
    key = str(interval).strip().upper().replace("-", "_")
    if key not in MONTHS:
        raise ValidationError("interval", f"{interval!r} is not one of monthly, quarterly, semi-annual, annual")
    return key


def nth_run(start: date, interval: str, n: int) -> date:
    """The run date ``start + n × interval`` (n ≥ 0)."""
    return start + relativedelta(months=MONTHS[interval] * n)


def next_run_after(start: date, interval: str, after: date) -> date:
    """The first scheduled date ``start + n × interval`` strictly after ``after`` (n ≥ 0)."""
    months = MONTHS[interval]
    n = max(0, ((after.year - start.year) * 12 + after.month - start.month) // months - 1)
    while (d := nth_run(start, interval, n)) <= after:
        n += 1
    return d


def first_run_on_or_after(start: date, interval: str, day: date) -> date:
    """The first scheduled date on or after ``day``."""
    return start if day <= start else next_run_after(start, interval, day - relativedelta(days=1))
