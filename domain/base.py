"""What every aggregate shares: derived identifiers, the business clock and the base event class.

Determinism (DESIGN.md): identifiers are derived from natural keys with ``uuid5`` and event timestamps come
from the business clock of the command being handled, never from the wall clock. A handler sets the clock
with :func:`business_time`; an event recorded outside of it is a programming error.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from datetime import datetime, timezone
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

#: The namespace of every derived identifier of this engine. Never change it: stored events name
#: aggregates by ids derived from it.
NAMESPACE = UUID("5d2f4a7e-1c3b-5b8e-9f60-8a1d2c3b4e5f")

_business_time: contextvars.ContextVar[datetime | None] = contextvars.ContextVar(
    "business_time", default=None
)


@lru_cache(maxsize=65536)
def derive_id(kind: str, *parts: object) -> UUID:
    """Return the identifier of an entity from its kind and natural key.

    ``derive_id("customer", "UA")`` is ``uuid5(NAMESPACE, "customer:UA")``. Parts are joined with ``:``
    after ``str()``; dates and UUIDs therefore enter in their ISO and hyphenated forms. The same key always
    names the same aggregate, which is what makes a second ``save`` of the same creation an
    ``IntegrityError`` instead of a duplicate (DESIGN.md, "Idempotency and concurrency").
    """
    return uuid5(NAMESPACE, ":".join([kind, *(str(p) for p in parts)]))


@contextmanager
def business_time(at: datetime) -> Iterator[datetime]:
    """Run the enclosed block at business instant ``at`` (timezone-aware).

    Every event recorded inside carries ``at`` (converted to UTC) as its timestamp, so replaying the same
    commands at the same instants produces byte-identical events.

    Raises ``ValueError`` if ``at`` is naive.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("business time must be timezone-aware")
    token = _business_time.set(at.astimezone(timezone.utc))
    try:
        yield at
    finally:
        _business_time.reset(token)


def current_business_time() -> datetime:
    """Return the business instant set by the enclosing :func:`business_time` (UTC).

    Raises ``RuntimeError`` when called outside of one: the domain never reads the wall clock.
    """
    at = _business_time.get()
    if at is None:
        raise RuntimeError(
            "an event was recorded outside of business_time(at): time must enter as a parameter"
        )
    return at


class BillingAggregate(Aggregate):
    """Base class of the engine's aggregates.

    Subclasses define explicit, stable topics (``TOPIC = "billing:Customer"``) on themselves and on every
    event, so moving a class never breaks stored history. Events take their timestamp from
    :func:`current_business_time`.
    """

    class Event(Aggregate.Event):
        """Base event: timestamped by the business clock."""

        @staticmethod
        def create_timestamp() -> datetime:
            return current_business_time()

    class Created(Event, Aggregate.Created):
        """Base creation event."""

    def trigger_event(self, event_class: type, **kwargs: Any) -> None:
        """Record an event at the business clock, refusing to go back in time.

        The rule (DESIGN.md, "Application layer"; issue 6, item 5): a command's business time is never
        before the last event of any aggregate it changes, so every stream's timestamps run forward.
        Raises :class:`domain.errors.Conflict` (field ``at``) naming both instants; nothing is recorded.
        """
        self.require_not_before_last_change()
        super().trigger_event(event_class, **kwargs)

    def require_not_before_last_change(self) -> None:
        """Refuse a business time (the current command's) before this aggregate's last event: raises
        :class:`domain.errors.Conflict` (field ``at``) naming both instants. :meth:`trigger_event` calls
        it; a command calls it itself on an aggregate whose state decides what it records elsewhere
        without changing it (the locked week that makes a timesheet entry late or a correction billable),
        since at an earlier instant that state did not exist yet."""
        at = current_business_time()
        last = getattr(self, "_modified_on", None)
        if last is not None and at < last:
            from domain.errors import Conflict

            raise Conflict(
                "at",
                f"{at.isoformat()} is before {last.isoformat()}, when {self.describe()} last changed: "
                "a command's business time is never before the last event of what it changes or decides on",
            )

    def describe(self) -> str:
        """What this aggregate is, in words a user recognises (``invoice INV-2026-000004``)."""
        return f"{type(self).__name__} {self.id}"

    @classmethod
    def _create_with_id(cls, event_class: type, aggregate_id: UUID, **kwargs: Any) -> Any:
        """Create an aggregate with a derived id by triggering ``event_class`` (a ``Created`` subclass)."""
        return cls._create(event_class, id=aggregate_id, **kwargs)
