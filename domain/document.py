"""One invoice lifecycle for every source (DESIGN.md, "Invoices"; issue 7).

Every document the engine issues — a contract's invoice, a consolidated invoice, a credit note, and the
sources still to come — lives the same way once issued, and this module is the one place that says how:

- ISSUED (a number; consolidated invoices call it PENDING, the source system's name) → PAID, or ISSUED →
  OVERDUE (the tick, the first instant after the due date in the billing party's zone, while something is
  owed) → PAID;
- payments: partial ones, each greater than zero and at most the open balance (no over-payment);
- VOID: an issued document without payments or credit notes;
- credit notes: their own document (own number series) referencing the one they correct; each line is
  credited at most once, in full, so credits never exceed what was invoiced per line; the note that
  credits a rate's last lines takes exactly the tax of that rate not credited yet, so the notes always
  add up to the gross; crediting the whole gross makes the document CREDITED.

An aggregate becomes a document by mixing in :class:`Document` and declaring its lifecycle events with
:func:`lifecycle_event` (each aggregate keeps its own, stable topics: ``billing:Invoice.Paid``,
``billing:ConsolidatedInvoice.Paid``). It provides ``kind``, ``number``, ``status``, ``currency``,
``gross``, ``overdue_at`` and :meth:`Document.document_lines` (``key → InvoiceLine``; the key of a line is
its position on an invoice, the individual invoice number on a consolidated invoice).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.base import BillingAggregate
from domain.errors import Conflict, ValidationError
from domain.lines import InvoiceLine, TaxAmount, Totals, invoice_totals
from domain.payments import record_payment
from domain.text import validate_text

DRAFT = "DRAFT"
ISSUED = "ISSUED"
OVERDUE = "OVERDUE"
PAID = "PAID"
VOID = "VOID"
CREDITED = "CREDITED"

INVOICE = "INVOICE"
CREDIT_NOTE = "CREDIT_NOTE"
CONSOLIDATED = "CONSOLIDATED"


class LifecycleEvents:
    """The lifecycle's events, without topics: each document aggregate declares its own with
    :func:`lifecycle_event`."""

    class MarkedOverdue(BillingAggregate.Event):
        overdue_at: datetime

        def apply(self, doc: Any) -> None:
            doc.status = OVERDUE

    class PaymentRecorded(BillingAggregate.Event):
        amount: Decimal
        reference: str
        paid_total: Decimal
        balance: Decimal

        def apply(self, doc: Any) -> None:
            doc.paid = self.paid_total

    class Paid(BillingAggregate.Event):
        def apply(self, doc: Any) -> None:
            doc.status = PAID

    class Voided(BillingAggregate.Event):
        reason: str

        def apply(self, doc: Any) -> None:
            doc.status = VOID

    class Credited(BillingAggregate.Event):
        """Credit note ``credit_note_number`` (gross ``amount``) corrects the document: it credits the lines
        with the keys ``positions`` in full, with ``taxes`` (``{"name", "percent", "tax"}`` per rate).
        Events before version 2 name no positions (``None``) and no taxes."""

        class_version = 2
        credit_note_id: Any
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

        def apply(self, doc: Any) -> None:
            doc.credited = self.credited_total
            doc.credit_notes = [*doc.credit_notes, self.credit_note_number]
            if self.positions is not None:
                doc.credited_positions = {**doc.credited_positions, **{p: self.credit_note_number for p in self.positions}}
            elif self.fully:
                doc.credited_positions = {k: self.credit_note_number for k in doc.document_lines()}
            else:
                doc.unknown_credits = [*doc.unknown_credits, self.credit_note_number]
            for t in self.taxes:
                key = (t["name"], t["percent"])
                doc.credited_tax = {**doc.credited_tax, key: doc.credited_tax.get(key, Decimal(0)) + t["tax"]}
            if self.fully:
                doc.status = CREDITED


def lifecycle_event(base: type, topic: str) -> type:
    """The lifecycle event ``base`` (a class of :class:`LifecycleEvents`) under ``topic``, for an aggregate
    to declare as its own (``Paid = lifecycle_event(LifecycleEvents.Paid, "billing:Invoice.Paid")``)."""
    return type(base.__name__, (base,), {"TOPIC": topic, "__module__": base.__module__, "__qualname__": base.__qualname__})


class Document:
    """The rules of an issued document (see the module docstring); mixed into document aggregates."""

    #: The name of the issued state (``PENDING`` on consolidated invoices).
    ISSUED_STATUS = ISSUED
    kind: str
    number: str | None
    status: str
    currency: str
    gross: Decimal
    overdue_at: datetime | None

    def _init_document(self) -> None:
        self.paid = Decimal(0)
        self.credited = Decimal(0)
        self.credit_notes: list[str] = []
        #: line key → the credit note that credited that line (each line is credited at most once).
        self.credited_positions: dict[Any, str] = {}
        #: (rate name, percent) → tax credited so far.
        self.credited_tax: dict[tuple[str, Decimal], Decimal] = {}
        #: Partial credit notes recorded before credits named their lines (events of version 1).
        self.unknown_credits: list[str] = []

    # ------------------------------------------------------------------------------- provided by aggregates
    # ``gross`` (Decimal) and ``overdue_at`` (aware datetime, or None while not issued) are attributes or
    # properties of the aggregate.

    def document_lines(self) -> dict[Any, InvoiceLine]:  # pragma: no cover - every document defines it
        """The document's lines by key, in their order on the document."""
        raise NotImplementedError

    def tax_amounts(self) -> tuple[TaxAmount, ...]:  # pragma: no cover - every document defines it
        raise NotImplementedError

    def _name(self) -> str:
        return self.number or f"draft {getattr(self, 'id', '')}"

    # ------------------------------------------------------------------------------- the lifecycle
    @property
    def is_issued(self) -> bool:
        return self.status in (self.ISSUED_STATUS, OVERDUE)

    @property
    def balance(self) -> Decimal:
        """What is still owed: gross − paid − credited (negative: owed back to the customer)."""
        return self.gross - self.paid - self.credited

    def mark_overdue(self, at: datetime) -> bool:
        """ISSUED → OVERDUE once ``at`` is at or past :attr:`overdue_at` and something is still owed;
        returns whether it did."""
        if self.kind == CREDIT_NOTE or self.status != self.ISSUED_STATUS or self.overdue_at is None:
            return False
        if at < self.overdue_at or self.balance <= 0:
            return False
        self.trigger_event(self.MarkedOverdue, overdue_at=self.overdue_at)  # type: ignore[attr-defined]
        return True

    def record_payment(self, amount: Decimal | str | None = None, reference: str = "") -> None:
        """Record a payment (default: the open balance); PAID when nothing is owed any more.

        Raises :class:`Conflict` for a credit note (it is refunded or offset, not paid) and unless the
        document is issued or overdue; :class:`ValidationError` for an amount that is not greater than
        zero, has too many decimals, or exceeds the balance.
        """
        if self.kind == CREDIT_NOTE:
            raise Conflict("number", f"{self._name()} is a credit note: credit notes are refunded or offset against an invoice, not paid")
        if self.status == PAID:
            raise Conflict("number", f"{self._name()} is already paid; no payment can be recorded")
        if not self.is_issued:
            raise Conflict("status", f"{self._name()} is {self.status}; only an issued or overdue invoice can be paid")
        record_payment(self, amount, reference)

    def void(self, reason: str = "") -> None:
        """ISSUED/OVERDUE → VOID, only without payments or credit notes (else correct by credit note)."""
        if self.kind == CREDIT_NOTE:
            raise Conflict("number", f"{self._name()} is a credit note; a credit note cannot be voided")
        if not self.is_issued:
            raise Conflict("status", f"{self._name()} is {self.status}; only an issued, unpaid invoice can be voided")
        if self.paid or self.credited:
            raise Conflict("status", f"{self._name()} has payments or credit notes; correct it with a credit note")
        self.trigger_event(self.Voided, reason=validate_text(reason, "reason"))  # type: ignore[attr-defined]

    def credit_lines(self, keys: Sequence[Any] | None) -> list[tuple[Any, InvoiceLine]]:
        """The lines a credit note of ``keys`` (None: every line not credited yet) credits, as ``(key,
        line)`` in document order.

        Raises :class:`ValidationError` (field ``positions``) for a key given twice or not on the
        document, :class:`Conflict` for a line credited already, for nothing left to credit, and unless the
        document is issued (not VOID, DRAFT or fully CREDITED)."""
        if self.kind == CREDIT_NOTE:
            raise Conflict("number", f"{self._name()} is a credit note; only an invoice can be credited")
        if self.status not in (self.ISSUED_STATUS, OVERDUE, PAID):
            raise Conflict("status", f"{self._name()} is {self.status}; only an issued invoice can be credited")
        if self.unknown_credits:
            raise Conflict("positions", f"{self._name()} has credit notes ({', '.join(self.unknown_credits)}) recorded before "
                                        "credit notes named their lines: which lines are left cannot be told, so no line can be credited")
        lines = self.document_lines()
        if keys is None:
            out = [(k, ln) for k, ln in lines.items() if k not in self.credited_positions]
            if not out:
                raise Conflict("positions", f"every line of {self._name()} is credited already")
            return out
        keys = list(keys)
        doubled = sorted({str(k) for k in keys if keys.count(k) > 1})
        if doubled:
            raise ValidationError("positions", f"{', '.join(doubled)} is given more than once")
        for k in keys:
            if k not in lines:
                raise ValidationError("positions", f"{k} is not a line of {self._name()}")
            if k in self.credited_positions:
                raise Conflict("positions", f"{k} of {self._name()} is credited already by {self.credited_positions[k]}")
        wanted = set(keys)
        return [(k, ln) for k, ln in lines.items() if k in wanted]

    def credit_note_totals(self, credited: Sequence[tuple[Any, InvoiceLine]]) -> Totals:
        """Totals of a credit note of ``credited`` (from :meth:`credit_lines`; see the module docstring for
        the tax of a rate's last lines). Raises :class:`ValidationError` if a total is out of bound."""
        note = invoice_totals([ln for _k, ln in credited], self.currency)
        done = set(self.credited_positions) | {k for k, _ln in credited}
        invoice_tax = {(t.name, t.percent): t.tax for t in self.tax_amounts()}
        lines = self.document_lines()
        breakdown = []
        for t in note.breakdown:
            key = (t.name, t.percent)
            rate_done = all(k in done for k, ln in lines.items() if (ln.tax_rate, ln.tax_percent) == key)
            tax = invoice_tax[key] - self.credited_tax.get(key, Decimal(0)) if rate_done and key in invoice_tax else t.tax
            breakdown.append(TaxAmount(t.name, t.percent, t.base, tax))
        tax = sum((t.tax for t in breakdown), Decimal(0))
        return Totals(self.currency, note.net, tax, note.net + tax, tuple(breakdown)).check()

    def record_credit(self, note_id: Any, note_number: str, note_totals: Totals, keys: Sequence[Any]) -> None:
        """Record that credit note ``note_number`` (its totals ``note_totals``) credits the lines ``keys``.

        A credit of the whole gross makes the document CREDITED (what was paid on it is then owed back).
        A partial credit that leaves nothing owed, after payments, makes an issued or overdue document
        PAID. Raises :class:`ValidationError` if credits would exceed the gross.
        """
        total = self.credited + note_totals.gross
        if total > self.gross:
            raise ValidationError(
                "amount", f"credit notes would total {total} {self.currency}, more than the invoice's gross {self.gross}"
            )
        self.trigger_event(  # type: ignore[attr-defined]
            self.Credited,  # type: ignore[attr-defined]
            credit_note_id=note_id,
            credit_note_number=note_number,
            amount=note_totals.gross,
            credited_total=total,
            fully=total == self.gross,
            positions=sorted(keys, key=str) if all(isinstance(k, str) for k in keys) else sorted(keys),
            taxes=[{"name": t.name, "percent": t.percent, "tax": t.tax} for t in note_totals.breakdown],
        )
        if self.is_issued and self.balance <= 0:
            self.trigger_event(self.Paid)  # type: ignore[attr-defined]
