"""The eventsourcing Application and the store around it (the composition root).

:class:`BillingApplication` is the one ``Application`` named ``"billing"``: one events table, one
notification log, one global order. :class:`Store` pairs it with the SQLAlchemy engine of the read models
in the same database and adds what the library lacks for bulk work: loading many aggregates in one query
(:meth:`Store.load_many`) and saving in bounded chunks (:meth:`Store.save`), because one ``save`` must stay
under about 500 events (DESIGN.md, "Consistency boundaries").
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from typing import TYPE_CHECKING

import sqlalchemy as sa

from commands.config import POSTGRES_CONNECT_TIMEOUT_S, DatabaseUnavailable, StoreConfig
from domain.errors import NotFound

if TYPE_CHECKING:
    from eventsourcing.domain import Aggregate

    from commands.eventstore import BillingApplication

#: Upper bound of events per ``save`` (DESIGN.md: larger pipelined inserts can hang inside psycopg).
MAX_EVENTS_PER_SAVE = 450
#: Ids per bulk-load query.
LOAD_CHUNK = 500


def _check_postgres(config: StoreConfig) -> bool:
    """Connect once, with a timeout, to turn an unreachable server or a missing database into one clear
    line; create the schema named in the URL if it does not exist yet (returns True if it did)."""
    import psycopg
    import psycopg.sql

    try:
        with psycopg.connect(connect_timeout=POSTGRES_CONNECT_TIMEOUT_S, autocommit=True, **config.pg_params) as conn:
            if config.schema:
                existed = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (config.schema,)).fetchone()
                conn.execute(psycopg.sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(psycopg.sql.Identifier(config.schema)))
                return existed is None
    except psycopg.OperationalError as e:
        _raise_unavailable(config, e)
    return False


def _raise_unavailable(config: StoreConfig, e: Exception) -> None:
    p = config.pg_params
    where = f"{p['host']}:{p['port']}"
    message = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
    if "does not exist" in message:
        raise DatabaseUnavailable(f"PostgreSQL at {where}: {message}") from None
    raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {where} as {p['user']}: {message}") from None


def _sqlite_has_events(path: str) -> bool:
    """True if the SQLite file ``path`` holds the event table; raises :class:`DatabaseUnavailable` for a
    file that is not a SQLite database."""
    import sqlite3

    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'stored_events'").fetchone() is not None
    except sqlite3.DatabaseError as e:
        raise DatabaseUnavailable(f"cannot open the database {path}: {e}") from None


def _check_sqlite_location(config: StoreConfig) -> None:
    """Name the path and the cause when the SQLite file cannot be written (rather than SQLite's
    ``unable to open database file``)."""
    path = config.sqlite_path
    assert path is not None
    directory = os.path.dirname(path)
    if not os.path.exists(path):
        if not os.access(directory, os.W_OK | os.X_OK):
            raise DatabaseUnavailable(f"cannot create the database {path}: directory {directory} is not writable")
    elif os.path.isdir(path):
        raise DatabaseUnavailable(f"cannot open the database {path}: it is a directory")
    elif not os.access(path, os.R_OK):
        raise DatabaseUnavailable(f"cannot open the database {path}: permission denied (not readable)")
    elif os.path.getsize(path) > 0:
        _sqlite_has_events(path)  # a file that is not a SQLite database is named, not written into


class _SchemaLock:
    """A PostgreSQL advisory lock held while a process creates (or checks) the schema's tables."""

    def __init__(self, config: StoreConfig):
        import psycopg

        self.conn = psycopg.connect(connect_timeout=POSTGRES_CONNECT_TIMEOUT_S, autocommit=True, **config.pg_params)
        self.conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"billing-schema:{config.schema or 'public'}",))

    def release(self) -> None:
        try:
            self.conn.execute("SELECT pg_advisory_unlock_all()")
        finally:
            self.conn.close()


class StoreNotFound(NotFound):
    """A command that only reads names a database that does not exist (it must not create one)."""


