"""A PostgreSQL session advisory lock per store schema, for work that processes of one store take turns at
(ticks, rebuilds). Infrastructure only: it never decides what is right, the event store's unique versions do.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa

#: How often a waiting process tries the lock again, in seconds.
POLL_S = 0.2


@contextmanager
def schema_lock(engine: sa.Engine, name: str, wait_s: float | None = None,
                on_timeout: Callable[[], Exception] | None = None) -> Iterator[None]:
    """Hold the advisory lock ``hashtext('<name>:' || current_schema())`` on a connection of ``engine``
    (PostgreSQL) while the block runs, waiting for it first: at most ``wait_s`` seconds if given, then
    raising ``on_timeout()``; forever otherwise. Released when the block ends (or the session dies). On
    SQLite, none: the block just runs (its writers are serialized by the database file itself)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        key = conn.execute(sa.text("SELECT hashtext(:prefix || current_schema())"), {"prefix": f"{name}:"}).scalar()
        deadline = None if wait_s is None else time.monotonic() + wait_s
        while not conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            conn.commit()
            if deadline is not None and time.monotonic() > deadline:
                raise (on_timeout() if on_timeout else TimeoutError(f"lock {name} held for over {wait_s} s"))
            time.sleep(POLL_S)
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()
