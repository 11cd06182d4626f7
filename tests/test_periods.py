"""Unit tests of billing periods, calendars and a customer's routing (pure domain, no store).

Periods are half-open ``[start, end)`` ranges of local dates; weekly periods start on an ISO weekday and
are labelled by the ISO 8601 week of their start; monthly periods run from a day 1-28 to the same day of
the next month. A local date begins at local midnight in the customer's IANA zone (DESIGN.md).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from domain.base import business_time
from domain.calendar import local_date, start_of_day, validate_timezone, zone
from domain.customer import Customer
from domain.errors import Conflict, ValidationError
from domain.periods import (
    MONTHLY,
    WEEKLY,
    BillingPeriod,
    period_containing,
    period_starting,
    validate_mode_and_start_day,
)

UTC = timezone.utc


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ============================================================================================ weekly
# 2026-01-21 is a Wednesday (ISO weekday 3).
WEDNESDAY = date(2026, 1, 21)


@pytest.mark.parametrize(
    "start_day, expected_start",
    [
        (1, date(2026, 1, 19)),  # Monday
        (2, date(2026, 1, 20)),  # Tuesday
        (3, date(2026, 1, 21)),  # Wednesday: the day itself starts the period
        (4, date(2026, 1, 15)),  # Thursday of the week before
        (5, date(2026, 1, 16)),
        (6, date(2026, 1, 17)),
        (7, date(2026, 1, 18)),  # Sunday
    ],
)
def test_weekly_period_for_each_start_day(start_day: int, expected_start: date) -> None:
    p = period_containing(WEDNESDAY, WEEKLY, start_day)
    assert p == BillingPeriod(expected_start, expected_start + timedelta(days=7), WEEKLY)
    assert p.start.isoweekday() == start_day
    assert p.contains(WEDNESDAY)
    assert p.contains(p.start) and not p.contains(p.end)
    assert not p.contains(p.start - timedelta(days=1))


@pytest.mark.parametrize("start_day", range(1, 8))
def test_weekly_periods_tile_the_calendar_without_gaps_or_overlaps(start_day: int) -> None:
    day = date(2025, 12, 1)
    p = period_containing(day, WEEKLY, start_day)
    for _ in range(10):
        nxt = period_starting(p.end, WEEKLY)
        assert nxt.start == p.end and nxt.end - nxt.start == timedelta(days=7)
        # every day of the period maps back to this very period
        for i in range(7):
            assert period_containing(p.start + timedelta(days=i), WEEKLY, start_day) == p
        p = nxt


# ============================================================================================ monthly
@pytest.mark.parametrize(
    "day, start_day, start, end",
    [
        # start day 1: calendar months, across month ends of 28, 29, 30 and 31 days
        (date(2026, 1, 1), 1, date(2026, 1, 1), date(2026, 2, 1)),
        (date(2026, 1, 31), 1, date(2026, 1, 1), date(2026, 2, 1)),
        (date(2026, 2, 28), 1, date(2026, 2, 1), date(2026, 3, 1)),  # non-leap February
        (date(2024, 2, 29), 1, date(2024, 2, 1), date(2024, 3, 1)),  # leap day
        (date(2024, 3, 1), 1, date(2024, 3, 1), date(2024, 4, 1)),
        (date(2026, 4, 30), 1, date(2026, 4, 1), date(2026, 5, 1)),
        (date(2025, 12, 31), 1, date(2025, 12, 1), date(2026, 1, 1)),  # year end
        # start day 28: from the 28th to the 28th, whatever the month's length
        (date(2026, 1, 27), 28, date(2025, 12, 28), date(2026, 1, 28)),
        (date(2026, 1, 28), 28, date(2026, 1, 28), date(2026, 2, 28)),
        (date(2026, 1, 31), 28, date(2026, 1, 28), date(2026, 2, 28)),
        (date(2026, 2, 27), 28, date(2026, 1, 28), date(2026, 2, 28)),
        (date(2026, 2, 28), 28, date(2026, 2, 28), date(2026, 3, 28)),  # non-leap: Feb 28 is the last day
        (date(2026, 3, 1), 28, date(2026, 2, 28), date(2026, 3, 28)),
        (date(2024, 2, 28), 28, date(2024, 2, 28), date(2024, 3, 28)),  # leap year
        (date(2024, 2, 29), 28, date(2024, 2, 28), date(2024, 3, 28)),  # the leap day is inside
        (date(2024, 3, 27), 28, date(2024, 2, 28), date(2024, 3, 28)),
        (date(2025, 12, 31), 28, date(2025, 12, 28), date(2026, 1, 28)),
    ],
)
def test_monthly_period_boundaries(day: date, start_day: int, start: date, end: date) -> None:
    p = period_containing(day, MONTHLY, start_day)
    assert (p.start, p.end, p.mode) == (start, end, MONTHLY)
    assert p.contains(day)


@pytest.mark.parametrize("start_day", [1, 28])
@pytest.mark.parametrize("year", [2023, 2024])
def test_monthly_periods_cover_every_day_of_a_year_exactly_once(year: int, start_day: int) -> None:
    day, end = date(year, 1, 1), date(year + 1, 1, 1)
    seen: dict[BillingPeriod, int] = {}
    while day < end:
        p = period_containing(day, MONTHLY, start_day)
        assert p.start.day == start_day and p.end.day == start_day
        assert p.contains(day)
        seen[p] = seen.get(p, 0) + 1
        day += timedelta(days=1)
    periods = sorted(seen)
    for a, b in zip(periods, periods[1:]):
        assert a.end == b.start
    assert sum(seen.values()) == (366 if year == 2024 else 365)


def test_monthly_periods_use_the_anchor_and_never_drift() -> None:
    # 12 consecutive periods from 2024-01-28: every one starts on the 28th (no Feb-29/30 drift)
    p = period_starting(date(2024, 1, 28), MONTHLY)
    starts = []
    for _ in range(12):
        starts.append(p.start)
        p = period_starting(p.end, MONTHLY)
    assert starts == [date(2024, m, 28) for m in range(1, 13)]
    assert p.start == date(2025, 1, 28)


def test_monthly_labels_name_the_year_and_month_of_the_start() -> None:
    assert period_containing(date(2026, 1, 15), MONTHLY, 1).label == "2026-M01"
    assert period_containing(date(2026, 1, 15), MONTHLY, 28).label == "2025-M12"
    assert period_containing(date(2024, 2, 29), MONTHLY, 28).label == "2024-M02"
    assert period_containing(date(2024, 12, 31), MONTHLY, 1).label == "2024-M12"


# ============================================================================================ ISO week labels
@pytest.mark.parametrize("day", [date(2026, 1, 19) + timedelta(days=i) for i in range(7)])
def test_iso_week_label_2026_w04(day: date) -> None:
    p = period_containing(day, WEEKLY, 1)
    assert p.start == date(2026, 1, 19) and p.end == date(2026, 1, 26)
    assert p.label == "2026-W04"


@pytest.mark.parametrize(
    "start, label",
    [
        (date(2012, 12, 31), "2013-W01"),  # a Monday in December in ISO week 1 of the next year
        (date(2020, 12, 28), "2020-W53"),  # a 53-week ISO year
        (date(2021, 1, 4), "2021-W01"),
        (date(2013, 12, 30), "2014-W01"),
        (date(2013, 12, 31), "2014-W01"),  # a Tuesday-start period
        (date(2013, 12, 29), "2013-W52"),  # a Sunday belongs to the ISO week of the Monday before
        (date(2016, 1, 1), "2015-W53"),  # a Friday in January in the last week of the year before
        (date(2026, 1, 5), "2026-W02"),
    ],
)
def test_iso_week_labels_across_year_ends(start: date, label: str) -> None:
    p = period_starting(start, WEEKLY)
    assert p.label == label


def test_weekly_label_is_the_week_of_the_start_date() -> None:
    # A Sunday-start period from 2013-12-29 runs into 2014 but is labelled by its start
    p = period_containing(date(2014, 1, 2), WEEKLY, 7)
    assert p.start == date(2013, 12, 29) and p.end == date(2014, 1, 5)
    assert p.label == "2013-W52"
    # Monday-start weeks of the days around the 2013/2014 year end
    assert period_containing(date(2013, 12, 31), WEEKLY, 1).label == "2014-W01"
    assert period_containing(date(2014, 1, 5), WEEKLY, 1).label == "2014-W01"
    assert period_containing(date(2013, 12, 29), WEEKLY, 1).label == "2013-W52"


# ============================================================================================ start of day, DST
@pytest.mark.parametrize(
    "tz, day, expected",
    [
        # America/New_York: DST starts 2013-03-10 at 02:00 (midnight still EST, -05:00)
        ("America/New_York", date(2013, 3, 9), utc(2013, 3, 9, 5)),
        ("America/New_York", date(2013, 3, 10), utc(2013, 3, 10, 5)),
        ("America/New_York", date(2013, 3, 11), utc(2013, 3, 11, 4)),  # now EDT, -04:00
        # ... and ends 2013-11-03 at 02:00 (midnight still EDT)
        ("America/New_York", date(2013, 11, 3), utc(2013, 11, 3, 4)),
        ("America/New_York", date(2013, 11, 4), utc(2013, 11, 4, 5)),
        # Europe/Berlin: DST 2013-03-31 02:00 -> 03:00 and 2013-10-27 03:00 -> 02:00
        ("Europe/Berlin", date(2013, 3, 31), utc(2013, 3, 30, 23)),
        ("Europe/Berlin", date(2013, 4, 1), utc(2013, 3, 31, 22)),
        ("Europe/Berlin", date(2013, 10, 27), utc(2013, 10, 26, 22)),
        ("Europe/Berlin", date(2013, 10, 28), utc(2013, 10, 27, 23)),
        # Asia/Kolkata: +05:30 all year
        ("Asia/Kolkata", date(2013, 1, 1), utc(2012, 12, 31, 18, 30)),
        ("Asia/Kolkata", date(2013, 3, 10), utc(2013, 3, 9, 18, 30)),
        ("Asia/Kolkata", date(2013, 7, 1), utc(2013, 6, 30, 18, 30)),
        # America/Phoenix: MST (-07:00) all year, while America/Denver has DST
        ("America/Phoenix", date(2013, 1, 15), utc(2013, 1, 15, 7)),
        ("America/Phoenix", date(2013, 7, 1), utc(2013, 7, 1, 7)),
        ("America/Denver", date(2013, 1, 15), utc(2013, 1, 15, 7)),
        ("America/Denver", date(2013, 7, 1), utc(2013, 7, 1, 6)),
        # America/Sao_Paulo skipped midnight on 2018-11-04 (00:00 -> 01:00): the day begins at the jump
        ("America/Sao_Paulo", date(2018, 11, 4), utc(2018, 11, 4, 3)),
    ],
)
def test_start_of_day(tz: str, day: date, expected: datetime) -> None:
    got = start_of_day(day, tz)
    assert got == expected
    assert got.utcoffset() == timedelta(0)
    # the first instant of the day is on that local date, and the instant before is on the day before
    assert local_date(got, tz) == day
    assert local_date(got - timedelta(microseconds=1), tz) == day - timedelta(days=1)


@pytest.mark.parametrize(
    "tz, day, hours",
    [
        ("America/New_York", date(2013, 3, 10), 23),
        ("America/New_York", date(2013, 11, 3), 25),
        ("America/New_York", date(2013, 6, 1), 24),
        ("Europe/Berlin", date(2013, 3, 31), 23),
        ("Europe/Berlin", date(2013, 10, 27), 25),
        ("Asia/Kolkata", date(2013, 3, 10), 24),
        ("America/Phoenix", date(2013, 3, 10), 24),
        ("America/Phoenix", date(2013, 11, 3), 24),
        ("America/Denver", date(2013, 3, 10), 23),
    ],
)
def test_length_of_a_local_day_across_dst_changes(tz: str, day: date, hours: int) -> None:
    length = start_of_day(day + timedelta(days=1), tz) - start_of_day(day, tz)
    assert length == timedelta(hours=hours)


def test_a_week_across_a_dst_change_is_167_hours() -> None:
    p = period_containing(date(2013, 3, 10), WEEKLY, 1)
    assert (p.start, p.end) == (date(2013, 3, 4), date(2013, 3, 11))
    span = start_of_day(p.end, "America/New_York") - start_of_day(p.start, "America/New_York")
    assert span == timedelta(hours=7 * 24 - 1)


# ============================================================================================ local dates near midnight
@pytest.mark.parametrize(
    "instant, tz, expected",
    [
        (utc(2013, 3, 10, 4, 59, 59), "America/New_York", date(2013, 3, 9)),
        (utc(2013, 3, 10, 5, 0), "America/New_York", date(2013, 3, 10)),
        (utc(2013, 3, 11, 3, 59, 59), "America/New_York", date(2013, 3, 10)),
        (utc(2013, 3, 11, 4, 0), "America/New_York", date(2013, 3, 11)),
        (utc(2013, 11, 4, 4, 30), "America/New_York", date(2013, 11, 3)),  # 23:30 EST
        (utc(2013, 11, 4, 5, 0), "America/New_York", date(2013, 11, 4)),
        (utc(2013, 3, 30, 22, 59, 59), "Europe/Berlin", date(2013, 3, 30)),
        (utc(2013, 3, 30, 23, 0), "Europe/Berlin", date(2013, 3, 31)),
        (utc(2013, 10, 27, 22, 59), "Europe/Berlin", date(2013, 10, 27)),
        (utc(2013, 10, 27, 23, 0), "Europe/Berlin", date(2013, 10, 28)),
        (utc(2013, 3, 9, 18, 29, 59), "Asia/Kolkata", date(2013, 3, 9)),
        (utc(2013, 3, 9, 18, 30), "Asia/Kolkata", date(2013, 3, 10)),
        (utc(2013, 7, 1, 6, 59, 59), "America/Phoenix", date(2013, 6, 30)),
        (utc(2013, 7, 1, 7, 0), "America/Phoenix", date(2013, 7, 1)),
        (utc(2013, 7, 1, 6, 30), "America/Denver", date(2013, 7, 1)),  # Denver is already on July 1
        (utc(2013, 7, 1, 6, 30), "America/Phoenix", date(2013, 6, 30)),
    ],
)
def test_local_date_of_an_instant_near_midnight(instant: datetime, tz: str, expected: date) -> None:
    assert local_date(instant, tz) == expected


def test_local_date_does_not_depend_on_the_offset_the_instant_is_written_in() -> None:
    instant = utc(2013, 3, 9, 18, 30)
    for written in (instant, instant.astimezone(zone("America/New_York")), instant.astimezone(zone("Asia/Tokyo"))):
        assert local_date(written, "Asia/Kolkata") == date(2013, 3, 10)
        assert local_date(written, "America/New_York") == date(2013, 3, 9)


# ============================================================================================ validation
@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "europe/berlin", "", "CET+1", "Europe/Berlin "])
def test_unknown_time_zone_names_the_timezone_field(name: str) -> None:
    with pytest.raises(ValidationError) as e:
        validate_timezone(name)
    assert e.value.field == "timezone"
    with pytest.raises(ValidationError) as e:
        start_of_day(date(2026, 1, 1), name)
    assert e.value.field == "timezone"


def test_known_time_zones_validate() -> None:
    for name in ("Europe/Berlin", "America/New_York", "Asia/Kolkata", "America/Phoenix", "UTC"):
        assert validate_timezone(name) == name


@pytest.mark.parametrize(
    "mode, start_day, field",
    [
        ("weekly", 0, "start_day"),
        ("weekly", 8, "start_day"),
        ("WEEKLY", -1, "start_day"),
        ("monthly", 0, "start_day"),
        ("monthly", 29, "start_day"),
        ("monthly", 31, "start_day"),
        ("weekly", "1", "start_day"),
        ("weekly", True, "start_day"),
        ("daily", 1, "consolidation"),
        ("yearly", 1, "consolidation"),
        ("", 1, "consolidation"),
        ("none", 1, "consolidation"),
    ],
)
def test_invalid_mode_or_start_day_names_the_field(mode: object, start_day: object, field: str) -> None:
    with pytest.raises(ValidationError) as e:
        validate_mode_and_start_day(mode, start_day)  # type: ignore[arg-type]
    assert e.value.field == field
    assert str(e.value).startswith(field + ":")


@pytest.mark.parametrize(
    "mode, start_day, expected",
    [
        ("weekly", 1, (WEEKLY, 1)),
        ("Weekly", 7, (WEEKLY, 7)),
        (" monthly ", 1, (MONTHLY, 1)),
        ("MONTHLY", 28, (MONTHLY, 28)),
    ],
)
def test_valid_mode_and_start_day_are_normalised(mode: str, start_day: int, expected: tuple[str, int]) -> None:
    assert validate_mode_and_start_day(mode, start_day) == expected


T0 = utc(2026, 1, 1)


def test_customer_registration_validates_the_zone_and_consolidation() -> None:
    with business_time(T0):
        with pytest.raises(ValidationError) as e:
            Customer.register("X", "X", "Nowhere/Town", "EUR")
        assert e.value.field == "timezone"
        c = Customer.register("X", "X", "Europe/Berlin", "EUR")
        with pytest.raises(ValidationError) as e:
            c.set_consolidation("weekly", 8, date(2026, 1, 5))
        assert e.value.field == "start_day"
        with pytest.raises(ValidationError) as e:
            c.set_consolidation("monthly", 29, date(2026, 1, 5))
        assert e.value.field == "start_day"
        with pytest.raises(ValidationError) as e:
            c.set_consolidation("fortnightly", 1, date(2026, 1, 5))
        assert e.value.field == "consolidation"
    # nothing but the registration was recorded
    assert len(c.collect_events()) == 1


# ============================================================================================ routing
def _customer(tz: str, mode: str = "weekly", start_day: int = 1, frm: date = date(2026, 1, 5), approved: bool = True) -> Customer:
    with business_time(T0):
        c = Customer.register("C-" + tz, "C", tz, "EUR", 14, approved)
        c.set_consolidation(mode, start_day, frm)
    return c


def test_routing_uses_the_local_date_in_the_customers_zone() -> None:
    berlin = _customer("Europe/Berlin")
    ny = _customer("America/New_York")
    # Sunday 2026-01-11 23:30 UTC: Monday 00:30 in Berlin (next week), Sunday 18:30 in New York
    instant = utc(2026, 1, 11, 23, 30)
    b = berlin.route(instant)
    n = ny.route(instant)
    assert b is not None and n is not None
    assert (b.period.start, b.period.end, b.period.label) == (date(2026, 1, 12), date(2026, 1, 19), "2026-W03")
    assert (n.period.start, n.period.end, n.period.label) == (date(2026, 1, 5), date(2026, 1, 12), "2026-W02")
    assert b.customer_id == berlin.id and b.regime == 1
    # the derived consolidated invoice id depends on customer, regime and period start only
    assert berlin.route(utc(2026, 1, 14, 12)).consolidated_invoice_id == b.consolidated_invoice_id
    assert b.consolidated_invoice_id != n.consolidated_invoice_id


def test_routing_before_the_effective_date_stays_individual() -> None:
    # effective from Wednesday 2026-01-07 in New York: the first period is still [01-05, 01-12)
    c = _customer("America/New_York", frm=date(2026, 1, 7))
    assert c.cursor_period().period.start == date(2026, 1, 5)
    assert c.route(utc(2026, 1, 6, 12)) is None
    # 2026-01-07 03:00 UTC is still 2026-01-06 in New York
    assert c.route(utc(2026, 1, 7, 3)) is None
    ref = c.route(utc(2026, 1, 7, 5))
    assert ref is not None and ref.period.start == date(2026, 1, 5)


def test_routing_without_consolidation_stays_individual() -> None:
    with business_time(T0):
        c = Customer.register("NONE", "N", "Europe/Berlin", "EUR")
    assert c.route(utc(2026, 1, 6)) is None
    assert c.cursor_period() is None
    assert c.closable_periods(utc(2027, 1, 1)) == []


def test_monthly_routing() -> None:
    c = _customer("Asia/Kolkata", mode="monthly", start_day=28, frm=date(2026, 1, 1))
    ref = c.route(utc(2026, 1, 27, 18, 29))  # 23:59 on Jan 27 in Kolkata
    assert (ref.period.start, ref.period.end, ref.period.label) == (date(2025, 12, 28), date(2026, 1, 28), "2025-M12")
    ref = c.route(utc(2026, 1, 27, 18, 30))  # midnight of Jan 28 in Kolkata
    assert (ref.period.start, ref.period.end, ref.period.label) == (date(2026, 1, 28), date(2026, 2, 28), "2026-M01")


def test_closable_periods_close_at_local_midnight_of_the_end_oldest_first() -> None:
    c = _customer("America/New_York", frm=date(2013, 3, 4))
    # the week [2013-03-04, 2013-03-11) ends at local midnight, EDT already: 04:00 UTC
    assert c.closable_periods(utc(2013, 3, 11, 3, 59, 59)) == []
    got = c.closable_periods(utc(2013, 3, 11, 4))
    assert [(r.period.start, closes) for r, closes in got] == [(date(2013, 3, 4), utc(2013, 3, 11, 4))]
    got = c.closable_periods(utc(2013, 3, 25, 4))
    assert [(r.period.label, closes) for r, closes in got] == [
        ("2013-W10", utc(2013, 3, 11, 4)),
        ("2013-W11", utc(2013, 3, 18, 4)),
        ("2013-W12", utc(2013, 3, 25, 4)),
    ]
    # asking does not move the cursor
    assert c.cursor_period().period.start == date(2013, 3, 4)


def test_unapproved_customers_have_no_closable_periods() -> None:
    c = _customer("Europe/Berlin", approved=False)
    assert c.closable_periods(utc(2026, 3, 1)) == []
    with business_time(utc(2026, 3, 1)):
        assert c.approve() is True
    assert len(c.closable_periods(utc(2026, 3, 1))) == 7  # W02 .. W08 (closes 2026-02-23)


def test_late_arrival_routes_to_the_first_open_period() -> None:
    c = _customer("Europe/Berlin")
    closes = start_of_day(date(2026, 1, 12), "Europe/Berlin")
    with business_time(closes):
        ref = c.cursor_period()
        c.close_cursor_period(closes, None)
    assert ref.period.start == date(2026, 1, 5)
    late = c.route(utc(2026, 1, 7, 12))  # its natural period is closed
    assert late is not None and late.period.start == date(2026, 1, 12)
    assert late == c.cursor_period()
    # an invoice of a later, still open period goes to its own period
    future = c.route(utc(2026, 1, 21, 12))
    assert future.period.start == date(2026, 1, 19)


def test_disabling_ends_routing_at_the_instant() -> None:
    c = _customer("Europe/Berlin")
    ends = utc(2026, 1, 8, 12)
    with business_time(ends):
        assert c.disable_consolidation(ends) is True
        assert c.disable_consolidation(ends) is False
    assert c.route(utc(2026, 1, 8, 11, 59)).period.start == date(2026, 1, 5)
    assert c.route(ends) is None
    assert c.route(utc(2026, 1, 20)) is None
    # the running period is truncated: it closes at the disabling instant, then no period is left
    got = c.closable_periods(utc(2026, 2, 1))
    assert [(r.period.start, closes) for r, closes in got] == [(date(2026, 1, 5), ends)]
    assert c.effective_end(got[0][0]) == date(2026, 1, 9)


def test_setting_consolidation_cannot_rewrite_closed_periods() -> None:
    c = _customer("Europe/Berlin")
    closes = start_of_day(date(2026, 1, 12), "Europe/Berlin")
    with business_time(closes):
        c.close_cursor_period(closes, None)
        with pytest.raises(Conflict) as e:
            c.set_consolidation("monthly", 1, date(2026, 1, 10))
    assert e.value.field == "effective_from"
