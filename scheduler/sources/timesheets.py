"""Work source: weekly timesheet invoices (issue 8).

Items come from the due index: one per client-week with entries, ``(Tuesday 07:00 local after the week,
rank 3, client:week)``. Processing decides on the loaded week: a locked one is skipped (another ticker did
it). A week whose entries were all deleted is locked without an invoice (no invoice for an empty week).
Otherwise, in one save:

- one invoice for the client and week (:func:`domain.timesheets.build_week_invoice`, also used by manual
  invoicing), numbered from the company's INV series, dated the Tuesday, units under the company's policy
  in force at the due instant; rates and payers snapshotted on the lines — later rate changes never touch
  them;
- ``TimesheetLocked`` on the week, naming the invoice and its entries.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.calendar import local_date
from domain.company import company_id, number_format_at, unit_policy_at
from domain.customer import customer_id
from domain.engagement import engagement_id
from domain.invoice import CREDIT_NOTE, FORMAT_OF, INVOICE, format_number, series_key
from domain.number_series import series_id
from domain.timesheets import TimesheetWeek, build_week_invoice, is_credit, week_label
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
        if not entries and not week.corrections:
            week.lock(None, None)
            ctx.count(self.kind, "empty")
            return
        customer = ctx.get(customer_id(week.customer_reference, week.company))
        policy = unit_policy_at(ctx.get(company_id(week.company)), week.due_at)
        engagements = {e["engagement"]: ctx.get(engagement_id(e["engagement"], week.company))
                       for e in [e for _id, e in entries] + week.corrections}
        kind = CREDIT_NOTE if is_credit(week, customer, policy) else INVOICE
        series = ctx.series(series_key(week.company, kind, issue_date.year))
        issue_date = series.earliest_issue_date(issue_date)
        seq = series.next(issue_date)
        number = format_number(kind, issue_date.year, seq, number_format_at(ctx.get(company_id(week.company)), FORMAT_OF[kind], ctx.at))
        invoice = build_week_invoice(week, customer, engagements, policy, issue_date, number, seq)
        ctx.add_new(invoice, transient=True)
        week.lock(invoice.id, number)
        ctx.count(self.kind, "issued")
        ctx.issued({"kind": "timesheet", "number": number, "status": invoice.status, "company": week.company,
                    "customer": week.customer_reference, "week": week_label(week.week_start), "currency": customer.currency,
                    "units": sum(int(ln.quantity) for ln in invoice.lines), "net": str(invoice.net), "tax": str(invoice.tax), "gross": str(invoice.gross)})
        if invoice.kind == INVOICE and invoice.mark_overdue(ctx.at):
            ctx.count("overdue", "marked")


register(TimesheetSource())
