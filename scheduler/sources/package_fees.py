"""Work source: package fees of engagements (issue 8).

Planning reads the due index: every engagement whose next fee period is due at or before the tick yields
one item per due period — ``(first instant of the period's start in the engagement's zone, rank 2,
engagement reference)`` — oldest first, computed from the row's plan with the same function the aggregate
uses (:func:`domain.engagement.fee_periods`), so a tick after downtime catches up every missed period.
Processing decides on the loaded engagement: an item that is no longer its next period (another ticker
billed it) is skipped. Otherwise, in one save:

- the invoice: id from (engagement, period start), so never twice; ISSUED at once with the number
  ``PKG-<reference>-<period start>`` (no number series: the number derives from the period), dated the
  period's start (its local date, whenever the tick runs), due that date + payment terms, one line (the
  fee, or its prorated part; the engagement's tax rate), **marked sent** at once (the source system's
  status ``sent``); with the customer's autopay on, the line carries ``autopay: true``; marked OVERDUE at
  once if its due date has passed by the tick;
- ``PeriodBilled`` on the engagement, naming the invoice.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.calendar import local_date, start_of_day
from domain.customer import customer_id
from domain.engagement import Engagement, FeePeriod, Term, engagement_invoice_id, fee_periods, package_number
from domain.invoice import Invoice
from domain.lines import InvoiceLine, invoice_totals
from scheduler.work import TickContext, WorkItem, register


@dataclass(frozen=True)
class FeeDue:
    """The payload of a package-fee item: the fee period to bill."""

    period: FeePeriod


class PackageFeeSource:
    kind = "package_fee"
    rank = 2

    def items(self, ctx: TickContext, rows: list[Any]) -> list[WorkItem[FeeDue]]:
        out = []
        for r in rows:
            plan = r.plan
            tz = plan["timezone"]
            terms = [Term.from_event(t) for t in plan["terms"]]
            first = local_date(r.due_at, tz)  # the start of the next period not billed
            for p in fee_periods(terms, plan["schedule"], plan["proration"], plan["currency"], local_date(ctx.at, tz)):
                if p.start < first:
                    continue
                due = start_of_day(p.start, tz)
                if due <= ctx.at:
                    out.append(WorkItem(due, self.rank, r.natural_key, self.kind, UUID(r.aggregate_id), FeeDue(p)))
        return out

    def prefetch(self, ctx: TickContext, item: WorkItem[FeeDue]) -> list[UUID]:
        return [item.target]  # (the customer, for autopay, is loaded when the item is processed)

    def process(self, ctx: TickContext, item: WorkItem[FeeDue]) -> None:
        if ctx.passed(self.kind, item):
            return
        engagement: Engagement | None = ctx.get(item.target)
        period = item.data.period
        if engagement is None or engagement.next_period() != period:
            ctx.count(self.kind, "not_due")
            return
        if ctx.changed_after_tick(engagement):
            ctx.pass_over(self.kind, item, engagement)
            return
        customer = ctx.get(customer_id(engagement.customer_reference, engagement.company))
        autopay = bool(getattr(customer, "autopay", False))
        attributes: dict[str, Any] = {"period_start": period.start.isoformat(), "period_end": period.end.isoformat()}
        if period.amount != engagement.fee or (period.start, period.end) != (period.period_start, period.period_end):
            attributes["calendar_period"] = [period.period_start.isoformat(), period.period_end.isoformat()]
        if autopay:
            attributes["autopay"] = True
        line = InvoiceLine(position=1, description=f"{engagement.name}: package fee {period.start} to {period.end}",
                           quantity=Decimal(1), unit_price=period.amount, net=period.amount, tax_rate=engagement.tax_rate,
                           tax_percent=engagement.tax_percent, attributes=attributes)
        totals = invoice_totals([line], engagement.currency).check()
        number = package_number(engagement.reference, period.start)
        invoice = Invoice.create(
            engagement_invoice_id(engagement.id, period.start),
            company=engagement.company, customer_id=engagement.customer_id, customer_reference=engagement.customer_reference,
            source=f"engagement:{engagement.reference}", currency=engagement.currency, timezone=engagement.timezone,
            lines=(line,), totals=totals, issue_date=period.start, payment_terms_days=engagement.payment_terms_days,
            period_start=period.start, period_end=period.end, auto_send=True, number=number,
        )
        invoice.mark_sent("package_fee")
        ctx.add_new(invoice, transient=True)
        ctx.touch(engagement, transient=True)
        engagement.record_billed(period, invoice.id, number)
        ctx.count(self.kind, "issued")
        ctx.issued({
            "kind": "package_fee", "number": number, "status": invoice.status, "company": engagement.company,
            "customer": engagement.customer_reference, "engagement": engagement.reference,
            "period_start": period.start.isoformat(), "period_end": period.end.isoformat(), "currency": engagement.currency,
            "net": str(invoice.net), "tax": str(invoice.tax), "gross": str(invoice.gross), "autopay": autopay,
        })
        if invoice.mark_overdue(ctx.at):
            ctx.count("overdue", "marked")


register(PackageFeeSource())
