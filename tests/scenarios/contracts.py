"""The contracts scenario (issue 3) for the shared suites (:mod:`scenarios`): contracts of two companies
with every kind of contract and invoice event (position changes, drafts, finalize, credit notes, void,
payments, deactivation, a failed run); a year of month ends, quarters and half-years for daily ≡ once;
150 contracts of three companies for the racing tickers; the CLI's bad inputs of contracts."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dateutil.relativedelta import relativedelta

import domain.contract  # noqa: F401 - registers the topics the suites decode
import domain.invoice  # noqa: F401
import domain.number_series  # noqa: F401
from commands.app import Store
from commands.config import resolve
from commands.contracts import (
    CreateContract,
    add_position,
    change_position,
    create_contract,
    end_contract,
    set_active,
    update_contract,
)
from commands.customers import AddCustomer, add_customer
from commands.invoices import credit_invoice, finalize_invoice, mark_sent, pay_invoice, void_invoice
from domain.contract import contract_id, make_position
from domain.invoice import contract_invoice_id
from projections import queries, registry
from projections import runner as projection_runner
from scenarios import Scenario
from scheduler.tick import tick
from support import assert_series_allocations_contiguous, events, js

UTC = timezone.utc
T0 = datetime(2025, 11, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def noon(y: int, m: int, d: int) -> datetime:
    return utc(y, m, d, 12)


def catch_up(store: Store) -> None:
    projection_runner.run(store, registry.ALL)


# ============================================================================================ the scenario
CUSTOMERS = [("BER", "Europe/Berlin", "EUR", 14), ("TYO", "Asia/Tokyo", "JPY", 7), ("NYC", "America/New_York", "USD", 30)]


def P(n: int, description: str, qty: str, price: str, rate: str, currency: str, **kw: Any) -> dict:
    return make_position(n, description, qty, price, rate, currency, **kw)


def add_customers(store: Store) -> None:
    """Customers belong to a company (issue 7): both tenants of the scenario bill the same three customers."""
    for company in ("ACME", "BETA"):
        for ref, zone, cur, terms in CUSTOMERS:
            add_customer(store, AddCustomer(ref, f"{ref} Ltd", zone, cur, terms, company=company), T0)


def setup(store: Store) -> None:
    add_customers(store)
    specs = [
        CreateContract("RENT", "ACME", "BER", "Office rent", "monthly", date(2025, 11, 30), auto_finalize=True, auto_send=True,
                       positions=(P(1, "Office rent", "1", "1000.00", "19", "EUR", attributes={"unit": "A1", "floor": 3}),
                                  P(2, "Cleaning", "2.5", "39.99", "7", "EUR", discountable=False))),
        CreateContract("CONSULT", "ACME", "BER", "Retainer", "quarterly", date(2025, 12, 15),
                       positions=(P(1, "Retainer", "10", "95.00", "standard", "EUR"),)),
        CreateContract("LIC", "ACME", "TYO", "Licence", "monthly", date(2026, 1, 31), currency="JPY", auto_finalize=True,
                       positions=(P(1, "Licence", "3", "333", "reduced", "JPY"), P(2, "Support", "1.5", "1001", "19", "JPY"))),
        CreateContract("HOST", "BETA", "NYC", "Hosting", "monthly", date(2026, 1, 1), end_date=date(2026, 5, 31),
                       auto_finalize=True, auto_send=True, positions=(P(1, "Hosting", "1", "99.99", "0", "USD"),)),
        CreateContract("EMPTY", "BETA", "NYC", "Later", "monthly", date(2026, 2, 1), auto_finalize=True),
        CreateContract("BIG", "BETA", "NYC", "Too big", "monthly", date(2026, 3, 1), auto_finalize=True,
                       positions=(P(1, "Everything", "1000", "999999999999.99", "19", "USD"),)),
        CreateContract("YEARLY", "BETA", "NYC", "Support", "annual", date(2025, 2, 28), next_run_date=date(2026, 2, 28),
                       auto_finalize=True, positions=(P(1, "Support", "1", "1200.00", "19", "USD"),)),
    ]
    for cmd in specs:
        create_contract(store, cmd, T0)


def _issued(summary: Any) -> list[tuple[str, str | None, str]]:
    return [(d["company"], d["number"], d["run_date"]) for d in summary.issued]


def golden_scenario(store: Store) -> dict[str, Any]:
    """Every kind of contract and invoice event, at fixed instants. Returns what it issued."""
    setup(store)
    issued: list[Any] = []
    issued += _issued(tick(store, noon(2025, 12, 1)))
    issued += _issued(tick(store, noon(2025, 12, 20)))
    change_position(store, "RENT", noon(2025, 12, 21), position=1, unit_price="1050.00")
    issued += _issued(tick(store, noon(2026, 1, 5)))
    catch_up(store)
    draft = queries.list_invoices(store.read_engine, status="DRAFT")
    assert len(draft) == 1
    finalized = [finalize_invoice(store, draft[0]["id"], noon(2026, 1, 6)).number]
    pay_invoice(store, "INV-2025-000001", noon(2026, 1, 7), reference="bank 1")
    pay_invoice(store, "INV-2025-000002", noon(2026, 1, 7), "500.00", "bank 2")
    mark_sent(store, "INV-2025-000001", noon(2026, 1, 8), "email")
    issued += _issued(tick(store, noon(2026, 3, 10)))
    # (the draft finalized on 2026-01-06 is INV-2026-000001 of ACME: dated the day it was issued)
    credit_invoice(store, "INV-2026-000002", noon(2026, 3, 11), positions=[2], reason="support not used", company="ACME")
    void_invoice(store, "INV-2026-000002", noon(2026, 3, 12), "sent to the wrong address", company="BETA")
    change_position(store, "BIG", noon(2026, 3, 13), position=1, quantity="1")
    add_position(store, "EMPTY", noon(2026, 3, 13), position=1, description="Storage", quantity="3", unit_price="12.34",
                 tax_rate="reduced", attributes={"box": "B7"})
    set_active(store, "HOST", noon(2026, 3, 14), False, "paused")
    issued += _issued(tick(store, noon(2026, 4, 15)))
    set_active(store, "HOST", noon(2026, 4, 16), True)
    update_contract(store, "RENT", noon(2026, 4, 16), payment_terms_days=30, name="Office rent (2026)")
    end_contract(store, "LIC", noon(2026, 4, 16), date(2026, 5, 31))
    credit_invoice(store, "INV-2025-000002", noon(2026, 4, 17), positions=[2], company="ACME")
    pay_invoice(store, "INV-2026-000001", noon(2026, 4, 20), company="BETA")
    issued += _issued(tick(store, noon(2026, 7, 1)))
    catch_up(store)
    for o in queries.list_outbox(store.read_engine):
        mark_sent(store, o["number"], noon(2026, 7, 2), "post", company=o["company"])
    for d in queries.list_invoices(store.read_engine, status="DRAFT"):
        finalized.append(finalize_invoice(store, d["id"], noon(2026, 7, 2)).number)
    credit_invoice(store, "INV-2026-000003", noon(2026, 7, 3), company="BETA")
    issued += _issued(tick(store, noon(2026, 7, 20)))
    return {"issued": issued, "finalized": finalized}



def invoice_rows(store: Store) -> list[tuple]:
    catch_up(store)
    return sorted(
        (r["company"], r["kind"], r["number"] or "", r["source"], r["status"], r["issue_date"], r["due_date"],
         r["period_start"], r["period_end"], r["currency"], r["net"], r["tax"], r["gross"], r["paid"], r["credited"],
         r["references"] or "", repr(r["lines"]), repr(r["tax_breakdown"]))
        for r in queries.list_invoices(store.read_engine)
    )


def run_rows(store: Store) -> list[tuple]:
    """The audit trail without the instant each run was recorded at."""
    catch_up(store)
    return [(r["contract"], r["run_date"], r["status"], r["message"], r["invoice_number"], r["invoice_id"])
            for r in queries.list_runs(store.read_engine)]



# ============================================================================================ daily ≡ once
YEAR_FROM, YEAR_TO = date(2026, 1, 1), date(2026, 12, 31)


def year_setup(store: Store) -> None:
    add_customers(store)
    specs = [
        CreateContract("M-31", "ACME", "BER", "Month ends", "monthly", date(2026, 1, 31), auto_finalize=True, auto_send=True,
                       positions=(P(1, "Rent", "1", "1000.00", "19", "EUR"), P(2, "Parking", "1", "49.99", "7", "EUR"))),
        CreateContract("M-TYO", "ACME", "TYO", "Tokyo", "monthly", date(2026, 1, 1), currency="JPY", auto_finalize=True,
                       positions=(P(1, "Licence", "2.5", "333", "19", "JPY"),)),
        CreateContract("Q-30", "ACME", "BER", "Quarterly", "quarterly", date(2025, 11, 30), next_run_date=date(2026, 2, 28),
                       auto_finalize=True, positions=(P(1, "Service", "3", "33.33", "standard", "EUR"),)),
        CreateContract("S-NYC", "BETA", "NYC", "Half-yearly", "semi-annual", date(2026, 3, 31), auto_finalize=True,
                       positions=(P(1, "Audit", "1", "2500.00", "0", "USD"),)),
        CreateContract("A-NYC", "BETA", "NYC", "Yearly", "annual", date(2026, 6, 15), auto_finalize=True,
                       positions=(P(1, "Support", "1", "1200.00", "19", "USD"),)),
        CreateContract("END-NYC", "BETA", "NYC", "Ends", "monthly", date(2026, 1, 10), end_date=date(2026, 7, 20),
                       auto_finalize=True, positions=(P(1, "Seat", "4", "12.50", "19", "USD"),)),
        CreateContract("DRAFTS", "BETA", "NYC", "Drafts", "monthly", date(2026, 2, 28), positions=(P(1, "Hours", "7.5", "80.00", "19", "USD"),)),
        CreateContract("NOPOS", "BETA", "NYC", "Empty", "quarterly", date(2026, 1, 1), auto_finalize=True),
        CreateContract("FAILS", "BETA", "NYC", "Fails", "monthly", date(2026, 5, 1), auto_finalize=True,
                       positions=(P(1, "Everything", "1000", "999999999999.99", "19", "USD"),)),
    ]
    for cmd in specs:
        create_contract(store, cmd, T0)


# ============================================================================================ racing tickers
# 12:00 UTC on Mar 10 is Mar 10 in every zone below (08:00 New York, 21:00 Tokyo, 23:00 Sydney)
TICK_AT = datetime(2026, 3, 10, 12, tzinfo=UTC)
LOCAL_TICK_DATE = date(2026, 3, 10)
SETUP_AT = datetime(2025, 10, 1, tzinfo=UTC)
RACE_CUSTOMERS = [("BER", "Europe/Berlin", "EUR"), ("NYC", "America/New_York", "USD"), ("TYO", "Asia/Tokyo", "JPY"),
             ("SYD", "Australia/Sydney", "AUD")]
COMPANIES = ["ALPHA", "BETA", "GAMMA"]
N_CONTRACTS = 150
MONTHS = {"monthly": 1, "quarterly": 3, "annual": 12}
RATES = [("standard", Decimal(19)), ("reduced", Decimal(7)), ("zero", Decimal(0))]


def plan(i: int) -> dict[str, Any]:
    """Contract ``i``: its company, customer, schedule and positions, as plain data."""
    cust, zone, cur = RACE_CUSTOMERS[i % len(RACE_CUSTOMERS)]
    interval = "quarterly" if i % 5 == 0 else ("annual" if i % 7 == 0 else "monthly")
    start = date(2025, 11, 15) + timedelta(days=(i * 13) % 75)  # Nov 15 .. Jan 28: runs in 2025 and 2026
    minor = 0 if cur == "JPY" else 2
    price = Decimal(1000 + (i * 37) % 9000).scaleb(-minor)
    positions = [(1, "Service", str(i % 4 + 1), str(price), RATES[i % 3][0])]
    if i % 2 == 0:
        positions.append((2, "Extra", "0.5", "5.55" if minor else "555", "reduced"))
    return {"ref": f"K-{i:04d}", "company": COMPANIES[i % len(COMPANIES)], "customer": cust, "currency": cur,
            "interval": interval, "start": start, "positions": positions, "minor": minor}


def expected_runs(p: dict[str, Any]) -> list[date]:
    """Run dates due by the tick, computed here with relativedelta, independently of the engine."""
    out, n = [], 0
    while (d := p["start"] + relativedelta(months=MONTHS[p["interval"]] * n)) <= LOCAL_TICK_DATE:
        out.append(d)
        n += 1
    return out


def expected_totals(p: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal]:
    q = Decimal(1).scaleb(-p["minor"])
    rnd = lambda x: x.quantize(q, rounding=ROUND_HALF_UP)  # noqa: E731
    percent = dict(RATES)
    bases: dict[str, Decimal] = defaultdict(Decimal)
    for _n, _d, qty, price, rate in p["positions"]:
        bases[rate] += rnd(Decimal(qty) * Decimal(price))
    net = sum(bases.values(), Decimal(0))
    tax = sum((rnd(b * percent[r] / 100) for r, b in bases.items()), Decimal(0))
    return net, tax, net + tax


def setup_contracts(store: Store, n: int = N_CONTRACTS, auto_finalize: bool = True) -> list[dict[str, Any]]:
    for company in COMPANIES:  # customers belong to a company (issue 7)
        for ref, zone, cur in RACE_CUSTOMERS:
            add_customer(store, AddCustomer(ref, f"{ref} Ltd", zone, cur, 14, company=company), SETUP_AT)
    plans = [plan(i) for i in range(n)]
    for p in plans:
        positions = tuple(make_position(k, d, qty, price, rate, p["currency"]) for k, d, qty, price, rate in p["positions"])
        create_contract(store, CreateContract(p["ref"], p["company"], p["customer"], f"Contract {p['ref']}", p["interval"],
                                              p["start"], auto_finalize=auto_finalize, positions=positions), SETUP_AT)
    projection_runner.run(store, registry.ALL)
    return plans


# ============================================================================================ helpers
def check_series_gapless(store: Store, issued: list[tuple[str, str, int, date]]) -> None:
    """``issued``: (company, number, sequence, issue date) of every issued INV. Gapless and unique per
    (company, year); the number series' allocations are contiguous and add up."""
    per_series: dict[tuple[str, int], list[int]] = defaultdict(list)
    numbers = Counter()
    for company, number, seq, issue_date in issued:
        assert number == f"INV-{issue_date.year}-{seq:06d}", (number, seq, issue_date)
        per_series[(company, issue_date.year)].append(seq)
        numbers[(company, number)] += 1
    dup = [k for k, c in numbers.items() if c > 1]
    assert not dup, f"numbers given twice: {dup[:10]}"
    for key, seqs in per_series.items():
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), f"{key}: numbers are not gapless: {sorted(seqs)}"
    assert_series_allocations_contiguous(store, len(issued))


