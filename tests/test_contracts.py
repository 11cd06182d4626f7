"""Recurring contracts on both backends, through the Python API (issue 3).

A contract bills its positions every interval; the tick creates one invoice per due run date (catching up
missed ones oldest first), numbers issued invoices from a gapless series per company, kind and year, and
records every run on the contract (SUCCESS, SKIPPED, FAILED). Invoices then live their own lifecycle:
DRAFT → ISSUED → PAID, OVERDUE (by a tick) → PAID, VOID, credit notes.

Every test runs against a real, fresh store (SQLite file and PostgreSQL schema) at fixed business instants.
Commands called through the Python API do not update the read models: helpers bring them up to date
before querying.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta

from commands.contracts import (
    CreateContract,
    add_position,
    change_position,
    create_contract,
    end_contract,
    remove_position,
    set_active,
    update_contract,
)
from commands.customers import AddCustomer, add_customer
from commands.invoices import credit_invoice, finalize_invoice, mark_sent, pay_invoice, void_invoice
from domain.contract import make_position
from domain.errors import Conflict, NotFound, ValidationError
from domain.money import AMOUNT_LIMIT
from domain.schedules import next_run_after, nth_run
from projections import queries, registry
from projections import runner as projection_runner
from scheduler.tick import tick

UTC = timezone.utc
T0 = datetime(2024, 1, 1, tzinfo=UTC)  # when customers and contracts are set up


# ============================================================================================ helpers
def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def noon(y: int, m: int, d: int) -> datetime:
    """12:00 UTC: the same local date in Berlin, London and New York."""
    return utc(y, m, d, 12)


#: The companies (tenants) these tests bill from: customers belong to a company (issue 7), so each has its own.
COMPANIES = ("ACME", "ALPHA", "BETA", "OTHER")


def customer(store, ref: str = "CUST", tz: str = "Europe/Berlin", currency: str = "EUR", terms: int = 14) -> None:
    for company in COMPANIES:
        add_customer(store, AddCustomer(ref, f"{ref} Ltd", tz, currency, terms, company=company), T0)


def pos(n: int, description: str, qty: str, price: str, tax: str, currency: str = "EUR", **kw) -> dict:
    return make_position(n, description, qty, price, tax, currency, **kw)


RENT = (("Office rent", "1", "1000.00", "19"),)


def contract(
    store,
    ref: str,
    start: date,
    *,
    positions: list[dict] | None = None,
    company: str = "ACME",
    cust: str = "CUST",
    interval: str = "monthly",
    end: date | None = None,
    next_run: date | None = None,
    currency: str | None = None,
    terms: int | None = None,
    auto_finalize: bool = True,
    auto_send: bool = False,
    at: datetime = T0,
) -> bool:
    if positions is None:
        positions = [pos(1, "Office rent", "1", "1000.00", "19", currency or "EUR")]
    cmd = CreateContract(ref, company, cust, f"Contract {ref}", interval, start, end, next_run, currency, terms,
                         auto_finalize, auto_send, tuple(positions))
    return create_contract(store, cmd, at)


def catch_up(store) -> None:
    projection_runner.run(store, registry.ALL)


def invoices(store, **filters) -> list[dict]:
    catch_up(store)
    return queries.list_invoices(store.read_engine, **filters)


def of_contract(store, ref: str) -> list[dict]:
    """The invoices of contract ``ref`` in run-date order."""
    rows = [r for r in invoices(store, kind="INVOICE") if r["source"] == f"contract:{ref}"]
    return sorted(rows, key=lambda r: r["issue_date"])


def one(store, number: str) -> dict:
    rows = invoices(store, number=number)
    assert len(rows) == 1, rows
    return rows[0]


def runs(store, ref: str | None = None, company: str | None = None) -> list[dict]:
    catch_up(store)
    return queries.list_runs(store.read_engine, ref, company)


def contract_row(store, ref: str) -> dict:
    catch_up(store)
    rows = queries.list_contracts(store.read_engine, reference=ref)
    assert len(rows) == 1
    return rows[0]


def outbox(store, include_sent: bool = False) -> list[dict]:
    catch_up(store)
    return queries.list_outbox(store.read_engine, include_sent)


def taxes(inv: dict) -> dict[str, tuple[str, str, str]]:
    """The tax breakdown of an invoice by rate name: (percent, base, tax)."""
    out = {t["tax_rate"]: (t["tax_percent"], t["base"], t["tax"]) for t in inv["tax_breakdown"]}
    assert len(out) == len(inv["tax_breakdown"])
    return out


def dates(rows: list[dict]) -> list[str]:
    return [r["issue_date"] for r in rows]


def d(text: str) -> date:
    return date.fromisoformat(text)


# ============================================================================================ the reference example
def test_reference_example_monthly_office_rent(store):
    customer(store, terms=14)
    assert contract(store, "RENT-1", date(2026, 1, 1)) is True

    s = tick(store, noon(2026, 1, 1))
    assert s.counts["contract"] == {"issued": 1}
    assert [(x["number"], x["run_date"], x["net"], x["tax"], x["gross"]) for x in s.issued] == [
        ("INV-2026-000001", "2026-01-01", "1000.00", "190.00", "1190.00")
    ]
    inv = one(store, "INV-2026-000001")
    assert inv["kind"] == "INVOICE" and inv["status"] == "ISSUED"
    assert (inv["company"], inv["customer"], inv["source"], inv["currency"]) == ("ACME", "CUST", "contract:RENT-1", "EUR")
    assert (inv["issue_date"], inv["due_date"]) == ("2026-01-01", "2026-01-15")
    assert (inv["period_start"], inv["period_end"]) == ("2026-01-01", "2026-02-01")
    assert (inv["net"], inv["tax"], inv["gross"], inv["balance"]) == ("1000.00", "190.00", "1190.00", "1190.00")
    assert inv["tax_breakdown"] == [{"tax_rate": "standard", "tax_percent": "19", "base": "1000.00", "tax": "190.00"}]
    assert [(ln["position"], ln["description"], ln["quantity"], ln["unit_price"], ln["net"], ln["tax_percent"]) for ln in inv["lines"]] == [
        (1, "Office rent", "1", "1000.00", "1000.00", "19")
    ]

    for month in range(2, 7):
        tick(store, noon(2026, month, 1))
    rows = of_contract(store, "RENT-1")
    assert [r["number"] for r in rows] == [f"INV-2026-{i:06d}" for i in range(1, 7)]
    assert dates(rows) == [f"2026-{m:02d}-01" for m in range(1, 7)]
    assert {(r["net"], r["tax"], r["gross"]) for r in rows} == {("1000.00", "190.00", "1190.00")}
    # each earlier one is past its due date (the 15th) by the next month's tick
    assert [r["status"] for r in rows] == ["OVERDUE"] * 5 + ["ISSUED"]
    c = contract_row(store, "RENT-1")
    assert (c["last_run_date"], c["next_run_date"], c["active"], c["parked"]) == ("2026-06-01", "2026-07-01", True, None)
    assert c["interval"] == "MONTHLY" and c["payment_terms_days"] == 14


# ============================================================================================ schedules
def test_run_dates_are_start_plus_n_intervals_as_relativedelta_computes_them():
    starts = [date(2024, 1, 31), date(2024, 2, 29), date(2025, 11, 30), date(2026, 8, 31), date(2026, 3, 30), date(2027, 12, 31)]
    for start in starts:
        for interval, months in (("MONTHLY", 1), ("QUARTERLY", 3), ("SEMI_ANNUAL", 6), ("ANNUAL", 12)):
            expected = [start + relativedelta(months=months * n) for n in range(40)]
            assert [nth_run(start, interval, n) for n in range(40)] == expected
            # the run after each run date, and after any date in between, is the next scheduled one
            for n in range(39):
                assert next_run_after(start, interval, expected[n]) == expected[n + 1]
                assert next_run_after(start, interval, expected[n + 1] - timedelta(days=1)) == expected[n + 1]


def test_month_ends_never_drift_to_the_28th_and_leap_years_get_feb_29(store):
    customer(store)
    contract(store, "END-2026", date(2026, 1, 31))
    contract(store, "END-2028", date(2028, 1, 31))
    tick(store, noon(2026, 12, 31))
    assert dates(of_contract(store, "END-2026")) == [
        "2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31", "2026-06-30",
        "2026-07-31", "2026-08-31", "2026-09-30", "2026-10-31", "2026-11-30", "2026-12-31",
    ]
    rows = of_contract(store, "END-2026")
    # each period ends where the next one starts
    assert [r["period_end"] for r in rows[:-1]] == [r["period_start"] for r in rows[1:]]
    assert rows[-1]["period_end"] == "2027-01-31"
    assert of_contract(store, "END-2028") == []

    tick(store, noon(2028, 4, 30))
    assert dates(of_contract(store, "END-2028")) == ["2028-01-31", "2028-02-29", "2028-03-31", "2028-04-30"]
    assert dates(of_contract(store, "END-2026"))[12:15] == ["2027-01-31", "2027-02-28", "2027-03-31"]
    assert contract_row(store, "END-2028")["next_run_date"] == "2028-05-31"


def test_quarterly_from_nov_30(store):
    customer(store)
    contract(store, "Q", date(2025, 11, 30), interval="quarterly")
    tick(store, noon(2028, 3, 1))
    assert dates(of_contract(store, "Q")) == [
        "2025-11-30", "2026-02-28", "2026-05-30", "2026-08-30", "2026-11-30",
        "2027-02-28", "2027-05-30", "2027-08-30", "2027-11-30", "2028-02-29",
    ]
    assert contract_row(store, "Q")["next_run_date"] == "2028-05-30"
    assert of_contract(store, "Q")[0]["period_end"] == "2026-02-28"


def test_semi_annual_and_annual(store):
    customer(store)
    contract(store, "SEMI", date(2026, 8, 31), interval="semi-annual")
    contract(store, "YEAR", date(2024, 2, 29), interval="annual")
    tick(store, noon(2028, 9, 1))
    assert dates(of_contract(store, "SEMI")) == ["2026-08-31", "2027-02-28", "2027-08-31", "2028-02-29", "2028-08-31"]
    assert dates(of_contract(store, "YEAR")) == ["2024-02-29", "2025-02-28", "2026-02-28", "2027-02-28", "2028-02-29"]
    assert contract_row(store, "SEMI")["interval"] == "SEMI_ANNUAL"
    assert contract_row(store, "YEAR")["next_run_date"] == "2029-02-28"


def test_end_date_in_mid_cycle_stops_the_runs(store):
    customer(store)
    contract(store, "MID", date(2026, 1, 15), end=date(2026, 4, 20))
    contract(store, "ON", date(2026, 1, 15), end=date(2026, 3, 15))  # the end date is a run date: it runs
    tick(store, noon(2026, 12, 31))
    assert dates(of_contract(store, "MID")) == ["2026-01-15", "2026-02-15", "2026-03-15", "2026-04-15"]
    assert dates(of_contract(store, "ON")) == ["2026-01-15", "2026-02-15", "2026-03-15"]
    mid = contract_row(store, "MID")
    assert mid["last_run_date"] == "2026-04-15" and d(mid["last_run_date"]) <= d(mid["end_date"])
    assert mid["active"] is False and mid["active_flag"] is True
    head = store.head()
    s = tick(store, noon(2027, 6, 1))
    assert s.events == 0 and store.head() == head
    assert all(r["issue_date"] <= "2026-04-20" for r in of_contract(store, "MID"))


def test_ending_a_running_contract(store):
    customer(store)
    contract(store, "E", date(2026, 1, 10))
    tick(store, noon(2026, 2, 10))
    with pytest.raises(ValidationError) as e:
        end_contract(store, "E", noon(2026, 2, 11), date(2026, 1, 31))  # before the last run
    assert e.value.field == "end_date"
    with pytest.raises(ValidationError) as e:
        end_contract(store, "E", noon(2026, 2, 11), date(2025, 12, 31))  # before the start
    assert e.value.field == "end_date"
    end_contract(store, "E", noon(2026, 2, 11), date(2026, 3, 9))
    tick(store, noon(2026, 6, 1))
    assert dates(of_contract(store, "E")) == ["2026-01-10", "2026-02-10"]
    c = contract_row(store, "E")
    assert (c["end_date"], c["active"]) == ("2026-03-09", False)


def test_an_end_date_before_the_last_run_is_refused_however_it_is_set(store):
    # "the last run date ≤ end": end_contract refuses an earlier end date; so must an update of end_date
    customer(store)
    contract(store, "E", date(2026, 1, 1))
    tick(store, noon(2026, 3, 1))
    head = store.head()
    with pytest.raises(ValidationError) as e:
        end_contract(store, "E", noon(2026, 3, 2), date(2026, 1, 15))
    assert e.value.field == "end_date"
    with pytest.raises(ValidationError) as e:
        update_contract(store, "E", noon(2026, 3, 2), end_date=date(2026, 1, 15))
    assert e.value.field == "end_date"
    assert store.head() == head
    c = contract_row(store, "E")
    assert (c["end_date"], c["last_run_date"]) == (None, "2026-03-01")
    # an end date on or after the last run is fine
    assert update_contract(store, "E", noon(2026, 3, 2), end_date=date(2026, 3, 1)) is True
    assert contract_row(store, "E")["active"] is False


# ============================================================================================ catch-up
def test_a_contract_last_run_14_months_ago_is_caught_up_in_one_tick(store):
    customer(store, terms=14)
    contract(store, "LATE", date(2024, 11, 1))
    s = tick(store, noon(2024, 11, 1))
    assert [x["number"] for x in s.issued] == ["INV-2024-000001"]

    s = tick(store, noon(2026, 1, 20))
    expected_dates = ["2024-12-01"] + [f"2025-{m:02d}-01" for m in range(1, 13)] + ["2026-01-01"]
    expected_numbers = ["INV-2024-000002"] + [f"INV-2025-{i:06d}" for i in range(1, 13)] + ["INV-2026-000001"]
    assert len(s.issued) == 14
    assert [x["run_date"] for x in s.issued] == expected_dates
    assert [x["number"] for x in s.issued] == expected_numbers
    assert s.counts["contract"] == {"issued": 14}

    rows = of_contract(store, "LATE")
    assert dates(rows) == ["2024-11-01"] + expected_dates
    assert [r["number"] for r in rows] == ["INV-2024-000001"] + expected_numbers
    # every one of them is past its due date at the tick (the last one, due 2026-01-15, too)
    assert {r["status"] for r in rows} == {"OVERDUE"}
    assert {r["gross"] for r in rows} == {"1190.00"}
    trail = runs(store, "LATE")
    assert [(r["run_date"], r["status"], r["invoice_number"]) for r in trail] == list(
        zip(["2024-11-01"] + expected_dates, ["SUCCESS"] * 15, ["INV-2024-000001"] + expected_numbers)
    )
    c = contract_row(store, "LATE")
    assert (c["last_run_date"], c["next_run_date"]) == ("2026-01-01", "2026-02-01")


def test_numbers_follow_run_instant_then_reference_across_contracts_zones_and_batches(store):
    # Tokyo's Jan 1 begins 8 hours before Berlin's, New York's 6 hours after: the tick numbers in that order,
    # then by contract reference; 160 contracts × 3 runs span several save batches.
    customer(store, "TYO", "Asia/Tokyo", "EUR")
    customer(store, "BER", "Europe/Berlin", "EUR")
    customer(store, "NYC", "America/New_York", "EUR")
    refs = []
    for i in range(160):
        cust = ("TYO", "BER", "NYC")[i % 3]
        ref = f"K{(i * 37) % 160:03d}-{cust}"
        contract(store, ref, date(2026, 1, 1), cust=cust)
        refs.append((ref, cust))
    head = store.head()
    dry = tick(store, noon(2026, 3, 1), dry_run=True)
    assert store.head() == head
    s = tick(store, noon(2026, 3, 1))
    assert len(s.issued) == 480 and s.counts["contract"] == {"issued": 480}
    assert (dry.issued, dry.counts, dry.events) == (s.issued, s.counts, s.events)
    rank = {"TYO": 0, "BER": 1, "NYC": 2}
    expected = [(f"2026-{m:02d}-01", ref) for m in (1, 2, 3) for _z, ref in sorted((rank[c], r) for r, c in refs)]
    assert [(x["run_date"], x["contract"]) for x in s.issued] == expected
    assert [x["number"] for x in s.issued] == [f"INV-2026-{i:06d}" for i in range(1, 481)]
    rows = invoices(store, company="ACME")
    assert sorted(r["number"] for r in rows) == [f"INV-2026-{i:06d}" for i in range(1, 481)]
    assert len({r["id"] for r in rows}) == 480


# ============================================================================================ money
def test_jpy_totals_have_no_decimals_and_round_half_up(store):
    customer(store, "JP", "Asia/Tokyo", "JPY")
    contract(store, "JPY-1", date(2026, 1, 1), cust="JP", currency="JPY", positions=[
        pos(1, "Licence", "2.5", "333", "19", "JPY"),    # 832.5 → 833; tax 158.27 → 158
        pos(2, "Support", "1", "150", "7", "JPY"),       # tax 10.5 → 11 (half-even would give 10)
        pos(3, "Books", "3", "333", "0", "JPY"),         # 999, no tax
    ])
    with pytest.raises(ValidationError) as e:
        add_position(store, "JPY-1", T0, position=4, description="x", quantity="1", unit_price="10.5", tax_rate="19")
    assert e.value.field == "unit_price"
    tick(store, utc(2026, 1, 1, 3))  # noon in Tokyo
    inv = of_contract(store, "JPY-1")[0]
    assert inv["currency"] == "JPY"
    assert [ln["net"] for ln in inv["lines"]] == ["833", "150", "999"]
    assert (inv["net"], inv["tax"], inv["gross"]) == ("1982", "169", "2151")
    assert taxes(inv) == {"standard": ("19", "833", "158"), "reduced": ("7", "150", "11"), "zero": ("0", "999", "0")}


def test_bhd_totals_have_three_decimals_and_round_half_up(store):
    customer(store, "BH", "Asia/Bahrain", "BHD")
    contract(store, "BHD-1", date(2026, 1, 1), cust="BH", positions=[
        pos(1, "Service", "1.5", "0.111", "19", "BHD"),  # 0.1665 → 0.167 (half-even: 0.166); tax on 0.517 ...
        pos(2, "Fee", "1", "0.350", "19", "BHD"),        # ... base 0.517 × 19 % = 0.09823 → 0.098
        pos(3, "Parts", "3", "12.250", "7", "BHD"),      # 36.750 × 7 % = 2.5725 → 2.573 (half-even: 2.572)
    ])
    with pytest.raises(ValidationError) as e:
        add_position(store, "BHD-1", T0, position=4, description="x", quantity="1", unit_price="1.0001", tax_rate="19")
    assert e.value.field == "unit_price"
    tick(store, noon(2026, 1, 1))
    inv = of_contract(store, "BHD-1")[0]
    assert [ln["net"] for ln in inv["lines"]] == ["0.167", "0.350", "36.750"]
    assert [ln["unit_price"] for ln in inv["lines"]] == ["0.111", "0.350", "12.250"]
    assert (inv["net"], inv["tax"], inv["gross"]) == ("37.267", "2.671", "39.938")
    assert taxes(inv) == {"standard": ("19", "0.517", "0.098"), "reduced": ("7", "36.750", "2.573")}


def test_tax_is_computed_per_rate_on_the_sum_of_line_nets_not_per_line(store):
    customer(store)
    contract(store, "MIX", date(2026, 1, 1), positions=[
        pos(1, "Seat A", "1", "10.02", "standard"),
        pos(2, "Seat B", "1", "10.02", "19%"),
        pos(3, "Seat C", "1", "10.02", "19"),
        pos(4, "Book A", "1", "0.50", "reduced"),
        pos(5, "Book B", "1", "0.50", "7"),
        pos(6, "Book C", "1", "0.50", "7"),
        pos(7, "Export", "1.2345", "10.00", "zero"),  # 12.345 → 12.35
    ])
    tick(store, noon(2026, 1, 1))
    inv = of_contract(store, "MIX")[0]
    # per line: 3 × round(1.9038) = 5.70 and 3 × round(0.035) = 0.12; on the sums: 5.7114 → 5.71, 0.105 → 0.11
    assert taxes(inv) == {"standard": ("19", "30.06", "5.71"), "reduced": ("7", "1.50", "0.11"), "zero": ("0", "12.35", "0.00")}
    assert (inv["net"], inv["tax"], inv["gross"]) == ("43.91", "5.82", "49.73")
    assert [ln["net"] for ln in inv["lines"]] == ["10.02"] * 3 + ["0.50"] * 3 + ["12.35"]
    assert inv["lines"][6]["quantity"] == "1.2345"


def test_the_tax_breakdown_is_listed_by_percent_descending(store):
    # domain.tax.totals sorts the breakdown by (percent descending, name); the read model lists it so too
    customer(store)
    contract(store, "ORDER", date(2026, 1, 1), positions=[
        pos(1, "Food", "1", "10.00", "7"),
        pos(2, "Export", "1", "10.00", "0"),
        pos(3, "Rent", "1", "10.00", "19"),
    ])
    tick(store, noon(2026, 1, 1))
    inv = of_contract(store, "ORDER")[0]
    assert [(t["tax_rate"], t["tax_percent"]) for t in inv["tax_breakdown"]] == [("standard", "19"), ("reduced", "7"), ("zero", "0")]


# ============================================================================================ drafts and finalize
def test_drafts_without_auto_finalize_then_finalize_assigns_the_next_number(store):
    customer(store, terms=14)
    contract(store, "A-AUTO", date(2026, 1, 1))
    contract(store, "D-DRAFT", date(2026, 1, 1), auto_finalize=False,
             positions=[pos(1, "Consulting", "10", "95.00", "19")])
    s = tick(store, noon(2026, 1, 1))
    assert s.counts["contract"] == {"issued": 1, "drafted": 1}
    assert [(x["contract"], x["number"], x["status"]) for x in s.issued] == [
        ("A-AUTO", "INV-2026-000001", "ISSUED"), ("D-DRAFT", None, "DRAFT")
    ]
    draft = of_contract(store, "D-DRAFT")[0]
    assert (draft["number"], draft["status"], draft["gross"], draft["due_date"]) == (None, "DRAFT", "1130.50", "2026-01-15")
    assert runs(store, "D-DRAFT")[0]["invoice_id"] == draft["id"]

    # a draft is never overdue
    tick(store, noon(2026, 1, 20))
    assert of_contract(store, "D-DRAFT")[0]["status"] == "DRAFT"
    assert of_contract(store, "A-AUTO")[0]["status"] == "OVERDUE"

    inv = finalize_invoice(store, draft["id"], noon(2026, 1, 21))
    assert (inv.number, inv.status) == ("INV-2026-000002", "ISSUED")
    row = one(store, "INV-2026-000002")
    # dated the day it was issued, due 14 days later; the run date stays on it as its service period
    assert (row["id"], row["status"], row["issue_date"], row["due_date"]) == (draft["id"], "ISSUED", "2026-01-21", "2026-02-04")
    assert row["period_start"] == "2026-01-01"
    with pytest.raises(Conflict):
        finalize_invoice(store, draft["id"], noon(2026, 1, 21))
    with pytest.raises(Conflict):
        finalize_invoice(store, "INV-2026-000001", noon(2026, 1, 21))

    # the next tick numbers after the finalized draft; it is not overdue before its own due date
    s = tick(store, noon(2026, 2, 1))
    assert [x["number"] for x in s.issued] == ["INV-2026-000003", None]
    assert one(store, "INV-2026-000002")["status"] == "ISSUED"
    tick(store, noon(2026, 2, 5))
    assert one(store, "INV-2026-000002")["status"] == "OVERDUE"
    feb = of_contract(store, "D-DRAFT")[1]
    assert feb["status"] == "DRAFT"
    assert finalize_invoice(store, feb["id"], noon(2026, 2, 5)).number == "INV-2026-000004"
    with pytest.raises(NotFound):
        finalize_invoice(store, "INV-2026-999999", noon(2026, 2, 5))


# ============================================================================================ void
def test_void_of_an_issued_unpaid_invoice_and_refused_after_a_payment(store):
    customer(store, terms=14)
    contract(store, "V", date(2026, 1, 1), auto_send=True)
    contract(store, "W", date(2026, 1, 1), auto_finalize=False)
    tick(store, noon(2026, 2, 1))
    # INV-1, INV-2: V Jan, Feb (W's are drafts)
    assert [r["number"] for r in of_contract(store, "V")] == ["INV-2026-000001", "INV-2026-000002"]
    assert one(store, "INV-2026-000001")["status"] == "OVERDUE"
    voided = void_invoice(store, "INV-2026-000001", noon(2026, 2, 2), "wrong customer")
    assert voided.status == "VOID"
    assert one(store, "INV-2026-000001")["status"] == "VOID"
    assert "INV-2026-000001" not in [o["number"] for o in outbox(store)]
    with pytest.raises(Conflict):
        void_invoice(store, "INV-2026-000001", noon(2026, 2, 2))
    with pytest.raises(Conflict):
        pay_invoice(store, "INV-2026-000001", noon(2026, 2, 2))
    with pytest.raises(Conflict):
        credit_invoice(store, "INV-2026-000001", noon(2026, 2, 2))

    pay_invoice(store, "INV-2026-000002", noon(2026, 2, 3), "100.00")
    with pytest.raises(Conflict):
        void_invoice(store, "INV-2026-000002", noon(2026, 2, 4))
    assert one(store, "INV-2026-000002")["status"] == "ISSUED"

    draft = of_contract(store, "W")[0]
    with pytest.raises(Conflict):
        void_invoice(store, draft["id"], noon(2026, 2, 4))

    # voiding an issued invoice before its due date: no tick makes it overdue later
    tick(store, noon(2026, 3, 1))
    void_invoice(store, "INV-2026-000003", noon(2026, 3, 2))
    tick(store, noon(2026, 4, 1))
    assert one(store, "INV-2026-000003")["status"] == "VOID"
    # the numbers stay: a void invoice keeps its number, the series goes on
    assert [r["number"] for r in of_contract(store, "V")] == [f"INV-2026-{i:06d}" for i in range(1, 5)]


# ============================================================================================ credit notes
def test_credit_notes_partial_then_full_with_their_own_series(store):
    customer(store, terms=30)
    contract(store, "CR", date(2026, 1, 1), positions=[
        pos(1, "Rent", "1", "100.00", "19"),
        pos(2, "Parking", "1", "50.00", "7"),
    ])
    tick(store, noon(2026, 1, 1))
    inv = one(store, "INV-2026-000001")
    assert (inv["net"], inv["tax"], inv["gross"]) == ("150.00", "22.50", "172.50")

    cn1 = credit_invoice(store, "INV-2026-000001", noon(2026, 1, 5), positions=[2], reason="no parking")
    assert cn1.number == "CN-2026-000001" and cn1.kind == "CREDIT_NOTE"
    note = one(store, "CN-2026-000001")
    assert (note["kind"], note["references"], note["company"], note["customer"]) == ("CREDIT_NOTE", "INV-2026-000001", "ACME", "CUST")
    assert (note["net"], note["tax"], note["gross"], note["issue_date"]) == ("50.00", "3.50", "53.50", "2026-01-05")
    assert [ln["position"] for ln in note["lines"]] == [2]
    inv = one(store, "INV-2026-000001")
    assert (inv["status"], inv["credited"], inv["balance"]) == ("ISSUED", "53.50", "119.00")

    cn2 = credit_invoice(store, "INV-2026-000001", noon(2026, 1, 6), positions=[1])
    assert cn2.number == "CN-2026-000002"
    inv = one(store, "INV-2026-000001")
    assert (inv["status"], inv["credited"], inv["balance"]) == ("CREDITED", "172.50", "0.00")
    with pytest.raises(Conflict):
        credit_invoice(store, "INV-2026-000001", noon(2026, 1, 7))
    with pytest.raises(Conflict):
        pay_invoice(store, "INV-2026-000001", noon(2026, 1, 7))
    with pytest.raises(Conflict):
        void_invoice(store, "INV-2026-000001", noon(2026, 1, 7))
    # a credit note is not an invoice: it cannot be credited or paid
    with pytest.raises(Conflict):
        credit_invoice(store, "CN-2026-000001", noon(2026, 1, 7))
    with pytest.raises(Conflict):
        pay_invoice(store, "CN-2026-000001", noon(2026, 1, 7))

    # the INV series is not disturbed by credit notes; a full credit note credits at once
    tick(store, noon(2026, 2, 1))
    assert [r["number"] for r in of_contract(store, "CR")] == ["INV-2026-000001", "INV-2026-000002"]
    cn3 = credit_invoice(store, "INV-2026-000002", noon(2026, 2, 2))
    assert cn3.number == "CN-2026-000003"
    assert (one(store, "CN-2026-000003")["gross"], one(store, "INV-2026-000002")["status"]) == ("172.50", "CREDITED")
    notes = invoices(store, kind="CREDIT_NOTE")
    assert [(n["number"], n["references"]) for n in notes] == [
        ("CN-2026-000001", "INV-2026-000001"), ("CN-2026-000002", "INV-2026-000001"), ("CN-2026-000003", "INV-2026-000002"),
    ]
    # a credit note never becomes overdue
    tick(store, noon(2026, 6, 1))
    assert {n["status"] for n in invoices(store, kind="CREDIT_NOTE")} == {"ISSUED"}


def test_credits_beyond_the_gross_amount_are_refused(store):
    customer(store)
    contract(store, "CR", date(2026, 1, 1), positions=[pos(1, "Rent", "1", "100.00", "19"), pos(2, "Parking", "1", "50.00", "19")])
    tick(store, noon(2026, 1, 1))
    credit_invoice(store, "INV-2026-000001", noon(2026, 1, 2), positions=[1])
    head = store.head()
    # a line is credited at most once (issue 6, item 2: 119 + 119 would exceed the line's 119)
    with pytest.raises(Conflict) as c:
        credit_invoice(store, "INV-2026-000001", noon(2026, 1, 3), positions=[1])
    assert c.value.field == "positions" and "CN-2026-000001" in c.value.rule
    with pytest.raises(Conflict):
        credit_invoice(store, "INV-2026-000001", noon(2026, 1, 3), positions=[2, 1])
    with pytest.raises(ValidationError) as e:
        credit_invoice(store, "INV-2026-000001", noon(2026, 1, 3), positions=[2, 2])
    assert e.value.field == "positions"
    with pytest.raises(ValidationError) as e:
        credit_invoice(store, "INV-2026-000001", noon(2026, 1, 3), positions=[9])
    assert e.value.field == "positions"
    assert store.head() == head
    inv = one(store, "INV-2026-000001")
    assert (inv["status"], inv["credited"], inv["balance"]) == ("ISSUED", "119.00", "59.50")
    # the refused attempts took no CN number; crediting "everything" now credits what is left (line 2)
    credit_invoice(store, "INV-2026-000001", noon(2026, 1, 4))
    assert [n["number"] for n in invoices(store, kind="CREDIT_NOTE")] == ["CN-2026-000001", "CN-2026-000002"]
    assert one(store, "INV-2026-000001")["status"] == "CREDITED"
    with pytest.raises(Conflict):
        credit_invoice(store, "INV-2026-000001", noon(2026, 1, 5))


def test_a_full_credit_note_after_a_partial_payment_credits_the_invoice(store):
    # "the original becomes CREDITED when fully credited": a credit note of every line (its gross) after a
    # partial payment corrects the whole invoice; the customer is owed the payment back, and the invoice must
    # not turn OVERDUE for a debt that no longer exists.
    customer(store, terms=14)
    contract(store, "PP", date(2026, 1, 1))
    tick(store, noon(2026, 1, 1))
    pay_invoice(store, "INV-2026-000001", noon(2026, 1, 2), "190.00")
    note = credit_invoice(store, "INV-2026-000001", noon(2026, 1, 3))
    assert note.gross == Decimal("1190.00")
    inv = one(store, "INV-2026-000001")
    assert (inv["paid"], inv["credited"]) == ("190.00", "1190.00")
    assert inv["status"] == "CREDITED"
    tick(store, noon(2026, 1, 20))
    assert one(store, "INV-2026-000001")["status"] == "CREDITED"


def test_credit_note_series_is_per_year_of_its_issue_date(store):
    customer(store)
    contract(store, "Y", date(2025, 12, 1))
    tick(store, noon(2025, 12, 1))
    credit_invoice(store, "INV-2025-000001", noon(2025, 12, 30), positions=[1])
    tick(store, noon(2026, 1, 1))
    note = credit_invoice(store, "INV-2026-000001", noon(2026, 1, 2))
    assert note.number == "CN-2026-000001"
    assert [n["number"] for n in invoices(store, kind="CREDIT_NOTE")] == ["CN-2025-000001", "CN-2026-000001"]


# ============================================================================================ payments
def test_payments_partial_full_and_overpayment(store):
    customer(store, terms=30)
    contract(store, "PAY", date(2026, 1, 1))
    tick(store, noon(2026, 1, 1))
    with pytest.raises(ValidationError) as e:
        pay_invoice(store, "INV-2026-000001", noon(2026, 1, 2), "1190.01")
    assert e.value.field == "amount"
    for bad in ("0", "-5.00", "10.001"):
        with pytest.raises(ValidationError):
            pay_invoice(store, "INV-2026-000001", noon(2026, 1, 2), bad)
    pay_invoice(store, "INV-2026-000001", noon(2026, 1, 2), "190.00", "bank 1")
    inv = one(store, "INV-2026-000001")
    assert (inv["status"], inv["paid"], inv["balance"]) == ("ISSUED", "190.00", "1000.00")
    with pytest.raises(ValidationError):
        pay_invoice(store, "INV-2026-000001", noon(2026, 1, 3), "1000.01")
    pay_invoice(store, "INV-2026-000001", noon(2026, 1, 3), "1000.00", "bank 2")
    inv = one(store, "INV-2026-000001")
    assert (inv["status"], inv["paid"], inv["balance"]) == ("PAID", "1190.00", "0.00")
    with pytest.raises(Conflict):
        pay_invoice(store, "INV-2026-000001", noon(2026, 1, 4), "1.00")
    # paid in time: never overdue
    tick(store, noon(2026, 3, 15))
    assert one(store, "INV-2026-000001")["status"] == "PAID"
    # the default amount is the open balance
    pay_invoice(store, "INV-2026-000002", noon(2026, 3, 16))
    assert one(store, "INV-2026-000002")["status"] == "PAID"
    # a payment is bounded by what is left after credit notes
    contract(store, "PAY2", date(2026, 4, 1), positions=[pos(1, "Rent", "1", "100.00", "19"), pos(2, "Parking", "1", "50.00", "19")])
    tick(store, noon(2026, 4, 1))
    number = of_contract(store, "PAY2")[0]["number"]
    credit_invoice(store, number, noon(2026, 4, 2), positions=[2])  # 59.50 of 178.50
    with pytest.raises(ValidationError):
        pay_invoice(store, number, noon(2026, 4, 3), "178.50")
    pay_invoice(store, number, noon(2026, 4, 3), "119.00")
    inv = one(store, number)
    assert (inv["status"], inv["paid"], inv["credited"], inv["balance"]) == ("PAID", "119.00", "59.50", "0.00")


def test_overdue_is_marked_by_the_tick_after_the_due_date_then_paid(store):
    customer(store, terms=14)  # Berlin: due 2026-01-15, overdue from 2026-01-16 00:00 local = 2026-01-15T23:00Z
    contract(store, "OD", date(2026, 1, 1))
    tick(store, noon(2026, 1, 1))
    tick(store, utc(2026, 1, 15, 22, 59, 59))
    assert one(store, "INV-2026-000001")["status"] == "ISSUED"
    s = tick(store, utc(2026, 1, 15, 23))
    assert s.counts == {"overdue": {"marked": 1}}
    assert one(store, "INV-2026-000001")["status"] == "OVERDUE"
    pay_invoice(store, "INV-2026-000001", utc(2026, 1, 20), "500.00")
    assert one(store, "INV-2026-000001")["status"] == "OVERDUE"
    pay_invoice(store, "INV-2026-000001", utc(2026, 1, 21))
    assert one(store, "INV-2026-000001")["status"] == "PAID"
    assert tick(store, utc(2026, 1, 22)).events == 0


def test_payment_terms_are_snapshotted_into_each_invoice(store):
    customer(store, terms=14)
    contract(store, "TERMS", date(2026, 1, 1), terms=10)
    tick(store, noon(2026, 1, 1))
    update_contract(store, "TERMS", noon(2026, 1, 2), payment_terms_days=30)
    tick(store, noon(2026, 2, 1))
    rows = of_contract(store, "TERMS")
    assert [(r["issue_date"], r["due_date"]) for r in rows] == [("2026-01-01", "2026-01-11"), ("2026-02-01", "2026-03-03")]


# ============================================================================================ run outcomes
def test_a_contract_without_positions_is_skipped_and_its_schedule_advances(store):
    customer(store)
    contract(store, "EMPTY", date(2026, 1, 1), positions=[])
    s = tick(store, noon(2026, 2, 1))
    assert s.counts["contract"] == {"skipped": 2}
    assert s.issued == []
    assert of_contract(store, "EMPTY") == []
    trail = runs(store, "EMPTY")
    assert [(r["run_date"], r["status"], r["invoice_number"], r["invoice_id"]) for r in trail] == [
        ("2026-01-01", "SKIPPED", None, None), ("2026-02-01", "SKIPPED", None, None)
    ]
    assert all("no positions" in r["message"] for r in trail)
    c = contract_row(store, "EMPTY")
    assert (c["last_run_date"], c["next_run_date"], c["parked"]) == ("2026-02-01", "2026-03-01", None)

    add_position(store, "EMPTY", noon(2026, 2, 10), position=1, description="Rent", quantity="1", unit_price="10.00", tax_rate="19")
    tick(store, noon(2026, 3, 1))
    assert [(r["issue_date"], r["gross"]) for r in of_contract(store, "EMPTY")] == [("2026-03-01", "11.90")]


def test_a_failed_run_parks_the_contract_others_go_on_and_a_change_unparks_it(store):
    customer(store)
    contract(store, "BIG", date(2026, 1, 1), positions=[pos(1, "Everything", "1000", "999999999999.99", "19")])
    contract(store, "OK", date(2026, 1, 1))
    s = tick(store, noon(2026, 1, 1))
    assert s.counts["contract"] == {"failed": 1, "issued": 1}
    assert [x["contract"] for x in s.issued] == ["OK"]
    big = contract_row(store, "BIG")
    assert big["parked"] and "gross" in big["parked"]
    assert big["next_run_date"] == "2026-01-01" and big["last_run_date"] is None
    failed = runs(store, "BIG")
    assert [(r["run_date"], r["status"], r["invoice_id"]) for r in failed] == [("2026-01-01", "FAILED", None)]
    assert "gross" in failed[0]["message"] and str(AMOUNT_LIMIT) in failed[0]["message"]

    # parked: later ticks leave it alone (no second FAILED run), the others go on
    s = tick(store, noon(2026, 2, 1))
    assert s.counts["contract"] == {"issued": 1}
    assert len(runs(store, "BIG")) == 1
    assert dates(of_contract(store, "OK")) == ["2026-01-01", "2026-02-01"]

    # changing the contract unparks it; the next tick runs it, catching up from the failed run date
    assert change_position(store, "BIG", noon(2026, 2, 5), position=1, quantity="1", unit_price="250.00") is True
    assert contract_row(store, "BIG")["parked"] is None
    s = tick(store, noon(2026, 3, 1))
    assert [(x["contract"], x["run_date"]) for x in s.issued] == [
        ("BIG", "2026-01-01"), ("BIG", "2026-02-01"), ("BIG", "2026-03-01"), ("OK", "2026-03-01")
    ]
    assert {r["gross"] for r in of_contract(store, "BIG")} == {"297.50"}
    trail = runs(store, "BIG")
    assert [(r["run_date"], r["status"]) for r in trail] == [
        ("2026-01-01", "FAILED"), ("2026-01-01", "SUCCESS"), ("2026-02-01", "SUCCESS"), ("2026-03-01", "SUCCESS")
    ]
    # gapless: the failed run took no number
    numbers = sorted(r["number"] for r in invoices(store, kind="INVOICE"))
    assert numbers == [f"INV-2026-{i:06d}" for i in range(1, 7)]


def test_a_parked_contract_is_also_unparked_by_reactivation_or_update(store):
    customer(store)
    for ref in ("P1", "P2", "P3"):
        contract(store, ref, date(2026, 1, 1), positions=[pos(1, "Everything", "1000", "999999999999.99", "19")])
    tick(store, noon(2026, 1, 1))
    assert all(contract_row(store, r)["parked"] for r in ("P1", "P2", "P3"))
    remove_position(store, "P1", noon(2026, 1, 2), 1)
    add_position(store, "P1", noon(2026, 1, 2), position=2, description="Rent", quantity="1", unit_price="1.00", tax_rate="0")
    update_contract(store, "P2", noon(2026, 1, 2), name="Renamed")
    assert set_active(store, "P3", noon(2026, 1, 2), True) is True
    assert [contract_row(store, r)["parked"] for r in ("P1", "P2", "P3")] == [None, None, None]
    s = tick(store, noon(2026, 1, 3))
    # P2 and P3 still have the position that fails: they are tried again and fail again
    assert s.counts["contract"] == {"issued": 1, "failed": 2}
    assert [r["status"] for r in runs(store, "P2")] == ["FAILED", "FAILED"]
    assert [r["status"] for r in runs(store, "P3")] == ["FAILED", "FAILED"]
    assert [(r["issue_date"], r["gross"]) for r in of_contract(store, "P1")] == [("2026-01-01", "1.00")]


def test_deactivate_and_reactivate(store):
    customer(store)
    contract(store, "ACT", date(2026, 1, 1))
    tick(store, noon(2026, 1, 1))
    assert set_active(store, "ACT", noon(2026, 1, 2), False, "paused") is True
    assert set_active(store, "ACT", noon(2026, 1, 2), False) is False
    c = contract_row(store, "ACT")
    assert (c["active"], c["active_flag"]) == (False, False)
    head = store.head()
    s = tick(store, noon(2026, 3, 15))
    assert "contract" not in s.counts
    assert dates(of_contract(store, "ACT")) == ["2026-01-01"]
    assert runs(store, "ACT")[-1]["run_date"] == "2026-01-01"
    # only the January invoice's overdue marking was written
    assert s.counts == {"overdue": {"marked": 1}} and store.head() == head + 1

    assert set_active(store, "ACT", noon(2026, 3, 16), True) is True
    assert set_active(store, "ACT", noon(2026, 3, 16), True) is False
    assert contract_row(store, "ACT")["active"] is True
    # reactivated: the runs due while it was inactive are recorded SKIPPED and never billed (issue 6,
    # item 7); billing continues with the next run date after the reactivation
    s = tick(store, noon(2026, 3, 16))
    assert s.issued == [] and s.counts["contract"] == {"skipped_inactive": 2}
    assert [(r["run_date"], r["status"]) for r in runs(store, "ACT")] == [
        ("2026-01-01", "SUCCESS"), ("2026-02-01", "SKIPPED"), ("2026-03-01", "SKIPPED")]
    assert "inactive" in runs(store, "ACT")[-1]["message"]
    s = tick(store, noon(2026, 4, 1))
    assert [x["run_date"] for x in s.issued] == ["2026-04-01"]
    assert dates(of_contract(store, "ACT")) == ["2026-01-01", "2026-04-01"]


def test_the_company_filter_runs_only_that_companys_contracts(store):
    customer(store, terms=14)
    contract(store, "A1", date(2026, 1, 1), company="ALPHA")
    contract(store, "A2", date(2026, 1, 1), company="ALPHA")
    contract(store, "B1", date(2026, 1, 1), company="BETA")
    s = tick(store, noon(2026, 1, 1), company="ALPHA")
    assert [(x["company"], x["contract"], x["number"]) for x in s.issued] == [
        ("ALPHA", "A1", "INV-2026-000001"), ("ALPHA", "A2", "INV-2026-000002")
    ]
    assert invoices(store, company="BETA") == []
    assert runs(store, company="BETA") == []
    s = tick(store, noon(2026, 1, 1), company="BETA")
    assert [(x["company"], x["number"]) for x in s.issued] == [("BETA", "INV-2026-000001")]
    # the same number in two companies: each company has its own series
    assert [r["company"] for r in invoices(store, number="INV-2026-000001")] == ["ALPHA", "BETA"]
    with pytest.raises(ValidationError) as e:
        pay_invoice(store, "INV-2026-000001", noon(2026, 1, 2))
    assert e.value.field == "company"
    pay_invoice(store, "INV-2026-000001", noon(2026, 1, 2), company="BETA")
    assert [r["status"] for r in invoices(store, company="BETA")] == ["PAID"]

    # overdue marking is filtered too
    tick(store, noon(2026, 1, 20), company="BETA")
    assert {r["status"] for r in invoices(store, company="ALPHA")} == {"ISSUED"}
    s = tick(store, noon(2026, 1, 20))
    assert s.counts == {"overdue": {"marked": 2}}
    assert {r["status"] for r in invoices(store, company="ALPHA")} == {"OVERDUE"}


def test_auto_send_puts_issued_invoices_into_the_outbox_and_mark_sent_takes_them_out(store):
    customer(store)
    contract(store, "A-SEND", date(2026, 1, 1), auto_send=True)
    contract(store, "B-SEND-DRAFT", date(2026, 1, 1), auto_send=True, auto_finalize=False)
    contract(store, "C-QUIET", date(2026, 1, 1))
    tick(store, noon(2026, 2, 1))
    # A-SEND Jan = 1, C-QUIET Jan = 2, A-SEND Feb = 3, C-QUIET Feb = 4 (run date, then reference)
    assert [(o["number"], o["company"], o["customer"]) for o in outbox(store)] == [
        ("INV-2026-000001", "ACME", "CUST"), ("INV-2026-000003", "ACME", "CUST")
    ]
    # a draft enters the outbox when it is finalized
    draft = of_contract(store, "B-SEND-DRAFT")[0]
    assert finalize_invoice(store, draft["id"], noon(2026, 2, 2)).number == "INV-2026-000005"
    assert [o["number"] for o in outbox(store)] == ["INV-2026-000001", "INV-2026-000003", "INV-2026-000005"]
    with pytest.raises(Conflict):
        mark_sent(store, [r for r in of_contract(store, "B-SEND-DRAFT") if r["status"] == "DRAFT"][0]["id"], noon(2026, 2, 2))

    assert mark_sent(store, "INV-2026-000001", noon(2026, 2, 3), "email") is True
    assert mark_sent(store, "INV-2026-000001", noon(2026, 2, 3), "email") is False
    assert [o["number"] for o in outbox(store)] == ["INV-2026-000003", "INV-2026-000005"]
    sent = {o["number"]: o for o in outbox(store, include_sent=True)}
    assert sent["INV-2026-000001"]["sent_at"] == noon(2026, 2, 3).isoformat()
    # a voided invoice leaves the outbox
    void_invoice(store, "INV-2026-000003", noon(2026, 2, 4))
    assert [o["number"] for o in outbox(store)] == ["INV-2026-000005"]


# ============================================================================================ idempotency, dry run
def _mixed_setup(store) -> None:
    """Contracts with every kind of outcome, a catch-up and overdue marking."""
    customer(store, terms=14)
    customer(store, "JP", "Asia/Tokyo", "JPY", 7)
    contract(store, "M-AUTO", date(2025, 10, 31), auto_send=True)
    contract(store, "M-DRAFT", date(2026, 1, 15), auto_finalize=False, interval="quarterly")
    contract(store, "M-EMPTY", date(2026, 1, 1), positions=[])
    contract(store, "M-FAIL", date(2026, 2, 1), positions=[pos(1, "Too much", "1000", "999999999999.99", "19")])
    contract(store, "M-JPY", date(2025, 12, 31), cust="JP", currency="JPY", company="OTHER",
             positions=[pos(1, "Licence", "3", "333", "7", "JPY")])
    tick(store, noon(2025, 11, 15))


def test_a_second_tick_at_the_same_instant_writes_nothing(store):
    _mixed_setup(store)
    at = noon(2026, 3, 20)
    first = tick(store, at)
    assert first.events > 0 and first.issued
    head = store.head()
    second = tick(store, at)
    assert store.head() == head
    assert second.events == 0 and second.issued == [] and "contract" not in second.counts
    # and a tick a second earlier neither
    assert tick(store, at - timedelta(seconds=1)).events == 0
    assert store.head() == head


def test_dry_run_writes_nothing_and_reports_the_same_as_the_real_tick(store):
    _mixed_setup(store)
    at = noon(2026, 3, 20)
    catch_up(store)
    head = store.head()
    before = (invoices(store), runs(store), outbox(store))
    dry = tick(store, at, dry_run=True)
    assert dry.dry_run is True
    assert store.head() == head
    assert (invoices(store), runs(store), outbox(store)) == before
    again = tick(store, at, dry_run=True)
    real = tick(store, at)
    assert store.head() > head
    for x in (dry, again):
        assert x.counts == real.counts
        assert x.issued == real.issued
        assert x.events == real.events == store.head() - head
    c = real.counts["contract"]
    assert (c["issued"], c["drafted"], c["skipped"], c["failed"]) == (7, 1, 3, 1)
    assert real.counts["overdue"]["marked"] >= 5


def test_at_most_one_success_per_contract_and_run_date(store):
    _mixed_setup(store)
    for at in (noon(2026, 1, 1), noon(2026, 1, 1), noon(2026, 3, 20), noon(2026, 2, 1), noon(2026, 3, 20)):
        tick(store, at)
    change_position(store, "M-FAIL", noon(2026, 3, 21), position=1, quantity="1")
    tick(store, noon(2026, 4, 1))
    tick(store, noon(2026, 4, 1))
    trail = runs(store)
    successes = [(r["contract"], r["run_date"]) for r in trail if r["status"] == "SUCCESS"]
    assert len(successes) == len(set(successes)) > 10
    ids = [r["invoice_id"] for r in trail if r["status"] == "SUCCESS"]
    rows = invoices(store, kind="INVOICE")
    assert sorted(ids) == sorted(r["id"] for r in rows)
    by_source = {}
    for r in rows:
        by_source.setdefault((r["source"], r["issue_date"]), []).append(r)
    assert all(len(v) == 1 for v in by_source.values())


# ============================================================================================ positions at run time
def test_positions_are_copied_as_they_are_at_run_time(store):
    customer(store)
    contract(store, "PRICE", date(2026, 1, 1), positions=[pos(1, "Rent", "1", "1000.00", "19", attributes={"unit": "A1"})])
    tick(store, noon(2026, 2, 1))
    change_position(store, "PRICE", noon(2026, 2, 10), position=1, unit_price="1100.00", description="Rent (indexed)")
    add_position(store, "PRICE", noon(2026, 2, 10), position=2, description="Cleaning", quantity="2", unit_price="40.00",
                 tax_rate="7", attributes={"cost_type": "service"})
    tick(store, noon(2026, 3, 1))
    remove_position(store, "PRICE", noon(2026, 3, 10), 2)
    tick(store, noon(2026, 4, 1))
    rows = of_contract(store, "PRICE")
    assert [(r["issue_date"], r["net"], r["tax"], r["gross"]) for r in rows] == [
        ("2026-01-01", "1000.00", "190.00", "1190.00"),
        ("2026-02-01", "1000.00", "190.00", "1190.00"),
        ("2026-03-01", "1180.00", "214.60", "1394.60"),
        ("2026-04-01", "1100.00", "209.00", "1309.00"),
    ]
    assert [ln["description"] for ln in rows[0]["lines"]] == ["Rent"]
    assert [(ln["description"], ln["attributes"]) for ln in rows[2]["lines"]] == [
        ("Rent (indexed)", {"unit": "A1"}), ("Cleaning", {"cost_type": "service"})
    ]
    c = contract_row(store, "PRICE")
    assert [(p["position"], p["unit_price"], p["description"]) for p in c["positions"]] == [(1, "1100.00", "Rent (indexed)")]


# ============================================================================================ audit trail
def test_the_contract_runs_projection_is_the_audit_trail(store):
    customer(store)
    contract(store, "T-A", date(2026, 1, 1))
    contract(store, "T-D", date(2026, 1, 1), auto_finalize=False)
    contract(store, "T-E", date(2026, 1, 1), positions=[])
    contract(store, "T-F", date(2026, 1, 1), positions=[pos(1, "Too much", "1000", "999999999999.99", "19")])
    tick(store, noon(2026, 1, 1))
    tick(store, utc(2026, 2, 1, 9, 30))
    trail = runs(store)
    got = [(r["contract"], r["company"], r["run_date"], r["status"], r["invoice_number"], bool(r["invoice_id"]), r["recorded_at"]) for r in trail]
    assert got == [
        ("T-A", "ACME", "2026-01-01", "SUCCESS", "INV-2026-000001", True, noon(2026, 1, 1).isoformat()),
        ("T-A", "ACME", "2026-02-01", "SUCCESS", "INV-2026-000002", True, utc(2026, 2, 1, 9, 30).isoformat()),
        ("T-D", "ACME", "2026-01-01", "SUCCESS", None, True, noon(2026, 1, 1).isoformat()),
        ("T-D", "ACME", "2026-02-01", "SUCCESS", None, True, utc(2026, 2, 1, 9, 30).isoformat()),
        ("T-E", "ACME", "2026-01-01", "SKIPPED", None, False, noon(2026, 1, 1).isoformat()),
        ("T-E", "ACME", "2026-02-01", "SKIPPED", None, False, utc(2026, 2, 1, 9, 30).isoformat()),
        ("T-F", "ACME", "2026-01-01", "FAILED", None, False, noon(2026, 1, 1).isoformat()),
    ]
    assert [r["message"] for r in trail if r["status"] == "SUCCESS"] == ["", "", "", ""]
    assert trail[4]["message"] and trail[6]["message"].startswith("gross")
    # a draft's run points at its invoice by id
    draft_ids = [r["invoice_id"] for r in trail if r["contract"] == "T-D"]
    assert sorted(draft_ids) == sorted(r["id"] for r in of_contract(store, "T-D"))
    assert runs(store, "T-A") == trail[:2]


# ============================================================================================ contract commands
def test_creating_a_contract_is_idempotent_and_conflicts_on_other_data(store):
    customer(store, terms=21)
    assert contract(store, "C", date(2026, 1, 1)) is True
    head = store.head()
    assert contract(store, "C", date(2026, 1, 1)) is False
    assert store.head() == head
    with pytest.raises(Conflict):
        contract(store, "C", date(2026, 2, 1))
    with pytest.raises(Conflict):
        contract(store, "C", date(2026, 1, 1), positions=[pos(1, "Office rent", "1", "1001.00", "19")])
    c = contract_row(store, "C")
    assert (c["currency"], c["payment_terms_days"], c["next_run_date"]) == ("EUR", 21, "2026-01-01")
    assert store.head() == head


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"start": date(2026, 2, 1), "end": date(2026, 1, 31)}, "end_date"),
        ({"start": date(2026, 2, 1), "next_run": date(2026, 1, 1)}, "next_run_date"),
        ({"start": date(2026, 1, 1), "currency": "XYZ"}, "currency"),
        ({"start": date(2026, 1, 1), "interval": "weekly"}, "interval"),
        ({"start": date(2026, 1, 1), "cust": "NOBODY"}, "customer"),
        ({"start": date(2026, 1, 1), "positions": "dup"}, "position"),
    ],
)
def test_invalid_contracts_are_refused_naming_the_field(store, kwargs, field):
    customer(store)
    head = store.head()
    if kwargs.get("positions") == "dup":
        kwargs["positions"] = [pos(1, "A", "1", "1.00", "19"), pos(1, "B", "1", "2.00", "19")]
    with pytest.raises((ValidationError, NotFound)) as e:
        contract(store, "BAD", **kwargs)
    assert e.value.field == field
    assert store.head() == head


@pytest.mark.parametrize(
    "args, field",
    [
        (("1", "-1", "1.00", "19"), "quantity"),
        (("1", "1.23456", "1.00", "19"), "quantity"),
        (("1", "1", "1.001", "19"), "unit_price"),
        (("1", "1", "-1.00", "19"), "unit_price"),
        (("1", "1", "1.00", "16"), "tax_rate"),
        (("1", "1", "1.00", "luxury"), "tax_rate"),
        (("1", "1,5", "1.00", "19"), "quantity"),
        (("", "1", "1.00", "19"), "description"),
    ],
)
def test_invalid_positions_are_refused_naming_the_field(store, args, field):
    customer(store)
    contract(store, "C", date(2026, 1, 1))
    head = store.head()
    with pytest.raises(ValidationError) as e:
        add_position(store, "C", T0, position=2, description=args[0] and "Extra", quantity=args[1], unit_price=args[2], tax_rate=args[3])
    assert e.value.field == field
    with pytest.raises(ValidationError) as e:
        add_position(store, "C", T0, position=1, description="Again", quantity="1", unit_price="1.00", tax_rate="19")
    assert e.value.field == "position"
    with pytest.raises(NotFound) as e:
        add_position(store, "NOPE", T0, position=1, description="x", quantity="1", unit_price="1.00", tax_rate="19")
    assert e.value.field == "contract"
    assert store.head() == head
    # trailing zeros within 4 decimals are fine and canonical
    add_position(store, "C", T0, position=3, description="Fine", quantity="1.50000", unit_price="2.5", tax_rate="7")
    assert contract_row(store, "C")["positions"][1]["quantity"] == "1.5"
    assert contract_row(store, "C")["positions"][1]["unit_price"] == "2.50"


def test_the_schedule_cannot_change_after_the_first_run(store):
    customer(store)
    contract(store, "S", date(2026, 1, 1))
    assert update_contract(store, "S", T0, interval="quarterly", start_date=date(2026, 2, 1)) is True
    c = contract_row(store, "S")
    assert (c["interval"], c["start_date"], c["next_run_date"]) == ("QUARTERLY", "2026-02-01", "2026-02-01")
    tick(store, noon(2026, 2, 1))
    with pytest.raises(Conflict):
        update_contract(store, "S", noon(2026, 2, 2), interval="monthly")
    with pytest.raises(ValidationError) as e:
        update_contract(store, "S", noon(2026, 2, 2), next_run_date=date(2026, 2, 1))  # not after the last run
    assert e.value.field == "next_run_date"
    # moving the next run forward skips the runs in between
    update_contract(store, "S", noon(2026, 2, 2), next_run_date=date(2026, 8, 1))
    tick(store, noon(2026, 8, 1))
    assert dates(of_contract(store, "S")) == ["2026-02-01", "2026-08-01"]
