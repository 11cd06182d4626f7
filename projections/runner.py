"""The projection runner: batched, exactly once, on SQLite and PostgreSQL (DESIGN.md, "Projections").

It reads the application's notification log in pages (``recorder.select_notifications``), turns records
into domain events (``app.mapper.to_domain_event``), lets each projection's handlers write with SQLAlchemy
Core, and moves each projection's position in the *same* transaction. The transaction first locks the
position rows (``SELECT ... FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE`` on SQLite), re-reads them and
skips what another runner already applied, so concurrent runners never apply an event twice.

A position is the id of the last notification applied (ids may have gaps on PostgreSQL: never a count).

Handlers write through a :class:`projections.writer.Writer` that buffers statements and sends consecutive
runs of the same statement as one ``executemany``: a page of 5,000 ``LineAdded`` events is one insert, not
5,000.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from projections.tables import metadata, projection_errors, projection_positions
from projections.writer import Writer

PAGE_SIZE = 5000
#: Longest error text kept for an event a projection could not apply.
MAX_ERROR_TEXT = 500

Handler = Callable[[Any, "Writer"], None]


@dataclass
class Projection:
    """A named read model: its tables, one handler per event topic it reads, and a ``version``: bump it
    when the tables or what the handlers write change, and every store rebuilds the projection when it
    next opens (:func:`ensure_schema`)."""

    name: str
    tables: list[sa.Table]
    handlers: dict[str, Handler] = field(default_factory=dict)
    description: str = ""
    version: int = 1

    def on(self, *topics: str) -> Callable[[Handler], Handler]:
        """Decorator registering a handler for ``topics``."""

        def register(fn: Handler) -> Handler:
            for t in topics:
                self.handlers[t] = fn
            return fn

        return register


class ProjectionFailed(Exception):
    """A strict run (a rebuild) met an event a projection cannot apply: which projection, which event
    (notification id, topic, originator id and version), and why."""

    def __init__(self, projection: str, notification: Any, error: BaseException):
        self.projection = projection
        self.notification_id = notification.id
        self.topic = notification.topic
        self.error = describe_error(error)
        super().__init__(
            f"projection {projection} cannot apply event #{notification.id} ({notification.topic}, "
            f"{notification.originator_id} v{notification.originator_version}): {self.error}"
        )


def describe_error(error: BaseException) -> str:
    """One line about ``error``: the database's own message for a driver error, without SQL or parameters."""
    inner = getattr(error, "orig", None) or error
    text = " ".join(str(inner).split()) or type(inner).__name__
    return f"{type(inner).__name__}: {text}"[:MAX_ERROR_TEXT]


def _is_environmental(error: BaseException) -> bool:
    """True for a failure of the database itself (connection lost, lock timeout, busy): it is not the
    event's fault, so it is raised, never recorded against the event."""
    if isinstance(error, (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)):
        return True
    return bool(getattr(error, "connection_invalidated", False))


def ensure_schema(store: Any, projections: Iterable[Projection], engine: sa.Engine | None = None) -> list[Projection]:
    """Create missing read-model tables and position rows. Returns the projections whose stored version
    differs from their code's (tables an older engine built): the caller rebuilds them beside the live
    ones (:func:`projections.rebuild.rebuild_beside`), so a store written by an older engine is brought
    up to date instead of failing, and nothing is dropped before its replacement is complete."""
    engine = engine or store.engine
    projections = list(projections)
    with engine.begin() as conn:
        metadata.create_all(conn, tables=[projection_positions, projection_errors])
        columns = {c["name"] for c in sa.inspect(conn).get_columns(projection_positions.name)}
        if "version" not in columns:  # a store written before projections had versions
            conn.execute(sa.text(f"ALTER TABLE {projection_positions.name} ADD COLUMN version INTEGER NOT NULL DEFAULT 0"))
        existing = {r.name: r.version for r in conn.execute(sa.select(projection_positions.c.name, projection_positions.c.version))}
        stale = [p for p in projections if p.name in existing and existing[p.name] != p.version]
        metadata.create_all(conn, tables=[t for p in projections if p not in stale for t in p.tables])
        for p in projections:
            if p.name not in existing:
                conn.execute(projection_positions.insert().values(name=p.name, position=0, version=p.version))
    return stale


def positions(store: Any, engine: sa.Engine | None = None) -> dict[str, int]:
    """Each projection's position (last notification id applied)."""
    with (engine or store.read_engine).connect() as conn:
        return {r.name: r.position for r in conn.execute(sa.select(projection_positions.c.name, projection_positions.c.position))}


