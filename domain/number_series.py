"""Gapless number series: one aggregate per series (DESIGN.md, "Invoices").

A series hands out consecutive sequence numbers. Numbers are allocated in the same ``save`` as the
invoices that carry them, so a number exists exactly when its invoice does: a failed or conflicting save
allocates nothing, and the series' unique event version makes two concurrent allocators collide instead of
handing out the same number twice. An allocation of a whole batch is one event (``first``, ``count``).

Numbers and issue dates run the same way (issue 6, item 6; Italian and Spanish VAT rules among others): a
series remembers the latest issue date it numbered (``last_date``), and a number is never given to a
document dated before it. The tick, whose issue dates come from the work, dates such a document
``last_date`` instead (:meth:`NumberSeries.earliest_issue_date`); a command refuses it.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from domain.base import BillingAggregate, derive_id
from domain.errors import Conflict


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
        """Sequence numbers ``first`` .. ``first + count - 1`` were given out, to documents dated up to
        ``last_date`` (None in events recorded before version 2)."""

        TOPIC = "billing:NumberSeries.Allocated"
        class_version = 2
        first: int
        count: int
        last_date: date | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["last_date"] = None

        def apply(self, series: NumberSeries) -> None:
            series.last = self.first + self.count - 1
            if self.last_date is not None and (series.last_date is None or self.last_date > series.last_date):
                series.last_date = self.last_date

    def __init__(self, key: str):
        self.key = key
        self.last = 0
        self.last_date: date | None = None
        self._unflushed = 0
        self._unflushed_date: date | None = None

    def describe(self) -> str:
        return f"number series {self.key}"

    @classmethod
    def start(cls, key: str) -> NumberSeries:
        """Start series ``key`` at 0."""
        return cls._create_with_id(cls.Created, series_id(key), key=key)

    @property
    def latest_date(self) -> date | None:
        """The latest issue date numbered so far, reservations included (None: none yet)."""
        dates = [d for d in (self.last_date, self._unflushed_date) if d is not None]
        return max(dates) if dates else None

    def earliest_issue_date(self, natural: date) -> date:
        """The issue date a document naturally dated ``natural`` gets in this series: ``natural``, or the
        latest date already numbered if that is later (numbers never run against dates)."""
        latest = self.latest_date
        return natural if latest is None or natural >= latest else latest

    def next(self, issue_date: date | None = None, document: str = "the document") -> int:
        """Reserve the next sequence number in memory for a document dated ``issue_date``; :meth:`flush`
        records the reservations as one event. Callers reserve while they build a batch and flush before
        saving it.

        Raises :class:`Conflict` (field ``at``) if ``issue_date`` is before the latest date this series
        numbered: a later number would carry an earlier date.
        """
        latest = self.latest_date
        if issue_date is not None and latest is not None and issue_date < latest:
            raise Conflict(
                "at",
                f"{document} would be dated {issue_date}, before {latest}, the date of the last number of series "
                f"{self.key}: numbers and issue dates must run the same way",
            )
        self._unflushed += 1
        if issue_date is not None:
            self._unflushed_date = issue_date if latest is None or issue_date > latest else latest
        return self.last + self._unflushed

    def flush(self) -> None:
        """Record the numbers reserved since the last flush as one ``Allocated`` event (if any)."""
        if self._unflushed:
            count, self._unflushed = self._unflushed, 0
            last_date, self._unflushed_date = self._unflushed_date, None
            self.trigger_event(self.Allocated, first=self.last + 1, count=count, last_date=last_date)