def _require_existing(config: StoreConfig) -> None:
    """Raise :class:`StoreNotFound` unless the configured store exists (a read never creates one)."""
    if config.backend == "sqlite":
        path = config.sqlite_path
        assert path is not None
        if not os.path.exists(path):
            raise StoreNotFound("database_url", f"there is no database at {path} (check the path; a command that writes creates it)")
        _check_sqlite_location(config)
        if not _sqlite_has_events(path):
            raise StoreNotFound("database_url", f"{path} is not a billing store (it has no event table)")
        return
    import psycopg

    p = config.pg_params
    try:
        with psycopg.connect(connect_timeout=POSTGRES_CONNECT_TIMEOUT_S, autocommit=True, **p) as conn:
            schema = config.schema or "public"
            found = conn.execute("SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'billing_events'", (schema,)).fetchone()
    except psycopg.OperationalError as e:
        _raise_unavailable(config, e)
    if not found:
        raise StoreNotFound("database_url", f"there is no billing store in {config.display_url} (a command that writes creates it)")


class Store:
    """Events (``app``) and read models (``engine``) of one configured database.

    ``create=False`` (the commands that only read) refuses a store that does not exist instead of creating
    it (:class:`StoreNotFound`). The eventsourcing application is built on first use: a report whose read
    models are up to date never needs it. Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, config: StoreConfig, *, create: bool = True):
        self.config = config
        self._app: BillingApplication | None = None
        #: True when opening created the store (a new SQLite file, a new PostgreSQL schema).
        self.created = False
        if not create:
            _require_existing(config)
        elif config.backend == "sqlite":
            self.created = not os.path.exists(config.sqlite_path or "")
        if config.backend == "postgres":
            if create:
                self.created = _check_postgres(config)
            self.engine = sa.create_engine(
                config.sqlalchemy_url, pool_size=2, max_overflow=2, pool_pre_ping=True, json_serializer=_json_dumps,
                connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S},
            )
            self.read_engine = self.engine
        else:
            _check_sqlite_location(config)
            self.engine = _sqlite_engine(config.sqlalchemy_url, immediate=True)
            self.read_engine = _sqlite_engine(config.sqlalchemy_url, immediate=False)
        with self._schema_lock():
            # The library creates its table, type and function on every start, and the read models are
            # created on first use: several processes starting at once on PostgreSQL collide ("tuple
            # concurrently updated") unless creation is serialised.
            if create:
                from commands.eventstore import BillingApplication

                self._app = BillingApplication(env=config.es_env)
            from projections import registry
            from projections.runner import ensure_schema

            stale = ensure_schema(self, registry.ALL)
            if stale:
                # Read models an older engine built: rebuilt beside the live ones and swapped in. An event
                # no projection can apply is recorded (projections status), never fatal to the store.
                from projections.rebuild import rebuild_beside

                rebuild_beside(self, stale, strict=False)

    @contextmanager
    def _schema_lock(self) -> Iterator[None]:
        lock = _SchemaLock(self.config) if self.config.backend == "postgres" else None
        try:
            yield
        finally:
            if lock is not None:
                lock.release()

    @property
    def app(self) -> BillingApplication:
        """The eventsourcing application (built on first use)."""
        if self._app is None:
            from commands.eventstore import BillingApplication

            with self._schema_lock():
                self._app = BillingApplication(env=self.config.es_env)
        return self._app

    @property
    def recorder(self) -> Any:
        return self.app.recorder

    # ------------------------------------------------------------------------------------ lifecycle
    def discard_if_unused(self) -> bool:
        """Remove the store again if opening created it and no event was written (a command that was
        refused must leave nothing behind, not even an empty store). Returns whether it did."""
        if not self.created or self.head() != 0:
            return False
        self.close()
        if self.backend == "sqlite":
            for suffix in ("", "-wal", "-shm", "-journal"):
                if os.path.exists((self.config.sqlite_path or "") + suffix):
                    os.remove((self.config.sqlite_path or "") + suffix)
        else:
            import psycopg
            import psycopg.sql

            with psycopg.connect(connect_timeout=POSTGRES_CONNECT_TIMEOUT_S, autocommit=True, **self.config.pg_params) as conn:
                conn.execute(psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(psycopg.sql.Identifier(self.config.schema or "")))
        return True

    def close(self) -> None:
        if self._app is not None:
            self._app.close()
            self._app = None
        self.engine.dispose()
        self.read_engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def backend(self) -> str:
        return self.config.backend

    # ------------------------------------------------------------------------------------ events
    def head(self) -> int:
        """The highest notification id of the event log (0 when empty)."""
        if self._app is not None:
            return self._app.recorder.max_notification_id() or 0
        table, column = ("billing_events", "notification_id") if self.backend == "postgres" else ("stored_events", "rowid")
        with self.read_engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT MAX({column}) FROM {table}")).scalar() or 0

    def save(self, aggregates: Iterable[Aggregate]) -> int:
        """Save the pending events of ``aggregates`` in one transaction; returns how many were written.

        Raises ``eventsourcing.persistence.IntegrityError`` if another writer saved a conflicting version
        first (nothing of this call is written then). Asserts the save stays under
        :data:`MAX_EVENTS_PER_SAVE`; callers batch.
        """
        events = [e for a in aggregates for e in a.collect_events()]
        if not events:
            return 0
        assert len(events) <= MAX_EVENTS_PER_SAVE * 2, f"one save of {len(events)} events is too large; batch it"
        # What Application.save does, minus its per-object protocol checks (measured at ~15 % of a bulk
        # import) and its snapshot/notify hooks, which this application does not use.
        self.app.events.put(events)
        return len(events)

    def get(self, aggregate_id: UUID) -> Any | None:
        """Load one aggregate, or None if it does not exist."""
        loaded = self.load_many([aggregate_id])
        return loaded.get(aggregate_id)

    def load_many(self, ids: Sequence[UUID], unreadable: dict[UUID, str] | None = None) -> dict[UUID, Any]:
        """Load the aggregates with ``ids`` (those that exist) in a few queries, ``LOAD_CHUNK`` ids each.

        The repository loads one aggregate per query; a tick over 100,000 contracts needs this instead.
        Events are read in (originator_id, originator_version) order and projected with each event's
        ``mutate``, exactly as the repository does. A stored event that cannot be decoded or applied raises,
        unless ``unreadable`` is given: the aggregate is then left out and ``unreadable[id]`` says which
        event and why (the tick passes over that aggregate's work and does the rest).
        """
        result: dict[UUID, Any] = {}
        unique = list(dict.fromkeys(ids))
        for i in range(0, len(unique), LOAD_CHUNK):
            chunk = unique[i : i + LOAD_CHUNK]
            for originator_id, rows in itertools.groupby(self._select_events(chunk), key=lambda r: r.originator_id):
                aggregate = None
                for stored in rows:
                    try:
                        aggregate = self.app.mapper.to_domain_event(stored).mutate(aggregate)
                    except Exception as e:  # in memory only: the rows are read already
                        if unreadable is None:
                            raise
                        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
                        unreadable[UUID(str(originator_id))] = (f"its stored event version {stored.originator_version} "
                                                                f"({stored.topic}) cannot be read: {first}")
                        aggregate = None
                        break
                if aggregate is not None:
                    result[aggregate.id] = aggregate
        return result

    def _select_events(self, ids: list[UUID]) -> list[Any]:
        from eventsourcing.persistence import StoredEvent

        recorder = self.recorder
        table = recorder.events_table_name
        if self.backend == "postgres":
            schema = recorder.datastore.schema
            sql = (
                f'SELECT originator_id, originator_version, topic, state FROM "{schema}"."{table}" '
                "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
            )
            with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(sql, (ids,))
                return [
                    StoredEvent(r["originator_id"], r["originator_version"], r["topic"], bytes(r["state"]))
                    for r in curs.fetchall()
                ]
        marks = ",".join("?" * len(ids))
        sql = (
            f"SELECT originator_id, originator_version, topic, state FROM {table} "
            f"WHERE originator_id IN ({marks}) ORDER BY originator_id, originator_version"
        )
        with recorder.datastore.transaction(commit=False) as c:
            c.execute(sql, [i.hex for i in ids])
            return [
                StoredEvent(UUID(r["originator_id"]), r["originator_version"], r["topic"], r["state"])
                for r in c.fetchall()
            ]


def _json_dumps(value: Any) -> str:
    """JSON for read-model columns: Decimals as exact strings, key order kept."""
    return json.dumps(value, default=str, ensure_ascii=False)


def _sqlite_engine(url: sa.engine.URL, *, immediate: bool) -> sa.engine.Engine:
    """A SQLAlchemy engine on the SQLite file (WAL mode, 30 s busy timeout).

    With ``immediate`` its transactions begin IMMEDIATE (take the write lock first), so two projection
    runners never both read a position and then both write (SQLAlchemy's documented pysqlite recipe). The
    read engine begins deferred transactions, which in WAL mode never block the event store's writer.
    """
    engine = sa.create_engine(url, connect_args={"timeout": 30}, json_serializer=_json_dumps)

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode=WAL")
        dbapi_connection.execute("PRAGMA busy_timeout=30000")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
