"""Read models of issue 9: credit cards, their statements (open and closed, with payment status) and
every charge, and the cards' recurring charges. Closed statements are documents too: they are listed
with every other document in :mod:`projections.documents`."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from projections.card_tables import card_charges, card_recurring_charges, card_statements, credit_cards
from projections.runner import Projection
from projections.writer import Writer

CC = "billing:CreditCard."
ST = "billing:CreditCardInvoice."

cards_projection = Projection(
    "cards", [credit_cards, card_statements, card_charges, card_recurring_charges], version=1,
    description="credit cards, their statements with payment status, every charge, recurring charges",
)


@cards_projection.on(CC + "Created")
def _card(e: Any, w: Writer) -> None:
    w.insert(credit_cards, {
        "card_id": str(e.originator_id), "company": e.company, "reference": e.reference, "holder": e.holder, "last4": e.last4,
        "currency": e.currency, "timezone": e.timezone, "closing_day": e.closing_day, "due_day": e.due_day,
        "due_after_days": e.due_after_days, "boundary": e.boundary, "holidays": e.holidays, "active": True,
        "created_at": e.timestamp, "updated_at": e.timestamp,
    })


@cards_projection.on(CC + "Updated")
def _card_updated(e: Any, w: Writer) -> None:
    w.update(credit_cards, {"card_id": str(e.originator_id)}, {**e.changes, "updated_at": e.timestamp})


@cards_projection.on(CC + "ActiveSet")
def _card_active(e: Any, w: Writer) -> None:
    w.update(credit_cards, {"card_id": str(e.originator_id)}, {"active": e.active, "updated_at": e.timestamp})


def _recurring(e: Any, w: Writer, **values: Any) -> None:
    w.update(card_recurring_charges, {"card_id": str(e.originator_id), "charge_id": e.charge_id}, values)


@cards_projection.on(CC + "RecurringChargeSet")
def _recurring_set(e: Any, w: Writer) -> None:
    key = {"card_id": str(e.originator_id), "charge_id": e.charge_id}
    w.delete(card_recurring_charges, key)
    ref = w.query(credit_cards.select().with_only_columns(credit_cards.c.company, credit_cards.c.reference)
                  .where(credit_cards.c.card_id == key["card_id"])).first()
    w.insert(card_recurring_charges, {**key, "company": ref.company, "card_reference": ref.reference, "day": e.day,
                                      "amount": e.amount, "merchant": e.merchant, "next_date": e.next})


@cards_projection.on(CC + "RecurringChargePosted")
def _recurring_posted(e: Any, w: Writer) -> None:
    _recurring(e, w, next_date=e.next)


# ---------------------------------------------------------------------------------------------- statements
def _statement(e: Any, w: Writer, **values: Any) -> None:
    w.update(card_statements, {"statement_id": str(e.originator_id)}, values)


@cards_projection.on(ST + "Created")
def _opened(e: Any, w: Writer) -> None:
    w.insert(card_statements, {
        "statement_id": str(e.originator_id), "number": e.number, "company": e.company, "card_id": str(e.card_id),
        "card_reference": e.card_reference, "seq": e.seq, "currency": e.currency, "start_date": e.start_date,
        "end_date": e.end_date, "status": "OPEN", "is_closed": False, "total_amount": Decimal(0), "purchases_count": 0,
        "refunds_count": 0, "late_count": 0, "paid": Decimal(0), "due_date": None, "closed_at": None, "opened_at": e.timestamp,
    })


@cards_projection.on(ST + "ChargesPosted")
def _charges(e: Any, w: Writer) -> None:
    sid = str(e.originator_id)
    first = e.count - len(e.charges) + 1
    for i, c in enumerate(e.charges):
        w.insert(card_charges, {
            "statement_id": sid, "line": first + i, "charge_id": c[0], "date": date.fromisoformat(c[1]), "amount": Decimal(c[2]), "merchant": c[3], "late": c[4], "part": c[5], "parts": c[6],
            "attributes": c[7], "posted_at": e.timestamp,
        })
    _statement(e, w, total_amount=e.total, purchases_count=e.count, refunds_count=e.refunds, late_count=e.late)


@cards_projection.on(ST + "StatementCycleSet")
def _moved(e: Any, w: Writer) -> None:
    _statement(e, w, start_date=e.start_date, end_date=e.end_date)


@cards_projection.on(ST + "InvoiceIssued")
def _closed(e: Any, w: Writer) -> None:
    _statement(e, w, status=e.status, is_closed=True, due_date=e.due_date, closed_at=e.closed_at)


@cards_projection.on(ST + "MarkedOverdue")
def _overdue(e: Any, w: Writer) -> None:
    _statement(e, w, status="OVERDUE")


@cards_projection.on(ST + "PaymentRecorded")
def _payment(e: Any, w: Writer) -> None:
    _statement(e, w, paid=e.paid_total)


@cards_projection.on(ST + "Paid")
def _paid(e: Any, w: Writer) -> None:
    _statement(e, w, status="PAID")


@cards_projection.on(ST + "Deleted")
def _deleted(e: Any, w: Writer) -> None:
    w.delete(card_statements, {"statement_id": str(e.originator_id)})
