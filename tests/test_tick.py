"""The clock tick on both backends: closing consolidation periods, numbering, catch-up, idempotency,
dry runs, late arrivals, cancellations, disabling, overdue marking and payments (issue 2).

Every test runs against a real, fresh store (SQLite file and PostgreSQL schema) through the Python API,
at fixed business instants.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from commands.consolidated import pay_consolidated
from commands.customers import (
    AddCustomer,
    add_customer,
    approve_customer,
    disable_consolidation,
    set_consolidation,
)
from commands.individual_invoices import cancel_invoice, make_record, record_invoice, record_invoices
from domain.errors import Conflict, ValidationError
from projections import queries, registry
from projections import runner as projection_runner
from scheduler.tick import tick

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
MONDAY = date(2026, 1, 5)  # 2026-W02 starts


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def add(
    store,
    ref: str,
    tz: str = "Europe/Berlin",
    *,
    mode: str | None = "weekly",
    start_day: int = 1,
    frm: date | None = MONDAY,
    terms: int = 14,
    approved: bool = True,
    currency: str = "EUR",
    at: datetime = T0,
) -> None:
    add_customer(store, AddCustomer(ref, f"Customer {ref}", tz, currency, terms, approved), at)
    if mode is not None:
        set_consolidation(store, ref, mode, start_day, frm, at)


def rec(store, number: str, ref: str, issued_at: datetime, amount: str, currency: str = "EUR", at: datetime | None = None) -> str:
    """Record an invoice, by default at its own issue instant."""
    return record_invoice(store, make_record(number, ref, issued_at, amount, currency), at or issued_at)


def catch_up(store) -> None:
    """Bring the read models up to date (commands called through the Python API do not)."""
    projection_runner.run(store, registry.ALL)


def consolidated(store, customer: str | None = None, include_open: bool = False) -> list[dict]:
    catch_up(store)
    return queries.list_consolidated(store.read_engine, customer=customer, include_open=include_open)


def by_number(store) -> dict[str, dict]:
    return {r["number"]: r for r in consolidated(store)}


def individual(store, customer: str | None = None) -> dict[str, dict]:
    catch_up(store)
    return {r["number"]: r for r in queries.list_individual(store.read_engine, customer=customer)}


def issued(summary) -> int:
    return summary.counts.get("consolidation", {}).get("issued", 0)


# ============================================================================================ closing instant
def test_a_period_closes_only_once_its_local_end_has_passed(store):
    add(store, "NY", "America/New_York")
    add(store, "BER", "Europe/Berlin")
    rec(store, "NY-1", "NY", utc(2026, 1, 7, 15), "10.00", at=utc(2026, 1, 7, 15))
    rec(store, "BER-1", "BER", utc(2026, 1, 7, 15), "20.00")

    # Berlin's week [01-05, 01-12) ends at 2026-01-11T23:00Z, New York's at 2026-01-12T05:00Z
    s = tick(store, utc(2026, 1, 11, 22, 59, 59))
    assert issued(s) == 0 and s.events == 0
    assert consolidated(store) == []

    s = tick(store, utc(2026, 1, 11, 23))
    assert [d["number"] for d in s.issued] == ["CONS-2026-W02-001"]
    assert [(r["customer"], r["total"]) for r in consolidated(store)] == [("BER", "20.00")]

    s = tick(store, utc(2026, 1, 12, 4, 59, 59))
    assert issued(s) == 0 and s.events == 0

    s = tick(store, utc(2026, 1, 12, 5))
    assert [(d["number"], d["customer"], d["total"]) for d in s.issued] == [("CONS-2026-W02-002", "NY", "10.00")]
    ny = consolidated(store, "NY")[0]
    assert (ny["period_start"], ny["period_end"], ny["issue_date"], ny["count"]) == ("2026-01-05", "2026-01-12", "2026-01-12", 1)


def test_period_end_across_a_dst_change_closes_at_local_midnight(store):
    # New York switched to EDT on 2013-03-10: the week [03-04, 03-11) ends at 2013-03-11T04:00Z, not 05:00Z
    add(store, "NY", "America/New_York", frm=date(2013, 3, 4), at=utc(2013, 3, 1))
    rec(store, "F-1", "NY", utc(2013, 3, 10, 12), "99.00", currency="EUR")
    assert issued(tick(store, utc(2013, 3, 11, 3, 59, 59))) == 0
    s = tick(store, utc(2013, 3, 11, 4))
    assert [d["number"] for d in s.issued] == ["CONS-2013-W10-001"]
    assert consolidated(store)[0]["issue_date"] == "2013-03-11"


def test_an_open_period_gathers_until_it_closes(store):
    add(store, "BER")
    rec(store, "B-1", "BER", utc(2026, 1, 5, 9), "1.00")
    tick(store, utc(2026, 1, 9))  # mid-week: nothing closes
    rec(store, "B-2", "BER", utc(2026, 1, 11, 22, 59), "2.00")  # 23:59 Sunday in Berlin: still this week
    rec(store, "B-3", "BER", utc(2026, 1, 11, 23), "4.00")  # Monday 00:00 in Berlin: next week
    tick(store, utc(2026, 1, 12))
    rows = consolidated(store)
    assert [(r["number"], r["count"], r["total"]) for r in rows] == [("CONS-2026-W02-001", 2, "3.00")]
    inv = individual(store)
    assert inv["B-1"]["consolidated_number"] == inv["B-2"]["consolidated_number"] == "CONS-2026-W02-001"
    assert inv["B-3"]["consolidated_number"] is None


# ============================================================================================ approval
def test_unapproved_customers_are_not_closed_until_approved_then_caught_up(store):
    add(store, "OK")
    add(store, "WAIT", approved=False)
    for week in range(3):  # W02, W03, W04
        day = MONDAY + timedelta(days=7 * week + 1)
        rec(store, f"OK-{week}", "OK", datetime(day.year, day.month, day.day, 10, tzinfo=BERLIN), "10.00")
        rec(store, f"W-{week}", "WAIT", datetime(day.year, day.month, day.day, 10, tzinfo=BERLIN), f"{week + 1}.00")

    s = tick(store, utc(2026, 1, 27))
    assert sorted(d["customer"] for d in s.issued) == ["OK", "OK", "OK"]
    assert consolidated(store, "WAIT") == []
    assert tick(store, utc(2026, 1, 28)).events == 0

    assert approve_customer(store, "WAIT", utc(2026, 1, 28)) is True
    s = tick(store, utc(2026, 1, 28))
    assert [(d["number"], d["customer"], d["total"]) for d in s.issued] == [
        ("CONS-2026-W02-002", "WAIT", "1.00"),
        ("CONS-2026-W03-002", "WAIT", "2.00"),
        ("CONS-2026-W04-002", "WAIT", "3.00"),
    ]
    rows = consolidated(store, "WAIT")
    # issue dates are the period ends, not the (late) approval or tick
    assert [r["issue_date"] for r in rows] == ["2026-01-12", "2026-01-19", "2026-01-26"]


def test_withdrawn_approval_stops_closing(store):
    add(store, "C")
    rec(store, "C-1", "C", utc(2026, 1, 6, 10), "5.00")
    approve_customer(store, "C", utc(2026, 1, 7), approved=False)
    s = tick(store, utc(2026, 1, 20))
    assert issued(s) == 0 and s.events == 0
    approve_customer(store, "C", utc(2026, 1, 21))
    s = tick(store, utc(2026, 1, 21))
    assert [d["number"] for d in s.issued] == ["CONS-2026-W02-001"]


# ============================================================================================ catch-up
def test_one_tick_catches_up_many_missed_periods_oldest_first(store):
    add(store, "BER")
    weeks = 12
    for week in range(weeks):
        day = MONDAY + timedelta(days=7 * week + 2)
        rec(store, f"B-{week:02d}", "BER", datetime(day.year, day.month, day.day, 12, tzinfo=BERLIN), f"{week + 1}.00")
    s = tick(store, datetime(2026, 3, 30, 0, tzinfo=BERLIN))  # closes W02 .. W13 (ends 2026-03-30)
    assert issued(s) == weeks
    assert [d["number"] for d in s.issued] == [f"CONS-2026-W{w:02d}-001" for w in range(2, 2 + weeks)]
    assert [d["total"] for d in s.issued] == [f"{w + 1}.00" for w in range(weeks)]
    assert [d["issue_date"] for d in s.issued] == [(MONDAY + timedelta(days=7 * (w + 1))).isoformat() for w in range(weeks)]
    rows = consolidated(store)
    assert [r["period_start"] for r in rows] == sorted(r["period_start"] for r in rows)
    assert len(rows) == weeks
    # the next period is still open
    assert tick(store, datetime(2026, 3, 30, 0, tzinfo=BERLIN)).events == 0


def test_catch_up_interleaves_customers_by_closing_instant(store):
    add(store, "A-MONTHLY", mode="monthly", start_day=1, frm=date(2026, 1, 1))
    add(store, "B-WEEKLY")
    for i, day in enumerate([date(2026, 1, 6), date(2026, 1, 20), date(2026, 2, 3), date(2026, 2, 17)]):
        when = datetime(day.year, day.month, day.day, 8, tzinfo=BERLIN)
        rec(store, f"M-{i}", "A-MONTHLY", when, "100.00")
        rec(store, f"W-{i}", "B-WEEKLY", when, "1.00")
    s = tick(store, utc(2026, 3, 2))
    got = [(d["issue_date"], d["customer"], d["number"]) for d in s.issued]
    assert got == sorted(got)  # oldest closing instant first
    assert ("2026-02-01", "A-MONTHLY", "CONS-2026-M01-001") in got
    assert ("2026-03-01", "A-MONTHLY", "CONS-2026-M02-001") in got
    monthly = consolidated(store, "A-MONTHLY")
    assert [(r["period_start"], r["period_end"], r["count"], r["total"]) for r in monthly] == [
        ("2026-01-01", "2026-02-01", 2, "200.00"),
        ("2026-02-01", "2026-03-01", 2, "200.00"),
    ]


# ============================================================================================ idempotency, dry run
def test_a_second_tick_at_the_same_instant_writes_nothing(store):
    add(store, "A")
    add(store, "B", "Asia/Kolkata")
    for i in range(5):
        rec(store, f"A-{i}", "A", utc(2026, 1, 5 + i * 3, 10), "12.34")
        rec(store, f"B-{i}", "B", utc(2026, 1, 5 + i * 3, 10), "1.50")
    at = utc(2026, 2, 20)
    first = tick(store, at)
    assert first.events > 0 and issued(first) > 0
    head = store.head()
    rows = consolidated(store, include_open=True)
    second = tick(store, at)
    assert second.events == 0
    assert second.issued == []
    assert issued(second) == 0
    assert store.head() == head
    assert consolidated(store, include_open=True) == rows


def test_dry_run_writes_nothing_and_reports_what_the_real_tick_does(store):
    add(store, "A", "America/New_York")
    add(store, "B", "Asia/Kolkata")
    add(store, "C", mode="monthly", start_day=1, frm=date(2026, 1, 1), terms=0)
    for i in range(6):
        rec(store, f"A-{i}", "A", utc(2026, 1, 5 + i * 4, 10), "10.00")
        rec(store, f"B-{i}", "B", utc(2026, 1, 5 + i * 4, 10), "0.00" if i == 2 else "2.00")
        rec(store, f"C-{i}", "C", utc(2026, 1, 5 + i * 4, 10), "7.77")
    cancel_invoice(store, "A-1", utc(2026, 1, 9, 12))
    at = utc(2026, 2, 10)
    head = store.head()
    dry = tick(store, at, dry_run=True)
    assert store.head() == head
    assert consolidated(store) == []
    assert dry.dry_run is True and dry.events > 0 and issued(dry) > 0

    real = tick(store, at)
    assert store.head() - head == real.events  # SQLite and PostgreSQL alike: one id per event here
    assert real.events == dry.events
    assert real.counts == dry.counts
    assert real.issued == dry.issued
    assert sorted(r["number"] for r in consolidated(store)) == sorted(d["number"] for d in dry.issued)

    # and a dry run after the real tick has nothing to do
    again = tick(store, at, dry_run=True)
    assert again.events == 0 and again.issued == []


def test_dry_run_reports_overdue_marking_too(store):
    add(store, "A", terms=7)
    rec(store, "A-1", "A", utc(2026, 1, 6, 10), "10.00")
    tick(store, utc(2026, 1, 12))  # issued 2026-01-12, due 01-19, overdue from 01-20 00:00 Berlin
    dry = tick(store, utc(2026, 1, 21), dry_run=True)
    assert dry.counts.get("overdue", {}).get("marked") == 1
    assert consolidated(store)[0]["status"] == "PENDING"
    real = tick(store, utc(2026, 1, 21))
    assert real.counts == dry.counts and real.events == dry.events
    assert consolidated(store)[0]["status"] == "OVERDUE"


# ============================================================================================ numbering
def test_numbers_are_gapless_per_label_in_closing_instant_then_reference_order(store):
    # Same label 2026-W02 for all four; Kolkata's week ends first (2026-01-11T18:30Z), then Berlin
    # (23:00Z), then New York (2026-01-12T05:00Z). References are chosen against that order.
    add(store, "AAA-NY", "America/New_York")
    add(store, "BBB-NY", "America/New_York")
    add(store, "CCC-EMPTY", "America/New_York")  # nothing to invoice: takes no number
    add(store, "YYY-BER", "Europe/Berlin")
    add(store, "ZZZ-KOL", "Asia/Kolkata")
    when = utc(2026, 1, 7, 12)
    for ref in ("BBB-NY", "ZZZ-KOL", "AAA-NY", "YYY-BER"):
        rec(store, f"{ref}-1", ref, when, "10.00")
    s = tick(store, utc(2026, 1, 13))
    assert [(d["number"], d["customer"]) for d in s.issued] == [
        ("CONS-2026-W02-001", "ZZZ-KOL"),
        ("CONS-2026-W02-002", "YYY-BER"),
        ("CONS-2026-W02-003", "AAA-NY"),
        ("CONS-2026-W02-004", "BBB-NY"),
    ]
    assert s.counts["consolidation"]["periods_closed"] == 5
    assert s.counts["consolidation"]["empty_periods"] == 1


def test_numbers_are_the_same_when_the_label_is_closed_over_several_ticks(store):
    add(store, "AAA-NY", "America/New_York")
    add(store, "ZZZ-KOL", "Asia/Kolkata")
    add(store, "MMM-LATE", "Europe/Berlin", approved=False)
    for ref in ("AAA-NY", "ZZZ-KOL", "MMM-LATE"):
        rec(store, f"{ref}-1", ref, utc(2026, 1, 7, 12), "10.00")
    # a tick between the two closing instants issues Kolkata's only
    s = tick(store, utc(2026, 1, 12))
    assert [(d["number"], d["customer"]) for d in s.issued] == [("CONS-2026-W02-001", "ZZZ-KOL")]
    s = tick(store, utc(2026, 1, 12, 6))
    assert [(d["number"], d["customer"]) for d in s.issued] == [("CONS-2026-W02-002", "AAA-NY")]
    approve_customer(store, "MMM-LATE", utc(2026, 1, 20))
    s = tick(store, utc(2026, 1, 20))
    assert [(d["number"], d["customer"]) for d in s.issued] == [("CONS-2026-W02-003", "MMM-LATE")]
    assert sorted(by_number(store)) == [f"CONS-2026-W02-00{i}" for i in (1, 2, 3)]


def test_monthly_number_format_and_series_per_label(store):
    add(store, "M1", mode="monthly", start_day=1, frm=date(2026, 1, 1))
    add(store, "M2", mode="monthly", start_day=1, frm=date(2026, 1, 1))
    add(store, "W", "Europe/Berlin")
    for ref in ("M1", "M2", "W"):
        rec(store, f"{ref}-jan", ref, utc(2026, 1, 15, 12), "3.00")
        rec(store, f"{ref}-feb", ref, utc(2026, 2, 15, 12), "4.00")
    tick(store, utc(2026, 3, 2))
    numbers = sorted(by_number(store))
    assert "CONS-2026-M01-001" in numbers and "CONS-2026-M01-002" in numbers
    assert "CONS-2026-M02-001" in numbers and "CONS-2026-M02-002" in numbers
    assert "CONS-2026-W03-001" in numbers and "CONS-2026-W07-001" in numbers
    assert by_number(store)["CONS-2026-M01-001"]["customer"] == "M1"
    assert by_number(store)["CONS-2026-M02-002"]["customer"] == "M2"
    assert len(numbers) == 6


# ============================================================================================ nothing to invoice
def test_a_period_totalling_zero_issues_nothing(store):
    add(store, "Z")
    rec(store, "Z-1", "Z", utc(2026, 1, 6, 10), "0.00")
    rec(store, "Z-2", "Z", utc(2026, 1, 7, 10), "0")
    s = tick(store, utc(2026, 1, 13))
    assert issued(s) == 0
    assert s.counts["consolidation"] == {"periods_closed": 1, "empty_periods": 1}
    assert consolidated(store) == []
    (period,) = consolidated(store, include_open=True)
    assert period["status"] == "CLOSED" and period["number"] is None
    assert all(r["consolidated_number"] is None for r in individual(store).values())


def test_a_period_with_only_cancelled_invoices_issues_nothing(store):
    add(store, "X")
    add(store, "Y")  # closes at the same instant, after X (reference order)
    rec(store, "X-1", "X", utc(2026, 1, 6, 10), "10.00")
    rec(store, "X-2", "X", utc(2026, 1, 7, 10), "20.00")
    rec(store, "Y-1", "Y", utc(2026, 1, 7, 10), "1.00")
    cancel_invoice(store, "X-1", utc(2026, 1, 8))
    cancel_invoice(store, "X-2", utc(2026, 1, 8))
    # and one recorded as cancelled right away
    record_invoice(store, make_record("X-3", "X", utc(2026, 1, 8, 10), "30.00", "EUR", status="cancelled"), utc(2026, 1, 8, 10))
    s = tick(store, utc(2026, 1, 13))
    assert s.counts["consolidation"] == {"periods_closed": 2, "empty_periods": 1, "issued": 1}
    # X issues nothing and takes no number: Y's invoice is the label's first
    assert [(r["number"], r["customer"], r["total"]) for r in consolidated(store)] == [("CONS-2026-W02-001", "Y", "1.00")]
    inv = individual(store, "X")
    assert {n: (r["status"], r["consolidated_number"]) for n, r in inv.items()} == {
        "X-1": ("CANCELLED", None), "X-2": ("CANCELLED", None), "X-3": ("CANCELLED", None)
    }


# ============================================================================================ consolidate_from
def test_invoices_issued_before_consolidate_from_stay_individual(store):
    # effective from Wednesday 2026-01-07 (New York): the first period is still [01-05, 01-12)
    add(store, "NY", "America/New_York", frm=date(2026, 1, 7))
    rec(store, "before", "NY", utc(2026, 1, 6, 15), "100.00")
    rec(store, "before-local", "NY", utc(2026, 1, 7, 3), "200.00")  # 22:00 on 01-06 in New York
    rec(store, "on", "NY", utc(2026, 1, 7, 5), "1.00")  # 00:00 on 01-07 in New York
    rec(store, "after", "NY", utc(2026, 1, 9, 15), "2.00")
    tick(store, utc(2026, 1, 13))
    (row,) = consolidated(store)
    assert (row["number"], row["count"], row["total"], row["period_start"]) == ("CONS-2026-W02-001", 2, "3.00", "2026-01-05")
    inv = individual(store)
    assert inv["before"]["consolidated_number"] is None
    assert inv["before-local"]["consolidated_number"] is None
    assert inv["on"]["consolidated_number"] == inv["after"]["consolidated_number"] == "CONS-2026-W02-001"
    # they stay individual for good
    tick(store, utc(2026, 3, 1))
    assert individual(store)["before"]["consolidated_number"] is None
    assert len(consolidated(store)) == 1


# ============================================================================================ late arrival
def test_late_arrival_rolls_into_the_next_open_period(store):
    add(store, "L")
    rec(store, "L-1", "L", utc(2026, 1, 6, 10), "10.00")
    s = tick(store, utc(2026, 1, 12))
    assert [d["number"] for d in s.issued] == ["CONS-2026-W02-001"]
    # issued on 01-08 (week W02, already closed and invoiced), recorded on 01-14
    rec(store, "L-late", "L", utc(2026, 1, 8, 10), "5.00", at=utc(2026, 1, 14, 9))
    rec(store, "L-2", "L", utc(2026, 1, 15, 10), "1.00")
    assert by_number(store)["CONS-2026-W02-001"]["total"] == "10.00"
    s = tick(store, utc(2026, 1, 19))
    assert [(d["number"], d["count"], d["total"]) for d in s.issued] == [("CONS-2026-W03-001", 2, "6.00")]
    w2 = queries.show_consolidated(store.read_engine, "CONS-2026-W02-001")
    w3 = queries.show_consolidated(store.read_engine, "CONS-2026-W03-001")
    assert [line["number"] for line in w2["lines"]] == ["L-1"]
    assert [line["number"] for line in w3["lines"]] == ["L-late", "L-2"]
    assert w3["period_start"] == "2026-01-12" and w3["issue_date"] == "2026-01-19"
    assert individual(store)["L-late"]["consolidated_number"] == "CONS-2026-W03-001"


def test_late_arrival_after_several_closed_periods_goes_to_the_first_open_one(store):
    add(store, "L")
    tick(store, utc(2026, 2, 3))  # closes W02 .. W05 (all empty)
    assert consolidated(store) == []
    rec(store, "old", "L", utc(2026, 1, 6, 10), "3.00", at=utc(2026, 2, 3, 9))
    s = tick(store, utc(2026, 2, 9))
    assert [(d["number"], d["total"], d["issue_date"]) for d in s.issued] == [("CONS-2026-W06-001", "3.00", "2026-02-09")]


# ============================================================================================ cancellation
def test_cancelling_an_invoice_in_an_open_period_removes_it(store):
    add(store, "C")
    rec(store, "C-1", "C", utc(2026, 1, 6, 10), "10.00")
    rec(store, "C-2", "C", utc(2026, 1, 7, 10), "20.00")
    assert cancel_invoice(store, "C-1", utc(2026, 1, 8), "wrong") is True
    assert cancel_invoice(store, "C-1", utc(2026, 1, 8)) is False  # already cancelled: no-op
    tick(store, utc(2026, 1, 12))
    (row,) = consolidated(store)
    assert (row["count"], row["total"]) == (1, "20.00")
    shown = queries.show_consolidated(store.read_engine, row["number"])
    assert [line["number"] for line in shown["lines"]] == ["C-2"]
    inv = individual(store)
    assert inv["C-1"]["status"] == "CANCELLED" and inv["C-1"]["consolidated_number"] is None
    assert inv["C-2"]["consolidated_number"] == row["number"]


def test_cancelling_an_invoice_of_an_issued_consolidated_invoice_credits_its_line(store):
    """Issue 7: an individual invoice inside an issued consolidated invoice (which never changes) is
    cancelled and its line credited there, by a credit note in the company's CN series."""
    add(store, "C")
    rec(store, "C-1", "C", utc(2026, 1, 6, 10), "10.00")
    rec(store, "C-2", "C", utc(2026, 1, 7, 10), "5.50")
    tick(store, utc(2026, 1, 12))
    assert cancel_invoice(store, "C-1", utc(2026, 1, 13), "not flown") is True
    assert cancel_invoice(store, "C-1", utc(2026, 1, 13)) is False
    projection_runner.run(store, registry.ALL)
    notes = queries.list_invoices(store.read_engine, kind="CREDIT_NOTE")
    assert [(n["number"], n["references"], n["gross"], n["issue_date"], n["reason"]) for n in notes] == [
        ("CN-2026-000001", "CONS-2026-W02-001", "10.00", "2026-01-13", "not flown")]
    assert [ln["description"] for ln in notes[0]["lines"]] == ["C-1 (2026-01-06)"]
    (doc,) = queries.list_invoices(store.read_engine, kind="CONSOLIDATED")
    assert (doc["number"], doc["gross"], doc["credited"], doc["balance"], doc["status"]) == (
        "CONS-2026-W02-001", "15.50", "10.00", "5.50", "ISSUED")
    assert individual(store)["C-1"]["status"] == "CANCELLED"
    # the remaining line can be credited too; then the consolidated invoice is fully credited
    from commands.consolidated import credit_consolidated

    note = credit_consolidated(store, "CONS-2026-W02-001", utc(2026, 1, 14))
    assert (note.number, note.gross) == ("CN-2026-000002", Decimal("5.50"))
    projection_runner.run(store, registry.ALL)
    (doc,) = queries.list_invoices(store.read_engine, kind="CONSOLIDATED")
    assert (doc["status"], doc["balance"]) == ("CREDITED", "0.00")


