"""The ConsolidatedInvoice aggregate: one customer's billing period, gathering and then invoicing.

Consistency boundary (DESIGN.md): the invoice *gathers* its lines while its period is open, one small
``LineAdded`` event per recorded individual invoice, and then closes and issues in two events. A week of a
big airline (over a thousand flights) therefore never needs one save that touches a thousand aggregates.

Lifecycle: OPEN (gathering) → CLOSED. A closed period with lines (and a total above zero) is an issued
invoice, which lives the one document lifecycle (:class:`domain.document.Document`): PENDING (its issued
state) → PAID, or PENDING → OVERDUE (the tick, once its due date has passed) → PAID; credit notes credit
its lines (one per recorded individual invoice; the amounts as recorded, without tax of their own). A
closed period without lines issues nothing (never a 0.00 invoice).

Identity: ``derive_id("consolidated", customer id, regime, period start)`` (:class:`PeriodRef`).
Numbers: ``CONS-<label>-<seq>`` with the label of the period's start (``CONS-2026-W04-001``,
``CONS-2026-M01-001``), the sequence gapless per label (one :class:`NumberSeries` per label).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from domain.base import BillingAggregate
from domain.calendar import local_date, start_of_day
from domain.document import CONSOLIDATED, OVERDUE, PAID, Document, LifecycleEvents, lifecycle_event  # noqa: F401
from domain.errors import Conflict
from domain.lines import InvoiceLine, TaxAmount
from domain.money import check_amount
from domain.number_formats import CONSOLIDATED_FORMAT, DEFAULT_FORMATS, NumberFormat
from domain.tenancy import DEFAULT_COMPANY

OPEN = "OPEN"
CLOSED = "CLOSED"
PENDING = "PENDING"
#: The tax "rate" of a consolidated line: its amount is the individual invoice's, as recorded.
AS_RECORDED = "as recorded"


def series_key(label: str, company: str = DEFAULT_COMPANY) -> str:
    """The number series of ``company``'s consolidated invoices of period label ``label``:
    ``CONS-2026-W04`` (the default company), ``CONS:ACME:2026-W04``."""
    return f"CONS-{label}" if company == DEFAULT_COMPANY else f"CONS:{company}:{label}"


def format_number(label: str, seq: int, fmt: NumberFormat = DEFAULT_FORMATS[CONSOLIDATED_FORMAT]) -> str:
    """``CONS-<label>-<seq, at least 3 digits>`` by default (issue 2); the company's format otherwise."""
    return fmt.period_number(label, seq)


