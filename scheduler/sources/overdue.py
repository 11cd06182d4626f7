"""Work source: marking issued, unpaid invoices OVERDUE once their due date has passed.

Items come from the due index (``overdue`` rows whose instant — the first instant of the day after the
due date, in the billing party's zone — is at or before the tick): ``(instant, rank 9, invoice number)``.
Invoices issued by the same tick are marked as they are issued. Works for any invoice aggregate with a
``mark_overdue(at)`` method (consolidated invoices, and the general invoices of contracts).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from scheduler.work import TickContext, WorkItem, register


class OverdueSource:
    kind = "overdue"
    rank = 9

    def items(self, ctx: TickContext, rows: list[Any]) -> list[WorkItem[None]]:
        return [WorkItem(r.due_at, self.rank, r.natural_key, self.kind, UUID(r.aggregate_id)) for r in rows]

    def prefetch(self, ctx: TickContext, item: WorkItem[None]) -> list[UUID]:
        return [item.target]

    def process(self, ctx: TickContext, item: WorkItem[None]) -> None:
        invoice = ctx.get(item.target)
        if ctx.changed_after_tick(invoice):
            ctx.pass_over(self.kind, item, invoice)
            return
        if invoice is not None and invoice.mark_overdue(ctx.at):
            ctx.touch(invoice, transient=True)
            ctx.count(self.kind, "marked")


register(OverdueSource())