# ============================================================================================ disabling
def test_disabling_mid_period_consolidates_the_pending_at_the_next_tick(store):
    add(store, "D")
    rec(store, "D-1", "D", utc(2026, 1, 6, 10), "10.00")
    rec(store, "D-2", "D", utc(2026, 1, 7, 10), "20.00")
    ends = utc(2026, 1, 8, 12)
    assert disable_consolidation(store, "D", ends) is True
    rec(store, "D-3", "D", utc(2026, 1, 9, 10), "40.00")  # after disabling: individual
    s = tick(store, utc(2026, 1, 8, 13))
    assert [(d["number"], d["count"], d["total"], d["issue_date"]) for d in s.issued] == [
        ("CONS-2026-W02-001", 2, "30.00", "2026-01-08")
    ]
    (row,) = consolidated(store)
    assert row["period_start"] == "2026-01-05" and row["period_end"] == "2026-01-09"
    for day in (10, 20, 28):
        rec(store, f"D-later-{day}", "D", utc(2026, 1, day, 10), "1.00")
    s = tick(store, utc(2026, 3, 1))
    assert s.issued == [] and "consolidation" not in s.counts
    assert s.counts == {"overdue": {"marked": 1}}
    inv = individual(store)
    assert inv["D-1"]["consolidated_number"] == "CONS-2026-W02-001"
    assert all(inv[n]["consolidated_number"] is None for n in ("D-3", "D-later-10", "D-later-20", "D-later-28"))
    (cust,) = [c for c in queries.list_customers(store.read_engine) if c["reference"] == "D"]
    assert cust["consolidation"] == "NONE" and cust["next_close_at"] is None


