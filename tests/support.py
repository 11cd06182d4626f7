"""Helpers shared by test modules: racing tickers in several processes, and event-stream comparison."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
from datetime import datetime
from typing import Any

from collections import defaultdict

from commands.app import Store
from commands.config import resolve
from conftest import BILLING, ROOT, run_cli


def _tick_process(url: str, at: datetime, startup: Any, barrier: Any, result: Any, take_turns: bool = True) -> None:
    """One ticker: its own Store (opened one process at a time: concurrent start-up is tested on its own
    in test_many_processes_start_at_once), then ``scheduler.tick.tick(store, at)`` once all are ready."""
    import traceback

    from commands.app import Store
    from commands.config import resolve
    from scheduler.tick import tick

    try:
        with startup:
            store = Store(resolve(url))
        with store:
            barrier.wait(timeout=120)
            result.put(("ok", tick(store, at, take_turns=take_turns).as_dict()))
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        barrier.abort()
        result.put(("error", f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}"))


def run_ticks_at_once(url: str, at: datetime, n: int, mode: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Run ``n`` tickers at instant ``at`` at once: real ``billing tick --at AT --json`` processes
    (``mode="cli"``, which take turns on PostgreSQL's advisory lock), or processes running
    ``scheduler.tick.tick`` without that lock, released by a barrier (``"api"``: a real race, which the
    event store alone must decide). Returns the summaries of those that succeeded and the errors of those
    that did not."""
    results: list[dict[str, Any]] = []
    failures: list[str] = []
    if mode == "cli":
        env = dict(os.environ, BILLING_DATABASE_URL=url, COLUMNS="200")
        argv = [BILLING, "tick", "--at", at.isoformat(), "--json"]
        procs = [subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(n)]
        for p in procs:
            out, err = p.communicate(timeout=240)
            if p.returncode != 0 or "Traceback" in err:
                failures.append(f"billing tick exited {p.returncode}: {err.strip()}")
            else:
                results.append(json.loads(out))
        return results, failures
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(n)
    startup = ctx.Lock()
    queue = ctx.Queue()
    procs = [ctx.Process(target=_tick_process, args=(url, at, startup, barrier, queue, False)) for _ in range(n)]
    for p in procs:
        p.start()
    try:
        for _ in procs:
            status, value = queue.get(timeout=240)
            (results if status == "ok" else failures).append(value)
    finally:
        for p in procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
    return results, failures


def event_stream(store: Store) -> list[tuple[str, str, int, bytes]]:
    """Every notification of the log, in order: (topic, originator id, version, state bytes)."""
    out = []
    start = 1
    while True:
        page = store.recorder.select_notifications(start, 1000)
        if not page:
            return out
        for n in page:
            out.append((n.topic, str(n.originator_id), n.originator_version, bytes(n.state)))
        start = page[-1].id + 1


def events(store: Store, topic: str) -> list[Any]:
    """Every stored event of ``topic`` as a domain event, in notification order."""
    out = []
    start = 1
    while True:
        page = store.recorder.select_notifications(start, 5000, topics=(topic,))
        if not page:
            return out
        out.extend(store.app.mapper.to_domain_event(n) for n in page)
        start = page[-1].id + 1


def assert_series_allocations_contiguous(store: Store, issued: int) -> None:
    """Every number series' allocations are contiguous from 1, and they add up to ``issued`` numbers."""
    allocated: dict[Any, list[tuple[int, int]]] = defaultdict(list)
    for e in events(store, "billing:NumberSeries.Allocated"):
        allocated[e.originator_id].append((e.first, e.count))
    assert sum(c for ranges in allocated.values() for _, c in ranges) == issued
    for ranges in allocated.values():
        nxt = 1
        for first, count in ranges:
            assert first == nxt, f"series allocations {ranges} overlap or leave a gap"
            nxt += count


def bad_input_problem(db_url: str, field: str, args: list[str] | tuple[str, ...]) -> str | None:
    """Run ``billing ARGS``, which must be rejected: exit 2, ``error: <field>:`` on stderr, no traceback.
    Returns what is wrong with the outcome, or None."""
    r = run_cli(db_url, *args)
    problems = []
    if r.returncode != 2:
        problems.append(f"exit status {r.returncode}, expected 2")
    if "Traceback" in r.stderr or "Traceback" in r.stdout:
        problems.append("a Python traceback was printed")
    if f"error: {field}:" not in r.stderr:
        problems.append(f"stderr does not name the field {field!r}")
    if not problems:
        return None
    return f"{field}: {'; '.join(problems)}\n    billing {' '.join(args)}\n    stderr: {r.stderr.strip()!r}"


def assert_raced_or_took_turns(results: list[dict[str, Any]], failures: list[str], mode: str) -> None:
    """``api`` tickers raced (lock off): the work was shared, or saves were lost and retried. ``cli``
    tickers took turns (issue 6, item 24): one did all the work, nobody collided."""
    if mode == "api":
        assert sum(1 for r in results if r["issued"]) > 1 or sum(r["conflicts_retried"] for r in results) > 0 or failures
    else:
        assert sum(1 for r in results if r["issued"]) == 1, [len(r["issued"]) for r in results]
        assert sum(r["conflicts_retried"] for r in results) == 0


# ============================================================================================ CLI helpers
def head(db_url: str) -> int:
    """The event log's head, read through a Store opened in this process."""
    with Store(resolve(db_url)) as s:
        return s.head()


def ok(db_url: str, *args: str, timeout: float = 300) -> str:
    """Run the CLI; it must succeed without a traceback. Returns stdout."""
    r = run_cli(db_url, *args, timeout=timeout)
    assert r.returncode == 0, f"billing {' '.join(args)} exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert "Traceback" not in r.stderr, r.stderr
    return r.stdout


def js(db_url: str, *args: str) -> Any:
    """Run the CLI with ``--json``; it must succeed and print JSON."""
    text = ok(db_url, *args, "--json")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise AssertionError(f"billing {' '.join(args)} --json printed no JSON ({e}):\n{text}") from None


def rejected(db_url: str, field: str, *args: str, exit_code: int = 2, url_option: str | None = None) -> subprocess.CompletedProcess:
    """Run the CLI with bad input: exit 2, ``error: <field>:`` on stderr, no traceback, nothing written.
    ``url_option`` passes ``--database-url`` on the command line (overriding the environment)."""
    before = head(db_url)
    args = (*(["--database-url", url_option] if url_option else []), *args)
    r = run_cli(db_url, *args)
    assert r.returncode == exit_code, f"billing {' '.join(args)}: expected exit {exit_code}, got {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "Traceback" not in r.stderr + r.stdout, r.stderr
    assert f"error: {field}:" in r.stderr, f"billing {' '.join(args)}: stderr does not name the field {field!r}:\n{r.stderr}"
    assert head(db_url) == before, f"billing {' '.join(args)} was rejected but wrote events"
    return r
