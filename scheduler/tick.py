"""The clock tick: issue everything due at an instant, deterministically and idempotently.

``tick(store, at)``:

1. brings the projections (among them the due index) up to date;
2. selects the due-index rows due at or before ``at`` and loads their aggregates;
3. asks each work source for its *work items* — every period to close, every contract run due — computed
   from the aggregates (never from the read model), catching up any number of missed ones;
4. processes the items in one deterministic order, ``(due instant, kind rank, natural key)``, in batches
   (many aggregates per ``save``, each save under ~500 events);
5. marks issued invoices whose due date has passed OVERDUE (those issued in this tick right as they are
   issued; earlier ones from the due index, in (instant, number) order);
6. brings the projections up to date again and returns a :class:`TickSummary`.

Idempotency and concurrency come from the event store (DESIGN.md): issuing appends to the source aggregate
(customer, contract) and creates the invoice in one save; a second ticker racing it gets ``IntegrityError``,
reloads what the batch touched and redoes the batch, finding the work done. ``dry_run`` runs the same code
but never saves: the aggregates advance in memory only.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from commands.bus import retrying
from domain.base import business_time
from domain.errors import DomainError, ValidationError
from projections import registry
from projections import runner as projection_runner
from projections.locks import schema_lock
from projections.tables import due_work
from scheduler.work import BATCH_EVENTS, Refused, StaleState, TickContext, TickSummary, WorkItem, WorkSource, sources

#: Attempts of one batch when other tickers keep winning the race.
MAX_BATCH_ATTEMPTS = 50
#: Items whose aggregates are bulk-loaded ahead of processing.
PREFETCH = 256
#: Seconds a ticker waits for another one to finish before it gives up.
LOCK_WAIT_S = 15 * 60


class TickLockTimeout(Exception):
    """Another ticker held the tick lock too long (reported like an unavailable database)."""

__all__ = ["StaleState", "TickContext", "TickSummary", "WorkItem", "tick"]


def tick(
    store: Any,
    at: datetime,
    *,
    dry_run: bool = False,
    company: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    catch_up_after: bool = True,
    list_documents: bool = True,
    take_turns: bool = True,
    kind: str | None = None,
) -> TickSummary:
    """Issue everything due at or before instant ``at`` (aware). See the module docstring.

    ``company`` limits the tick to one tenant, ``kind`` to one work source (``consolidation``,
    ``contract``, ``overdue``, ...; :class:`ValidationError` for an unknown one).
    ``progress(done, total)`` is called as items are processed. ``catch_up_after=False`` leaves the final
    projection catch-up to the caller (the benchmark times it apart); ``list_documents=False`` keeps only
    counts (a tick of 100,000 invoices need not hold 100,000 summaries). ``take_turns=False`` skips the
    advisory lock of concurrent tickers (the tests race without it: correctness must not need it).
    Returns a :class:`TickSummary`.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    known = {s.kind: s for s in sources()}
    if kind is not None and kind not in known:
        raise ValidationError("kind", f"{kind!r} is not a kind of work ({', '.join(sorted(known))})")
    chosen = [known[kind]] if kind is not None else list(known.values())
    with _one_ticker_at_a_time(store, dry_run or not take_turns):
        return _tick(store, at, dry_run, company, progress, catch_up_after, list_documents, chosen)


@contextmanager
def _one_ticker_at_a_time(store: Any, dry_run: bool) -> Iterator[None]:
    """On PostgreSQL, hold a session advisory lock while ticking, so that concurrent tickers take turns
    instead of walking the same plan and colliding batch after batch (issue 6, item 24: 8 racing tickers
    took 2.5-3.2x as long as one). The next ticker then finds the work done. Correctness never depends on
    it: the event store's unique versions still decide every race. A dry run writes nothing and takes no
    lock."""
    if dry_run:
        yield
        return
    timeout = lambda: TickLockTimeout(f"another tick has held the tick lock for over {LOCK_WAIT_S // 60} minutes; "  # noqa: E731
                                      "is a ticker hung? (pg_locks shows it)")
    with schema_lock(store.engine, "billing-tick", LOCK_WAIT_S, timeout):
        yield