def test_disabling_with_missed_periods_closes_them_all_then_the_truncated_one(store):
    add(store, "D")
    rec(store, "D-1", "D", utc(2026, 1, 6, 10), "1.00")   # W02
    rec(store, "D-2", "D", utc(2026, 1, 13, 10), "2.00")  # W03
    rec(store, "D-3", "D", utc(2026, 1, 20, 10), "4.00")  # W04, before the disabling instant
    disable_consolidation(store, "D", utc(2026, 1, 21, 12))
    s = tick(store, utc(2026, 2, 1))
    assert [(d["number"], d["total"], d["issue_date"]) for d in s.issued] == [
        ("CONS-2026-W02-001", "1.00", "2026-01-12"),
        ("CONS-2026-W03-001", "2.00", "2026-01-19"),
        ("CONS-2026-W04-001", "4.00", "2026-01-21"),
    ]


def test_disabling_before_the_consolidation_takes_effect_leaves_no_malformed_period(store):
    # consolidation from Wednesday 2026-02-04 (first period [02-02, 02-09)), called off on 2026-01-10
    add(store, "F", frm=date(2026, 2, 4))
    rec(store, "F-1", "F", utc(2026, 1, 6, 10), "1.00")
    disable_consolidation(store, "F", utc(2026, 1, 10))
    rec(store, "F-2", "F", utc(2026, 2, 5, 10), "2.00")
    s = tick(store, utc(2026, 3, 1))
    assert s.issued == []
    for row in consolidated(store, include_open=True):
        # a period never ends before it starts; a regime called off before its first period began leaves
        # that period empty, [start, start), closed with nothing in it
        assert row["period_start"] <= row["period_end"], row
        if row["period_start"] == row["period_end"]:
            assert row["status"] == "CLOSED" and row["number"] is None and not row["count"], row
    assert all(r["consolidated_number"] is None for r in individual(store).values())


