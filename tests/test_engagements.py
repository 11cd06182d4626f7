"""Package fees of engagements (issue 8): the period rules with dates and amounts worked out by hand, the
tick's catch-up and its one-invoice-per-period rule, renewals that leave issued invoices untouched, autopay,
the import, and the HTTP API. (Determinism, racing tickers and the CLI's bad inputs are the shared suites':
scenarios/package_fees.py.)"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from commands.app import Store
from commands.bus import handle
from commands.companies import SetCompany
from commands.customers import AddCustomer, UpdateCustomer
from commands.engagements import CreateEngagement, EndEngagement, RenewEngagement, UpdateEngagement
from domain.engagement import Term, fee_periods
from domain.errors import Conflict, ValidationError
from projections import queries
from scheduler.tick import tick
from support import js, ok, rejected

UTC = timezone.utc
T0 = datetime(2023, 12, 1, tzinfo=UTC)
D = date


def periods(start: date, end: date | None, fee: str, schedule: str, proration: str = "FULL", until: date | None = None,
            more: list[Term] = ()) -> list[tuple[str, str, str]]:
    terms = [Term(start, end, Decimal(fee)), *more]
    return [(p.start.isoformat(), p.end.isoformat(), str(p.amount)) for p in fee_periods(terms, schedule, proration, "GBP", until)]


# ============================================================================================ the period rules
def test_monthly_periods_are_calendar_months_billed_in_full_by_default() -> None:
    # from Jan 31 of a leap year: January (one day) in full, February has 29 days, ends mid-April
    assert periods(D(2024, 1, 31), D(2024, 4, 10), "250.00", "MONTHLY") == [
        ("2024-01-31", "2024-02-01", "250.00"), ("2024-02-01", "2024-03-01", "250.00"),
        ("2024-03-01", "2024-04-01", "250.00"), ("2024-04-01", "2024-04-11", "250.00")]


def test_prorate_days_bills_covered_days_over_days_of_the_period_half_up() -> None:
    # Q1 2024 has 91 days (leap): Jan 15..Mar 31 = 77 days -> 300 x 77/91 = 253.846... -> 253.85;
    # Q2: Apr 1..Jun 10 = 71 of 91 days -> 234.065... -> 234.07
    assert periods(D(2024, 1, 15), D(2024, 6, 10), "300.00", "QUARTERLY", "PRORATE_DAYS") == [
        ("2024-01-15", "2024-04-01", "253.85"), ("2024-04-01", "2024-06-11", "234.07")]
    # Q1 2025 has 90 days: Feb 15..Mar 31 = 45 days -> exactly half
    assert periods(D(2025, 2, 15), D(2025, 3, 31), "300.00", "QUARTERLY", "PRORATE_DAYS") == [
        ("2025-02-15", "2025-04-01", "150.00")]


def test_annual_periods_are_calendar_years_and_a_leap_year_has_366_days() -> None:
    # Feb 10..Dec 31 2024 = 326 of 366 days -> 10 x 326/366 = 8.907... -> 8.91; 2025 in full; to Mar 31 2026:
    # 90 of 365 days -> 2.465... -> 2.47
    assert periods(D(2024, 2, 10), D(2026, 3, 31), "10.00", "ANNUAL", "PRORATE_DAYS") == [
        ("2024-02-10", "2025-01-01", "8.91"), ("2025-01-01", "2026-01-01", "10.00"), ("2026-01-01", "2026-04-01", "2.47")]


def test_one_time_is_the_term_itself() -> None:
    assert periods(D(2024, 2, 10), D(2024, 3, 5), "99.99", "ONE_TIME") == [("2024-02-10", "2024-03-06", "99.99")]


def test_an_open_ended_engagement_has_periods_up_to_the_date_asked() -> None:
    assert periods(D(2024, 11, 20), None, "50.00", "MONTHLY", until=D(2025, 1, 1)) == [
        ("2024-11-20", "2024-12-01", "50.00"), ("2024-12-01", "2025-01-01", "50.00"), ("2025-01-01", "2025-02-01", "50.00")]


def test_a_renewal_never_bills_a_calendar_period_twice_in_full_but_prorates_its_own_days() -> None:
    renewal = [Term(D(2024, 6, 16), D(2024, 8, 31), Decimal("400.00"))]
    full = periods(D(2024, 5, 1), D(2024, 6, 15), "300.00", "MONTHLY", more=renewal)
    assert full == [("2024-05-01", "2024-06-01", "300.00"), ("2024-06-01", "2024-06-16", "300.00"),
                    ("2024-07-01", "2024-08-01", "400.00"), ("2024-08-01", "2024-09-01", "400.00")]
    prorated = periods(D(2024, 5, 1), D(2024, 6, 15), "300.00", "MONTHLY", "PRORATE_DAYS", more=renewal)
    # June has 30 days: 15 at 300 (150.00) and 15 at 400 (200.00)
    assert prorated == [("2024-05-01", "2024-06-01", "300.00"), ("2024-06-01", "2024-06-16", "150.00"),
                        ("2024-06-16", "2024-07-01", "200.00"), ("2024-07-01", "2024-08-01", "400.00"),
                        ("2024-08-01", "2024-09-01", "400.00")]


# ============================================================================================ the tick
def _book(store: Store, autopay: bool = False) -> None:
    handle(store, SetCompany("FIRM", T0, name="Firm", timezone="America/New_York", currency="USD"))
    handle(store, AddCustomer("CL", "Client", "America/New_York", "USD", 14, company="FIRM", at=T0))
    if autopay:
        handle(store, UpdateCustomer("CL", T0, company="FIRM", autopay=True))


def _docs(store: Store) -> list[dict]:
    from projections import registry
    from projections import runner as projection_runner

    projection_runner.run(store, registry.ALL)
    return queries.list_invoices(store.read_engine, company="FIRM", kind="ALL")


def test_a_late_tick_catches_up_every_period_oldest_first_dated_as_a_punctual_one_would(sqlite_store: Store) -> None:
    _book(sqlite_store, autopay=True)
    handle(sqlite_store, CreateEngagement("E1", "CL", "Retainer", "package", D(2024, 1, 1), T0, "FIRM", None, "1000.00", None, "monthly",
                                          tax_rate="zero", payment_terms_days=10))
    # 04:59 UTC on Mar 1 is 23:59 on Feb 29 in New York: March is not due yet
    summary = tick(sqlite_store, datetime(2024, 3, 1, 4, 59, tzinfo=UTC))
    assert [d["number"] for d in summary.issued] == ["PKG-E1-2024-01-01", "PKG-E1-2024-02-01"]
    assert [d["number"] for d in tick(sqlite_store, datetime(2024, 3, 1, 5, 0, tzinfo=UTC)).issued] == ["PKG-E1-2024-03-01"]
    assert tick(sqlite_store, datetime(2024, 3, 1, 5, 0, tzinfo=UTC)).issued == []  # never twice
    docs = {d["number"]: d for d in _docs(sqlite_store)}
    jan = docs["PKG-E1-2024-01-01"]
    assert (jan["issue_date"], jan["due_date"], jan["gross"], jan["source"]) == ("2024-01-01", "2024-01-11", "1000.00", "engagement:E1")
    assert jan["status"] == "OVERDUE" and docs["PKG-E1-2024-03-01"]["status"] == "ISSUED"
    assert jan["lines"][0]["attributes"]["autopay"] is True
    # issued and marked sent at once: nothing waits in the outbox
    assert [o for o in queries.list_outbox(sqlite_store.read_engine) if o["number"].startswith("PKG-")] == []


def test_renewing_and_changing_the_fee_never_touch_issued_invoices(sqlite_store: Store) -> None:
    _book(sqlite_store)
    handle(sqlite_store, CreateEngagement("E2", "CL", "Audit", "package", D(2024, 1, 1), T0, "FIRM", D(2024, 6, 30), "900.00", None,
                                          "quarterly"))
    tick(sqlite_store, datetime(2024, 5, 1, tzinfo=UTC))
    before = _docs(sqlite_store)
    assert [d["number"] for d in before] == ["PKG-E2-2024-01-01", "PKG-E2-2024-04-01"]
    at = datetime(2024, 5, 2, tzinfo=UTC)
    handle(sqlite_store, UpdateEngagement("E2", at, "FIRM", fee="950.00"))
    handle(sqlite_store, RenewEngagement("E2", D(2024, 12, 31), at, "FIRM", fee="1000.00"))
    with pytest.raises(ValidationError):  # the current term is the renewal's
        handle(sqlite_store, EndEngagement("E2", D(2024, 3, 31), at, "FIRM"))
    tick(sqlite_store, datetime(2025, 1, 2, tzinfo=UTC))
    with pytest.raises(Conflict):  # the fee period from Oct 1 is billed already
        handle(sqlite_store, EndEngagement("E2", D(2024, 9, 30), datetime(2025, 1, 3, tzinfo=UTC), "FIRM"))
    after = {d["number"]: d for d in _docs(sqlite_store)}
    for d in before:
        assert after[d["number"]]["gross"] == d["gross"] and after[d["number"]]["lines"] == d["lines"]
    assert [(n, after[n]["net"]) for n in sorted(after)] == [
        ("PKG-E2-2024-01-01", "900.00"), ("PKG-E2-2024-04-01", "900.00"), ("PKG-E2-2024-07-01", "1000.00"),
        ("PKG-E2-2024-10-01", "1000.00")]


# ============================================================================================ import (CLI)
HEADER = "reference,customer,name,pricing,fee,currency,schedule,start,end,proration,tax_rate,payment_terms_days\n"


def test_engagements_import_is_all_or_nothing_and_idempotent(db_url: str, tmp_path: Path) -> None:
    at = "2024-01-01T00:00:00Z"
    ok(db_url, "companies", "set", "FIRM", "--timezone", "Europe/London", "--currency", "GBP", "--at", at)
    ok(db_url, "customers", "add", "CL", "--company", "FIRM", "--name", "Client", "--timezone", "Europe/London", "--currency", "GBP", "--at", at)
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "G1,CL,Good,package,10.00,,monthly,2024-01-01,,,,\n"
                            "B1,NOPE,Bad,package,10.00,,monthly,2024-01-01,,,,\n"
                            "B2,CL,Bad,package,,,monthly,2024-01-01,,,,\n"
                            "B3,CL,Bad,package,10.00,,one_time,2024-01-01,,,,\n", encoding="utf-8")
    r = rejected(db_url, str(bad), "engagements", "import", str(bad), "--company", "FIRM", "--at", at)
    for line, field in ((3, "customer"), (4, "fee"), (5, "end_date")):
        assert f"line {line}: {field}:" in r.stderr, r.stderr
    assert js(db_url, "engagements", "list", "--company", "FIRM") == []
    good = tmp_path / "good.csv"
    good.write_text(HEADER + "G1,CL,Good,package,10.00,,monthly,2024-01-01,2024-03-31,,,\n"
                             "G2,CL,Once,package,99.00,GBP,one_time,2024-02-01,2024-02-29,full,zero,7\n", encoding="utf-8")
    assert "created 2" in ok(db_url, "engagements", "import", str(good), "--company", "FIRM", "--at", at)
    assert "unchanged 2" in ok(db_url, "engagements", "import", str(good), "--company", "FIRM", "--at", at)
    ok(db_url, "tick", "--company", "FIRM", "--kind", "package_fee", "--at", "2024-04-01T00:00:00Z")
    rows = js(db_url, "invoices", "list", "--company", "FIRM", "--kind", "ALL", "--json")
    assert sorted((d["number"], d["gross"]) for d in rows) == [
        ("PKG-G1-2024-01-01", "11.90"), ("PKG-G1-2024-02-01", "11.90"), ("PKG-G1-2024-03-01", "11.90"), ("PKG-G2-2024-02-01", "99.00")]


# ============================================================================================ HTTP
def test_engagements_over_http(tmp_path: Path) -> None:
    from test_http import Api

    api = Api(f"sqlite:///{tmp_path / 'http.db'}")
    at = "2024-01-01T00:00:00+00:00"
    api.ok("POST", "/v1/customers", json={"reference": "CL", "name": "Client", "timezone": "Europe/London", "currency": "GBP", "at": at})
    body = {"reference": "E1", "customer": "CL", "name": "Retainer", "fee": "100.00", "schedule": "monthly",
            "start_date": "2024-01-15", "end_date": "2024-03-31", "proration": "prorate_days", "at": at}
    assert api.ok("POST", "/v1/engagements", json=body)["fee"] == "100.00"
    r = api.call("POST", "/v1/engagements", json={**body, "reference": "E2", "schedule": "one_time", "end_date": None})
    assert r.status_code == 422 and r.json()["field"] == "end_date"
    api.ok("POST", "/v1/tick", json={"at": "2024-02-01T00:00:00+00:00", "kind": "package_fee"})
    shown = api.ok("GET", "/v1/engagements/E1")
    # January from the 15th: 17 of 31 days -> 54.838... -> 54.84
    assert [(p["number"], p["amount"]) for p in shown["periods"]] == [("PKG-E1-2024-01-15", "54.84"), ("PKG-E1-2024-02-01", "100.00")]
    api.ok("POST", "/v1/engagements/E1/renew", json={"end_date": "2024-06-30", "fee": "120.00", "at": "2024-02-02T00:00:00+00:00"})
    assert api.ok("GET", "/v1/engagements")["items"][0]["end_date"] == "2024-06-30"
    assert api.call("GET", "/v1/engagements/E1", key="other").status_code == 404
    api.client.close()
    api.client.app.state.engine.store.close()


# ============================================================================================ real data
def test_the_contracts_finder_package_fees_reconcile_with_the_csv(sqlite_store: Store) -> None:
    from commands import demo_packages

    result = demo_packages.run(sqlite_store)
    assert (result["engagements"], result["skipped"]) == (111, 13)  # 124 ocids, 13 without a positive value
    assert (result["invoices"], result["net"], result["gross"]) == (
        result["expected_invoices"], result["expected_net"], result["expected_gross"])
    # by hand: MoD / Gartner, GBP 291,600.00 from 2025-03-01 to 2026-02-28 = 12 months of 24,300.00 (+ 20 % VAT)
    gartner = [d for d in queries.list_invoices(sqlite_store.read_engine, company="uk-public")
               if d["source"] == "engagement:ocds-b5fd17-049318f6-a64f-468a-914b-072544499c9d"]
    assert [(d["issue_date"], d["net"], d["gross"]) for d in gartner][:2] == [("2025-03-01", "24300.00", "29160.00"),
                                                                            ("2025-04-01", "24300.00", "29160.00")]
    assert len(gartner) == 12
    assert demo_packages.run(sqlite_store)["issued_now"] == 0  # again: nothing new
