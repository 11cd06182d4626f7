"""The projection runner: batched, exactly once, on SQLite and PostgreSQL (DESIGN.md, "Projections").

It reads the application's notification log in pages (``recorder.select_notifications``), turns records
into domain events (``app.mapper.to_domain_event``), lets each projection's handlers write with SQLAlchemy
Core, and moves each projection's position in the *same* transaction. The transaction first locks the
position rows (``SELECT ... FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE`` on SQLite), re-reads them and
skips what another runner already applied, so concurrent runners never apply an event twice.

A position is the id of the last notification applied (ids may have gaps on PostgreSQL: never a count).

Handlers write through a :class:`Writer` that buffers statements and sends consecutive runs of the same
statement as one ``executemany``: a page of 5,000 ``LineAdded`` events is one insert, not 5,000.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from projections.tables import metadata, projection_positions

PAGE_SIZE = 5000

Handler = Callable[[Any, "Writer"], None]


@dataclass
class Projection:
    """A named read model: its tables and one handler per event topic it reads."""

    name: str
    tables: list[sa.Table]
    handlers: dict[str, Handler] = field(default_factory=dict)
    description: str = ""

    def on(self, *topics: str) -> Callable[[Handler], Handler]:
        """Decorator registering a handler for ``topics``."""

        def register(fn: Handler) -> Handler:
            for t in topics:
                self.handlers[t] = fn
            return fn

        return register


class Writer:
    """Buffers the writes of one page; consecutive uses of one statement become one ``executemany``."""

    def __init__(self, conn: sa.Connection, dialect: str):
        self.conn = conn
        self.dialect = dialect
        # Writes queue per table, in order: tables have no cross-table constraints, so only the order of
        # writes to one table matters, and a page's interleaved inserts into two tables still become two
        # executemany calls.
        self._queues: dict[str, list[tuple[Any, tuple[str, ...], dict[str, Any]]]] = {}
        self._cache: dict[tuple, Any] = {}

    # ------------------------------------------------------------------------------ statements
    def insert(self, table: sa.Table, row: dict[str, Any]) -> None:
        """Insert ``row`` (every row of one table inserted by one handler should have the same keys)."""
        key = ("insert", table.name, tuple(row))
        stmt = self._cache.get(key)
        if stmt is None:
            stmt = self._cache[key] = table.insert()
        self._queue(table).append((stmt, tuple(row), row))

    def upsert(self, table: sa.Table, row: dict[str, Any], key_cols: Sequence[str]) -> None:
        """Insert ``row`` or, if a row with the same ``key_cols`` exists, overwrite its other columns."""
        key = ("upsert", table.name, tuple(row), tuple(key_cols))
        stmt = self._cache.get(key)
        if stmt is None:
            ins = (pg_dialect.insert if self.dialect == "postgresql" else sqlite_dialect.insert)(table)
            updates = {c: ins.excluded[c] for c in row if c not in key_cols}
            stmt = self._cache[key] = ins.on_conflict_do_update(index_elements=list(key_cols), set_=updates)
        self._queue(table).append((stmt, tuple(row), row))

    def update(self, table: sa.Table, where: dict[str, Any], values: dict[str, Any]) -> None:
        """``UPDATE table SET values WHERE where`` (equality on every ``where`` column)."""
        key = ("update", table.name, tuple(where), tuple(values))
        stmt = self._cache.get(key)
        if stmt is None:
            cond = sa.and_(*(table.c[k] == sa.bindparam(f"w_{k}") for k in where))
            stmt = self._cache[key] = table.update().where(cond).values({c: sa.bindparam(f"v_{c}") for c in values})
        params = {f"w_{k}": v for k, v in where.items()}
        params.update({f"v_{k}": v for k, v in values.items()})
        self._queue(table).append((stmt, tuple(params), params))

    def delete(self, table: sa.Table, where: dict[str, Any]) -> None:
        """``DELETE FROM table WHERE where``."""
        key = ("delete", table.name, tuple(where))
        stmt = self._cache.get(key)
        if stmt is None:
            cond = sa.and_(*(table.c[k] == sa.bindparam(f"w_{k}") for k in where))
            stmt = self._cache[key] = table.delete().where(cond)
        params = {f"w_{k}": v for k, v in where.items()}
        self._queue(table).append((stmt, tuple(params), params))

    def execute(self, table: sa.Table, stmt: Any, params: dict[str, Any]) -> None:
        """Buffer any other statement writing ``table`` (same parameter keys on every call)."""
        self._queue(table).append((stmt, tuple(params), params))

    def _queue(self, table: sa.Table) -> list[tuple[Any, tuple[str, ...], dict[str, Any]]]:
        q = self._queues.get(table.name)
        if q is None:
            q = self._queues[table.name] = []
        return q

    def query(self, stmt: Any, params: dict[str, Any] | None = None) -> sa.CursorResult:
        """Flush, then run a read (a handler that needs the read model's current state)."""
        self.flush()
        return self.conn.execute(stmt, params or {})

    # ------------------------------------------------------------------------------ flushing
    def flush(self) -> None:
        queues, self._queues = self._queues, {}
        for ops in queues.values():
            self._flush(ops)

    def _flush(self, ops: list[tuple[Any, tuple[str, ...], dict[str, Any]]]) -> None:
        i = 0
        while i < len(ops):
            stmt, keys, _ = ops[i]
            j = i
            while j < len(ops) and ops[j][0] is stmt and ops[j][1] == keys:
                j += 1
            batch = [p for _, _, p in ops[i:j]]
            if len(batch) == 1:
                self.conn.execute(stmt, batch[0])
            else:
                self.conn.execute(stmt, batch)
            i = j


def ensure_schema(store: Any, projections: Iterable[Projection]) -> None:
    """Create missing read-model tables and position rows (position 0)."""
    with store.engine.begin() as conn:
        metadata.create_all(conn, tables=[projection_positions, *[t for p in projections for t in p.tables]])
        existing = {r[0] for r in conn.execute(sa.select(projection_positions.c.name))}
        for p in projections:
            if p.name not in existing:
                conn.execute(projection_positions.insert().values(name=p.name, position=0))


def positions(store: Any) -> dict[str, int]:
    """Each projection's position (last notification id applied)."""
    with store.read_engine.connect() as conn:
        return {r.name: r.position for r in conn.execute(sa.select(projection_positions))}


def run(
    store: Any,
    projections: Sequence[Projection],
    *,
    until: int | None = None,
    page_size: int = PAGE_SIZE,
    on_page: Callable[[int, int], None] | None = None,
) -> int:
    """Bring ``projections`` up to the log's head (or to notification ``until``); returns how many
    notifications were applied (counted once per page, whatever the number of projections).

    ``on_page(position, head)`` is called after each committed page (for progress bars).
    """
    ensure_schema(store, projections)
    head = store.head() if until is None else until
    by_name = {p.name: p for p in projections}
    wanted_topics = sorted({t for p in projections for t in p.handlers})
    dialect = store.engine.dialect.name
    applied = 0
    while True:
        current = {n: pos for n, pos in positions(store).items() if n in by_name}
        start = min(current.values())
        if start >= head:
            return applied
        page = store.recorder.select_notifications(
            start, page_size, stop=head, topics=wanted_topics, inclusive_of_start=False
        )
        if not page:
            # Nothing more these projections read up to head (or only gaps): everything is applied.
            _set_positions(store, {n: head for n in by_name})
            return applied
        last = page[-1].id
        mapper = store.app.mapper
        with store.engine.begin() as conn:
            locked = _lock_positions(conn, dialect, list(by_name))
            writer = Writer(conn, dialect)
            for notification in page:
                topic = notification.topic
                todo = [p for p in projections if notification.id > locked[p.name] and topic in p.handlers]
                if not todo:
                    continue
                event = mapper.to_domain_event(notification)
                for p in todo:
                    p.handlers[topic](event, writer)
            writer.flush()
            for name, pos in locked.items():
                if pos < last:
                    conn.execute(
                        projection_positions.update()
                        .where(projection_positions.c.name == name)
                        .values(position=last)
                    )
        applied += len(page)
        if on_page:
            on_page(last, head)


def _lock_positions(conn: sa.Connection, dialect: str, names: list[str]) -> dict[str, int]:
    stmt = sa.select(projection_positions.c.name, projection_positions.c.position).where(
        projection_positions.c.name.in_(names)
    )
    if dialect == "postgresql":
        stmt = stmt.with_for_update()
    return {r.name: r.position for r in conn.execute(stmt)}


def _set_positions(store: Any, values: dict[str, int]) -> None:
    with store.engine.begin() as conn:
        locked = _lock_positions(conn, store.engine.dialect.name, list(values))
        for name, pos in values.items():
            if locked.get(name, 0) < pos:
                conn.execute(
                    projection_positions.update().where(projection_positions.c.name == name).values(position=pos)
                )


def rebuild(store: Any, projections: Sequence[Projection], **kwargs: Any) -> int:
    """Drop the tables of ``projections``, reset their positions to 0 and replay the whole log."""
    with store.engine.begin() as conn:
        for p in projections:
            for t in reversed(p.tables):
                t.drop(conn, checkfirst=True)
        metadata.create_all(conn, tables=[projection_positions])
        for p in projections:
            conn.execute(projection_positions.delete().where(projection_positions.c.name == p.name))
    return run(store, projections, **kwargs)


def follow(store: Any, projections: Sequence[Projection], interval: float = 1.0, should_stop: Callable[[], bool] = lambda: False) -> None:
    """Keep the projections caught up, polling the log every ``interval`` seconds (SQLite cannot be
    subscribed to, and polling works the same on PostgreSQL)."""
    while not should_stop():
        run(store, projections)
        time.sleep(interval)