def test_changing_the_regime_mid_period_truncates_the_running_period(store):
    add(store, "R")
    rec(store, "R-1", "R", utc(2026, 1, 6, 10), "1.00")
    set_consolidation(store, "R", "monthly", 1, date(2026, 1, 8), utc(2026, 1, 7, 9))
    rec(store, "R-2", "R", utc(2026, 1, 7, 20), "2.00")  # 21:00 Berlin on 01-07: the weekly regime
    rec(store, "R-3", "R", utc(2026, 1, 7, 23), "4.00")  # 00:00 Berlin on 01-08: the monthly regime
    rec(store, "R-4", "R", utc(2026, 1, 30, 10), "8.00")
    s = tick(store, utc(2026, 2, 2))
    assert [(d["number"], d["count"], d["total"], d["issue_date"]) for d in s.issued] == [
        ("CONS-2026-W02-001", 2, "3.00", "2026-01-08"),
        ("CONS-2026-M01-001", 2, "12.00", "2026-02-01"),
    ]
    rows = by_number(store)
    assert (rows["CONS-2026-W02-001"]["period_start"], rows["CONS-2026-W02-001"]["period_end"]) == ("2026-01-05", "2026-01-08")
    assert (rows["CONS-2026-M01-001"]["period_start"], rows["CONS-2026-M01-001"]["period_end"]) == ("2026-01-01", "2026-02-01")


