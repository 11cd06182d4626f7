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
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any
from uuid import UUID

import psycopg
import psycopg.sql
import sqlalchemy as sa
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import JSONTranscoder, StoredEvent, Transcoding
from eventsourcing.utils import Environment, EnvType

from commands.config import POSTGRES_CONNECT_TIMEOUT_S, DatabaseUnavailable, StoreConfig
from domain import aggregates as _aggregates  # noqa: F401 - registers the stored topics

#: Upper bound of events per ``save`` (DESIGN.md: larger pipelined inserts can hang inside psycopg).
MAX_EVENTS_PER_SAVE = 450
#: Ids per bulk-load query.
LOAD_CHUNK = 500


class DateAsISO(Transcoding):
    """Transcodes ``datetime.date`` as its ISO 8601 string (``"2026-01-31"``)."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class BillingApplication(Application):
    """The engine's one eventsourcing application (``name = "billing"``; Postgres table ``billing_events``,
    SQLite table ``stored_events``). Configured only by the environment the composition root passes in."""

    name = "billing"

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        # Only the composition root configures the store: ignore os.environ (no second place to configure).
        return Environment(name, dict(env or {}))

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())


def _check_postgres(config: StoreConfig) -> None:
    """Connect once, with a timeout, to turn an unreachable server or a missing database into one clear
    line; create the schema named in the URL if it does not exist yet."""
    p = config.pg_params
    where = f"{p['host']}:{p['port']}"
    try:
        with psycopg.connect(connect_timeout=POSTGRES_CONNECT_TIMEOUT_S, autocommit=True, **p) as conn:
            if config.schema:
                conn.execute(psycopg.sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(psycopg.sql.Identifier(config.schema)))
    except psycopg.OperationalError as e:
        message = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        if "does not exist" in message:
            raise DatabaseUnavailable(f"PostgreSQL at {where}: {message}") from None
        raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {where} as {p['user']}: {message}") from None


class _SchemaLock:
    """A PostgreSQL advisory lock held while a process creates (or checks) the schema's tables."""

    def __init__(self, config: StoreConfig):
        self.conn = psycopg.connect(connect_timeout=POSTGRES_CONNECT_TIMEOUT_S, autocommit=True, **config.pg_params)
        self.conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"billing-schema:{config.schema or 'public'}",))

    def release(self) -> None:
        try:
            self.conn.execute("SELECT pg_advisory_unlock_all()")
        finally:
            self.conn.close()


class Store:
    """Events (``app``) and read models (``engine``) of one configured database.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, config: StoreConfig):
        self.config = config
        lock = None
        if config.backend == "postgres":
            _check_postgres(config)
            lock = _SchemaLock(config)
            self.engine = sa.create_engine(
                config.sqlalchemy_url, pool_size=2, max_overflow=2, pool_pre_ping=True, json_serializer=_json_dumps
            )
            self.read_engine = self.engine
        else:
            self.engine = _sqlite_engine(config.sqlalchemy_url, immediate=True)
            self.read_engine = _sqlite_engine(config.sqlalchemy_url, immediate=False)
        try:
            # The library creates its table, type and function on every start, and the read models are
            # created on first use: several processes starting at once on PostgreSQL collide ("tuple
            # concurrently updated") unless creation is serialised.
            self.app = BillingApplication(env=config.es_env)
            self.recorder = self.app.recorder
            from projections import registry
            from projections.runner import ensure_schema

            ensure_schema(self, registry.ALL)
        finally:
            if lock is not None:
                lock.release()

    # ------------------------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        self.app.close()
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
        return self.recorder.max_notification_id() or 0

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

    def load_many(self, ids: Sequence[UUID]) -> dict[UUID, Any]:
        """Load the aggregates with ``ids`` (those that exist) in a few queries, ``LOAD_CHUNK`` ids each.

        The repository loads one aggregate per query; a tick over 100,000 contracts needs this instead.
        Events are read in (originator_id, originator_version) order and projected with each event's
        ``mutate``, exactly as the repository does.
        """
        result: dict[UUID, Any] = {}
        unique = list(dict.fromkeys(ids))
        for i in range(0, len(unique), LOAD_CHUNK):
            chunk = unique[i : i + LOAD_CHUNK]
            for originator_id, rows in itertools.groupby(self._select_events(chunk), key=lambda r: r.originator_id):
                aggregate = None
                for stored in rows:
                    aggregate = self.app.mapper.to_domain_event(stored).mutate(aggregate)
                if aggregate is not None:
                    result[aggregate.id] = aggregate
        return result

    def _select_events(self, ids: list[UUID]) -> list[StoredEvent]:
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