def _as_text(value: object) -> str:
    """An attribute value as a summary shows it: text as is, booleans as JSON writes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class ConsolidatedInvoice(Document, BillingAggregate):
    """A customer's consolidation period and the invoice issued for it (see the module docstring).

    ``lines`` maps each gathered individual invoice number to ``(invoice id, issued_at, local date,
    amount, attributes)``.
    """

    TOPIC = "billing:ConsolidatedInvoice"

    class Created(BillingAggregate.Created):
        TOPIC = "billing:ConsolidatedInvoice.Created"
        class_version = 2
        company: str
        customer_id: UUID
        customer_reference: str
        regime: int
        mode: str
        label: str
        period_start: date
        period_end: date
        timezone: str
        currency: str

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["company"] = DEFAULT_COMPANY

    class LineAdded(BillingAggregate.Event):
        TOPIC = "billing:ConsolidatedInvoice.LineAdded"
        number: str
        invoice_id: UUID
        issued_at: datetime
        local_date: date
        amount: Decimal
        attributes: dict

        def apply(self, inv: ConsolidatedInvoice) -> None:
            inv.lines[self.number] = (self.invoice_id, self.issued_at, self.local_date, self.amount, self.attributes)
            inv.gathered += self.amount

    class LineRemoved(BillingAggregate.Event):
        """A gathered line left the period: its invoice was cancelled (``moved_to`` None) or it was issued
        after a truncated period's end and moved on to the period ``moved_to`` (or, when no period covers
        it any more, released to stay individual)."""

        TOPIC = "billing:ConsolidatedInvoice.LineRemoved"
        number: str
        reason: str
        moved_to: UUID | None

        def apply(self, inv: ConsolidatedInvoice) -> None:
            inv.gathered -= inv.lines.pop(self.number)[3]
            inv.removed[self.number] = self.moved_to

    class PeriodClosed(BillingAggregate.Event):
        TOPIC = "billing:ConsolidatedInvoice.PeriodClosed"
        closed_at: datetime
        period_end: date
        count: int
        total: Decimal

        def apply(self, inv: ConsolidatedInvoice) -> None:
            inv.status = CLOSED
            inv.closed_at = self.closed_at
            inv.period_end = self.period_end

    class InvoiceIssued(BillingAggregate.Event):
        TOPIC = "billing:ConsolidatedInvoice.InvoiceIssued"
        class_version = 2
        company: str
        customer_id: UUID | None
        customer_reference: str | None
        period_start: date | None
        period_end: date | None
        number: str
        sequence: int
        issue_date: date
        due_date: date
        payment_terms_days: int
        overdue_at: datetime
        count: int
        total: Decimal
        currency: str
        summary: dict

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            # Version 1 named none of these (the customer and period are on the Created event).
            state.update(company=DEFAULT_COMPANY, customer_id=None, customer_reference=None, period_start=None, period_end=None)

        def apply(self, inv: ConsolidatedInvoice) -> None:
            inv.number = self.number
            inv.issue_date = self.issue_date
            inv.due_date = self.due_date
            inv.overdue_at = self.overdue_at
            inv.total = self.total
            inv.count = self.count
            inv.status = PENDING

    MarkedOverdue = lifecycle_event(LifecycleEvents.MarkedOverdue, "billing:ConsolidatedInvoice.MarkedOverdue")
    PaymentRecorded = lifecycle_event(LifecycleEvents.PaymentRecorded, "billing:ConsolidatedInvoice.PaymentRecorded")
    Paid = lifecycle_event(LifecycleEvents.Paid, "billing:ConsolidatedInvoice.Paid")
    Credited = lifecycle_event(LifecycleEvents.Credited, "billing:ConsolidatedInvoice.Credited")

    kind = CONSOLIDATED
    ISSUED_STATUS = PENDING

    def __init__(
        self,
        company: str,
        customer_id: UUID,
        customer_reference: str,
        regime: int,
        mode: str,
        label: str,
        period_start: date,
        period_end: date,
        timezone: str,
        currency: str,
    ):
        self.company = company
        self.customer_id = customer_id
        self.customer_reference = customer_reference
        self.regime = regime
        self.mode = mode
        self.label = label
        self.period_start = period_start
        self.period_end = period_end
        self.timezone = timezone
        self.currency = currency
        self.lines: dict[str, tuple[UUID, datetime, date, Decimal, dict]] = {}
        #: The sum of the gathered lines' amounts (exact: each is within the bound, and so is the sum).
        self.gathered = Decimal(0)
        self.removed: dict[str, UUID | None] = {}
        self.status = OPEN
        self.closed_at: datetime | None = None
        self.number: str | None = None
        self.issue_date: date | None = None
        self.due_date: date | None = None
        self.overdue_at: datetime | None = None
        self.total = Decimal(0)
        self.count = 0
        self._init_document()

    def describe(self) -> str:
        if self.number:
            return f"consolidated invoice {self.number}"
        return f"the {self.label} consolidation period of customer {self.customer_reference}"

    @classmethod
    def open(cls, ref, customer) -> ConsolidatedInvoice:  # noqa: ANN001 - PeriodRef, Customer
        """Open the gathering invoice of period ``ref`` (a :class:`domain.customer.PeriodRef`) of ``customer``."""
        return cls._create_with_id(
            cls.Created,
            ref.consolidated_invoice_id,
            company=customer.company,
            customer_id=customer.id,
            customer_reference=customer.reference,
            regime=ref.regime,
            mode=ref.period.mode,
            label=ref.period.label,
            period_start=ref.period.start,
            period_end=ref.period.end,
            timezone=customer.timezone,
            currency=customer.currency,
        )

    # ------------------------------------------------------------------------------------- gathering
    @property
    def is_open(self) -> bool:
        return self.status == OPEN

    def add_line(
        self, number: str, invoice_id: UUID, issued_at: datetime, amount: Decimal, attributes: dict
    ) -> None:
        """Gather individual invoice ``number``. Requires the period to be open (the caller routes with a
        fresh customer when it is not).

        Raises :class:`ValidationError` (field ``amount``) if the period's total would leave the engine's
        bound (:func:`domain.money.check_amount`); callers check a whole import first
        (:meth:`check_total`), this is the last guard."""
        assert self.is_open, "lines are only added to open periods"
        if number in self.lines:
            return
        self.check_total(amount)
        self.trigger_event(
            self.LineAdded,
            number=number,
            invoice_id=invoice_id,
            issued_at=issued_at,
            local_date=local_date(issued_at, self.timezone),
            amount=amount,
            attributes=attributes,
        )

    def check_total(self, more: Decimal) -> None:
        """Raise :class:`ValidationError` (field ``amount``) unless the gathered total plus ``more`` stays
        within the engine's bound."""
        check_amount(self.gathered + more, self.currency, "amount", f"the consolidated total of {self.customer_reference}'s period {self.label}")

    def remove_line(self, number: str, reason: str, moved_to: UUID | None = None) -> None:
        """Take line ``number`` out of the open period (see ``LineRemoved``)."""
        assert self.is_open and number in self.lines
        self.trigger_event(self.LineRemoved, number=number, reason=reason, moved_to=moved_to)

    def lines_after(self, closes_at: datetime) -> list[str]:
        """Numbers of gathered lines issued at or after ``closes_at`` (they do not belong to a period
        truncated there), in (issued_at, number) order."""
        late = [(v[1], n) for n, v in self.lines.items() if v[1] >= closes_at]
        return [n for _, n in sorted(late)]

    # ------------------------------------------------------------------------------------- issuing
    def close(self, closed_at: datetime, period_end: date) -> None:
        """Close the period at ``closed_at`` (its effective exclusive end date ``period_end``)."""
        assert self.is_open
        total = self.gathered
        self.trigger_event(
            self.PeriodClosed, closed_at=closed_at, period_end=period_end, count=len(self.lines), total=total
        )

    def is_invoiceable(self) -> bool:
        """A closed period issues an invoice only with lines and a total above zero (never 0.00)."""
        return bool(self.lines) and self.gathered > 0

    @property
    def natural_issue_date(self) -> date:
        """The local date of the closing instant: a natural period's end date, whenever the tick runs."""
        assert self.closed_at is not None
        return local_date(self.closed_at, self.timezone)

    def issue(
        self, label_seq: int, payment_terms_days: int, summary_attributes: list[str], issue_date: date | None = None,
        number_format: NumberFormat = DEFAULT_FORMATS[CONSOLIDATED_FORMAT],
    ) -> None:
        """Issue the closed period's invoice number ``CONS-<label>-<label_seq>``.

        Issue date: :attr:`natural_issue_date`, or the later ``issue_date`` the number series gives
        (numbers and dates run the same way). Due date: issue date + ``payment_terms_days``. It becomes
        overdue at the first instant of the day after the due date, in the customer's zone.
        """
        assert self.status == CLOSED and self.closed_at is not None and self.number is None
        issue_date = issue_date or self.natural_issue_date
        due_date = issue_date + timedelta(days=payment_terms_days)
        summary = {}
        for attr in summary_attributes:
            values = {_as_text(v[4][attr]) for v in self.lines.values() if v[4].get(attr) not in (None, "")}
            summary[attr] = sorted(values)
        self.trigger_event(
            self.InvoiceIssued,
            company=self.company,
            customer_id=self.customer_id,
            customer_reference=self.customer_reference,
            period_start=self.period_start,
            period_end=self.period_end,
            number=format_number(self.label, label_seq, number_format),
            sequence=label_seq,
            issue_date=issue_date,
            due_date=due_date,
            payment_terms_days=payment_terms_days,
            overdue_at=start_of_day(due_date + timedelta(days=1), self.timezone),
            count=len(self.lines),
            total=self.gathered,
            currency=self.currency,
            summary=summary,
        )

    # ------------------------------------------------------------------------------------- as a document
    @property
    def gross(self) -> Decimal:
        """The invoice's amount: the sum of its lines (each an individual invoice's amount as recorded)."""
        return self.total

    def document_lines(self) -> dict[str, InvoiceLine]:
        """The lines by individual invoice number, in (issued_at, number) order."""
        ordered = sorted(self.lines.items(), key=lambda kv: (kv[1][1], kv[0]))
        return {
            number: InvoiceLine(i, f"{number} ({day.isoformat()})", Decimal(1), amount, amount, AS_RECORDED, Decimal(0), attrs)
            for i, (number, (_iid, _at, day, amount, attrs)) in enumerate(ordered, start=1)
        }

    def tax_amounts(self) -> tuple[TaxAmount, ...]:
        return (TaxAmount(AS_RECORDED, Decimal(0), self.total, Decimal(0)),)

    def void(self, reason: str = "") -> None:
        """A consolidated invoice is corrected by credit notes, never voided (its lines stay billed)."""
        raise Conflict("number", f"{self._name()} is a consolidated invoice: correct it with a credit note, it cannot be voided")
