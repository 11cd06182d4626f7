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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.persistence import IntegrityError

from commands.common import backoff
from domain.base import business_time
from domain.number_series import NumberSeries, series_id
from projections import registry
from projections import runner as projection_runner
from projections.tables import due_work

#: Events pending in a batch before it is saved.
BATCH_EVENTS = 400
#: Attempts of one batch when other tickers keep winning the race.
MAX_BATCH_ATTEMPTS = 50
#: Items whose aggregates are bulk-loaded ahead of processing.
PREFETCH = 256


class StaleState(Exception):
    """Aggregates loaded at different moments disagree (another ticker changed one in between): forget
    everything loaded and redo the batch, like a lost save."""


@dataclass(frozen=True, order=True)
class WorkItem:
    """One unit of due work. Items sort by ``(due_at, rank, key)``: the tick's deterministic order."""

    due_at: datetime
    rank: int
    key: str
    kind: str = field(compare=False)
    target: UUID = field(compare=False)
    data: Any = field(compare=False, default=None)


@dataclass
class TickSummary:
    """What a tick did: counts per kind, the documents it issued, the events it wrote (or would write)."""

    at: datetime
    dry_run: bool
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    issued: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    conflicts: int = 0

    def add(self, kind: str, what: str, n: int = 1) -> None:
        self.counts.setdefault(kind, {})
        self.counts[kind][what] = self.counts[kind].get(what, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "dry_run": self.dry_run,
            "counts": self.counts,
            "events": self.events,
            "conflicts_retried": self.conflicts,
            "issued": self.issued,
        }