def test_a_regime_change_moving_many_pre_recorded_lines_still_ticks(store):
    # An airline records a week's scheduled flights in advance (500 invoices issued on 01-09 and 01-10),
    # then switches to monthly consolidation from 01-08: closing the truncated week moves all 500 lines.
    add(store, "BIG")
    rec(store, "BIG-early", "BIG", utc(2026, 1, 6, 10), "3.00")
    cmds = [make_record(f"BIG-{i:03d}", "BIG", utc(2026, 1, 9) + timedelta(minutes=5 * i), "1.00", "EUR") for i in range(500)]
    record_invoices(store, cmds, utc(2026, 1, 6, 12))
    set_consolidation(store, "BIG", "monthly", 1, date(2026, 1, 8), utc(2026, 1, 7))
    s = tick(store, utc(2026, 1, 9))
    assert [(d["number"], d["count"], d["total"]) for d in s.issued] == [("CONS-2026-W02-001", 1, "3.00")]
    s = tick(store, utc(2026, 2, 2))
    assert [(d["number"], d["count"], d["total"]) for d in s.issued] == [("CONS-2026-M01-001", 500, "500.00")]


def test_a_period_in_a_zone_that_skips_midnight_closes_at_the_jump(store):
    # America/Sao_Paulo went from 2018-11-04 00:00 (-03:00) straight to 01:00 (-02:00): that day began
    # at 03:00 UTC. Sunday-start weeks; payment terms 0.
    add(store, "SP", "America/Sao_Paulo", start_day=7, frm=date(2018, 10, 28), at=utc(2018, 10, 1), currency="BRL", terms=0)
    rec(store, "SP-1", "SP", utc(2018, 10, 30, 12), "10.00", currency="BRL")
    assert tick(store, utc(2018, 11, 4, 2, 59, 59)).issued == []
    s = tick(store, utc(2018, 11, 4, 3))
    assert [(d["number"], d["issue_date"]) for d in s.issued] == [("CONS-2018-W43-001", "2018-11-04")]
    row = by_number(store)["CONS-2018-W43-001"]
    assert (row["period_start"], row["period_end"], row["due_date"]) == ("2018-10-28", "2018-11-04", "2018-11-04")
    # due on 2018-11-04: overdue from 2018-11-05 00:00 -02:00
    assert "overdue" not in tick(store, utc(2018, 11, 5, 1, 59, 59)).counts
    assert tick(store, utc(2018, 11, 5, 2)).counts == {"overdue": {"marked": 1}}


