"""Work source: weekly timesheet invoices (issue 8).

Items come from the due index: one per client-week with entries, ``(Tuesday 07:00 local after the week,
rank 3, client:week)``. Processing decides on the loaded week: a locked one is skipped (another ticker did
it). A week whose entries were all deleted is locked without an invoice (no invoice for an empty week).
Otherwise, in one save:

- one invoice for the client and week (id from the week), numbered from the company's INV series, dated
  the Tuesday, due that date + the customer's payment terms, one line per entry by local date: quantity =
  units (the company's unit policy in force at the due instant, :func:`domain.timesheets.units_per_line`),
  unit price = the client's rate per unit on the entry's date, net = units × rate (exact), the tax rate
  of the entry's engagement; the line's attributes snapshot date, staff, service code, minutes, units,
  rate, payer and whether the entry was late — later rate changes never touch it;
- ``TimesheetLocked`` on the week, naming the invoice and its entries.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.calendar import local_date
from domain.company import company_id, number_format_at, unit_policy_at
from domain.customer import customer_id
from domain.engagement import engagement_id
from domain.invoice import FORMAT_OF, INVOICE, Invoice, format_number, series_key
from domain.lines import InvoiceLine, invoice_totals
from domain.number_series import series_id
from domain.timesheets import TimesheetWeek, rate_amount, units_per_line, week_invoice_id, week_label
from scheduler.work import TickContext, WorkItem, register


class TimesheetSource:
    kind = "timesheet"
    rank = 3

    def items(self, ctx: TickContext, rows: list[Any]) -> list[WorkItem[None]]:
        return [WorkItem(r.due_at, self.rank, r.natural_key, self.kind, UUID(r.aggregate_id)) for r in rows]

    def prefetch(self, ctx: TickContext, item: WorkItem[None]) -> list[UUID]:
        return [item.target]

    def process(self, ctx: TickContext, item: WorkItem[None]) -> None:
        if ctx.passed(self.kind, item):
            return
        week: TimesheetWeek | None = ctx.get(item.target)
        if week is None or week.locked:
            ctx.count(self.kind, "not_due")
            return
        issue_date = local_date(week.due_at, week.timezone)
        series = ctx.get(series_id(series_key(week.company, INVOICE, issue_date.year)))
        if ctx.changed_after_tick(week, series):
            ctx.pass_over(self.kind, item, week, series)
            return
        ctx.touch(week, transient=True)
        entries = week.sorted_entries()
        if not entries:
            week.lock(None, None)
            ctx.count(self.kind, "empty")
            return
        customer = ctx.get(customer_id(week.customer_reference, week.company))
        policy = unit_policy_at(ctx.get(company_id(week.company)), week.due_at)
        units = units_per_line([(e["local_date"], e["seconds"]) for _id, e in entries], policy)
        lines = []
        for n, ((eid, e), u) in enumerate(zip(entries, units), start=1):
            payer, rate = customer.rate_on(e["local_date"])
            engagement = ctx.get(engagement_id(e["engagement"], week.company))
            attributes = {"date": e["local_date"].isoformat(), "staff": e["staff"], "service_code": e["service_code"],
                          "minutes": str((Decimal(e["seconds"]) / 60).quantize(Decimal("0.01"))), "units": u,
                          "rate_per_unit": str(rate), "payer": payer, "entry_id": e["external_id"], "engagement": e["engagement"],
                          "unit_policy": policy.lower()}
            if e["late"]:
                attributes["late"] = True
            lines.append(InvoiceLine(position=n, description=f"{e['local_date']} {e['service_code'] or 'session'} {e['staff']}".strip(),
                                     quantity=Decimal(u), unit_price=rate, net=rate_amount(u, rate), tax_rate=engagement.tax_rate,
                                     tax_percent=engagement.tax_percent, attributes=attributes))
        totals = invoice_totals(lines, customer.currency).check()
        series = ctx.series(series_key(week.company, INVOICE, issue_date.year))
        issue_date = series.earliest_issue_date(issue_date)
        seq = series.next(issue_date)
        number = format_number(INVOICE, issue_date.year, seq, number_format_at(ctx.get(company_id(week.company)), FORMAT_OF[INVOICE], ctx.at))
        invoice = Invoice.create(
            week_invoice_id(week.id), company=week.company, customer_id=week.customer_id, customer_reference=week.customer_reference,
            source=f"timesheets:{week_label(week.week_start)}", currency=customer.currency, timezone=week.timezone, lines=lines,
            totals=totals, issue_date=issue_date, payment_terms_days=customer.payment_terms_days, period_start=week.week_start,
            period_end=week.week_start + timedelta(days=7), number=number, sequence=seq,
        )
        ctx.add_new(invoice, transient=True)
        week.lock(invoice.id, number)
        ctx.count(self.kind, "issued")
        ctx.issued({"kind": "timesheet", "number": number, "status": invoice.status, "company": week.company,
                    "customer": week.customer_reference, "week": week_label(week.week_start), "currency": customer.currency,
                    "units": sum(units), "net": str(invoice.net), "tax": str(invoice.tax), "gross": str(invoice.gross)})
        if invoice.mark_overdue(ctx.at):
            ctx.count("overdue", "marked")


register(TimesheetSource())