def check_contract_runs(store: Store, plans: list[dict[str, Any]]) -> None:
    """Exactly the expected runs, one SUCCESS each, one invoice each with the right totals and numbers."""
    projection_runner.run(store, registry.ALL)
    by_id = {contract_id(p["ref"], p["company"]): p for p in plans}
    want = {(p["ref"], d) for p in plans for d in expected_runs(p)}
    assert len(want) > 2 * len(plans)

    runs = [e for e in events(store, "billing:Contract.RunRecorded")]
    statuses = Counter(e.status for e in runs)
    assert statuses == {"SUCCESS": len(want)}, statuses
    success = Counter((by_id[e.originator_id]["ref"], e.run_date) for e in runs)
    assert all(c == 1 for c in success.values()), f"several SUCCESS runs: {[k for k, c in success.items() if c > 1][:10]}"
    assert set(success) == want
    # each contract's runs were recorded in run-date order, on consecutive versions
    per_contract: dict[Any, list[tuple[int, date]]] = defaultdict(list)
    for e in runs:
        per_contract[e.originator_id].append((e.originator_version, e.run_date))
    for cid, seen in per_contract.items():
        assert [d for _v, d in sorted(seen)] == expected_runs(by_id[cid])

    created = events(store, "billing:Invoice.Created")
    ids = Counter(e.originator_id for e in created)
    assert all(c == 1 for c in ids.values()), "an invoice was created twice"
    assert len(created) == len(want)
    issued = []
    for e in created:
        p = by_id[contract_id(e.source.split(":", 1)[1], e.company)]
        assert e.originator_id == contract_invoice_id(contract_id(p["ref"], p["company"]), e.issue_date)
        assert (e.company, e.currency, e.customer_reference) == (p["company"], p["currency"], p["customer"])
        assert (e.net, e.tax, e.gross) == expected_totals(p), p["ref"]
        assert e.number is not None and e.sequence is not None
        issued.append((e.company, e.number, e.sequence, e.issue_date))
    run_invoices = {(e.originator_id, e.run_date): (e.invoice_id, e.invoice_number) for e in runs}
    by_invoice = {e.originator_id: e.number for e in created}
    for (cid, run_date), (iid, number) in run_invoices.items():
        assert iid == contract_invoice_id(cid, run_date) and by_invoice[iid] == number
    check_series_gapless(store, issued)

    # the read models agree with the events
    rows = queries.list_invoices(store.read_engine, kind="INVOICE")
    assert sorted((r["company"], r["number"]) for r in rows) == sorted((c, n) for c, n, _s, _d in issued)
    assert len({r["id"] for r in rows}) == len(rows)
    trail = queries.list_runs(store.read_engine)
    assert Counter((r["contract"], r["run_date"], r["status"]) for r in trail) == Counter(
        (ref, d.isoformat(), "SUCCESS") for ref, d in want)