# ============================================================================================ overdue, payments
def test_overdue_once_the_due_date_has_passed_then_paid(store):
    add(store, "P", terms=14)
    rec(store, "P-1", "P", utc(2026, 1, 6, 10), "100.00")
    tick(store, utc(2026, 1, 12))
    row = by_number(store)["CONS-2026-W02-001"]
    assert (row["issue_date"], row["due_date"], row["status"]) == ("2026-01-12", "2026-01-26", "PENDING")
    # due 2026-01-26: still PENDING for the whole due date (Berlin), OVERDUE from 01-27 00:00 Berlin
    s = tick(store, utc(2026, 1, 26, 22, 59, 59))
    assert "overdue" not in s.counts and by_number(store)["CONS-2026-W02-001"]["status"] == "PENDING"
    s = tick(store, utc(2026, 1, 26, 23))
    assert s.counts == {"overdue": {"marked": 1}} and s.events == 1
    assert by_number(store)["CONS-2026-W02-001"]["status"] == "OVERDUE"
    assert "overdue" not in tick(store, utc(2026, 1, 28)).counts  # marked once

    inv = pay_consolidated(store, "CONS-2026-W02-001", utc(2026, 2, 1), "40.00")
    assert inv.status == "OVERDUE"
    row = by_number(store)["CONS-2026-W02-001"]
    assert (row["status"], row["paid"], row["balance"]) == ("OVERDUE", "40.00", "60.00")
    with pytest.raises(ValidationError) as e:
        pay_consolidated(store, "CONS-2026-W02-001", utc(2026, 2, 2), "60.01")
    assert e.value.field == "amount"
    pay_consolidated(store, "CONS-2026-W02-001", utc(2026, 2, 3), "60.00")
    row = by_number(store)["CONS-2026-W02-001"]
    assert (row["status"], row["paid"], row["balance"]) == ("PAID", "100.00", "0.00")
    with pytest.raises(Conflict):
        pay_consolidated(store, "CONS-2026-W02-001", utc(2026, 2, 4), "1.00")


