"""Helpers shared by command handlers: optimistic retries and loading by natural key."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from domain.errors import NotFound

T = TypeVar("T")

#: How often a handler reloads and retries after another writer saved first.
MAX_ATTEMPTS = 40


def backoff(attempt: int) -> None:
    """Wait before retry ``attempt`` (0-based): 5 ms doubling up to 1 s, spread by the process id so that
    processes that collided do not collide again in lock-step (writers that always reload at once starve
    one of them). Timing only: nothing written depends on it."""
    spread = 1 + (os.getpid() % 89) / 89
    time.sleep(min(1.0, 0.005 * 2**attempt) * spread)


def retrying(fn: Callable[[], T], attempts: int = MAX_ATTEMPTS) -> T:
    """Run ``fn`` (which loads fresh aggregates, decides and saves) again whenever its save loses a race
    (``IntegrityError``: another writer appended the same aggregate version first), with
    :func:`backoff`. Gives up after ``attempts`` and re-raises."""
    for attempt in range(attempts):
        try:
            return fn()
        except IntegrityError:
            if attempt == attempts - 1:
                raise
            backoff(attempt)
    raise AssertionError("unreachable")


def require(store: Any, aggregate_id: UUID, field: str, what: str) -> Any:
    """Load aggregate ``aggregate_id`` or raise :class:`NotFound` naming ``field``."""
    agg = store.get(aggregate_id)
    if agg is None:
        raise NotFound(field, f"no {what}")
    return agg
