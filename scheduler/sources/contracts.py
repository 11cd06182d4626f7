"""Work source: contract runs (issue 3).

Planning reads the due index (allowed for the scheduler: DESIGN.md): every contract whose next run is due
at or before the tick, with its schedule, yields one item per due run date — ``(first instant of the run
date in the customer's zone, rank 1, contract reference)`` — oldest first, so a contract that last ran 14
months ago is caught up with 14 items. Processing decides on the loaded aggregate: an item whose run date is
no longer the contract's next run (another ticker did it), or a contract inactive, ended or parked, is
skipped. A run:

- SKIPPED (reason recorded) when the contract has no positions — the schedule advances;
- FAILED (message recorded, contract parked until it is changed) when building the invoice fails;
- SUCCESS otherwise: the invoice is created with the positions as they are now, issue date = run date, due
  = issue date + payment terms; DRAFT, or ISSUED with the next number of the company's INV series of that
  year when auto-finalize is set (and marked OVERDUE at once if that due date has passed too).

The invoice id is derived from (contract, run date), so there is at most one SUCCESS per run date, ever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from domain.calendar import local_date, start_of_day
from domain.company import company_id, number_format_at
from domain.contract import FAILED, SKIPPED, SUCCESS, Contract
from domain.errors import DomainError
from domain.invoice import FORMAT_OF, INVOICE, Invoice, build_lines, contract_invoice_id, format_number, series_key
from domain.number_series import series_id
from domain.schedules import next_run_after
from scheduler.work import TickContext, WorkItem, register


@dataclass(frozen=True)
class ContractRun:
    """The payload of a contract item: the run date to bill."""

    run_date: date


class ContractSource:
    kind = "contract"
    rank = 1

    def items(self, ctx: TickContext, rows: list[Any]) -> list[WorkItem[ContractRun]]:
        out = []
        for r in rows:
            plan = r.plan
            tz = plan["timezone"]
            start, interval = date.fromisoformat(plan["start"]), plan["interval"]
            end = date.fromisoformat(plan["end"]) if plan.get("end") else None
            until = local_date(ctx.at, tz)
            d = local_date(r.due_at, tz)  # the next run date (due at its first instant)
            while d <= until and (end is None or d <= end):
                out.append(WorkItem(start_of_day(d, tz), self.rank, r.natural_key, self.kind, UUID(r.aggregate_id), ContractRun(d)))
                d = next_run_after(start, interval, d)
        return out

    def prefetch(self, ctx: TickContext, item: WorkItem[ContractRun]) -> list[UUID]:
        return [item.target]

    def process(self, ctx: TickContext, item: WorkItem[ContractRun]) -> None:
        contract: Contract | None = ctx.get(item.target)
        run_date: date = item.data.run_date
        if ctx.passed(self.kind, item):
            return
        if (
            contract is None
            or contract.next_run_date != run_date
            or not contract.is_active
            or contract.parked is not None
        ):
            ctx.count(self.kind, "not_due")
            return
        series = ctx.get(series_id(series_key(contract.company, INVOICE, run_date.year))) if contract.auto_finalize else None
        if ctx.changed_after_tick(contract, series):
            ctx.pass_over(self.kind, item, contract, series)
            return
        ctx.touch(contract, transient=True)
        pause = contract.pause_containing(item.due_at)
        if pause is not None:
            # Deactivated means the tick leaves it alone: a run due while inactive is never billed later.
            contract.record_run(run_date, SKIPPED, message=f"inactive: deactivated {pause[0].isoformat()}, reactivated {pause[1].isoformat()}")
            ctx.count(self.kind, "skipped_inactive")
            return
        if not contract.positions:
            contract.record_run(run_date, SKIPPED, message="the contract has no positions")
            ctx.count(self.kind, "skipped")
            return
        try:
            lines, totals = build_lines(contract.sorted_positions(), contract.currency)
        except DomainError as e:
            contract.record_run(run_date, FAILED, message=f"{e.field}: {e.rule}")
            ctx.count(self.kind, "failed")
            return
        number = seq = None
        issue_date = run_date
        if contract.auto_finalize:
            series = ctx.series(series_key(contract.company, INVOICE, run_date.year))
            # Numbers and issue dates run the same way: after a later-dated number of the series (a
            # draft finalized meanwhile), the invoice is dated that day; its service period stays.
            issue_date = series.earliest_issue_date(run_date)
            seq = series.next(issue_date)
            fmt = number_format_at(ctx.get(company_id(contract.company)), FORMAT_OF[INVOICE], ctx.at)
            number = format_number(INVOICE, run_date.year, seq, fmt)
        invoice = Invoice.create(
            contract_invoice_id(contract.id, run_date),
            company=contract.company,
            customer_id=contract.customer_id,
            customer_reference=contract.customer_reference,
            source=f"contract:{contract.reference}",
            currency=contract.currency,
            timezone=contract.timezone,
            lines=lines,
            totals=totals,
            issue_date=issue_date,
            payment_terms_days=contract.payment_terms_days,
            period_start=run_date,
            period_end=contract.following_run(run_date),
            auto_send=contract.auto_send,
            number=number,
            sequence=seq,
        )
        ctx.add_new(invoice, transient=True)
        contract.record_run(run_date, SUCCESS, invoice.id, number)
        ctx.count(self.kind, "issued" if number else "drafted")
        ctx.issued(
            {
                "kind": "invoice",
                "number": number,
                "status": invoice.status,
                "company": contract.company,
                "customer": contract.customer_reference,
                "contract": contract.reference,
                "run_date": run_date.isoformat(),
                "currency": contract.currency,
                "net": str(invoice.net),
                "tax": str(invoice.tax),
                "gross": str(invoice.gross),
            }
        )
        if number is not None and invoice.mark_overdue(ctx.at):
            ctx.count("overdue", "marked")


register(ContractSource())
