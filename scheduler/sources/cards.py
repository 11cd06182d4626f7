"""Work sources of credit cards (issue 9).

``card_statement`` (rank 4): a card's oldest open statement closes at the local start of the day after
its end date. Planning reads the due index (the card's open statements and cycle rules in the row's
plan) and yields one item per close due at or before the tick — ``(close instant, rank 4, card:seq)`` —
catching up missed periods oldest first: after the current statement of an active card closes, the next
one (from the anchor) is planned too. Processing decides on the loaded card and statement, in one save:
``PeriodClosed`` on the card, ``InvoiceIssued`` on the statement with its totals and due date (closed at
the close instant, whenever the tick runs), the next statement opened with the installment parts
waiting for it; a statement without charges closes too (total 0.00), so the sequence has no holes. A
statement whose due date has passed by the tick is marked OVERDUE at once.

``card_recurring`` (rank 5): a recurring charge is posted at the local start of its day (``<id>/<date>``,
attributes ``recurring`` and ``payment_type: fixed``) to the statement that holds that date; a close due
at the same instant comes first (lower rank). On a day the card is inactive it is skipped for good
(``RecurringChargePosted`` with ``skipped``), so a card activated again is not billed for the pause.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import UUID

from domain.calendar import start_of_day
from domain.card_charges import Purchase, close_oldest, post_purchases
from domain.credit_card import CreditCard
from domain.credit_card_invoice import statement_id
from domain.errors import DomainError
from domain.schedules import first_day_after, statement_after
from scheduler.work import TickContext, WorkItem, register


@dataclass(frozen=True)
class CloseDue:
    """The payload of a close: the statement's sequence number."""

    seq: int


@dataclass(frozen=True)
class PostingDue:
    """The payload of a recurring posting: the charge and its date."""

    charge_id: str
    date: date


class CardStatementSource:
    kind = "card_statement"
    rank = 4

    def items(self, ctx: TickContext, rows: list[Any]) -> list[WorkItem[CloseDue]]:
        out = []
        for r in rows:
            plan = r.plan
            tz, open_ = plan["timezone"], [list(x) for x in plan["open"]]
            while open_:
                seq, _start, end = open_.pop(0)
                end_date = date.fromisoformat(end)
                due = start_of_day(end_date + timedelta(days=1), tz)
                if due > ctx.at:
                    break
                out.append(WorkItem(due, self.rank, f"{r.natural_key}:{seq:06d}", self.kind, UUID(r.aggregate_id), CloseDue(seq)))
                if not open_ and plan["active"]:
                    a, b = statement_after(end_date, plan["closing_day"], plan["boundary"])
                    open_.append([seq + 1, a.isoformat(), b.isoformat()])
        return out

    def prefetch(self, ctx: TickContext, item: WorkItem[CloseDue]) -> list[UUID]:
        return [item.target, statement_id(item.target, item.data.seq)]

    def process(self, ctx: TickContext, item: WorkItem[CloseDue]) -> None:
        if ctx.passed(self.kind, item):
            return
        card: CreditCard | None = ctx.get(item.target)
        seq = item.data.seq
        if card is None or not card.open or card.open[0][0] != seq or card.next_close_at != item.due_at:
            ctx.count(self.kind, "not_due")
            return
        statement = ctx.get(statement_id(card.id, seq))
        if statement is None or not statement.is_open:
            ctx.count(self.kind, "not_due")
            return
        if ctx.changed_after_tick(card, statement):
            ctx.pass_over(self.kind, item, card, statement)
            return
        ctx.touch(card)
        ctx.touch(statement, transient=True)
        new = close_oldest(card, statement, item.due_at)
        if new is not None:
            ctx.add_new(new)
        ctx.count(self.kind, "closed")
        ctx.issued({
            "kind": "card_statement", "number": statement.number, "status": statement.status, "company": card.company,
            "card": card.reference, "start_date": statement.start_date.isoformat(), "end_date": statement.end_date.isoformat(),
            "currency": card.currency, "total_amount": str(statement.total_amount), "purchases_count": statement.purchases_count,
            "due_date": statement.due_date.isoformat() if statement.due_date else None,
        })
        if statement.mark_overdue(ctx.at):
            ctx.count("overdue", "marked")


class RecurringChargeSource:
    kind = "card_recurring"
    rank = 5

    def items(self, ctx: TickContext, rows: list[Any]) -> list[WorkItem[PostingDue]]:
        out = []
        for r in rows:
            tz = r.plan["timezone"]
            for charge_id, (day, nxt) in sorted(r.plan["charges"].items()):
                d = date.fromisoformat(nxt) if nxt else None
                while d is not None and (due := start_of_day(d, tz)) <= ctx.at:
                    out.append(WorkItem(due, self.rank, f"{r.natural_key}:{charge_id}", self.kind, UUID(r.aggregate_id),
                                        PostingDue(charge_id, d)))
                    d = first_day_after(d, day)
        return out

    def prefetch(self, ctx: TickContext, item: WorkItem[PostingDue]) -> list[UUID]:
        return [item.target]

    def process(self, ctx: TickContext, item: WorkItem[PostingDue]) -> None:
        if ctx.passed(self.kind, item):
            return
        card: CreditCard | None = ctx.get(item.target)
        rid, day = item.data.charge_id, item.data.date
        r = card.recurring.get(rid) if card is not None else None
        if r is None or r["next"] != day:
            ctx.count(self.kind, "not_due")
            return
        statements = {s: ctx.get(statement_id(card.id, s)) for s, _a, _b in card.open}
        if ctx.changed_after_tick(card, *statements.values()):
            ctx.pass_over(self.kind, item, card, *statements.values())
            return
        if not card.active or card.pause_of(day) is not None:
            ctx.touch(card)
            card.record_recurring(rid, day, skipped=True)  # never posted later: the card was inactive that day
            ctx.count(self.kind, "skipped_inactive")
            return
        try:
            card.place(day)
        except DomainError:
            ctx.count(self.kind, "not_placeable")  # no open statement: left for a later tick
            return
        ctx.touch(card)
        for s in statements.values():
            ctx.touch(s)
        post_purchases(card, statements, [Purchase(f"{rid}/{day.isoformat()}", day, r["amount"], r["merchant"], 1,
                                                   {"recurring": rid, "payment_type": "fixed"})])
        card.record_recurring(rid, day)
        ctx.count(self.kind, "posted")


register(CardStatementSource())
register(RecurringChargeSource())
