"""Concurrency of consolidation on PostgreSQL: recorders racing tickers, and many processes starting at once
(several tickers at the same instant are the shared suite's, test_sources.py).

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
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import domain.consolidated_invoice  # noqa: F401 - registers the topics this test decodes
import domain.customer  # noqa: F401
import domain.individual_invoice  # noqa: F401
from commands.app import Store
from commands.config import resolve
from commands.customers import AddCustomer, add_customer, set_consolidation
from commands.individual_invoices import make_record
from conftest import BILLING, ROOT
from projections import registry
from projections import runner as projection_runner
from scenarios.consolidation import SETUP_AT, amount_for, check_consistent
from support import events

UTC = timezone.utc

# ============================================================================================ recorders racing tickers
RACE_CUSTOMERS = [("R1", "Europe/Berlin", "EUR", 1, date(2026, 1, 5)),
                  ("R2", "America/New_York", "USD", 1, date(2026, 1, 5))]
RACE_START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
RACE_STEP = timedelta(hours=6)
RACE_STEPS = 40  # 10 days of ticks, every 6 hours
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
