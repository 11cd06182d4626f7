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
from domain.errors import Conflict, ValidationError
from domain.money import check_amount
from domain.payments import record_payment
from domain.tax import line_net, totals
from domain.text import validate_text

DRAFT = "DRAFT"
ISSUED = "ISSUED"
OVERDUE = "OVERDUE"
PAID = "PAID"
VOID = "VOID"
CREDITED = "CREDITED"

INVOICE = "INVOICE"
CREDIT_NOTE = "CREDIT_NOTE"

PREFIX = {INVOICE: "INV", CREDIT_NOTE: "CN"}


def series_key(company: str, kind: str, year: int) -> str:
    """The number series of ``kind`` documents of ``company`` issued in ``year``."""
    return f"{PREFIX[kind]}:{company}:{year}"


def format_number(kind: str, year: int, seq: int) -> str:
    """Default formats: ``INV-2026-000001``, ``CN-2026-000001``."""
    return f"{PREFIX[kind]}-{year}-{seq:06d}"


def contract_invoice_id(contract_id: UUID, run_date: date) -> UUID:
    """The invoice of a contract run: one per (contract, run date), ever."""
    return derive_id("invoice", "contract", contract_id, run_date.isoformat())


def credit_note_id(invoice_id: UUID, n: int) -> UUID:
    """The ``n``-th credit note (1-based) of invoice ``invoice_id``."""
    return derive_id("credit-note", invoice_id, n)


def build_lines(positions: list[dict], currency: str) -> tuple[list[dict], dict]:
    """Invoice lines and totals from contract positions (plain dicts, see :class:`Contract`).

    Returns ``(lines, totals)`` where each line adds ``net`` and ``totals`` holds ``net``, ``tax``,
    ``gross`` and ``tax_breakdown`` (list of dicts: name, percent, base, tax). Raises
    :class:`ValidationError` if a line net, the net, the tax or the gross is out of the engine's bound
    (:func:`domain.money.check_amount`).
    """
    lines = []
    for p in positions:
        net = check_amount(line_net(p["quantity"], p["unit_price"], currency), currency, "net", f"the net of position {p['position']},")
        lines.append({**p, "net": net})
    net, breakdown, tax, gross = totals(((ln["tax_rate"], ln["tax_percent"], ln["net"]) for ln in lines), currency)
    for field, value in (("net", net), ("tax", tax), ("gross", gross)):
        check_amount(value, currency, field, f"the invoice's {field}")
    return lines, {
        "net": net,
        "tax": tax,
        "gross": gross,
        "tax_breakdown": [
            {"name": t.name, "percent": t.percent, "base": t.base, "tax": t.tax} for t in breakdown
        ],
    }


