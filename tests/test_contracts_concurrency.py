"""Concurrency of contract runs and invoice numbering on PostgreSQL (issue 3).

Several tickers at the same instant — real ``billing tick`` processes, and processes running
``scheduler.tick.tick`` released together by a barrier — and several processes finalizing the same drafts.
Correctness must come from the event store (DESIGN.md, "Idempotency and concurrency"): afterwards every
(company, year) INV series is gapless without duplicates, there is exactly one SUCCESS run per (contract,
run date), every invoice id is unique, and the totals are right.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta

from commands.app import Store
from commands.config import resolve
from commands.contracts import CreateContract, create_contract
from commands.customers import AddCustomer, add_customer
from conftest import BILLING, ROOT
from support import assert_raced_or_took_turns, assert_series_allocations_contiguous, events, run_ticks_at_once
import domain.number_series  # noqa: F401  (events() decodes their stored topics)
from domain.contract import contract_id, make_position
from domain.invoice import contract_invoice_id
from projections import queries, registry
from projections import runner as projection_runner

UTC = timezone.utc
SETUP_AT = datetime(2025, 10, 1, tzinfo=UTC)
# 12:00 UTC on Mar 10 is Mar 10 in every zone below (08:00 New York, 21:00 Tokyo, 23:00 Sydney)
TICK_AT = datetime(2026, 3, 10, 12, tzinfo=UTC)
LOCAL_TICK_DATE = date(2026, 3, 10)

CUSTOMERS = [("BER", "Europe/Berlin", "EUR"), ("NYC", "America/New_York", "USD"), ("TYO", "Asia/Tokyo", "JPY"),
             ("SYD", "Australia/Sydney", "AUD")]
COMPANIES = ["ALPHA", "BETA", "GAMMA"]
N_CONTRACTS = 300
MONTHS = {"monthly": 1, "quarterly": 3, "annual": 12}
RATES = [("standard", Decimal(19)), ("reduced", Decimal(7)), ("zero", Decimal(0))]


# ============================================================================================ the scenario
def plan(i: int) -> dict[str, Any]:
    """Contract ``i``: its company, customer, schedule and positions, as plain data."""
    cust, zone, cur = CUSTOMERS[i % len(CUSTOMERS)]
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
        for ref, zone, cur in CUSTOMERS:
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


# ============================================================================================ tickers racing
@pytest.mark.parametrize("mode", ["api", "cli"])
def test_concurrent_ticks_run_every_contract_date_exactly_once_with_gapless_numbers(pg_url, mode):
    with Store(resolve(pg_url)) as store:
        plans = setup_contracts(store)

    results, failures = run_ticks_at_once(pg_url, TICK_AT, 4, mode)

    assert_raced_or_took_turns(results, failures, mode)
    reported = Counter((d["company"], d["number"]) for r in results for d in r["issued"])
    assert all(c == 1 for c in reported.values()), f"reported by several tickers: {[k for k, c in reported.items() if c > 1][:10]}"
    if failures:  # a crashed ticker may have left work undone; finish it so the invariants can be checked
        from scheduler.tick import tick

        with Store(resolve(pg_url)) as store:
            tick(store, TICK_AT)
    with Store(resolve(pg_url)) as store:
        check_contract_runs(store, plans)
        if not failures:
            assert sum(reported.values()) == sum(len(expected_runs(p)) for p in plans)

    # ticking again, several at once, finds nothing to do
    again, again_failures = run_ticks_at_once(pg_url, TICK_AT, 4, mode)
    assert all(r["issued"] == [] and r["events"] == 0 for r in again), again
    all_failures = failures + again_failures
    assert not all_failures, f"{len(all_failures)} concurrent ticker(s) failed:\n" + "\n".join(all_failures)


def test_several_billing_processes_starting_at_once_all_succeed(pg_url):
    """Services start together (several schedulers, a tick and a report): each `billing` process opening
    an existing PostgreSQL store at the same moment must work, not fail in its start-up."""
    with Store(resolve(pg_url)) as store:
        setup_contracts(store, n=6)
    env = dict(os.environ, BILLING_DATABASE_URL=pg_url, COLUMNS="200")
    failures = []
    for _round in range(3):
        procs = [subprocess.Popen([BILLING, "tick", "--at", TICK_AT.isoformat(), "--dry-run", "--json"], cwd=ROOT, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(6)]
        for p in procs:
            _out, err = p.communicate(timeout=120)
            if p.returncode != 0:
                failures.append(f"exit {p.returncode}: {err.strip()}")
    assert not failures, f"{len(failures)} of 18 processes failed:\n" + "\n".join(failures)


# ============================================================================================ finalizers racing
def _finalize_process(url: str, ids: list[str], at: datetime, startup: Any, barrier: Any, result: Any) -> None:
    """Finalize every draft of ``ids`` (in the given order); a draft someone else finalized first is a
    Conflict (it is no longer a DRAFT), which is expected and counted."""
    import traceback

    from commands.app import Store
    from commands.config import resolve
    from commands.invoices import finalize_invoice
    from domain.errors import Conflict

    try:
        with startup:
            store = Store(resolve(url))
        with store:
            barrier.wait(timeout=120)
            done, lost = [], 0
            for iid in ids:
                try:
                    inv = finalize_invoice(store, iid, at)
                    done.append((iid, inv.number))
                except Conflict:
                    lost += 1
            result.put(("ok", done, lost))
    except BaseException as e:  # noqa: BLE001
        barrier.abort()
        result.put(("error", f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}", 0))


def test_concurrent_finalize_of_many_drafts_gives_gapless_numbers(pg_url):
    from scheduler.tick import tick

    with Store(resolve(pg_url)) as store:
        plans = setup_contracts(store, n=60, auto_finalize=False)
        tick(store, TICK_AT)
        projection_runner.run(store, registry.ALL)
        drafts = queries.list_invoices(store.read_engine, status="DRAFT")
    assert len(drafts) == sum(len(expected_runs(p)) for p in plans) > 100
    ids = sorted(r["id"] for r in drafts)

    n = 4
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(n)
    startup = ctx.Lock()
    queue = ctx.Queue()
    # each process goes through the drafts in its own order, so they collide all the time
    orders = [ids, ids[::-1], ids[len(ids) // 2:] + ids[: len(ids) // 2], ids[1::2] + ids[::2]]
    at = datetime(2026, 3, 11, 9, tzinfo=UTC)
    procs = [ctx.Process(target=_finalize_process, args=(pg_url, orders[k], at, startup, barrier, queue)) for k in range(n)]
    for p in procs:
        p.start()
    try:
        outcomes = [queue.get(timeout=300) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    errors = [o[1] for o in outcomes if o[0] == "error"]
    assert not errors, f"{len(errors)} finalizer(s) failed:\n" + "\n".join(errors)

    finalized = Counter(iid for o in outcomes for iid, _num in o[1])
    assert all(c == 1 for c in finalized.values()), "a draft was finalized by two processes"
    assert set(finalized) == set(ids)
    assert sum(o[2] for o in outcomes) == (n - 1) * len(ids)

    with Store(resolve(pg_url)) as store:
        issued_events = events(store, "billing:Invoice.Issued")
        assert Counter(e.originator_id for e in issued_events).most_common(1)[0][1] == 1
        created = {e.originator_id: e for e in events(store, "billing:Invoice.Created")}
        # a finalized draft is dated the day it was issued (issue 6, item 6)
        check_series_gapless(store, [(e.company, e.number, e.sequence, e.issue_date) for e in issued_events])
        assert {e.issue_date for e in issued_events} == {at.date()}
        assert all(created[e.originator_id].issue_date < at.date() for e in issued_events)
        projection_runner.run(store, registry.ALL)
        rows = queries.list_invoices(store.read_engine, kind="INVOICE")
        assert {r["status"] for r in rows} == {"ISSUED"}
        assert sorted(r["id"] for r in rows) == ids
        reported = {iid: num for o in outcomes for iid, num in o[1]}
        assert {r["id"]: r["number"] for r in rows} == reported
