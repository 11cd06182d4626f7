"""The Invoice aggregate: the engine's own invoice document and its credit notes (issue 3).

Reused by every source (contracts now; package fees and timesheets later): lines, totals (net, tax per
rate, gross; :mod:`domain.tax`), issue and due dates, currency, and a lifecycle:

- DRAFT → ISSUED (a number is assigned) → PAID, or ISSUED → OVERDUE (the tick, once the due date has
  passed) → PAID;
- VOID for an issued invoice with no payment and no credit note;
- a CREDIT_NOTE is its own document (its own number series), referencing the invoice it corrects; a
  credit of the whole open amount makes the invoice CREDITED.

An issued invoice never changes: later facts (payment, credit, overdue, void) are events about it, never
edits of its lines or totals. Numbers come from one :class:`NumberSeries` per company, kind and year:
``INV-2026-000001``, ``CN-2026-000001``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.base import BillingAggregate, derive_id
from domain.calendar import start_of_day
from domain.document import (  # noqa: F401 - the statuses and kinds are re-exported
    CONSOLIDATED, CREDIT_NOTE, CREDITED, DRAFT, INVOICE, ISSUED, OVERDUE, PAID, VOID, Document, LifecycleEvents,
    lifecycle_event,
)
from domain.errors import Conflict
from domain.lines import InvoiceLine, TaxAmount, Totals, invoice_totals
from domain.money import check_amount
from domain.number_formats import CREDIT_NOTE_FORMAT, DEFAULT_FORMATS, INVOICE_FORMAT, NumberFormat
from domain.tax import line_net
from domain.text import validate_text

PREFIX = {INVOICE: "INV", CREDIT_NOTE: "CN"}
#: The company number format of each document kind.
FORMAT_OF = {INVOICE: INVOICE_FORMAT, CREDIT_NOTE: CREDIT_NOTE_FORMAT}


def series_key(company: str, kind: str, year: int) -> str:
    """The number series of ``kind`` documents of ``company`` issued in ``year`` (``INV:ACME:2026``): one
    per kind, whatever the prefix the company chooses."""
    return f"{PREFIX[kind]}:{company}:{year}"


def format_number(kind: str, year: int, seq: int, fmt: NumberFormat | None = None) -> str:
    """``INV-2026-000001``, ``CN-2026-000001`` by default; the company's format ``fmt`` otherwise."""
    return (fmt or DEFAULT_FORMATS[FORMAT_OF[kind]]).invoice_number(year, seq)


def contract_invoice_id(contract_id: UUID, run_date: date) -> UUID:
    """The invoice of a contract run: one per (contract, run date), ever."""
    return derive_id("invoice", "contract", contract_id, run_date.isoformat())


def build_lines(positions: list[dict], currency: str) -> tuple[tuple[InvoiceLine, ...], Totals]:
    """Invoice lines and totals from contract positions (their event form, see :class:`Contract`).

    Each line's net is quantity × unit price rounded half-up to the currency's minor unit; totals follow
    EN 16931 (:func:`domain.lines.invoice_totals`). Raises :class:`ValidationError` if a line net, the
    net, the tax or the gross is out of the engine's bound (:func:`domain.money.check_amount`).
    """
    lines = []
    for p in positions:
        net = check_amount(line_net(p["quantity"], p["unit_price"], currency), currency, "net", f"the net of position {p['position']},")
        lines.append(InvoiceLine.from_event({**p, "net": net}))
    return tuple(lines), invoice_totals(lines, currency).check()


