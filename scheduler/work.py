"""What the tick is made of (issue 7): work items, the tick's context, and the registry of work sources.

A **work source** is one kind of due work (closing consolidation periods, running contracts, marking
invoices overdue, …). It registers itself with :func:`register` when its module is imported; the tick
finds every module of the :mod:`scheduler.sources` package and imports it, so adding a billing behaviour
adds a source module and edits no existing scheduler file.

A source plans items from its rows of the due index (:data:`projections.tables.due_work`: kind, key,
company, due instant, and a JSON ``plan`` of its own), tells which aggregates an item needs (for bulk
loading), and processes one item on the aggregates it loads — deciding there, never on the index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

from domain.errors import DomainError
from domain.number_series import NumberSeries, series_id

T = TypeVar("T")

#: Events pending in a batch before it is saved.
BATCH_EVENTS = 400


class Refused(Exception):
    """A work item the domain refused (a :class:`domain.errors.DomainError` while processing it: a
    document's total out of range, ...). The tick forgets the batch, passes over the item and its target's
    later items for the rest of the tick (the target's earlier items are done, wherever batches end, in a
    dry run too), reports it in :attr:`TickSummary.refused`, and does every other item: one bad aggregate
    never stops the tick for the others (issue 6, item 1)."""

    def __init__(self, kind: str, item: "WorkItem[Any]", error: Any):
        super().__init__(f"{kind} {item.key}: {error}")
        self.kind, self.item, self.error = kind, item, error

    def report(self) -> dict[str, str]:
        return {"kind": self.kind, "key": self.item.key, "field": self.error.field, "rule": self.error.rule}


class Unreadable(DomainError):
    """An aggregate a work item needs has a stored event that cannot be decoded or applied (a corrupted
    store): the item is refused like one the domain refuses, so one bad aggregate never stops the tick for
    every other one (found by the crash probes of issue 6: one corrupted card stopped every company's
    billing)."""


class StaleState(Exception):
    """Aggregates loaded at different moments disagree (another ticker changed one in between): forget
    everything loaded and redo the batch, like a lost save."""


@dataclass(frozen=True, order=True)
class WorkItem(Generic[T]):
    """One unit of due work. Items sort by ``(due_at, rank, key)``: the tick's deterministic order.
    ``data`` is the source's own typed payload."""

    due_at: datetime
    rank: int
    key: str
    kind: str = field(compare=False)
    target: UUID = field(compare=False)
    data: T = field(compare=False, default=None)  # type: ignore[assignment]


@dataclass
class TickSummary:
    """What a tick did: counts per kind, the documents it issued, the events it wrote (or would write)."""

    at: datetime
    dry_run: bool
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    issued: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    conflicts: int = 0
    #: The latest event instant of what was passed over (``later_history``), if anything was.
    later_than: datetime | None = None
    #: Items refused by the domain (a total out of range, ...): ``{kind, key, field, rule}``, in the tick's
    #: order. Their target's later items are passed over too; every other item is done.
    refused: list[dict[str, str]] = field(default_factory=list)

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
            "later_history_until": self.later_than.isoformat() if self.later_than else None,
            "refused": self.refused,
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
        #: Targets passed over in this tick (their later items are passed over too).
        self.passed_over: set[UUID] = set()
        #: The first refused item (:class:`Refused`) of each target: it and the target's later items are
        #: passed over in this tick, its earlier ones done (:meth:`is_refused`).
        self.refused: dict[UUID, WorkItem[Any]] = {}
        #: Aggregates with a stored event that cannot be read: id -> which event and why.
        self.unreadable: dict[UUID, str] = {}
        #: Items refused once, whose batch is redone on fresh state before they count as refused.
        self.retried_fresh: set[WorkItem[Any]] = set()
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
        loaded = self.store.load_many(want, self.unreadable)
        self.cache.update(loaded)
        self.missing.update(i for i in want if i not in loaded)

    def get(self, aggregate_id: UUID) -> Any | None:
        """The aggregate in memory, loading it if needed; None if it does not exist. Raises
        :class:`Unreadable` (a :class:`DomainError`: the item is refused, the tick goes on) if one of
        its stored events cannot be read."""
        if aggregate_id not in self.cache and aggregate_id not in self.missing:
            self.preload([aggregate_id])
        if aggregate_id in self.unreadable:
            raise Unreadable("event", f"aggregate {aggregate_id}: {self.unreadable[aggregate_id]}")
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
        anything and pass over the item (:meth:`pass_over`), which a tick at a later instant does."""
        return any(a is not None and a.modified_on > self.at for a in aggregates)

    def pass_over(self, kind: str, item: WorkItem[Any], *aggregates: Any) -> None:
        """Pass over ``item`` (and every later item of the same target in this tick): what it would change
        has events after the tick's instant. Counted as ``later_history`` and reported with the latest such
        instant, so the tick's caller can say when a tick will do it."""
        self.passed_over.add(item.target)
        self.count(kind, "later_history")
        latest = max((a.modified_on for a in aggregates if a is not None), default=None)
        if latest is not None and (self.summary.later_than is None or latest > self.summary.later_than):
            self.summary.later_than = latest

    def refuse(self, item: WorkItem[Any]) -> None:
        """Pass over ``item`` and its target's later items for the rest of the tick."""
        first = self.refused.get(item.target)
        self.refused[item.target] = item if first is None or item < first else first

    def is_refused(self, item: WorkItem[Any]) -> bool:
        """True if ``item`` is at or after (in the tick's order) a refused item of its target."""
        first = self.refused.get(item.target)
        return first is not None and not item < first

    def passed(self, kind: str, item: WorkItem[Any]) -> bool:
        """True (and counted) if an earlier item of ``item``'s target was passed over in this tick."""
        if item.target in self.passed_over:
            self.count(kind, "later_history")
            return True
        return False

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
        self.unreadable.clear()

    def rollback(self) -> None:
        """Forget the batch: the aggregates it touched are reloaded when next needed."""
        for aid in self.touched:
            self.cache.pop(aid, None)
            self.missing.discard(aid)
        self._reset_batch()


class WorkSource(Protocol[T]):
    """A kind of due work (see the module docstring). ``kind`` names it (``--kind``), ``rank`` orders its
    items among others due at the same instant."""

    kind: str
    rank: int

    def items(self, ctx: TickContext, rows: list[Any]) -> list[WorkItem[T]]:
        """The items due at or before ``ctx.at`` from the source's due-index rows (each with ``key``,
        ``aggregate_id``, ``company``, ``due_at`` and its ``plan``), oldest first."""
        ...

    def prefetch(self, ctx: TickContext, item: WorkItem[T]) -> list[UUID]:
        """The aggregates ``item`` will need (loaded in bulk ahead of processing)."""
        ...

    def process(self, ctx: TickContext, item: WorkItem[T]) -> None:
        """Do the item, deciding on the loaded aggregates (skip it if it is done or no longer due)."""
        ...


_SOURCES: dict[str, WorkSource[Any]] = {}


def register(source: WorkSource[Any]) -> WorkSource[Any]:
    """Register a work source (its module calls this when imported); its ``kind`` must be new."""
    if source.kind in _SOURCES and type(_SOURCES[source.kind]) is not type(source):
        raise RuntimeError(f"work source {source.kind!r} is registered twice")
    _SOURCES[source.kind] = source
    return source


def sources() -> list[WorkSource[Any]]:
    """Every registered work source (importing every module of :mod:`scheduler.sources` first), by rank."""
    import importlib
    import pkgutil

    import scheduler.sources as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        importlib.import_module(f"{package.__name__}.{info.name}")
    return sorted(_SOURCES.values(), key=lambda s: (s.rank, s.kind))
