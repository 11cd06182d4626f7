"""A faster insert for the PostgreSQL event store (measured; see docs/performance.md).

``eventsourcing`` 9.5.6 inserts a save's events as one array of a composite type, dumped in psycopg's text
format; escaping every ``bytea`` state through a regex took a third of a contract tick (an invoice event
is ~1.5 kB). This recorder keeps everything else of the library's recorder — the exclusive table lock that
makes commit order equal notification order, the NOTIFY, ``RETURNING notification_id``, the pipeline and
its retries — and replaces only the statement: four parallel arrays (uuid[], bigint[], text[], bytea[])
through ``unnest``, sent in binary. The table and its rows are exactly the library's.

Selected by the composition root with ``APPLICATION_RECORDER_TOPIC`` (the library's extension point).

It also gives up sooner when the database is gone (issue 6, item 25): the library retries a failed call
ten times, each waiting up to the connect timeout for a pooled connection (about 37 s after a ``DROP
DATABASE``); here the same calls are tried :data:`ATTEMPTS` times, so a lost database is reported in a few
seconds while a brief disconnect is still ridden out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder, PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

TOPIC = "commands.pgrecorder:BinaryInsertApplicationRecorder"

#: Attempts of a recorder call whose connection fails, and seconds between them.
ATTEMPTS = 3
WAIT_S = 0.2


def _briefly_retried(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` without the library's ten retries (its ``__wrapped__``), retried :data:`ATTEMPTS` times."""
    inner = getattr(method, "__wrapped__", method)

    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        for attempt in range(ATTEMPTS):
            try:
                return inner(self, *args, **kwargs)
            except (InterfaceError, OperationalError):
                if attempt == ATTEMPTS - 1:
                    raise
                time.sleep(WAIT_S)
        raise AssertionError("unreachable")

    call.__doc__ = inner.__doc__
    return call


class BinaryInsertApplicationRecorder(PostgresApplicationRecorder):
    """The library's application recorder with a binary, array-per-column insert."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        self._binary_insert = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[]) "
            "RETURNING notification_id"
        ).format(schema=Identifier(self.datastore.schema), table=Identifier(self.events_table_name))

    insert_events = _briefly_retried(PostgresApplicationRecorder.insert_events)
    select_events = _briefly_retried(PostgresAggregateRecorder.select_events)
    select_notifications = _briefly_retried(PostgresApplicationRecorder.select_notifications)
    max_notification_id = _briefly_retried(PostgresApplicationRecorder.max_notification_id)

    def _insert_stored_events(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **_: Any) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(
            self._binary_insert,
            (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
            ),
            binary=True,
        )
