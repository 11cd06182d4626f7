"""Concurrency on PostgreSQL: several tickers at the same instant, and recorders racing tickers.

Correctness must come from the event store (DESIGN.md, "Idempotency and concurrency"): a second ticker
racing the first gets ``IntegrityError``, reloads and skips what is done. After the race every period is
closed exactly once, numbers are unique and gapless per label, and the money adds up.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import time
from collections import Counter, defaultdict
from datetime import date, datetime, time as dtime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

import domain.consolidated_invoice  # noqa: F401 - registers the topics this test decodes
import domain.customer  # noqa: F401
import domain.individual_invoice  # noqa: F401
import domain.number_series  # noqa: F401
from commands.app import Store
from commands.config import resolve
from commands.customers import AddCustomer, add_customer, set_consolidation
from commands.individual_invoices import make_record, record_invoices
from conftest import BILLING, ROOT
from support import assert_raced_or_took_turns, assert_series_allocations_contiguous, events, run_ticks_at_once
from projections import registry
from projections import runner as projection_runner
from projections.tables import consolidated_invoices

UTC = timezone.utc
SETUP_AT = datetime(2025, 1, 1, tzinfo=UTC)

# (reference, zone, currency, ISO start weekday, first local date covered)
CUSTOMERS = [
    ("C1", "Europe/Berlin", "EUR", 1, date(2025, 1, 6)),
    ("C2", "America/New_York", "USD", 1, date(2025, 1, 6)),
    ("C3", "Asia/Tokyo", "JPY", 3, date(2025, 1, 8)),
    ("C4", "Australia/Sydney", "AUD", 7, date(2025, 1, 5)),
    ("C5", "UTC", "GBP", 5, date(2025, 1, 10)),
    ("C6", "America/Los_Angeles", "EUR", 1, date(2025, 1, 6)),
]
WEEKS = 40
PER_WEEK = 5
# Every customer has exactly 40 periods due at this instant (the 40th of C5 ends on Friday Oct 17 in UTC;
# the 41st of C4 ends first, at midnight of Oct 19 in Sydney = 13:00 UTC on Oct 18).
TICK_AT = datetime(2025, 10, 17, 12, 0, tzinfo=UTC)


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
    for ref, zone, cur, start_day, first in CUSTOMERS:
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


# ============================================================================================ tickers racing
@pytest.mark.parametrize("mode", ["cli", "api"])
def test_concurrent_ticks_close_every_period_exactly_once(pg_url, mode):
    recorded: dict[str, tuple[str, Decimal]] = {}
    with Store(resolve(pg_url)) as store:
        setup_customers(store)
        i = 0
        for ref, zone, cur, _start_day, first in CUSTOMERS:
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

    results, failures = run_ticks_at_once(pg_url, TICK_AT, 6, mode)
    if not failures:
        assert_raced_or_took_turns(results, failures, mode)

    # Every document issued is reported by at most one ticker (the one whose save won).
    reported = Counter(d["number"] for r in results for d in r["issued"])
    assert all(c == 1 for c in reported.values()), f"reported by several tickers: {[n for n, c in reported.items() if c > 1]}"
    if failures:  # a crashed ticker may have saved batches it could not report; finish the work
        with Store(resolve(pg_url)) as store:
            from scheduler.tick import tick

            tick(store, TICK_AT)
    with Store(resolve(pg_url)) as store:
        issued = check_consistent(store, recorded)
        assert set(reported) <= set(issued)
        if not failures:
            assert set(reported) == set(issued)

        # Exactly the expected periods closed, each issuing one invoice (every week has invoices).
        customers = {e.reference: e.originator_id for e in events(store, "billing:Customer.Created")}
        closed = defaultdict(list)
        for e in events(store, "billing:Customer.PeriodClosed"):
            closed[e.originator_id].append(e.period_start)
        for ref, zone, _cur, start_day, first in CUSTOMERS:
            want = expected_periods(zone, start_day, first, TICK_AT)
            assert len(want) == WEEKS, (ref, len(want))
            assert sorted(closed[customers[ref]]) == want, ref
        assert len(issued) == WEEKS * len(CUSTOMERS)

        # The money adds up per customer; every invoice is on an issued invoice.
        period_customer = {e.originator_id: e.customer_reference
                           for e in events(store, "billing:ConsolidatedInvoice.Created")}
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

    # Ticking again (several at once) finds nothing to do.
    again, again_failures = run_ticks_at_once(pg_url, TICK_AT, 4, mode)
    assert all(r["issued"] == [] and r["events"] == 0 for r in again), again
    # Every ticker must have succeeded (a lost race is retried or skipped, never an error).
    all_failures = failures + again_failures
    assert not all_failures, f"{len(all_failures)} concurrent ticker(s) failed:\n" + "\n".join(all_failures)


# ============================================================================================ recorders racing tickers
RACE_CUSTOMERS = [("R1", "Europe/Berlin", "EUR", 1, date(2026, 1, 5)),
                  ("R2", "America/New_York", "USD", 1, date(2026, 1, 5))]
RACE_START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
RACE_STEP = timedelta(hours=6)
RACE_STEPS = 120  # 30 days of ticks, every 6 hours
RECORDERS = 4
TICKERS = 2


def race_plan(worker: int) -> list[list[tuple[str, str, datetime, str, str]]]:
    """Per tick step, the invoices recorder ``worker`` records while the tickers are at that step: issued
    just before the step's instant (racing the close of the period that ends then), a day late, a week
    late (a late arrival into the first open period), plus one every recorder records with the same data
    (racing each other)."""
    steps = []
    for k in range(RACE_STEPS):
        now = RACE_START + RACE_STEP * k
        batch = []
        for j, lag in enumerate((timedelta(minutes=1), timedelta(hours=1), timedelta(days=1), timedelta(days=7))):
            ref, _zone, cur, _d, _f = RACE_CUSTOMERS[(k + j + worker) % 2]
            issued_at = max(now - lag, RACE_START + timedelta(hours=12))
            number = f"W{worker}-{k:03d}-{j}"
            batch.append((number, ref, issued_at, amount_for(worker * 10000 + k * 10 + j, cur), cur))
        ref, _zone, cur, _d, _f = RACE_CUSTOMERS[k % 2]
        batch.append((f"S-{k:03d}", ref, max(now - timedelta(hours=2), RACE_START + timedelta(hours=12)),
                      amount_for(90000 + k, cur), cur))
        steps.append(batch)
    return steps


def _recorder(url: str, worker: int, startup: Any, barrier: Any, clock: Any, result: Any, steps: Any) -> None:
    """Record the plan's batch of each step once the leading ticker has reached that step, and the other
    recorders have finished the step before (their commands run in business-time order: a command's time
    is never before the last event of a period it changes)."""
    from commands.app import Store
    from commands.config import resolve
    from commands.individual_invoices import make_record, record_invoices

    try:
        with startup:
            store = Store(resolve(url))
        with store:
            plan = race_plan(worker)
            barrier.wait(timeout=120)
            got: Counter = Counter()
            for k, batch in enumerate(plan):
                deadline = time.monotonic() + 60
                while clock.value < k and time.monotonic() < deadline:
                    time.sleep(0.002)
                at = RACE_START + RACE_STEP * k
                cmds = [make_record(n, ref, issued_at, amount, cur) for n, ref, issued_at, amount, cur in batch]
                got.update(record_invoices(store, cmds, at))
                steps.wait(timeout=120)
            result.put(("ok", worker, dict(got)))
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        barrier.abort()
        steps.abort()
        result.put(("error", worker, f"{type(e).__name__}: {e}"))


def _ticker(url: str, worker: int, startup: Any, barrier: Any, clock: Any, result: Any) -> None:
    """Tick every step's instant in turn; ticker 0 publishes its progress as the shared clock."""
    from commands.app import Store
    from commands.config import resolve
    from scheduler.tick import tick

    try:
        with startup:
            store = Store(resolve(url))
        with store:
            barrier.wait(timeout=120)
            issued: list[str] = []
            for k in range(RACE_STEPS + 1):
                if worker == 0:
                    clock.value = k
                summary = tick(store, RACE_START + RACE_STEP * k)
                issued.extend(d["number"] for d in summary.issued)
            clock.value = RACE_STEPS + 1
            result.put(("ok", f"tick{worker}", issued))
    except BaseException as e:  # noqa: BLE001
        barrier.abort()
        if worker == 0:
            clock.value = RACE_STEPS + 1
        result.put(("error", f"tick{worker}", f"{type(e).__name__}: {e}"))