class Invoice(Document, BillingAggregate):
    """An invoice document or credit note (see the module docstring; its lifecycle is
    :class:`domain.document.Document`). ``lines`` is a tuple of :class:`InvoiceLine`, ``totals`` a
    :class:`Totals`."""

    TOPIC = "billing:Invoice"

    class Created(BillingAggregate.Created):
        """A document was created: a DRAFT, or directly ISSUED when ``number`` is given."""

        TOPIC = "billing:Invoice.Created"
        class_version = 2
        kind: str
        company: str
        customer_id: UUID
        customer_reference: str
        source: str
        currency: str
        timezone: str
        lines: list
        net: Decimal
        tax: Decimal
        gross: Decimal
        tax_breakdown: list
        issue_date: date
        due_date: date
        payment_terms_days: int
        period_start: date | None
        period_end: date | None
        auto_send: bool
        references: str | None
        number: str | None
        sequence: int | None
        overdue_at: datetime | None
        reason: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # Version 1 kept a credit note's reason in its source ("credit:INV-1 reason").
            source = state.get("source", "")
            reason = ""
            if source.startswith("credit:") and " " in source:
                source, reason = source.split(" ", 1)
            state["source"] = source
            state["reason"] = reason

    class Issued(BillingAggregate.Event):
        """A draft was finalized: it got ``number``, and is dated ``issue_date`` (the day it was issued)
        and due ``due_date`` (issue date + payment terms). Events before version 2 kept the draft's dates
        (``None`` here)."""

        TOPIC = "billing:Invoice.Issued"
        class_version = 2
        number: str
        sequence: int
        company: str
        overdue_at: datetime
        issue_date: date | None
        due_date: date | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["issue_date"] = None
            state["due_date"] = None

        def apply(self, inv: Invoice) -> None:
            inv.number = self.number
            inv.sequence = self.sequence
            inv.status = ISSUED
            if self.issue_date is not None:
                inv.issue_date = self.issue_date
                inv.due_date = self.due_date

    MarkedOverdue = lifecycle_event(LifecycleEvents.MarkedOverdue, "billing:Invoice.MarkedOverdue")
    PaymentRecorded = lifecycle_event(LifecycleEvents.PaymentRecorded, "billing:Invoice.PaymentRecorded")
    Paid = lifecycle_event(LifecycleEvents.Paid, "billing:Invoice.Paid")
    Voided = lifecycle_event(LifecycleEvents.Voided, "billing:Invoice.Voided")
    Credited = lifecycle_event(LifecycleEvents.Credited, "billing:Invoice.Credited")

    class Sent(BillingAggregate.Event):
        """The issued document was sent to the customer (taken out of the outbox)."""

        TOPIC = "billing:Invoice.Sent"
        channel: str

        def apply(self, inv: Invoice) -> None:
            inv.sent = True

    def __init__(
        self,
        kind: str,
        company: str,
        customer_id: UUID,
        customer_reference: str,
        source: str,
        currency: str,
        timezone: str,
        lines: list,
        net: Decimal,
        tax: Decimal,
        gross: Decimal,
        tax_breakdown: list,
        issue_date: date,
        due_date: date,
        payment_terms_days: int,
        period_start: date | None,
        period_end: date | None,
        auto_send: bool,
        references: str | None,
        number: str | None,
        sequence: int | None,
        overdue_at: datetime | None,
        reason: str = "",
    ):
        self.kind = kind
        self.reason = reason
        self.company = company
        self.customer_id = customer_id
        self.customer_reference = customer_reference
        self.source = source
        self.currency = currency
        self.timezone = timezone
        self.lines = tuple(InvoiceLine.from_event(ln) for ln in lines)
        self.totals = Totals(currency, net, tax, gross, tuple(TaxAmount.from_event(t) for t in tax_breakdown))
        self.issue_date = issue_date
        self.due_date = due_date
        self.payment_terms_days = payment_terms_days
        self.period_start = period_start
        self.period_end = period_end
        self.auto_send = auto_send
        self.references = references
        self.number = number
        self.sequence = sequence
        self.status = DRAFT if number is None else ISSUED
        self._init_document()
        self.sent = False

    def describe(self) -> str:
        return f"{'credit note' if self.kind == CREDIT_NOTE else 'invoice'} {self._name()}"

    # ------------------------------------------------------------------------------------- creation
    @classmethod
    def create(
        cls,
        invoice_id: UUID,
        *,
        kind: str = INVOICE,
        company: str,
        customer_id: UUID,
        customer_reference: str,
        source: str,
        currency: str,
        timezone: str,
        lines: tuple[InvoiceLine, ...] | list[InvoiceLine],
        totals: Totals,
        issue_date: date,
        payment_terms_days: int,
        period_start: date | None = None,
        period_end: date | None = None,
        auto_send: bool = False,
        references: str | None = None,
        number: str | None = None,
        sequence: int | None = None,
        reason: str = "",
    ) -> Invoice:
        """Create a DRAFT (``number`` None) or an ISSUED document, with lines and totals (from
        :func:`build_lines`, or a credit note's). Due date = issue date + payment terms (days)."""
        due_date = issue_date + timedelta(days=payment_terms_days)
        overdue_at = (
            start_of_day(due_date + timedelta(days=1), timezone) if number is not None and kind == INVOICE else None
        )
        return cls._create_with_id(
            cls.Created,
            invoice_id,
            kind=kind,
            company=company,
            customer_id=customer_id,
            customer_reference=customer_reference,
            source=source,
            currency=currency,
            timezone=timezone,
            lines=[ln.to_event() for ln in lines],
            net=totals.net,
            tax=totals.tax,
            gross=totals.gross,
            tax_breakdown=[t.to_event() for t in totals.breakdown],
            issue_date=issue_date,
            due_date=due_date,
            payment_terms_days=payment_terms_days,
            period_start=period_start,
            period_end=period_end,
            auto_send=auto_send,
            references=references,
            number=number,
            sequence=sequence,
            overdue_at=overdue_at,
            reason=reason,
        )

    # ------------------------------------------------------------------------------------- lifecycle
    @property
    def year(self) -> int:
        return self.issue_date.year

    @property
    def overdue_at(self) -> datetime:
        """The first instant of the day after the due date, in the billing party's zone."""
        return start_of_day(self.due_date + timedelta(days=1), self.timezone)

    @property
    def net(self) -> Decimal:
        return self.totals.net

    @property
    def tax(self) -> Decimal:
        return self.totals.tax

    @property
    def gross(self) -> Decimal:
        return self.totals.gross

    def document_lines(self) -> dict[int, InvoiceLine]:
        """The lines by position."""
        return {ln.position: ln for ln in self.lines}

    def tax_amounts(self) -> tuple[TaxAmount, ...]:
        return self.totals.breakdown

    def issue(self, number: str, sequence: int, issue_date: date) -> None:
        """DRAFT → ISSUED with ``number``, dated ``issue_date`` (the day it is issued; the run date stays
        on it as its service period) and due ``issue_date`` + payment terms (issue 6, item 6).

        Raises :class:`Conflict` for any other status."""
        if self.status != DRAFT:
            raise Conflict("status", f"{self._name()} is {self.status}; only a DRAFT can be finalized")
        due_date = issue_date + timedelta(days=self.payment_terms_days)
        self.trigger_event(
            self.Issued,
            number=number,
            sequence=sequence,
            company=self.company,
            overdue_at=start_of_day(due_date + timedelta(days=1), self.timezone),
            issue_date=issue_date,
            due_date=due_date,
        )

    def mark_sent(self, channel: str = "") -> bool:
        """Record that the issued invoice in the outbox was sent; False if it was already.

        Raises :class:`Conflict` for a draft, a void invoice, a credit note, or an invoice that was never
        in the outbox (its contract does not auto-send)."""
        if self.number is None:
            raise Conflict("status", "a draft cannot be sent; finalize it first")
        if self.status == VOID:
            raise Conflict("status", f"{self._name()} is VOID; a void invoice is not sent")
        if not self.auto_send or self.kind != INVOICE:
            raise Conflict("number", f"{self._name()} is not in the outbox (only invoices of contracts with auto-send are)")
        if self.sent:
            return False
        self.trigger_event(self.Sent, channel=validate_text(channel, "channel", 50))
        return True