def _tick(
    store: Any,
    at: datetime,
    dry_run: bool,
    company: str | None,
    progress: Callable[[int, int], None] | None,
    catch_up_after: bool,
    list_documents: bool,
    chosen: list[WorkSource[Any]],
) -> TickSummary:
    projection_runner.run(store, registry.ALL)
    refused: list[Refused] = []
    retried: set[WorkItem[Any]] = set()
    while True:
        summary = TickSummary(at=at, dry_run=dry_run)
        try:
            _plan_and_process(store, at, dry_run, company, progress, list_documents, chosen, summary, refused)
            break
        except Refused as r:
            # Only a dry run gets here: its earlier batches live in memory only, so it starts again, on
            # fresh state, passing over every item refused twice so far and its target's later ones (a
            # real tick redoes the batch, see _process): both end with the same items done.
            if r.item in retried:
                refused.append(r)
            retried.add(r.item)
    if not dry_run and catch_up_after:
        projection_runner.run(store, registry.ALL)
    return summary


def _plan_and_process(store: Any, at: datetime, dry_run: bool, company: str | None, progress: Callable[[int, int], None] | None,
                      list_documents: bool, chosen: list[WorkSource[Any]], summary: TickSummary, refused: list[Refused]) -> None:
    ctx = TickContext(store, at, dry_run, summary)
    ctx.list_documents = list_documents
    for r in refused:
        ctx.refuse(r.item)
        summary.refused.append(r.report())
    rows = _due_rows(store, at, company)
    work: list[tuple[WorkItem[Any], WorkSource[Any]]] = []
    for src in chosen:
        for item in src.items(ctx, rows.get(src.kind, [])):
            work.append((item, src))
    work.sort(key=lambda pair: pair[0])
    del rows
    # The plan (one item per due run or period) and everything loaded so far live until the end of the
    # tick: freeze them out of the cyclic garbage collector's full collections, which otherwise re-scan
    # them again and again (15 % of a 100,000-invoice tick, measured). Unfrozen when the tick ends.
    gc.freeze()
    try:
        _process(ctx, work, progress)
    finally:
        gc.unfreeze()


def _due_rows(store: Any, at: datetime, company: str | None) -> dict[str, list[Any]]:
    stmt = (
        sa.select(due_work)
        .where(due_work.c.active.is_(True), due_work.c.due_at.is_not(None), due_work.c.due_at <= at)
        .order_by(due_work.c.due_at, due_work.c.kind, due_work.c.natural_key)
    )
    if company is not None:
        stmt = stmt.where(due_work.c.company == company)
    out: dict[str, list[Any]] = {}
    with store.read_engine.connect() as conn:
        for row in conn.execute(stmt):
            out.setdefault(row.kind, []).append(row)
    return out


def _process(ctx: TickContext, work: list[tuple[WorkItem[Any], WorkSource[Any]]], progress: Callable[[int, int], None] | None) -> None:
    total = len(work)
    position = {"start": 0, "prefetched_to": 0}

    def batch() -> int:
        """Process items from ``start`` until the batch is full, and save it; returns where it stopped."""
        i = position["start"]
        with business_time(ctx.at):
            while i < total:
                if i >= position["prefetched_to"]:
                    end = min(total, i + PREFETCH)
                    ids: list[UUID] = []
                    for item, src in work[i:end]:
                        ids.extend(src.prefetch(ctx, item))
                    ctx.preload(ids)
                    position["prefetched_to"] = end
                item, src = work[i]
                i += 1
                if ctx.is_refused(item):
                    ctx.count(src.kind, "refused")
                    continue
                try:
                    src.process(ctx, item)
                except DomainError as e:
                    raise Refused(src.kind, item, e) from None
                if ctx.pending_events() >= BATCH_EVENTS:
                    break
            ctx.commit()
        return i

    def lost(error: BaseException) -> None:
        # Another ticker won: forget the batch (and, for stale state, everything loaded) and redo it.
        ctx.rollback()
        if isinstance(error, StaleState):
            ctx.forget_all()
        ctx.summary.conflicts += 1
        position["prefetched_to"] = position["start"]

    while position["start"] < total:
        try:
            position["start"] = retrying(batch, retry_on=(StaleState,), before_retry=lost, attempts=MAX_BATCH_ATTEMPTS)
        except Refused as r:
            if ctx.dry_run:
                raise  # its earlier batches are in memory only: _tick starts it again
            # Forget the batch and everything loaded (the refused item may have changed aggregates in
            # memory before the domain refused it), then redo the batch: the target's items before the
            # refused one again, none from it on (what was done does not depend on where batches end).
            ctx.rollback()
            ctx.forget_all()
            position["prefetched_to"] = position["start"]
            if r.item not in ctx.retried_fresh:
                # The first time, on fresh state only: aggregates loaded before and after another
                # ticker's save can make the domain refuse what it would not (found racing on SQLite).
                ctx.retried_fresh.add(r.item)
                ctx.summary.conflicts += 1
                continue
            ctx.refuse(r.item)
            ctx.summary.refused.append(r.report())
            continue
        if progress:
            progress(position["start"], total)