def test_recording_while_ticking_loses_nothing(pg_url):
    with Store(resolve(pg_url)) as store:
        for ref, zone, cur, start_day, first in RACE_CUSTOMERS:
            add_customer(store, AddCustomer(ref, f"{ref} Ltd", zone, cur, 14, True), SETUP_AT)
            set_consolidation(store, ref, "weekly", start_day, first, SETUP_AT)
        projection_runner.run(store, registry.ALL)

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(RECORDERS + TICKERS)
    steps = ctx.Barrier(RECORDERS)
    clock = ctx.Value("i", -1)
    startup = ctx.Lock()
    result = ctx.Queue()
    procs = [ctx.Process(target=_recorder, args=(pg_url, w, startup, barrier, clock, result, steps)) for w in range(RECORDERS)]
    procs += [ctx.Process(target=_ticker, args=(pg_url, t, startup, barrier, clock, result)) for t in range(TICKERS)]
    for p in procs:
        p.start()
    try:
        outcomes = [result.get(timeout=300) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    errors = [o for o in outcomes if o[0] == "error"]

    # What the recorders were asked to record (the shared numbers once, with the same data everywhere).
    planned: dict[str, tuple[str, Decimal]] = {}
    for w in range(RECORDERS):
        for batch in race_plan(w):
            for number, ref, issued_at, amount, cur in batch:
                planned[number] = (ref, make_record(number, ref, issued_at, amount, cur).amount)

    with Store(resolve(pg_url)) as store:
        # What was recorded (all of it, unless a process failed: checked last) is what was planned.
        recorded = {e.number: (e.customer_reference, e.amount)
                    for e in events(store, "billing:IndividualInvoice.Created")}
        assert all(planned.get(n) == v for n, v in recorded.items()), "recorded invoices differ from the plan"
        issued = check_consistent(store, recorded)
        ticker_reports = Counter(n for o in outcomes if o[0] == "ok" and isinstance(o[1], str) for n in o[2])
        assert all(c == 1 for c in ticker_reports.values()), "a document was reported by two tickers"
        assert set(ticker_reports) <= set(issued)
        assert issued, "the tickers issued nothing: the race did not happen"

        # Every recorded invoice sits in exactly one period: an issued invoice or a still-open period.
        period_ids = list({e.originator_id for e in events(store, "billing:ConsolidatedInvoice.Created")})
        periods = store.load_many(period_ids)
        holder: dict[str, list[Any]] = defaultdict(list)
        for p in periods.values():
            for number in p.lines:
                holder[number].append(p)
        lost = sorted(set(recorded) - set(holder))
        assert not lost, f"{len(lost)} recorded invoice(s) are in no period: {lost[:10]}"
        twice = {n: [(p.customer_reference, p.label) for p in ps] for n, ps in holder.items() if len(ps) > 1}
        assert not twice, f"invoices in several periods: {twice}"
        for number, (p,) in holder.items():
            assert p.status == "OPEN" or p.number is not None, (
                f"{number} is in period {p.label} of {p.customer_reference}, closed without an invoice")
            assert p.customer_reference == recorded[number][0]
        # And the money adds up: issued totals plus open lines equal what was recorded.
        issued_total = sum((e.total for e in issued.values()), Decimal(0))
        open_total = sum((p.lines[n][3] for p in periods.values() if p.status == "OPEN" for n in p.lines), Decimal(0))
        assert issued_total + open_total == sum((a for _, a in recorded.values()), Decimal(0))

    # Every process succeeded (a lost race is retried, never an error), so everything planned is recorded,
    # each number by exactly one recorder.
    assert not errors, f"{len(errors)} process(es) failed: {errors}"
    assert set(recorded) == set(planned)
    recorder_counts = [o[2] for o in outcomes if isinstance(o[1], int)]
    assert sum(c.get("recorded", 0) for c in recorder_counts) == len(planned), recorder_counts
    assert set(ticker_reports) == set(issued)


# ============================================================================================ start-up
def test_many_processes_start_at_once(pg_url):
    """Several ``billing`` processes starting at the same moment against one database (schedulers, cron
    jobs, a CLI user) all work: opening the store is safe to do concurrently."""
    env = dict(os.environ, BILLING_DATABASE_URL=pg_url, COLUMNS="200")
    with Store(resolve(pg_url)) as store:
        add_customer(store, AddCustomer("S1", "S1 Ltd", "UTC", "EUR", 14, True), SETUP_AT)
    failures = []
    for _round in range(3):
        procs = [subprocess.Popen([BILLING, "projections", "status", "--json"], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(8)]
        for p in procs:
            out, err = p.communicate(timeout=120)
            if p.returncode != 0:
                failures.append(f"exit {p.returncode}: {err.strip()}")
            else:
                assert json.loads(out)["head"] > 0
    assert not failures, f"{len(failures)} of 24 processes started at once failed:\n" + "\n".join(failures)
