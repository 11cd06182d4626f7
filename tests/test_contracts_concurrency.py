"""Concurrency of contract runs and invoice numbering on PostgreSQL (issue 3): several processes starting
at once, and several processes finalizing the same drafts (several tickers at the same instant are the
shared suite's, test_sources.py). Afterwards every (company, year) INV series is gapless without
duplicates.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
from collections import Counter
from datetime import datetime, timezone
from typing import Any

from commands.app import Store
from commands.config import resolve
from conftest import BILLING, ROOT
from projections import queries, registry
from projections import runner as projection_runner
from scenarios.contracts import TICK_AT, check_series_gapless, expected_runs, setup_contracts
from support import events

UTC = timezone.utc


# ============================================================================================ start-up
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