def run(
    store: Any,
    projections: Sequence[Projection],
    *,
    until: int | None = None,
    page_size: int = PAGE_SIZE,
    on_page: Callable[[int, int], None] | None = None,
    engine: sa.Engine | None = None,
    strict: bool = False,
) -> int:
    """Bring ``projections`` up to the log's head (or to notification ``until``); returns how many
    notifications were applied (counted once per page, whatever the number of projections).

    Their tables exist already: :class:`commands.app.Store` creates them when it opens. ``engine`` writes
    elsewhere than the store's read models (a rebuild's shadow tables). ``on_page(position, head)`` is
    called after each committed page (for progress bars).

    No stored event stops the engine (DESIGN.md, "Projections"): a page is applied in one transaction;
    if that fails, it is applied again event by event and projection by projection, each in a savepoint,
    and an event a projection cannot apply is recorded in ``projection_errors`` (shown by ``billing
    projections status``) and passed over, while the other events and projections go on. With ``strict``
    (a rebuild) such an event raises :class:`ProjectionFailed` instead. A failure of the database itself
    (connection lost, lock timeout) is always raised.
    """
    write_engine = engine or store.engine
    read_engine = engine or store.read_engine
    head = store.head() if until is None else until
    by_name = {p.name: p for p in projections}
    wanted_topics = sorted({t for p in projections for t in p.handlers})
    dialect = write_engine.dialect.name
    applied = 0
    while True:
        current = {n: pos for n, pos in positions(store, read_engine).items() if n in by_name}
        start = min(current.values())
        if start >= head:
            return applied
        page = store.recorder.select_notifications(
            start, page_size, stop=head, topics=wanted_topics, inclusive_of_start=False
        )
        if not page:
            # Nothing more these projections read up to head (or only gaps): everything is applied.
            _set_positions(write_engine, {n: head for n in by_name})
            return applied
        try:
            _apply_page(write_engine, dialect, projections, page, store.app.mapper)
        except Exception as e:  # noqa: BLE001 - any failure of a handler or of a write: isolate the event
            if _is_environmental(e):
                raise
            _apply_page_one_by_one(write_engine, dialect, projections, page, store.app.mapper, strict)
        applied += len(page)
        if on_page:
            on_page(page[-1].id, head)


def _apply_page(engine: sa.Engine, dialect: str, projections: Sequence[Projection], page: list, mapper: Any) -> None:
    """Apply a page in one transaction, batching writes (the fast path)."""
    last = page[-1].id
    with engine.begin() as conn:
        locked = _lock_positions(conn, dialect, [p.name for p in projections])
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
        _move_positions(conn, locked, last)


def _apply_page_one_by_one(
    engine: sa.Engine, dialect: str, projections: Sequence[Projection], page: list, mapper: Any, strict: bool
) -> None:
    """Apply a page event by event, each projection's write in its own savepoint; record what fails."""
    last = page[-1].id
    with engine.begin() as conn:
        locked = _lock_positions(conn, dialect, [p.name for p in projections])
        decoded: dict[int, Any] = {}
        for p in projections:
            for notification in page:
                if notification.id <= locked[p.name] or notification.topic not in p.handlers:
                    continue
                savepoint = conn.begin_nested()
                try:
                    if notification.id not in decoded:
                        decoded[notification.id] = mapper.to_domain_event(notification)
                    writer = Writer(conn, dialect)
                    p.handlers[notification.topic](decoded[notification.id], writer)
                    writer.flush()
                    savepoint.commit()
                except Exception as e:  # noqa: BLE001 - recorded against the event, see run()
                    savepoint.rollback()
                    if _is_environmental(e):
                        raise
                    if strict:
                        raise ProjectionFailed(p.name, notification, e) from e
                    conn.execute(projection_errors.insert().values(
                        name=p.name, notification_id=notification.id, topic=notification.topic,
                        originator_id=str(notification.originator_id), originator_version=notification.originator_version,
                        error=describe_error(e),
                    ))
        _move_positions(conn, locked, last)


def _move_positions(conn: sa.Connection, locked: dict[str, int], last: int) -> None:
    for name, pos in locked.items():
        if pos < last:
            conn.execute(projection_positions.update().where(projection_positions.c.name == name).values(position=last))


def _lock_positions(conn: sa.Connection, dialect: str, names: list[str]) -> dict[str, int]:
    stmt = sa.select(projection_positions.c.name, projection_positions.c.position).where(
        projection_positions.c.name.in_(names)
    )
    if dialect == "postgresql":
        # Always in name order: runners locking the same rows in different orders deadlock.
        stmt = stmt.order_by(projection_positions.c.name).with_for_update()
    return {r.name: r.position for r in conn.execute(stmt)}


def _set_positions(engine: sa.Engine, values: dict[str, int]) -> None:
    with engine.begin() as conn:
        locked = _lock_positions(conn, engine.dialect.name, list(values))
        for name, pos in values.items():
            if locked.get(name, 0) < pos:
                conn.execute(
                    projection_positions.update().where(projection_positions.c.name == name).values(position=pos)
                )


def error_count(store: Any) -> int:
    """How many events the projections could not apply, in all."""
    with store.read_engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(projection_errors)).scalar() or 0


def errors(store: Any, names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The events projections could not apply (oldest first): projection, notification id, topic,
    originator id and version, error."""
    stmt = sa.select(projection_errors).order_by(projection_errors.c.notification_id, projection_errors.c.name)
    if names is not None:
        stmt = stmt.where(projection_errors.c.name.in_(list(names)))
    with store.read_engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def rebuild(store: Any, projections: Sequence[Projection], **kwargs: Any) -> int:
    """Rebuild ``projections`` beside the live read models and swap them in (:mod:`projections.rebuild`);
    returns how many notifications were applied."""
    from projections.rebuild import rebuild_beside

    return rebuild_beside(store, projections, **kwargs).applied


def follow(store: Any, projections: Sequence[Projection], interval: float = 1.0, should_stop: Callable[[], bool] = lambda: False) -> None:
    """Keep the projections caught up, polling the log every ``interval`` seconds (SQLite cannot be
    subscribed to, and polling works the same on PostgreSQL)."""
    while not should_stop():
        run(store, projections)
        time.sleep(interval)
