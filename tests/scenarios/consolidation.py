"""The consolidation scenario (issue 2) for the shared suites (:mod:`scenarios`): customers in five zones
and currencies, weekly and monthly periods, cancellations, a late arrival, a change of regime, disabling,
late approval and payments; forty weeks of six customers for the racing tickers; the CLI's bad inputs of
customers and individual invoices."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, time as dtime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

import domain.consolidated_invoice  # noqa: F401 - registers the topics the suites decode
import domain.customer  # noqa: F401
import domain.individual_invoice  # noqa: F401
import domain.number_series  # noqa: F401
from commands.app import Store
from commands.consolidated import pay_consolidated
from commands.customers import (
    AddCustomer,
    add_customer,
    approve_customer,
    disable_consolidation,
    set_consolidation,
    update_customer,
)
from commands.individual_invoices import RecordInvoice, cancel_invoice, make_record, record_invoice, record_invoices
from projections import queries, registry
from projections import runner as projection_runner
from projections.tables import consolidated_invoices
from scenarios import Action, Scenario
from scheduler.tick import tick
from support import assert_series_allocations_contiguous, events, js, ok

UTC = timezone.utc
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SETUP_AT = datetime(2025, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ============================================================================================ the scenario
CUSTOMERS = [
    # reference, zone, currency, terms, approved, mode, start day, consolidate from, summary attributes
    ("ACME", "Europe/Berlin", "EUR", 14, True, "weekly", 1, date(2026, 1, 5), ("route",)),
    ("BOMBAY", "Asia/Kolkata", "INR", 30, True, "monthly", 1, date(2026, 1, 1), ()),
    ("NYC", "America/New_York", "USD", 7, False, "weekly", 7, date(2026, 1, 4), ("route", "kind")),
    ("PHX", "America/Phoenix", "USD", 0, True, "monthly", 28, date(2026, 1, 10), ()),
    ("TOKYO", "Asia/Tokyo", "JPY", 10, True, "weekly", 3, date(2026, 1, 7), ()),
]
AMOUNTS = {"EUR": ["12.50", "0.99", "100.00", "7.35"], "INR": ["1500.00", "99.50"], "USD": ["25.00", "310.20", "4.44"], "JPY": ["1200", "980", "15000"]}


def invoices_of_day(day: date) -> list[tuple[str, str, datetime, str, dict]]:
    """The invoices issued on ``day`` (UTC date of the instant): a deterministic spread over customers,
    hours and amounts."""
    out = []
    n = (day - date(2026, 1, 1)).days
    for k, (ref, _tz, cur, *_rest) in enumerate(CUSTOMERS):
        if (n + k) % 3 == 0:
            continue
        for j in range(1 + (n * (k + 1)) % 2):
            hour = (5 * n + 7 * k + 11 * j) % 24
            issued_at = datetime(day.year, day.month, day.day, hour, (13 * n + j) % 60, tzinfo=UTC)
            amounts = AMOUNTS[cur]
            amount = amounts[(n + j + k) % len(amounts)]
            attrs = {"route": f"R{(n + k) % 4}", "kind": "B" if j else "A", "seq": n * 10 + j}
            out.append((f"{ref}-{day:%m%d}-{j}", ref, issued_at, amount, attrs))
    return out


def add_customers(store: Store) -> None:
    for ref, tz, cur, terms, approved, mode, start_day, frm, attrs in CUSTOMERS:
        add_customer(store, AddCustomer(ref, f"{ref} Ltd", tz, cur, terms, approved, attrs), T0)
        set_consolidation(store, ref, mode, start_day, frm, T0)


def currency_of(ref: str) -> str:
    return next(c[2] for c in CUSTOMERS if c[0] == ref)


def record_day(store: Store, day: date) -> list[RecordInvoice]:
    cmds = [make_record(num, ref, issued_at, amount, currency_of(ref), attrs) for num, ref, issued_at, amount, attrs in invoices_of_day(day)]
    if cmds:
        record_invoices(store, cmds, max(c.issued_at for c in cmds))
    return cmds


def _half(store: Store, number: str) -> Decimal:
    projection_runner.run(store, registry.ALL)
    row = queries.show_consolidated(store.read_engine, number)
    places = Decimal(1) if row["currency"] == "JPY" else Decimal("0.01")
    return (Decimal(row["balance"]) / 2).quantize(places)


def golden_scenario(store: Store) -> dict[str, Any]:
    """Several customers and zones, weekly and monthly, cancellations, a late arrival, a change of regime,
    disabling, late approval, payments and several ticks (some dry runs). Returns what was issued."""
    add_customers(store)
    update_customer(store, "ACME", utc(2026, 1, 2), name="ACME GmbH", payment_terms_days=21)
    issued: list[str] = []
    settled: set[str] = set()
    day = date(2026, 1, 2)
    while day <= date(2026, 3, 20):
        # the day's tick at 06:00 UTC comes first: every command runs in business-time order
        if day.isoweekday() == 1 or day.day == 1:
            at = datetime(day.year, day.month, day.day, 6, tzinfo=UTC)
            if day.day % 2:
                tick(store, at, dry_run=True)
            summary = tick(store, at)
            issued.extend(d["number"] for d in summary.issued)
        cmds = record_day(store, day)
        # cancel one invoice of the day a minute after the day's invoices were recorded (its period is
        # still open; a command's business time never precedes what it changes)
        if day.day % 5 == 0 and cmds:
            cancel_invoice(store, cmds[0].number, max(c.issued_at for c in cmds) + timedelta(minutes=1), "duplicate")
        if day == date(2026, 1, 20):
            approve_customer(store, "NYC", utc(2026, 1, 20, 12))
        if day == date(2026, 2, 10):
            # a late arrival: issued in ACME's closed week W03, recorded now
            record_invoice(store, make_record("ACME-LATE", "ACME", utc(2026, 1, 14, 9), "55.55", "EUR", {"route": "R9"}), utc(2026, 2, 10, 23, 59))
            # PHX stops consolidating mid-period
            disable_consolidation(store, "PHX", utc(2026, 2, 10, 17, 30))
        if day == date(2026, 2, 20):
            # ACME records three invoices in advance (issued on 03-01), then switches to monthly
            # consolidation from March: closing its truncated week W09 moves them on to March
            advance = [make_record(f"ACME-ADV-{k}", "ACME", utc(2026, 3, 1, 10 + k), "30.00", "EUR", {"route": "R7"}) for k in range(3)]
            record_invoices(store, advance, utc(2026, 2, 20, 8))
            set_consolidation(store, "ACME", "monthly", 1, date(2026, 3, 1), utc(2026, 2, 20, 9))
        if day == date(2026, 3, 4):
            # cancel one of the moved invoices: it leaves the March period it was moved to
            cancel_invoice(store, "ACME-ADV-1", utc(2026, 3, 4, 23, 59), "not flown")
        if day.isoweekday() == 3:
            # pay the oldest unsettled invoice in full and the next one in part
            todo = [n for n in issued[: len(issued) // 2] if n not in settled]
            at = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
            if todo:
                inv = pay_consolidated(store, todo[0], at, None, f"bank {day}")
                assert inv.status == "PAID"
                settled.add(todo[0])
            if len(todo) > 1:
                pay_consolidated(store, todo[1], at, _half(store, todo[1]), f"bank {day} part")
                settled.add(todo[1])
        day += timedelta(days=1)
    final = tick(store, utc(2026, 4, 15))
    issued.extend(d["number"] for d in final.issued)
    return {"issued": issued}



# ============================================================================================ daily ≡ once
DAILY_FROM, DAILY_TO = date(2026, 1, 2), date(2026, 4, 30)


def _consolidated_rows(store: Store, include_open: bool = False) -> list[tuple]:
    projection_runner.run(store, registry.ALL)
    rows = queries.list_consolidated(store.read_engine, include_open=include_open)
    return sorted(
        (r["number"] or "", r["customer"], r["label"], r["period_start"], r["period_end"], r["issue_date"], r["due_date"],
         r["count"], r["total"], r["paid"], r["status"], repr(r["summary"]))
        for r in rows
    )


def _actions() -> list[Action]:
    """Everything but ticks, each at its business instant (invoices recorded when issued)."""
    acts: list[Action] = []
    day = DAILY_FROM
    while day <= DAILY_TO:
        for num, ref, issued_at, amount, attrs in invoices_of_day(day):
            cmd = make_record(num, ref, issued_at, amount, currency_of(ref), attrs)
            acts.append(Action(issued_at, lambda s, c=cmd: record_invoices(s, [c], c.issued_at)))
            if day.day % 5 == 0 and num.endswith("-0") and ref != "PHX":
                # cancelled a minute later: no tick (at 00:00 and 12:00 UTC) and no period end in between
                acts.append(Action(issued_at + timedelta(minutes=1), lambda s, n=num, t=issued_at: cancel_invoice(s, n, t + timedelta(minutes=1))))
        day += timedelta(days=1)
    disable_at = utc(2026, 2, 10, 17, 30)
    acts.append(Action(disable_at, lambda s: disable_consolidation(s, "PHX", disable_at)))
    regime_at = utc(2026, 2, 20, 9)
    acts.append(Action(regime_at, lambda s: set_consolidation(s, "ACME", "monthly", 1, date(2026, 3, 1), regime_at)))
    acts.sort(key=lambda a: a.at)
    return acts


def _setup_approved(store: Store) -> None:
    for ref, tz, cur, terms, _approved, mode, start_day, frm, attrs in CUSTOMERS:
        add_customer(store, AddCustomer(ref, f"{ref} Ltd", tz, cur, terms, True, attrs), T0)
        set_consolidation(store, ref, mode, start_day, frm, T0)


def _pay_some(store: Store, at: datetime) -> None:
    rows = queries.list_consolidated(store.read_engine)
    for i, r in enumerate(sorted(rows, key=lambda r: r["number"])):
        if i % 3 == 0:
            pay_consolidated(store, r["number"], at)
        elif i % 3 == 1:
            cur = r["currency"]
            part = Decimal(r["total"]) / 2
            part = part.quantize(Decimal(1) if cur == "JPY" else Decimal("0.01"))
            if part > 0:
                pay_consolidated(store, r["number"], at, part)
    projection_runner.run(store, registry.ALL)



# ============================================================================================ racing tickers: helpers
RACE_CUSTOMERS = [
    ("C1", "Europe/Berlin", "EUR", 1, date(2025, 1, 6)),
    ("C2", "America/New_York", "USD", 1, date(2025, 1, 6)),
    ("C3", "Asia/Tokyo", "JPY", 3, date(2025, 1, 8)),
    ("C4", "Australia/Sydney", "AUD", 7, date(2025, 1, 5)),
    ("C5", "UTC", "GBP", 5, date(2025, 1, 10)),
    ("C6", "America/Los_Angeles", "EUR", 1, date(2025, 1, 6)),
]
WEEKS = 40
PER_WEEK = 3
# Every customer has exactly 40 periods due at this instant (the 40th of C5 ends on Friday Oct 17 in UTC;
# the 41st of C4 ends first, at midnight of Oct 19 in Sydney = 13:00 UTC on Oct 18).
RACE_AT = datetime(2025, 10, 17, 12, 0, tzinfo=UTC)


# ============================================================================================ helpers
def amount_for(i: int, currency: str) -> str:
    cents = 100 + (i * 7919) % 50000
    if currency == "JPY":
        return str(cents)
    return f"{Decimal(cents) / 100:.2f}"


def expected_periods(zone: str, start_day: int, first: date, at: datetime) -> list[date]:
    """Starts of the weekly periods due at ``at`` (their end's local midnight is at or before ``at``),
    computed here independently of the engine."""
    start = first - timedelta(days=(first.isoweekday() - start_day) % 7)
    out = []
    while datetime.combine(start + timedelta(days=7), dtime(0), tzinfo=ZoneInfo(zone)) <= at:
        out.append(start)
        start += timedelta(days=7)
    return out


def setup_customers(store: Store) -> None:
    for ref, zone, cur, start_day, first in RACE_CUSTOMERS:
        add_customer(store, AddCustomer(ref, f"{ref} Ltd", zone, cur, 14, True), SETUP_AT)
        set_consolidation(store, ref, "weekly", start_day, first, SETUP_AT)


def check_consistent(store: Store, recorded: dict[str, tuple[str, Decimal]]) -> dict[str, Any]:
    """The invariants after any race; ``recorded`` maps every invoice number to (customer, amount).

    Returns the issued consolidated invoices by number (from the events)."""
    projection_runner.run(store, registry.ALL)

    # Each individual invoice recorded exactly once.
    created = Counter(e.number for e in events(store, "billing:IndividualInvoice.Created"))
    assert set(created) == set(recorded), "recorded invoices differ from those given"
    dup = {n: c for n, c in created.items() if c > 1}
    assert not dup, f"invoices recorded more than once: {dup}"

    # Each period closed exactly once, on the customer and on the period aggregate.
    closed_on_customer = Counter((e.originator_id, e.regime, e.period_start)
                                 for e in events(store, "billing:Customer.PeriodClosed"))
    assert all(c == 1 for c in closed_on_customer.values()), "a customer period was closed twice"
    closed_periods = Counter(e.originator_id for e in events(store, "billing:ConsolidatedInvoice.PeriodClosed"))
    assert all(c == 1 for c in closed_periods.values()), "a consolidated period was closed twice"
    assert len(closed_periods) == len(closed_on_customer)

    # Issued invoices: one event per invoice, unique numbers, gapless per label.
    issued_events = events(store, "billing:ConsolidatedInvoice.InvoiceIssued")
    by_invoice = Counter(e.originator_id for e in issued_events)
    assert all(c == 1 for c in by_invoice.values()), "a consolidated invoice was issued twice"
    numbers = Counter(e.number for e in issued_events)
    assert all(c == 1 for c in numbers.values()), f"duplicate numbers: {[n for n, c in numbers.items() if c > 1]}"
    assert len(issued_events) == len(by_invoice) == len(numbers)
    assert set(by_invoice) <= set(closed_periods)
    per_label: dict[str, list[int]] = defaultdict(list)
    for e in issued_events:
        label = e.number.rsplit("-", 1)[0]
        per_label[label].append(e.sequence)
        assert e.number == f"{label}-{e.sequence:03d}"
    for label, seqs in per_label.items():
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), f"{label}: numbers {sorted(seqs)} are not gapless"
    # The number series agree: allocations contiguous, and as many as issued.
    assert_series_allocations_contiguous(store, len(issued_events))

    # The read model shows exactly the issued invoices.
    with store.read_engine.connect() as conn:
        rows = conn.execute(sa.select(consolidated_invoices.c.number, consolidated_invoices.c.total,
                                      consolidated_invoices.c.count)
                            .where(consolidated_invoices.c.number.is_not(None))).all()
    assert sorted(r.number for r in rows) == sorted(numbers)
    events_by_number = {e.number: e for e in issued_events}
    for r in rows:
        e = events_by_number[r.number]
        assert (Decimal(r.total), r.count) == (e.total, e.count)
    return events_by_number



# ============================================================================================ CLI helpers
T0_TEXT = "2026-01-01T00:00:00Z"


def add_customer_cli(db_url: str, ref: str, tz: str, currency: str, *extra: str) -> str:
    """``billing customers add REF`` at 2026-01-01."""
    return ok(db_url, "customers", "add", ref, "--name", f"{ref} Ltd", "--timezone", tz, "--currency", currency,
              *extra, "--at", T0_TEXT)


def record_args(number: str, customer: str, amount: str, currency: str, issued_at: str = "2026-01-07T09:00:00Z",
                at: str | None = None, attributes: str | None = None) -> list[str]:
    """The arguments of ``billing invoices record``."""
    args = ["invoices", "record", number, "--customer", customer, "--issued-at", issued_at, f"--amount={amount}",
            "--currency", currency, "--at", at or issued_at]
    if attributes is not None:
        args += ["--attributes", attributes]
    return args


# ============================================================================================ bad input (CLI)
def _new_customer(tz: str = "Europe/Berlin", currency: str = "EUR", at: str = T0_TEXT) -> list[str]:
    return ["customers", "add", "NEW", "--name", "New", "--timezone", tz, "--currency", currency, "--at", at]


E1 = "2026-01-06T09:00:00Z"
BAD_INPUTS: dict[str, tuple[str, list[str]]] = {
    "unknown timezone": ("timezone", _new_customer(tz="Mars/Olympus")),
    "unknown currency": ("currency", _new_customer(currency="XYZ")),
    "invoice currency differs from the customer's": ("currency", record_args("N1", "EURO", "1.00", "USD")),
    "weekly start day 8": ("start_day", ["customers", "consolidation", "DOLLAR", "weekly", "--start-day", "8", "--at", T0_TEXT]),
    "monthly start day 29": ("start_day", ["customers", "consolidation", "DOLLAR", "monthly", "--start-day", "29", "--at", T0_TEXT]),
    "negative amount": ("amount", record_args("N1", "EURO", "-5.00", "EUR")),
    "amount 12,50": ("amount", record_args("N1", "EURO", "12,50", "EUR")),
    "amount abc": ("amount", record_args("N1", "EURO", "abc", "EUR")),
    "USD amount 12.345": ("amount", record_args("N1", "DOLLAR", "12.345", "USD")),
    "JPY amount 1.5": ("amount", record_args("N1", "YEN", "1.5", "JPY")),
    "unknown customer": ("customer", record_args("N1", "NOBODY", "1.00", "EUR")),
    "consolidation of an unknown customer": ("customer", ["customers", "consolidation", "NOBODY", "weekly",
                                                         "--start-day", "1", "--at", T0_TEXT]),
    "existing number, other amount": ("amount", record_args("E1", "EURO", "10.01", "EUR", E1, attributes='{"k": "v"}')),
    "existing number, other customer": ("customer", record_args("E1", "DOLLAR", "10.00", "USD", E1, attributes='{"k": "v"}')),
    "existing number, other attributes": ("attributes", record_args("E1", "EURO", "10.00", "EUR", E1)),
    "at without offset (tick)": ("at", ["tick", "--at", "2026-02-02T00:00:00", "--json"]),
    "at garbage (tick)": ("at", ["tick", "--at", "next tuesday", "--json"]),
    "at garbage (record)": ("at", record_args("N1", "EURO", "1.00", "EUR", at="2026-13-45T99:00:00Z")),
    "issued_at without offset": ("issued_at", record_args("N1", "EURO", "1.00", "EUR", "2026-01-07T09:00:00",
                                                          at="2026-01-07T09:00:00Z")),
}



# ============================================================================================ racing tickers
def race_setup(store: Store) -> dict[str, tuple[str, Decimal]]:
    """Six customers, forty weeks of three invoices each; returns every invoice number → (customer, amount)."""
    recorded: dict[str, tuple[str, Decimal]] = {}
    setup_customers(store)
    i = 0
    for ref, zone, cur, _start_day, first in RACE_CUSTOMERS:
        cmds = []
        for week in range(WEEKS):
            for k in range(PER_WEEK):
                day = first + timedelta(days=7 * week + k)
                issued_at = datetime.combine(day, dtime(10 + k), tzinfo=ZoneInfo(zone))
                number = f"{ref}-{week:02d}-{k}"
                cmds.append(make_record(number, ref, issued_at, amount_for(i, cur), cur))
                recorded[number] = (ref, cmds[-1].amount)
                i += 1
        record_invoices(store, cmds, SETUP_AT)
    projection_runner.run(store, registry.ALL)
    return recorded


def race_check(store: Store, recorded: dict[str, tuple[str, Decimal]], reported: Counter) -> None:
    """Every period closed once, the expected ones, each with its invoice; the money adds up."""
    issued = check_consistent(store, recorded)
    assert set(reported) <= set(issued)
    customers = {e.reference: e.originator_id for e in events(store, "billing:Customer.Created")}
    closed = defaultdict(list)
    for e in events(store, "billing:Customer.PeriodClosed"):
        closed[e.originator_id].append(e.period_start)
    for ref, zone, _cur, start_day, first in RACE_CUSTOMERS:
        want = expected_periods(zone, start_day, first, RACE_AT)
        assert len(want) == WEEKS, (ref, len(want))
        assert sorted(closed[customers[ref]]) == want, ref
    assert len(issued) == WEEKS * len(RACE_CUSTOMERS)
    period_customer = {e.originator_id: e.customer_reference for e in events(store, "billing:ConsolidatedInvoice.Created")}
    per_customer_issued: dict[str, Decimal] = defaultdict(Decimal)
    lines = 0
    for e in issued.values():
        per_customer_issued[period_customer[e.originator_id]] += e.total
        lines += e.count
    per_customer_recorded: dict[str, Decimal] = defaultdict(Decimal)
    for ref, amount in recorded.values():
        per_customer_recorded[ref] += amount
    assert dict(per_customer_issued) == dict(per_customer_recorded)
    assert lines == len(recorded)


# ============================================================================================ the suites' glue
def state(store: Store) -> dict[str, Any]:
    """What two runs must agree on: consolidated invoices (issued and open) and the individual invoices."""
    return {
        "consolidated": _consolidated_rows(store),
        "with_open": _consolidated_rows(store, include_open=True),
        "individual": sorted((r["number"], r["status"], r["consolidated_number"] or "")
                             for r in queries.list_individual(store.read_engine)),
    }


def daily_ticks() -> list[datetime]:
    """Every UTC midnight and noon from DAILY_FROM to the day after DAILY_TO."""
    end = datetime.combine(DAILY_TO + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    t = datetime.combine(DAILY_FROM, datetime.min.time(), tzinfo=UTC)
    out = []
    while t <= end:
        out.append(t)
        t += timedelta(hours=12)
    return out


def daily_check(s: dict[str, Any]) -> None:
    rows = s["consolidated"]
    assert len(rows) > 40
    assert {r[10] for r in rows} == {"OVERDUE", "PENDING"}


def golden_check(stream: list[tuple[str, str, int, bytes]]) -> None:
    removed = [st for t, _i, _v, st in stream if t == "billing:ConsolidatedInvoice.LineRemoved"]
    assert any(b'"moved"' in st for st in removed) and any(b'"cancelled"' in st for st in removed)
    assert len(stream) > 500


def bad_seed(url: str) -> None:
    """Customers in EUR (weekly), USD and JPY, and one recorded invoice."""
    add_customer_cli(url, "EURO", "Europe/Berlin", "EUR", "--approved")
    ok(url, "customers", "consolidation", "EURO", "weekly", "--start-day", "1", "--from", "2026-01-05", "--at", T0_TEXT)
    add_customer_cli(url, "DOLLAR", "America/New_York", "USD")
    add_customer_cli(url, "YEN", "Asia/Tokyo", "JPY")
    ok(url, *record_args("E1", "EURO", "10.00", "EUR", "2026-01-06T09:00:00Z", attributes='{"k": "v"}'))


def bad_after(url: str) -> None:
    assert [r["reference"] for r in js(url, "customers", "list")] == ["DOLLAR", "EURO", "YEN"]
    rows = js(url, "invoices", "individual")
    assert [(r["number"], r["amount"], r["attributes"]) for r in rows] == [("E1", "10.00", {"k": "v"})]


SCENARIO = Scenario(
    name="consolidation",
    golden=golden_scenario,
    topics=tuple("billing:" + t for t in (
        "Customer.PeriodClosed", "ConsolidatedInvoice.InvoiceIssued", "ConsolidatedInvoice.LineRemoved",
        "ConsolidatedInvoice.MarkedOverdue", "ConsolidatedInvoice.Paid", "IndividualInvoice.Cancelled",
        "Customer.ConsolidationDisabled", "NumberSeries.Allocated", "Customer.Approved", "Customer.ConsolidationSet",
        "ConsolidatedInvoice.PaymentRecorded", "Customer.Updated")),
    golden_check=golden_check,
    state=state,
    daily_setup=_setup_approved,
    daily_actions=_actions,
    daily_ticks=daily_ticks,
    daily_check=daily_check,
    after=_pay_some,
    race_setup=race_setup,
    race_at=RACE_AT,
    race_tickers=6,
    race_check=race_check,
    reported_key=lambda d: d["number"],
    bad_seed=bad_seed,
    bad_cases=list(BAD_INPUTS.values()),
    bad_after=bad_after,
)
