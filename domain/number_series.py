"""Gapless number series: one aggregate per series (DESIGN.md, "Invoices").

A series hands out consecutive sequence numbers. Numbers are allocated in the same ``save`` as the
invoices that carry them, so a number exists exactly when its invoice does: a failed or conflicting save
allocates nothing, and the series' unique event version makes two concurrent allocators collide instead of
handing out the same number twice. An allocation of a whole batch is one event (``first``, ``count``).
"""

from __future__ import annotations

from uuid import UUID

from domain.base import BillingAggregate, derive_id


def series_id(key: str) -> UUID:
    """The derived id of series ``key`` (``"CONS-2013-W01"``, ``"INV:ACME:2026"``)."""
    return derive_id("series", key)


class NumberSeries(BillingAggregate):
    """A gapless counter named by ``key``; ``last`` is the highest sequence number allocated (0: none)."""

    TOPIC = "billing:NumberSeries"

    class Created(BillingAggregate.Created):
        TOPIC = "billing:NumberSeries.Created"
        key: str

    class Allocated(BillingAggregate.Event):
        """Sequence numbers ``first`` .. ``first + count - 1`` were given out."""

        TOPIC = "billing:NumberSeries.Allocated"
        first: int
        count: int

        def apply(self, series: NumberSeries) -> None:
            series.last = self.first + self.count - 1

    def __init__(self, key: str):
        self.key = key
        self.last = 0
        self._unflushed = 0

    def describe(self) -> str:
        return f"number series {self.key}"

    @classmethod
    def start(cls, key: str) -> NumberSeries:
        """Start series ``key`` at 0."""
        return cls._create_with_id(cls.Created, series_id(key), key=key)

    def next(self) -> int:
        """Reserve the next sequence number in memory; :meth:`flush` records the reservations as one event.

        Callers reserve while they build a batch and flush before saving it.
        """
        self._unflushed += 1
        return self.last + self._unflushed

    def flush(self) -> None:
        """Record the numbers reserved since the last flush as one ``Allocated`` event (if any)."""
        if self._unflushed:
            count, self._unflushed = self._unflushed, 0
            self.trigger_event(self.Allocated, first=self.last + 1, count=count)
