"""The CreditCardInvoice aggregate: one statement of a credit card (issue 9; "statement" in the docs, the
*fatura* in Brazil).

A statement covers the period ``[start_date, end_date]`` (inclusive local dates in the card's zone, as the
source system shows them) and gathers the card's charges dated in it, plus late ones (dated in a period
already closed) and installment parts. It is ``OPEN`` while charges can land in it. The tick closes it at
the local start of the day after ``end_date``: ``InvoiceIssued`` records its totals, its due date and the
instant after which it is overdue. From then on it is a document of the one invoice lifecycle
(:mod:`domain.document`): ``PENDING`` (the source system's name for issued) → ``PAID``, or ``OVERDUE`` (the
tick, once the due date has passed) → ``PAID``; partial payments; no over-payment. A statement whose total
is zero or negative closes ``PAID`` at once: nothing is owed (a credit balance is shown as a negative
balance; it is not carried to the next statement).

Derived values: ``total_amount`` (the sum of its charges, exactly: no rounding), ``purchases_count`` (its
charges, refunds included), ``billing_period_days`` (end − start + 1). Its number is
``ST-<card reference>-<sequence>`` (:func:`statement_number`): the sequence of a card's statements has no
holes, so the number derives from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.base import BillingAggregate, derive_id
from domain.calendar import local_date
from domain.document import PAID, Document, LifecycleEvents, lifecycle_event
from domain.errors import Conflict, ValidationError
from domain.lines import InvoiceLine, TaxAmount
from domain.money import check_amount, exact_sum

OPEN = "OPEN"
PENDING = "PENDING"
DELETED = "DELETED"
STATEMENT = "STATEMENT"
#: The source system's payment type of a statement (its others: ``fixed``, ``variable``).
PAYMENT_TYPE = "credit_card"


def statement_id(card_id: UUID, seq: int) -> UUID:
    """The id of statement number ``seq`` (1, 2, ...) of the card ``card_id``."""
    return derive_id("card_statement", card_id, seq)


def statement_number(card_reference: str, seq: int) -> str:
    """``ST-<card reference>-<seq, 4 digits>`` (``ST-VISA-0001``)."""
    return f"ST-{card_reference}-{seq:04d}"


@dataclass(frozen=True)
class Charge:
    """A charge on a statement: purchase ``id`` (the external key; ``<id>/<part>`` for an installment part
    after the first), its local ``date``, ``amount`` (negative: a refund) in the card's currency,
    ``merchant``; ``late`` if it was dated in a period already closed; ``part`` of ``parts`` for a purchase
    in installments (1 of 1 otherwise); free ``attributes``."""

    id: str
    date: date
    amount: Decimal
    merchant: str
    late: bool = False
    part: int = 1
    parts: int = 1
    attributes: dict = field(default_factory=dict)

    def to_event(self) -> list:
        return [self.id, self.date.isoformat(), str(self.amount), self.merchant, self.late, self.part, self.parts, self.attributes]

    @classmethod
    def from_event(cls, data: list) -> Charge:
        return cls(data[0], date.fromisoformat(data[1]), Decimal(data[2]), data[3], data[4], data[5], data[6], data[7])


class CreditCardInvoice(BillingAggregate, Document):
    """A card statement (see the module docstring)."""

    TOPIC = "billing:CreditCardInvoice"
    ISSUED_STATUS = PENDING
    kind = STATEMENT

    class Created(BillingAggregate.Created):
        TOPIC = "billing:CreditCardInvoice.Created"
        card_id: UUID
        card_reference: str
        company: str
        seq: int
        number: str
        currency: str
        timezone: str
        start_date: date
        end_date: date

    class ChargesPosted(BillingAggregate.Event):
        """``charges`` (:meth:`Charge.to_event` lists) landed here; ``total``/``count`` after them."""

        TOPIC = "billing:CreditCardInvoice.ChargesPosted"
        charges: list
        total: Decimal
        count: int
        refunds: int
        late: int

        def apply(self, s: CreditCardInvoice) -> None:
            s.charges = [*s.charges, *(Charge.from_event(c) for c in self.charges)]
            s.total_amount = self.total
            s.purchases_count = self.count
            s.refunds_count = self.refunds
            s.late_count = self.late

    class StatementCycleSet(BillingAggregate.Event):
        """The open statement's period moved (the bank's own dates win)."""

        TOPIC = "billing:CreditCardInvoice.StatementCycleSet"
        start_date: date
        end_date: date

        def apply(self, s: CreditCardInvoice) -> None:
            s.start_date, s.end_date = self.start_date, self.end_date

    class InvoiceIssued(BillingAggregate.Event):
        """The statement closed at ``closed_at`` (issued on its local date ``issue_date``) with its totals;
        due on ``due_date`` (after business-day shifts), overdue from ``overdue_at`` (the local start of the
        day after). It repeats what the statement is, so that a read model of documents needs no other."""

        TOPIC = "billing:CreditCardInvoice.InvoiceIssued"
        card_id: UUID
        card_reference: str
        company: str
        seq: int
        number: str
        currency: str
        start_date: date
        end_date: date
        issue_date: date
        closed_at: datetime
        total_amount: Decimal
        purchases_count: int
        due_date: date
        overdue_at: datetime
        status: str

        def apply(self, s: CreditCardInvoice) -> None:
            s.status = self.status
            s.closed_at = self.closed_at
            s.due_date = self.due_date
            s.overdue_at = self.overdue_at

    class Deleted(BillingAggregate.Event):
        TOPIC = "billing:CreditCardInvoice.Deleted"

        def apply(self, s: CreditCardInvoice) -> None:
            s.status = DELETED

    MarkedOverdue = lifecycle_event(LifecycleEvents.MarkedOverdue, "billing:CreditCardInvoice.MarkedOverdue")
    PaymentRecorded = lifecycle_event(LifecycleEvents.PaymentRecorded, "billing:CreditCardInvoice.PaymentRecorded")
    Paid = lifecycle_event(LifecycleEvents.Paid, "billing:CreditCardInvoice.Paid")

    def __init__(self, card_id: UUID, card_reference: str, company: str, seq: int, number: str, currency: str,
                 timezone: str, start_date: date, end_date: date):
        self.card_id = card_id
        self.card_reference = card_reference
        self.company = company
        self.seq = seq
        self.number = number
        self.currency = currency
        self.timezone = timezone
        self.start_date = start_date
        self.end_date = end_date
        self.charges: list[Charge] = []
        self.total_amount = Decimal(0)
        self.purchases_count = 0
        self.refunds_count = 0
        self.late_count = 0
        self.status = OPEN
        self.closed_at: datetime | None = None
        self.due_date: date | None = None
        self.overdue_at: datetime | None = None
        self._init_document()

    @classmethod
    def open(cls, *, card_id: UUID, card_reference: str, company: str, seq: int, currency: str, timezone: str,
             start_date: date, end_date: date) -> CreditCardInvoice:
        """Open statement ``seq`` of a card for ``[start_date, end_date]`` (inclusive)."""
        return cls._create_with_id(cls.Created, statement_id(card_id, seq), card_id=card_id, card_reference=card_reference,
                                   company=company, seq=seq, number=statement_number(card_reference, seq), currency=currency,
                                   timezone=timezone, start_date=start_date, end_date=end_date)

    def describe(self) -> str:
        return f"statement {self.number}"

    # ------------------------------------------------------------------------------------- values
    @property
    def is_open(self) -> bool:
        return self.status == OPEN

    @property
    def is_closed(self) -> bool:
        return self.status not in (OPEN, DELETED)

    @property
    def billing_period_days(self) -> int:
        """end − start + 1 (both inclusive)."""
        return (self.end_date - self.start_date).days + 1

    @property
    def gross(self) -> Decimal:
        return self.total_amount

    def contains(self, day: date) -> bool:
        return self.start_date <= day <= self.end_date

    def document_lines(self) -> dict[Any, InvoiceLine]:
        return {}  # a statement is settled by payments; refunds are charges, not credit notes

    def tax_amounts(self) -> tuple[TaxAmount, ...]:
        return ()

    # ------------------------------------------------------------------------------------- commands
    def post(self, charges: list[Charge]) -> None:
        """Post ``charges`` (the caller chose this statement for them). Raises :class:`Conflict` unless the
        statement is open, :class:`ValidationError` (field ``amount``) if the total leaves the bound."""
        if not charges:
            return
        if not self.is_open:
            raise Conflict("statement", f"{self.number} is {self.status}; charges land only in an open statement")
        total = check_amount(exact_sum([self.total_amount, *(c.amount for c in charges)]), self.currency, "amount",
                             f"the total of statement {self.number}")
        self.trigger_event(self.ChargesPosted, charges=[c.to_event() for c in charges], total=total,
                           count=self.purchases_count + len(charges),
                           refunds=self.refunds_count + sum(1 for c in charges if c.amount < 0),
                           late=self.late_count + sum(1 for c in charges if c.late))

    def set_cycle(self, start_date: date, end_date: date) -> bool:
        """Move the open statement's period. Raises :class:`Conflict` unless it is open;
        :class:`ValidationError` for an end before the start (field ``end_date``) or a period that would
        leave out a charge dated in it and not late (field ``end_date``/``start_date``)."""
        if not self.is_open:
            raise Conflict("statement", f"{self.number} is {self.status}; only an open statement's dates can move")
        if end_date < start_date:
            raise ValidationError("end_date", f"{end_date} is before the statement's start {start_date}")
        own = [c.date for c in self.charges if not c.late and c.part == 1]
        if own and max(own) > end_date:
            raise ValidationError("end_date", f"{end_date} is before the charge of {max(own)} on {self.number}; "
                                              "a statement's period holds its charges")
        if own and min(own) < start_date:
            raise ValidationError("start_date", f"{start_date} is after the charge of {min(own)} on {self.number}; "
                                                "a statement's period holds its charges")
        if (start_date, end_date) == (self.start_date, self.end_date):
            return False
        self.trigger_event(self.StatementCycleSet, start_date=start_date, end_date=end_date)
        return True

    def close(self, closed_at: datetime, due_date: date, overdue_at: datetime) -> None:
        """Close the open statement: its totals, due date and overdue instant (computed by the card)."""
        if not self.is_open:
            raise Conflict("statement", f"{self.number} is {self.status}; only an open statement closes")
        self.trigger_event(self.InvoiceIssued, card_id=self.card_id, card_reference=self.card_reference, company=self.company,
                           seq=self.seq, number=self.number, currency=self.currency, start_date=self.start_date,
                           end_date=self.end_date, issue_date=local_date(closed_at, self.timezone), closed_at=closed_at, total_amount=self.total_amount,
                           purchases_count=self.purchases_count, due_date=due_date, overdue_at=overdue_at,
                           status=PENDING if self.total_amount > 0 else PAID)

    def delete(self) -> None:
        """Delete an open statement without charges (:class:`Conflict` otherwise)."""
        if not self.is_open:
            raise Conflict("statement", f"{self.number} is {self.status}; only an open statement can be deleted")
        if self.charges:
            raise Conflict("statement", f"{self.number} has {len(self.charges)} charges; only an open statement without "
                                        "charges can be deleted")
        self.trigger_event(self.Deleted)