class Invoice(BillingAggregate):
    """An invoice document or credit note (see the module docstring)."""

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

    class MarkedOverdue(BillingAggregate.Event):
        TOPIC = "billing:Invoice.MarkedOverdue"
        overdue_at: datetime

        def apply(self, inv: Invoice) -> None:
            inv.status = OVERDUE

    class PaymentRecorded(BillingAggregate.Event):
        TOPIC = "billing:Invoice.PaymentRecorded"
        amount: Decimal
        reference: str
        paid_total: Decimal
        balance: Decimal

        def apply(self, inv: Invoice) -> None:
            inv.paid = self.paid_total

    class Paid(BillingAggregate.Event):
        TOPIC = "billing:Invoice.Paid"

        def apply(self, inv: Invoice) -> None:
            inv.status = PAID

    class Voided(BillingAggregate.Event):
        TOPIC = "billing:Invoice.Voided"
        reason: str

        def apply(self, inv: Invoice) -> None:
            inv.status = VOID

    class Sent(BillingAggregate.Event):
        """The issued document was sent to the customer (taken out of the outbox)."""

        TOPIC = "billing:Invoice.Sent"
        channel: str

        def apply(self, inv: Invoice) -> None:
            inv.sent = True

    class Credited(BillingAggregate.Event):
        """Credit note ``credit_note_number`` (gross ``amount``) corrects this invoice: it credits the lines
        of ``positions`` in full, with ``taxes`` (``{"name", "percent", "tax"}`` per rate). Events before
        version 2 name no positions (``None``) and no taxes."""

        TOPIC = "billing:Invoice.Credited"
        class_version = 2
        credit_note_id: UUID
        credit_note_number: str
        amount: Decimal
        credited_total: Decimal
        fully: bool
        positions: list | None
        taxes: list

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["positions"] = None
            state["taxes"] = []

        def apply(self, inv: Invoice) -> None:
            inv.credited = self.credited_total
            inv.credit_notes = [*inv.credit_notes, self.credit_note_number]
            if self.positions is not None:
                inv.credited_positions = {**inv.credited_positions, **{p: self.credit_note_number for p in self.positions}}
            elif self.fully:
                inv.credited_positions = {ln["position"]: self.credit_note_number for ln in inv.lines}
            for t in self.taxes:
                key = (t["name"], t["percent"])
                inv.credited_tax = {**inv.credited_tax, key: inv.credited_tax.get(key, Decimal(0)) + t["tax"]}
            if self.fully:
                inv.status = CREDITED

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
        self.lines = lines
        self.net = net
        self.tax = tax
        self.gross = gross
        self.tax_breakdown = tax_breakdown
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
        self.paid = Decimal(0)
        self.credited = Decimal(0)
        self.credit_notes: list[str] = []
        #: Position → the credit note that credited that line (each line is credited at most once).
        self.credited_positions: dict[int, str] = {}
        #: (rate name, percent) → tax credited so far.
        self.credited_tax: dict[tuple[str, Decimal], Decimal] = {}
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
        lines: list[dict],
        totals: dict,
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
        """Create a DRAFT (``number`` None) or an ISSUED document, with lines and totals from
        :func:`build_lines`. Due date = issue date + payment terms (days)."""
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
            lines=lines,
            net=totals["net"],
            tax=totals["tax"],
            gross=totals["gross"],
            tax_breakdown=totals["tax_breakdown"],
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
    def balance(self) -> Decimal:
        """What is still owed: gross − paid − credited."""
        return self.gross - self.paid - self.credited

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

    def mark_overdue(self, at: datetime) -> bool:
        """ISSUED → OVERDUE once ``at`` is past the due date (and something is still owed); returns
        whether it did."""
        if self.kind != INVOICE or self.status != ISSUED or at < self.overdue_at or self.balance <= 0:
            return False
        self.trigger_event(self.MarkedOverdue, overdue_at=self.overdue_at)
        return True

    def record_payment(self, amount: Decimal | str | None = None, reference: str = "") -> None:
        """Record a payment (default: the open balance); PAID when nothing is owed any more.

        Raises :class:`Conflict` for a credit note (it is refunded or offset, not paid) and unless the
        invoice is ISSUED or OVERDUE; :class:`ValidationError` for an amount that is not greater than zero,
        has too many decimals, or exceeds the balance.
        """
        if self.kind == CREDIT_NOTE:
            raise Conflict("number", f"{self._name()} is a credit note: credit notes are refunded or offset against an invoice, not paid")
        if self.status not in (ISSUED, OVERDUE):
            raise Conflict("status", f"{self._name()} is {self.status}; only an issued or overdue invoice can be paid")
        record_payment(self, amount, reference)

    def void(self, reason: str = "") -> None:
        """ISSUED/OVERDUE → VOID, only without payments or credit notes (else correct by credit note)."""
        if self.kind == CREDIT_NOTE:
            raise Conflict("number", f"{self._name()} is a credit note; a credit note cannot be voided")
        if self.status not in (ISSUED, OVERDUE):
            raise Conflict("status", f"{self._name()} is {self.status}; only an issued, unpaid invoice can be voided")
        if self.paid or self.credited:
            raise Conflict("status", f"{self._name()} has payments or credit notes; correct it with a credit note")
        self.trigger_event(self.Voided, reason=validate_text(reason, "reason"))

    def credit_lines(self, positions: list[int] | None) -> list[dict]:
        """The lines a credit note of ``positions`` (None: every line not credited yet) copies.

        Rules (issue 6, item 2): a line is credited at most once, in full, so credits never exceed what was
        invoiced per line. Raises :class:`ValidationError` (field ``positions``) for a position given twice
        or not on the invoice, :class:`Conflict` for a line credited already, for nothing left to credit,
        and unless the invoice is issued (not VOID, DRAFT or fully CREDITED).
        """
        if self.kind != INVOICE or self.status not in (ISSUED, OVERDUE, PAID):
            raise Conflict("status", f"{self._name()} is {self.status}; only an issued invoice can be credited")
        if positions is None:
            out = [dict(line) for line in self.lines if line["position"] not in self.credited_positions]
            if not out:
                raise Conflict("positions", f"every line of {self._name()} is credited already")
            return out
        doubled = sorted({p for p in positions if positions.count(p) > 1})
        if doubled:
            raise ValidationError("positions", f"position {', '.join(map(str, doubled))} is given more than once")
        by_pos = {line["position"]: line for line in self.lines}
        out = []
        for p in positions:
            if p not in by_pos:
                raise ValidationError("positions", f"{p} is not a line of {self._name()}")
            if p in self.credited_positions:
                raise Conflict("positions", f"position {p} of {self._name()} is credited already by {self.credited_positions[p]}")
            out.append(dict(by_pos[p]))
        return out

    def credit_note_totals(self, lines: list[dict]) -> dict:
        """Totals of a credit note of ``lines`` (from :meth:`credit_lines`), in :func:`build_lines` form.

        Tax per rate is rounded on the note's own line nets (EN 16931), except for a rate whose last
        uncredited lines the note credits: it then takes exactly the tax of that rate not credited yet, so
        the credit notes of an invoice always add up to its gross, to the minor unit.
        """
        _built, totals_ = build_lines([{k: v for k, v in ln.items() if k != "net"} for ln in lines], self.currency)
        credited = set(self.credited_positions) | {ln["position"] for ln in lines}
        invoice_tax = {(t["name"], t["percent"]): t["tax"] for t in self.tax_breakdown}
        breakdown = []
        for t in totals_["tax_breakdown"]:
            key = (t["name"], t["percent"])
            rate_done = all(ln["position"] in credited for ln in self.lines if (ln["tax_rate"], ln["tax_percent"]) == key)
            tax = invoice_tax[key] - self.credited_tax.get(key, Decimal(0)) if rate_done and key in invoice_tax else t["tax"]
            breakdown.append({**t, "tax": tax})
        tax = sum((t["tax"] for t in breakdown), Decimal(0))
        return {**totals_, "tax": tax, "gross": totals_["net"] + tax, "tax_breakdown": breakdown}

    def record_credit(self, credit_note: Invoice, positions: list[int]) -> None:
        """Record that ``credit_note`` corrects the lines ``positions`` of this invoice.

        A credit of the whole gross amount makes the invoice CREDITED (what was paid on it is then owed
        back: the balance is negative). A partial credit that leaves nothing owed, after payments, makes an
        issued or overdue invoice PAID. Raises :class:`ValidationError` if credits would exceed the gross
        amount.
        """
        total = self.credited + credit_note.gross
        if total > self.gross:
            raise ValidationError(
                "amount", f"credit notes would total {total} {self.currency}, more than the invoice's gross {self.gross}"
            )
        self.trigger_event(
            self.Credited,
            credit_note_id=credit_note.id,
            credit_note_number=credit_note.number,
            amount=credit_note.gross,
            credited_total=total,
            fully=total == self.gross,
            positions=sorted(positions),
            taxes=[{"name": t["name"], "percent": t["percent"], "tax": t["tax"]} for t in credit_note.tax_breakdown],
        )
        if self.status in (ISSUED, OVERDUE) and self.balance <= 0:
            self.trigger_event(self.Paid)

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

    def _name(self) -> str:
        return self.number or f"draft {self.id}"
