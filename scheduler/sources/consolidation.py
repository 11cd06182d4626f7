"""Work source: closing consolidation periods and issuing consolidated invoices (issue 2).

For every approved customer due in the index, every period whose closing instant is at or before the
tick (oldest first) is one item ``(closing instant, rank 0, customer reference)``. Processing an item:

1. lines issued at or after a *truncated* period's end leave it (moved on to the period that now covers
   them, or released to stay individual);
2. the customer records ``PeriodClosed`` (its cursor advances), the period records ``PeriodClosed``;
3. if lines remain and their total is above zero, the next number of the label's series is taken and
   ``InvoiceIssued`` recorded (issue date = local date of the closing instant; due = + payment terms); if
   that due date has passed by the tick's instant, it is marked OVERDUE at once.

A period that never gathered anything is still created (closed, empty), so that an individual invoice
recorded concurrently for it fails on the event store instead of being lost in a closed period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from domain.company import company_id, number_format_at
from domain.consolidated_invoice import ConsolidatedInvoice, series_key
from domain.customer import Customer, PeriodRef
from domain.money import AMOUNT_LIMIT
from domain.number_formats import CONSOLIDATED_FORMAT
from domain.number_series import series_id
from domain.periods import period_starting
from scheduler.work import StaleState, TickContext, WorkItem, register


@dataclass(frozen=True)
class PeriodToClose:
    """The payload of a consolidation item: which period of the customer closes."""

    regime: int
    period_start: date


class ConsolidationSource:
    kind = "consolidation"
    rank = 0

    def items(self, ctx: TickContext, rows: list[Any]) -> list[WorkItem[PeriodToClose]]:
        ids = [UUID(r.aggregate_id) for r in rows]
        ctx.preload(ids)
        out = []
        for cid in ids:
            customer = ctx.get(cid)
            if not isinstance(customer, Customer):
                continue
            for ref, closes in customer.closable_periods(ctx.at):
                out.append(WorkItem(closes, self.rank, customer.reference, self.kind, customer.id,
                                    PeriodToClose(ref.regime, ref.period.start)))
        return out

    def prefetch(self, ctx: TickContext, item: WorkItem[PeriodToClose]) -> list[UUID]:
        customer = ctx.get(item.target)
        if customer is None:
            return []
        data = item.data
        ref = PeriodRef(customer.id, data.regime, period_starting(data.period_start, customer.regime(data.regime).mode))
        return [ref.consolidated_invoice_id, company_id(customer.company)]

    def process(self, ctx: TickContext, item: WorkItem[PeriodToClose]) -> None:
        customer: Customer = ctx.get(item.target)
        if ctx.passed(self.kind, item):
            return
        ref = customer.cursor_period()
        if ref is None or (ref.regime, ref.period.start) != (item.data.regime, item.data.period_start) or not customer.approved:
            ctx.count(self.kind, "already_closed")
            return
        closes = customer.close_at(ref)
        period = ctx.get(ref.consolidated_invoice_id)
        series = ctx.get(series_id(series_key(ref.period.label, customer.company)))
        if ctx.changed_after_tick(customer, period, series):
            ctx.pass_over(self.kind, item, customer, period, series)
            return
        if period is not None and period.is_open:
            targets = {r.consolidated_invoice_id for n in period.lines_after(closes)
                       if (r := customer.route(period.lines[n][1])) is not None}
            moved_to = [ctx.get(t) for t in sorted(targets)]
            if ctx.changed_after_tick(*moved_to):
                ctx.pass_over(self.kind, item, *moved_to)
                return
        if period is None:
            period = ctx.add_new(ConsolidatedInvoice.open(ref, customer), transient=True)
        elif not period.is_open:
            raise StaleState(f"period {ref.period.start} of {customer.reference} closed by another ticker")
        ctx.touch(period, transient=True)
        # Lines issued after a truncated period's end move on while the period is still open (routing
        # does not depend on the cursor: they fall under a later regime, or under none and stay
        # individual). There may be more than one save can hold, so the batch is saved as it fills.
        for number in period.lines_after(closes):
            invoice_id, issued_at, _day, amount, attributes = period.lines[number]
            target_ref = customer.route(issued_at)
            if target_ref is None:
                period.remove_line(number, "released", None)
            else:
                target = ctx.get(target_ref.consolidated_invoice_id)
                if target is None:
                    target = ctx.add_new(ConsolidatedInvoice.open(target_ref, customer), transient=True)
                elif not target.is_open:
                    raise StaleState(f"period {target_ref.period.start} of {customer.reference} closed meanwhile")
                if abs(target.gathered + amount) >= AMOUNT_LIMIT:
                    # The period it would move to cannot take it (its total would leave the engine's
                    # bound): it stays an individual invoice.
                    period.remove_line(number, "released", None)
                    ctx.touch(period, transient=True)
                    ctx.checkpoint()
                    continue
                period.remove_line(number, "moved", target.id)
                target.add_line(number, invoice_id, issued_at, amount, attributes)
                ctx.touch(target, transient=True)
            ctx.touch(period, transient=True)
            ctx.checkpoint()
        ctx.touch(customer)
        invoiceable = period.is_invoiceable()
        customer.close_cursor_period(closes, period.id if invoiceable else None)
        period.close(closes, customer.effective_end(ref))
        ctx.count(self.kind, "periods_closed")
        if not invoiceable:
            ctx.count(self.kind, "empty_periods")
            return
        series = ctx.series(series_key(period.label, customer.company))
        issue_date = series.earliest_issue_date(period.natural_issue_date)
        seq = series.next(issue_date)
        fmt = number_format_at(ctx.get(company_id(customer.company)), CONSOLIDATED_FORMAT, ctx.at)
        period.issue(seq, customer.payment_terms_days, customer.summary_attributes, issue_date, fmt)
        ctx.count(self.kind, "issued")
        ctx.issued(
            {
                "kind": "consolidated",
                "number": period.number,
                "company": customer.company,
                "customer": customer.reference,
                "issue_date": period.issue_date.isoformat(),
                "currency": period.currency,
                "total": str(period.total),
                "count": period.count,
            }
        )
        if period.mark_overdue(ctx.at):
            ctx.count("overdue", "marked")


register(ConsolidationSource())
