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
from psycopg import sql as psycopg_sql

from projections.tables import metadata, projection_positions

PAGE_SIZE = 5000
#: Inserts of at least this many rows use COPY on PostgreSQL.
COPY_MIN_ROWS = 50

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


Op = tuple[Any, tuple[str, ...], dict[str, Any], "tuple | None"]


class Writer:
    """Buffers the writes of one page and sends them as few ``executemany`` calls as order allows.

    Tables have no cross-table constraints, so writes queue per table. Within a table, a write may join an
    earlier batch of the same statement unless a write in between touches the same row (known from the
    primary key of an insert, or from an update/delete whose WHERE is the primary key); a write whose rows
    are not known that way is a barrier nothing moves across. A page of 5,000 events that interleave
    "insert an overdue row" and "update a contract's row" in one table thus costs two statements, not
    10,000.
    """

    def __init__(self, conn: sa.Connection, dialect: str):
        self.conn = conn
        self.dialect = dialect
        self._queues: dict[str, list[Op]] = {}
        self._cache: dict[tuple, Any] = {}
        self._pk: dict[str, tuple[str, ...]] = {}
        self._inserts: dict[Any, sa.Table] = {}

    # ------------------------------------------------------------------------------ statements
    def insert(self, table: sa.Table, row: dict[str, Any]) -> None:
        """Insert ``row`` (every row of one table inserted by one handler should have the same keys)."""
        key = ("insert", table.name, tuple(row))
        stmt = self._cache.get(key)
        if stmt is None:
            stmt = self._cache[key] = table.insert()
            self._inserts[stmt] = table
        pk = self._primary_key(table)
        self._queue(table).append((stmt, tuple(row), row, tuple(row.get(c) for c in pk)))

    def update(self, table: sa.Table, where: dict[str, Any], values: dict[str, Any]) -> None:
        """``UPDATE table SET values WHERE where`` (equality on every ``where`` column)."""
        key = ("update", table.name, tuple(where), tuple(values))
        stmt = self._cache.get(key)
        if stmt is None:
            cond = sa.and_(*(table.c[k] == sa.bindparam(f"w_{k}") for k in where))
            stmt = self._cache[key] = table.update().where(cond).values({c: sa.bindparam(f"v_{c}") for c in values})
        params = {f"w_{k}": v for k, v in where.items()}
        params.update({f"v_{k}": v for k, v in values.items()})
        self._queue(table).append((stmt, tuple(params), params, self._row(table, where)))

    def delete(self, table: sa.Table, where: dict[str, Any]) -> None:
        """``DELETE FROM table WHERE where``."""
        key = ("delete", table.name, tuple(where))
        stmt = self._cache.get(key)
        if stmt is None:
            cond = sa.and_(*(table.c[k] == sa.bindparam(f"w_{k}") for k in where))
            stmt = self._cache[key] = table.delete().where(cond)
        params = {f"w_{k}": v for k, v in where.items()}
        self._queue(table).append((stmt, tuple(params), params, self._row(table, where)))

    def _primary_key(self, table: sa.Table) -> tuple[str, ...]:
        pk = self._pk.get(table.name)
        if pk is None:
            pk = self._pk[table.name] = tuple(c.name for c in table.primary_key.columns)
        return pk

    def _row(self, table: sa.Table, where: dict[str, Any]) -> tuple | None:
        pk = self._primary_key(table)
        if set(where) != set(pk):
            return None
        return tuple(where[c] for c in pk)

    def _queue(self, table: sa.Table) -> list[Op]:
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
            for stmt, batch in self._batches(ops):
                if self.dialect == "postgresql" and len(batch) >= COPY_MIN_ROWS and stmt in self._inserts:
                    self._copy(self._inserts[stmt], batch)
                else:
                    self.conn.execute(stmt, batch[0] if len(batch) == 1 else batch)

    def _copy(self, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows`` with PostgreSQL's COPY, in the same transaction. psycopg's row-by-row
        ``executemany`` spent half of a projection catch-up waiting on the server (100,000 events in
        12.8 s, profiled); COPY is the bulk path. Values go through each column type's bind processing,
        exactly as SQLAlchemy would send them."""
        columns = list(rows[0])
        dialect = self.conn.dialect
        procs = [table.c[c].type.bind_processor(dialect) for c in columns]
        raw = self.conn.connection.driver_connection
        copy_sql = psycopg_sql.SQL("COPY {} ({}) FROM STDIN").format(
            psycopg_sql.Identifier(table.name), psycopg_sql.SQL(", ").join(map(psycopg_sql.Identifier, columns))
        )
        with raw.cursor() as cur, cur.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row([p(row[c]) if p else row[c] for c, p in zip(columns, procs)])

    @staticmethod
    def _batches(ops: list[Op]) -> list[tuple[Any, list[dict[str, Any]]]]:
        """Group ``ops`` (one table's, in order) into executemany batches without reordering writes to
        one row (see the class docstring)."""
        batches: list[tuple[Any, list[dict[str, Any]]]] = []
        latest: dict[tuple, int] = {}  # (statement, keys) -> index of its latest batch
        touched: dict[tuple, int] = {}  # row -> index of the latest batch writing it
        barrier = -1
        for stmt, keys, params, row in ops:
            sk = (id(stmt), keys)
            target = latest.get(sk)
            floor = barrier if row is None else max(barrier, touched.get(row, -1))
            if row is None or target is None or target < floor:
                batches.append((stmt, []))
                target = len(batches) - 1
                latest[sk] = target
                if row is None:
                    barrier = target
            batches[target][1].append(params)
            if row is not None:
                touched[row] = target
        return batches


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

    Their tables exist already: :class:`commands.app.Store` creates them when it opens, rather than a
    catalogue check on every run (once per command, twice per tick).

    ``on_page(position, head)`` is called after each committed page (for progress bars).
    """
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
    ensure_schema(store, projections)
    return run(store, projections, **kwargs)


def follow(store: Any, projections: Sequence[Projection], interval: float = 1.0, should_stop: Callable[[], bool] = lambda: False) -> None:
    """Keep the projections caught up, polling the log every ``interval`` seconds (SQLite cannot be
    subscribed to, and polling works the same on PostgreSQL)."""
    while not should_stop():
        run(store, projections)
        time.sleep(interval)
