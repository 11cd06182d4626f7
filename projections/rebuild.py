"""Rebuilding read models beside the live ones, then swapping them in (issue 6, item 23).

A rebuild never destroys what it replaces before it has something better:

1. the projections are replayed from the first event into *shadow* tables of the same names — a schema of
   their own on PostgreSQL (:func:`shadow_schema`; rebuilds of one store take turns, so a killed one's
   shadow is dropped by the next), a file of their own beside the SQLite database (``billing.db.rebuild-<pid>``;
   the files of killed rebuilds are removed by the next) — strictly: an event a projection cannot apply stops the rebuild with
   :class:`projections.runner.ProjectionFailed` naming the event, the shadow is dropped, and the live read
   models stay exactly as they were;
2. in one transaction on the live database, with the projections' positions locked: if the live read
   models are at the same position, every table is compared row by row with its rebuilt twin (a stored
   event that changed since it was projected shows up as a difference — reported, not hidden); then the
   live tables are replaced by the rebuilt ones (PostgreSQL: ``ALTER TABLE … SET SCHEMA``; SQLite: the
   rows are copied from the attached shadow file), positions set to the rebuild's head and the
   projections' recorded errors cleared.

Events appended while the rebuild runs are applied by the next catch-up (the positions say where the
rebuilt tables stand).
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from projections.locks import schema_lock
from projections.runner import PAGE_SIZE, Projection, _lock_positions, run
from projections.tables import metadata, projection_errors, projection_positions

#: At most this many differing rows are described per table (all are counted).
SHOWN_DIFFERENCES = 3


@dataclass
class RebuildReport:
    """What a rebuild did: notifications applied, the head it rebuilt to, whether it could compare the
    replaced tables (the live projections were at the same head) and, per table, the rows that differed
    (``differences``) with a few of their keys (``examples``)."""

    applied: int
    head: int
    compared: bool
    differences: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)


def rebuild_beside(
    store: Any,
    projections: Sequence[Projection],
    *,
    page_size: int = PAGE_SIZE,
    on_page: Callable[[int, int], None] | None = None,
    strict: bool = True,
) -> RebuildReport:
    """Rebuild ``projections`` from the whole event log beside the live read models and swap them in (see
    the module docstring). Raises :class:`projections.runner.ProjectionFailed` (nothing replaced) when an
    event cannot be applied — unless ``strict`` is False (an upgrade of read models an older engine
    built): such events are then recorded, as a catch-up records them."""
    # rebuilds of one store take turns (PostgreSQL): they share one shadow schema name, and a killed
    # rebuild's shadow is dropped by the next one
    with schema_lock(store.engine, "billing-rebuild"):
        head = store.head()
        shadow = _Shadow.for_store(store)
        try:
            shadow.create(projections)
            applied = run(store, projections, until=head, page_size=page_size, on_page=on_page, engine=shadow.engine, strict=strict)
            report = shadow.swap_in(store, projections, head)
            report.applied = applied
            return report
        finally:
            shadow.drop()


def shadow_schema(main: str) -> str:
    """The PostgreSQL schema a rebuild of the store in schema ``main`` writes to:
    ``billing_rebuild_<the first 16 hex digits of SHA-256 of main>`` (32 characters). A name built from
    ``main`` itself (``<main>_rebuild_<pid>``, cut to PostgreSQL's 63) was ``main`` for a 63-character
    schema, and the rebuild's clean-up dropped the store with its events."""
    name = "billing_rebuild_" + hashlib.sha256(main.encode()).hexdigest()[:16]
    if name == main:  # cannot happen for a hash of itself; never drop the store, whatever the name
        raise RuntimeError(f"the rebuild's shadow schema would be the store's own schema {main!r}")
    return name


def _remove_dead_shadows(sqlite_path: str) -> None:
    """Remove the shadow files (``<db>.rebuild-<pid>`` and their journals) of rebuilds whose process is no
    longer running (killed): only a live process's shadow is in use."""
    for leftover in sorted(glob.glob(glob.escape(sqlite_path) + ".rebuild-*")):
        pid = leftover.rsplit(".rebuild-", 1)[1].split("-", 1)[0]
        if not pid.isdigit() or _running(int(pid)):
            continue
        os.remove(leftover)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    return True


class _Shadow:
    """Where a rebuild writes: an engine whose unqualified table names are the shadow tables."""

    def __init__(self, store: Any, engine: sa.Engine, name: str):
        self.store = store
        self.engine = engine
        self.name = name  # the PostgreSQL schema, or the SQLite file path

    @classmethod
    def for_store(cls, store: Any) -> _Shadow:
        if store.engine.dialect.name == "postgresql":
            with store.engine.connect() as conn:
                main = conn.execute(sa.text("SELECT current_schema()")).scalar()
            name = shadow_schema(main)
            url = store.engine.url.set(query={"options": f"-csearch_path={name}"})
            return cls(store, sa.create_engine(url, poolclass=NullPool), name)
        _remove_dead_shadows(store.config.sqlite_path)
        path = f"{store.config.sqlite_path}.rebuild-{os.getpid()}"
        return cls(store, _plain_sqlite_engine(path), path)

    @property
    def postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def create(self, projections: Sequence[Projection]) -> None:
        self.drop()
        if self.postgres:
            with self.store.engine.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA "{self.name}"'))
        with self.engine.begin() as conn:
            metadata.create_all(conn, tables=[projection_positions, projection_errors, *[t for p in projections for t in p.tables]])
            for p in projections:
                conn.execute(projection_positions.insert().values(name=p.name, position=0, version=p.version))

    def drop(self) -> None:
        self.engine.dispose()
        if self.postgres:
            with self.store.engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE'))
            return
        for suffix in ("", "-journal", "-wal", "-shm"):
            if os.path.exists(self.name + suffix):
                os.remove(self.name + suffix)

    def swap_in(self, store: Any, projections: Sequence[Projection], head: int) -> RebuildReport:
        tables = [t for p in projections for t in p.tables]
        names = [p.name for p in projections]
        with self._live_connection(store) as conn, conn.begin():
            main = conn.execute(sa.text("SELECT current_schema()")).scalar() if self.postgres else "main"
            locked = _lock_positions(conn, conn.dialect.name, names)
            versions = dict(conn.execute(sa.select(projection_positions.c.name, projection_positions.c.version)
                                         .where(projection_positions.c.name.in_(names))).all())
            # Compare only what the same code built at the same head (an upgrade's tables differ anyway).
            same = all(locked.get(p.name) == head and versions.get(p.name) == p.version for p in projections)
            report = RebuildReport(0, head, compared=same)
            if report.compared:
                for t in tables:
                    count, examples = _compare(conn, t, self.qualified(t))
                    if count:
                        report.differences[t.name] = count
                        report.examples[t.name] = examples
            for t in reversed(tables):
                t.drop(conn, checkfirst=True)
            for t in tables:
                if self.postgres:
                    conn.execute(sa.text(f'ALTER TABLE "{self.name}"."{t.name}" SET SCHEMA "{main}"'))
                else:
                    t.create(conn)
                    conn.execute(sa.text(f'INSERT INTO {main}."{t.name}" SELECT * FROM shadow."{t.name}"'))
            conn.execute(projection_errors.delete().where(projection_errors.c.name.in_(names)))
            shadow_errors = self.qualified(projection_errors)
            conn.execute(projection_errors.insert().from_select(
                [c.name for c in projection_errors.columns], sa.select(*[shadow_errors.c[c.name] for c in projection_errors.columns])))
            for p in projections:
                conn.execute(projection_positions.update().where(projection_positions.c.name == p.name)
                             .values(position=head, version=p.version))
        return report

    def qualified(self, table: sa.Table) -> sa.Table:
        """``table`` as it stands in the shadow, seen from the live connection."""
        return table.to_metadata(sa.MetaData(), schema=self.name if self.postgres else "shadow")

    def _live_connection(self, store: Any) -> Any:
        @contextmanager
        def opened() -> Iterator[sa.Connection]:
            with store.engine.connect() as conn:
                if self.postgres:
                    yield conn
                    return
                raw = conn.connection.dbapi_connection
                raw.execute("ATTACH DATABASE ? AS shadow", (self.name,))
                try:
                    yield conn
                finally:
                    raw.execute("DETACH DATABASE shadow")

        return opened()


def _compare(conn: sa.Connection, live: sa.Table, rebuilt: sa.Table) -> tuple[int, list[str]]:
    """Count the rows that differ between ``live`` and ``rebuilt`` (missing on one side or with other
    values), streaming both in primary-key order; returns the count and a few keys."""
    pk = [c.name for c in live.primary_key.columns]
    columns = [c.name for c in live.columns]

    postgres = conn.dialect.name == "postgresql"

    def order(t: sa.Table, c: str) -> Any:
        # Code-point order on both sides, as Python compares the keys (PostgreSQL's collation may differ).
        return t.c[c].collate("C") if postgres and isinstance(t.c[c].type, sa.String) else t.c[c]

    def rows(t: sa.Table) -> Iterator[tuple[tuple, tuple]]:
        result = conn.execute(sa.select(*[t.c[c] for c in columns]).order_by(*[order(t, c) for c in pk]))
        for r in result:
            m = r._mapping
            yield tuple(m[c] for c in pk), tuple(m[c] for c in columns)

    count, examples = 0, []
    a, b = rows(live), rows(rebuilt)
    x, y = next(a, None), next(b, None)
    while x is not None or y is not None:
        if y is None or (x is not None and x[0] < y[0]):
            key, x = x[0], next(a, None)
        elif x is None or y[0] < x[0]:
            key, y = y[0], next(b, None)
        else:
            same = x[1] == y[1]
            key, x, y = x[0], next(a, None), next(b, None)
            if same:
                continue
        count += 1
        if len(examples) < SHOWN_DIFFERENCES:
            examples.append(", ".join(f"{c}={v}" for c, v in zip(pk, key)))
    return count, examples


def _plain_sqlite_engine(path: str) -> sa.Engine:
    """A SQLite engine on a file of its own, with working savepoints (SQLAlchemy's pysqlite recipe)."""
    engine = sa.create_engine(sa.engine.URL.create("sqlite", database=path), poolclass=NullPool)

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine
