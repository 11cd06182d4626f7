"""The long-running scheduler: tick at the wall clock in a loop.

The clock is a parameter (``clock()`` returns an aware instant): the CLI passes the wall clock, tests a
fake one. Several loops may run at once against one PostgreSQL database; correctness comes from the event
store (a racing ticker's save fails and it finds the work done), not from a lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from scheduler.tick import TickSummary, tick


def run_loop(
    store: Any,
    clock: Callable[[], datetime],
    interval: float,
    iterations: int | None = None,
    on_tick: Callable[[TickSummary], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_error: Callable[[BaseException], None] | None = None,
) -> int:
    """Tick at ``clock()`` every ``interval`` seconds, ``iterations`` times (None: forever); returns the
    number of ticks run. A tick that fails because the database is unavailable (a restart, a lost
    connection) is reported to ``on_error`` and the loop goes on at the next interval; any other error
    ends the loop."""
    from commands.errors import is_database_error

    n = 0
    while iterations is None or n < iterations:
        try:
            summary = tick(store, clock())
        except Exception as e:  # noqa: BLE001 - only database trouble is ridden out, see above
            if not is_database_error(e) or on_error is None:
                raise
            on_error(e)
            summary = None
        n += 1
        if on_tick and summary is not None:
            on_tick(summary)
        if iterations is None or n < iterations:
            sleep(interval)
    return n