def test_partial_payment_keeps_pending_and_paid_in_time_is_never_overdue(store):
    add(store, "P", terms=14)
    rec(store, "P-1", "P", utc(2026, 1, 6, 10), "100.00")
    tick(store, utc(2026, 1, 12))
    head = store.head()
    with pytest.raises(ValidationError) as e:
        pay_consolidated(store, "CONS-2026-W02-001", utc(2026, 1, 13), "100.01")
    assert e.value.field == "amount"
    assert store.head() == head
    pay_consolidated(store, "CONS-2026-W02-001", utc(2026, 1, 13), "30.00")
    assert by_number(store)["CONS-2026-W02-001"]["status"] == "PENDING"
    pay_consolidated(store, "CONS-2026-W02-001", utc(2026, 1, 14))  # the open balance
    assert by_number(store)["CONS-2026-W02-001"]["status"] == "PAID"
    s = tick(store, utc(2026, 3, 1))
    assert "overdue" not in s.counts and s.issued == []
    assert by_number(store)["CONS-2026-W02-001"]["status"] == "PAID"


def test_partial_payment_does_not_prevent_overdue(store):
    add(store, "P", terms=0)
    rec(store, "P-1", "P", utc(2026, 1, 6, 10), "50.00")
    tick(store, utc(2026, 1, 12))
    pay_consolidated(store, "CONS-2026-W02-001", utc(2026, 1, 12, 1), "10.00")
    # terms 0: due on the issue date 2026-01-12, overdue from 2026-01-13 00:00 Berlin
    tick(store, utc(2026, 1, 12, 22, 59))
    assert by_number(store)["CONS-2026-W02-001"]["status"] == "PENDING"
    tick(store, utc(2026, 1, 12, 23))
    assert by_number(store)["CONS-2026-W02-001"]["status"] == "OVERDUE"