# ============================================================================================ the suites' glue
def state(store: Store) -> dict[str, Any]:
    """What two runs must agree on: every document (numbers, dates, totals, lines, statuses) and the run trail."""
    return {"invoices": invoice_rows(store), "runs": run_rows(store)}


def daily_ticks() -> list[datetime]:
    """06:00 UTC of every day of 2026 and of 2027-01-01."""
    start = datetime.combine(YEAR_FROM, datetime.min.time(), tzinfo=UTC) + timedelta(hours=6)
    return [start + timedelta(days=n) for n in range((YEAR_TO - YEAR_FROM).days + 2)]


def daily_check(s: dict[str, Any]) -> None:
    rows = s["invoices"]
    assert len(rows) == 50
    assert {r[4] for r in rows} == {"OVERDUE", "ISSUED", "DRAFT"}


def pay_half_of_the_overdue(store: Store, at: datetime) -> None:
    catch_up(store)
    for i, r in enumerate(queries.list_invoices(store.read_engine, status="OVERDUE")):
        if i % 2 == 0:
            pay_invoice(store, r["number"], at, company=r["company"])


def golden_check(stream: list[tuple[str, str, int, bytes]]) -> None:
    runs = [st for t, _i, _v, st in stream if t == "billing:Contract.RunRecorded"]
    for status in (b'"SUCCESS"', b'"SKIPPED"', b'"FAILED"'):
        assert any(status in st for st in runs), status