class TickContext:
    """The aggregates of one tick, kept in memory, and the batch being built."""

    def __init__(self, store: Any, at: datetime, dry_run: bool, summary: TickSummary):
        self.store = store
        self.at = at
        self.dry_run = dry_run
        self.summary = summary
        self.cache: dict[UUID, Any] = {}
        self.missing: set[UUID] = set()
        self.touched: dict[UUID, Any] = {}
        self.transient: set[UUID] = set()
        self.pending_issued: list[dict[str, Any]] = []
        self.pending_counts: list[tuple[str, str]] = []
        self.list_documents = True
        # Pending events of the batch, counted incrementally (summing over every touched aggregate after
        # every item made batches quadratic: 3 s of a 13 s profile).
        self._recent: list[Any] = []
        self._counted: dict[UUID, int] = {}
        self._pending = 0

    # ---------------------------------------------------------------------------------- loading
    def preload(self, ids: Sequence[UUID]) -> None:
        """Bulk-load the aggregates ``ids`` not in memory yet."""
        want = [i for i in dict.fromkeys(ids) if i not in self.cache and i not in self.missing]
        if not want:
            return
        loaded = self.store.load_many(want)
        self.cache.update(loaded)
        self.missing.update(i for i in want if i not in loaded)

    def get(self, aggregate_id: UUID) -> Any | None:
        """The aggregate in memory, loading it if needed; None if it does not exist."""
        if aggregate_id not in self.cache and aggregate_id not in self.missing:
            self.preload([aggregate_id])
        return self.cache.get(aggregate_id)

    def add_new(self, aggregate: Any, transient: bool = False) -> Any:
        """Register an aggregate created by this tick."""
        self.cache[aggregate.id] = aggregate
        self.missing.discard(aggregate.id)
        return self.touch(aggregate, transient=transient)

    def touch(self, aggregate: Any, transient: bool = False) -> Any:
        """Mark ``aggregate`` as changed in the current batch. ``transient`` ones (a large consolidation
        period) are dropped from memory once saved."""
        self.touched[aggregate.id] = aggregate
        self._recent.append(aggregate)
        if transient:
            self.transient.add(aggregate.id)
        return aggregate

    def series(self, key: str) -> NumberSeries:
        """The number series ``key`` (started if new), touched in the current batch."""
        sid = series_id(key)
        s = self.get(sid)
        if s is None:
            s = self.add_new(NumberSeries.start(key))
        return self.touch(s)

    def changed_after_tick(self, *aggregates: Any) -> bool:
        """True if one of ``aggregates`` (None ones ignored) has an event after the tick's instant.

        A work item must not change such an aggregate (its events would be dated before its history: the
        rule of :meth:`domain.base.BillingAggregate.trigger_event`); sources check before they change
        anything and skip the item, which a tick at a later instant does."""
        return any(a is not None and a.modified_on > self.at for a in aggregates)

    def series_changed_after_tick(self, key: str) -> bool:
        """:meth:`changed_after_tick` for number series ``key`` (False if it does not exist yet)."""
        return self.changed_after_tick(self.get(series_id(key)))

    def issued(self, document: dict[str, Any]) -> None:
        """Report an issued document (listed once the batch is saved)."""
        if self.list_documents:
            self.pending_issued.append(document)

    def count(self, kind: str, what: str) -> None:
        self.pending_counts.append((kind, what))

    def pending_events(self) -> int:
        """Events the batch would save now (a series with reservations counts as one)."""
        for a in self._recent:
            n = len(a.pending_events) + (1 if isinstance(a, NumberSeries) and a._unflushed else 0)
            self._pending += n - self._counted.get(a.id, 0)
            self._counted[a.id] = n
        self._recent.clear()
        return self._pending

    # ---------------------------------------------------------------------------------- batches
    def commit(self) -> None:
        """Save the batch (in dry-run mode: count and drop its events, keeping the state in memory)."""
        for a in self.touched.values():
            if isinstance(a, NumberSeries):
                a.flush()
        touched = list(self.touched.values())
        n = sum(len(a.pending_events) for a in touched)
        if n:
            if self.dry_run:
                for a in touched:
                    a.collect_events()
            else:
                self.store.save(touched)
        self.summary.events += n
        self.summary.issued.extend(self.pending_issued)
        for kind, what in self.pending_counts:
            self.summary.add(kind, what)
        if not self.dry_run:
            # Saved: drop large aggregates, they are reloaded if needed. A dry run saved nothing, so its
            # aggregates must stay in memory with their changes.
            for aid in self.transient:
                self.cache.pop(aid, None)
        self._reset_batch()

    def checkpoint(self) -> None:
        """Save the batch now if it is full: for an item that records many events (moving lines out of a
        truncated period), so that no save exceeds ~500 events. Its earlier steps must leave consistent
        state on their own."""
        if self.pending_events() >= BATCH_EVENTS:
            self.commit()

    def _reset_batch(self) -> None:
        self.touched.clear()
        self.transient.clear()
        self.pending_issued.clear()
        self.pending_counts.clear()
        self._recent.clear()
        self._counted.clear()
        self._pending = 0

    def forget_all(self) -> None:
        """Drop every aggregate in memory (after :class:`StaleState`)."""
        self.cache.clear()
        self.missing.clear()

    def rollback(self) -> None:
        """Forget the batch: the aggregates it touched are reloaded when next needed."""
        for aid in self.touched:
            self.cache.pop(aid, None)
            self.missing.discard(aid)
        self._reset_batch()


class WorkSource(Protocol):
    """A kind of due work: reads its due-index rows, computes items, processes one item."""

    kind: str

    def items(self, ctx: TickContext, rows: list[Any], company: str | None) -> list[WorkItem]: ...

    def prefetch(self, ctx: TickContext, item: WorkItem) -> list[UUID]: ...

    def process(self, ctx: TickContext, item: WorkItem) -> None: ...