def test_due_date_uses_the_payment_terms_in_force_when_issued(store):
    from commands.customers import update_customer

    add(store, "T", terms=14)
    rec(store, "T-1", "T", utc(2026, 1, 6, 10), "10.00")
    tick(store, utc(2026, 1, 12))
    assert update_customer(store, "T", utc(2026, 1, 13), payment_terms_days=45) is True
    rec(store, "T-2", "T", utc(2026, 1, 14, 10), "10.00")
    tick(store, utc(2026, 1, 19))
    rows = by_number(store)
    assert rows["CONS-2026-W02-001"]["due_date"] == "2026-01-26"  # issued ones never change
    assert rows["CONS-2026-W03-001"]["due_date"] == "2026-03-05"  # 2026-01-19 + 45 days


def test_issue_date_is_the_period_end_even_when_the_tick_runs_weeks_late(store):
    add(store, "W", "America/New_York", terms=10)
    add(store, "M", "Asia/Kolkata", mode="monthly", start_day=28, frm=date(2026, 1, 1), terms=30)
    rec(store, "W-1", "W", utc(2026, 1, 7, 12), "10.00")
    rec(store, "M-1", "M", utc(2026, 1, 7, 12), "20.00")
    s = tick(store, utc(2026, 3, 15))
    rows = by_number(store)
    w = rows["CONS-2026-W02-001"]
    m = rows["CONS-2025-M12-001"]
    assert (w["period_start"], w["period_end"], w["issue_date"], w["due_date"]) == (
        "2026-01-05", "2026-01-12", "2026-01-12", "2026-01-22"
    )
    assert (m["period_start"], m["period_end"], m["issue_date"], m["due_date"]) == (
        "2025-12-28", "2026-01-28", "2026-01-28", "2026-02-27"
    )
    # both are long past due: the late tick marks them OVERDUE as it issues them
    assert w["status"] == m["status"] == "OVERDUE"
    assert s.counts["overdue"]["marked"] == 2


def test_record_invoices_in_bulk_then_tick(store):
    add(store, "BULK", "America/New_York")
    cmds = [
        make_record(f"BULK-{i:04d}", "BULK", utc(2026, 1, 5, 6) + timedelta(minutes=37 * i), "1.25", "EUR")
        for i in range(600)
    ]
    counts = record_invoices(store, cmds, utc(2026, 1, 20))
    assert counts["recorded"] == 600
    # recording them again changes nothing
    assert record_invoices(store, cmds, utc(2026, 1, 20))["unchanged"] == 600
    s = tick(store, utc(2026, 2, 1))
    total = sum(Decimal(r["total"]) for r in consolidated(store))
    assert total == Decimal("1.25") * 600
    assert sum(r["count"] for r in consolidated(store)) == 600
    assert issued(s) == len(consolidated(store))


# ============================================================================================ batches
def _many_customers(store, n: int, prefix: str = "N") -> list[str]:
    refs = [f"{prefix}{i:03d}" for i in range(n)]
    for ref in refs:
        add(store, ref)
    cmds = [make_record(f"{ref}-w{w}", ref, utc(2026, 1, 6 + 7 * w, 10), "1.00", "EUR") for ref in refs for w in range(3)]
    record_invoices(store, cmds, utc(2026, 1, 5))
    return refs


def test_numbers_stay_gapless_and_ordered_across_save_batches(store):
    refs = _many_customers(store, 120)  # 120 customers x 3 weeks: well over one batch of events
    s = tick(store, utc(2026, 1, 27))
    assert s.conflicts == 0
    assert issued(s) == 360
    for week in (2, 3, 4):
        got = [(d["number"], d["customer"]) for d in s.issued if d["number"].startswith(f"CONS-2026-W0{week}-")]
        assert got == [(f"CONS-2026-W0{week}-{i + 1:03d}", ref) for i, ref in enumerate(refs)]
    assert sum(Decimal(r["total"]) for r in consolidated(store)) == Decimal(360)


def test_dry_run_equals_the_real_tick_across_batches_with_moved_lines(store):
    # Customer MOVE recorded two invoices in advance (issued in the future); then it changed to monthly
    # consolidation from Thursday 2026-01-08: its week W02 is truncated at 2026-01-08 00:00 Berlin and the
    # line issued on 01-09 moves to the monthly period [01-01, 02-01), which closes on 02-01.
    add(store, "MOVE")
    rec(store, "MOVE-1", "MOVE", utc(2026, 1, 6, 10), "10.00", at=utc(2026, 1, 6, 11))
    rec(store, "MOVE-2", "MOVE", utc(2026, 1, 9, 10), "5.00", at=utc(2026, 1, 6, 11))
    set_consolidation(store, "MOVE", "monthly", 1, date(2026, 1, 8), utc(2026, 1, 7))
    # many other customers close periods in between: the tick saves in several batches
    _many_customers(store, 120)
    at = utc(2026, 2, 2)
    head = store.head()
    dry = tick(store, at, dry_run=True)
    assert store.head() == head
    real = tick(store, at)
    move = {d["number"]: (d["count"], d["total"]) for d in real.issued if d["customer"] == "MOVE"}
    assert move == {"CONS-2026-W02-001": (1, "10.00"), "CONS-2026-M01-001": (1, "5.00")}
    assert dry.counts == real.counts
    assert dry.issued == real.issued
    assert dry.events == real.events