def race_setup(store: Store) -> list[dict[str, Any]]:
    return setup_contracts(store)


def race_check(store: Store, plans: list[dict[str, Any]], reported: Counter) -> None:
    check_contract_runs(store, plans)
    assert sum(reported.values()) <= sum(len(expected_runs(p)) for p in plans)


# ============================================================================================ bad input (CLI)
T0_TEXT = "2026-01-01T00:00:00Z"
T0_DT = datetime(2026, 1, 1, tzinfo=UTC)


def bad_seed(url: str) -> None:
    """Customer CUST (Berlin, EUR) of ACME and BETA, and ACME's contract C1 with position 1."""
    with Store(resolve(url)) as s:
        for company in ("ACME", "BETA"):
            add_customer(s, AddCustomer("CUST", "Cust GmbH", "Europe/Berlin", "EUR", 14, company=company), T0_DT)
        create_contract(s, CreateContract("C1", "ACME", "CUST", "Rent", "monthly", date(2026, 1, 1), auto_finalize=True,
                                          positions=(make_position(1, "Rent", "1", "100.00", "19", "EUR"),)), T0_DT)
        projection_runner.run(s, registry.ALL)


def bad_after(url: str) -> None:
    rows = js(url, "contracts", "list", "--company", "ACME")
    assert [(r["reference"], len(r["positions"])) for r in rows] == [("C1", 1)]