def sources() -> list[WorkSource]:
    """The work sources of the engine, in rank order."""
    from scheduler.consolidation import ConsolidationSource
    from scheduler.contracts import ContractSource
    from scheduler.overdue import OverdueSource

    return [ConsolidationSource(), ContractSource(), OverdueSource()]


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
) -> TickSummary:
    """Issue everything due at or before instant ``at`` (aware). See the module docstring.

    ``company`` limits contract runs to one tenant (consolidation has no company and is then skipped).
    ``progress(done, total)`` is called as items are processed. ``catch_up_after=False`` leaves the final
    projection catch-up to the caller (the benchmark times it apart); ``list_documents=False`` keeps only
    counts (a tick of 100,000 invoices need not hold 100,000 summaries). ``take_turns=False`` skips the
    advisory lock of concurrent tickers (the tests race without it: correctness must not need it).
    Returns a :class:`TickSummary`.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    with _one_ticker_at_a_time(store, dry_run or not take_turns):
        return _tick(store, at, dry_run, company, progress, catch_up_after, list_documents)


@contextmanager
def _one_ticker_at_a_time(store: Any, dry_run: bool) -> Iterator[None]:
    """On PostgreSQL, hold a session advisory lock while ticking, so that concurrent tickers take turns
    instead of walking the same plan and colliding batch after batch (issue 6, item 24: 8 racing tickers
    took 2.5-3.2x as long as one). The next ticker then finds the work done. Correctness never depends on
    it: the event store's unique versions still decide every race. A dry run writes nothing and takes no
    lock."""
    if dry_run or store.engine.dialect.name != "postgresql":
        yield
        return
    with store.engine.connect() as conn:
        key = conn.execute(sa.text("SELECT hashtext('billing-tick:' || current_schema())")).scalar()
        conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


def _tick(
    store: Any,
    at: datetime,
    dry_run: bool,
    company: str | None,
    progress: Callable[[int, int], None] | None,
    catch_up_after: bool,
    list_documents: bool,
) -> TickSummary:
    summary = TickSummary(at=at, dry_run=dry_run)
    projection_runner.run(store, registry.ALL)
    ctx = TickContext(store, at, dry_run, summary)
    ctx.list_documents = list_documents
    rows = _due_rows(store, at)
    work: list[tuple[WorkItem, WorkSource]] = []
    srcs = sources()
    by_kind = {s.kind: s for s in srcs}
    for src in srcs:
        for item in src.items(ctx, rows.get(src.kind, []), company):
            work.append((item, by_kind[item.kind]))
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
    if not dry_run and catch_up_after:
        projection_runner.run(store, registry.ALL)
    return summary


def _due_rows(store: Any, at: datetime) -> dict[str, list[Any]]:
    stmt = (
        sa.select(due_work)
        .where(due_work.c.active.is_(True), due_work.c.due_at.is_not(None), due_work.c.due_at <= at)
        .order_by(due_work.c.due_at, due_work.c.kind, due_work.c.natural_key)
    )
    out: dict[str, list[Any]] = {}
    with store.read_engine.connect() as conn:
        for row in conn.execute(stmt):
            out.setdefault(row.kind, []).append(row)
    return out


def _process(ctx: TickContext, work: list[tuple[WorkItem, WorkSource]], progress: Callable[[int, int], None] | None) -> None:
    total = len(work)
    start = 0
    prefetched_to = 0
    while start < total:
        for attempt in range(MAX_BATCH_ATTEMPTS):
            i = start
            try:
                with business_time(ctx.at):
                    while i < total:
                        if i >= prefetched_to:
                            end = min(total, i + PREFETCH)
                            ids: list[UUID] = []
                            for item, src in work[i:end]:
                                ids.extend(src.prefetch(ctx, item))
                            ctx.preload(ids)
                            prefetched_to = end
                        item, src = work[i]
                        src.process(ctx, item)
                        i += 1
                        if ctx.pending_events() >= BATCH_EVENTS:
                            break
                    ctx.commit()
                break
            except (IntegrityError, StaleState) as e:
                ctx.rollback()
                if isinstance(e, StaleState):
                    ctx.forget_all()
                ctx.summary.conflicts += 1
                prefetched_to = start
                if attempt == MAX_BATCH_ATTEMPTS - 1:
                    raise
                backoff(attempt)
        if progress:
            progress(i, total)
        start = i