CREATE = ["contracts", "create", "C2", "--company", "ACME", "--customer", "CUST", "--name", "Other", "--interval", "monthly"]
ADD = ["contracts", "add-position", "C1", "--description", "Extra"]

BAD = [
    ("end_date", [*CREATE, "--start", "2026-02-01", "--end", "2026-01-31", "--at", T0_TEXT]),
    ("next_run_date", [*CREATE, "--start", "2026-02-01", "--next-run", "2026-01-01", "--at", T0_TEXT]),
    ("start_date", [*CREATE, "--start", "2026-02-30", "--at", T0_TEXT]),
    ("currency", [*CREATE, "--start", "2026-01-01", "--currency", "XYZ", "--at", T0_TEXT]),
    ("customer", ["contracts", "create", "C2", "--company", "ACME", "--customer", "NOBODY", "--name", "Other",
                  "--interval", "monthly", "--start", "2026-01-01", "--at", T0_TEXT]),
    ("position", [*ADD, "--position", "1", "--quantity", "1", "--unit-price", "1.00", "--tax-rate", "19", "--at", T0_TEXT]),
    ("quantity", [*ADD, "--position", "2", "--quantity=-1", "--unit-price", "1.00", "--tax-rate", "19", "--at", T0_TEXT]),
    ("quantity", [*ADD, "--position", "2", "--quantity", "1.23456", "--unit-price", "1.00", "--tax-rate", "19", "--at", T0_TEXT]),
    ("unit_price", [*ADD, "--position", "2", "--quantity", "1", "--unit-price", "1.001", "--tax-rate", "19", "--at", T0_TEXT]),
    ("tax_rate", [*ADD, "--position", "2", "--quantity", "1", "--unit-price", "1.00", "--tax-rate", "16", "--at", T0_TEXT]),
    ("contract", ["contracts", "add-position", "NOPE", "--position", "1", "--description", "x", "--quantity", "1",
                  "--unit-price", "1.00", "--tax-rate", "19", "--at", T0_TEXT]),
    ("contract", ["contracts", "show", "NOPE"]),
    ("at", ["tick", "--at", "2026-13-01T00:00:00Z"]),
    ("at", ["tick", "--at", "2026-02-01T00:00:00"]),
    ("at", [*CREATE, "--start", "2026-01-01", "--at", "2026-01-01 noon"]),
    ("number", ["invoices", "show", "INV-2026-000001"]),
]



SCENARIO = Scenario(
    name="contracts",
    golden=golden_scenario,
    topics=tuple("billing:" + t for t in (
        "Contract.Created", "Contract.Updated", "Contract.PositionAdded", "Contract.PositionChanged",
        "Contract.Deactivated", "Contract.Reactivated", "Contract.Ended", "Contract.RunRecorded",
        "Invoice.Created", "Invoice.Issued", "Invoice.MarkedOverdue", "Invoice.PaymentRecorded", "Invoice.Paid",
        "Invoice.Voided", "Invoice.Sent", "Invoice.Credited", "NumberSeries.Allocated")),
    golden_check=golden_check,
    state=state,
    daily_setup=year_setup,
    daily_actions=lambda: [],
    daily_ticks=daily_ticks,
    daily_check=daily_check,
    after=pay_half_of_the_overdue,
    race_setup=race_setup,
    race_at=TICK_AT,
    race_check=race_check,
    reported_key=lambda d: (d["company"], d["number"]),
    bad_seed=bad_seed,
    bad_cases=BAD,
    bad_after=bad_after,
    bad_env={"BILLING_COMPANY": "ACME"},
)
