"""Commands on consolidated invoices (issue 2; on the bus since issue 7): recording a payment, and
issuing a credit note for some of its lines (one per individual invoice)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from commands.bus import UnitOfWork, handle, handler
from commands.numbering import next_number
from domain.calendar import local_date
from domain.consolidated_invoice import ConsolidatedInvoice
from domain.credit_notes import issue_credit_note
from domain.errors import NotFound
from domain.invoice import CREDIT_NOTE, Invoice
from domain.tenancy import DEFAULT_COMPANY
from domain.text import validate_text
from projections import registry
from projections import runner as projection_runner
from projections.tables import consolidated_invoices


def find_consolidated_id(store: Any, number: str, company: str = DEFAULT_COMPANY) -> UUID:
    """The id of ``company``'s consolidated invoice ``number``, located through the read model (brought up
    to date first; the decision is taken on the loaded aggregate). Raises :class:`NotFound`."""
    projection_runner.run(store, registry.ALL)
    t = consolidated_invoices
    with store.read_engine.connect() as conn:
        found = conn.execute(sa.select(t.c.consolidated_invoice_id).where(t.c.number == number, t.c.company == company)).scalar()
    if found is None:
        raise NotFound("number", f"no consolidated invoice {number!r}")
    return UUID(found)


def find_consolidated(store: Any, number: str, company: str = DEFAULT_COMPANY) -> ConsolidatedInvoice:
    inv = store.get(find_consolidated_id(store, number, company))
    if not isinstance(inv, ConsolidatedInvoice) or inv.number != number:
        raise NotFound("number", f"no consolidated invoice {number!r}")
    return inv


@dataclass(frozen=True)
class PayConsolidated:
    """Record a payment of ``amount`` (None: the open balance) against consolidated invoice ``number``;
    PAID when settled."""

    number: str
    at: datetime
    amount: str | Decimal | None = None
    reference: str = ""
    company: str = DEFAULT_COMPANY


@dataclass(frozen=True)
class CreditConsolidated:
    """Issue a credit note for the lines of consolidated invoice ``number`` given by their individual
    invoice numbers (``invoices``; None: every line not credited yet), in the company's CN series."""

    number: str
    at: datetime
    invoices: tuple[str, ...] | None = None
    reason: str = ""
    company: str = DEFAULT_COMPANY


def _load(uow: UnitOfWork, number: str, company: str) -> ConsolidatedInvoice:
    inv = uow.require(find_consolidated_id(uow.store, number, company), "number", f"consolidated invoice {number!r}", ConsolidatedInvoice)
    if inv.number != number:
        raise NotFound("number", f"no consolidated invoice {number!r}")
    return inv


@handler(PayConsolidated)
def _pay(cmd: PayConsolidated, uow: UnitOfWork) -> ConsolidatedInvoice:
    inv = _load(uow, cmd.number, cmd.company)
    inv.record_payment(cmd.amount, cmd.reference)
    return inv


@handler(CreditConsolidated)
def _credit(cmd: CreditConsolidated, uow: UnitOfWork) -> Invoice:
    reason = validate_text(cmd.reason, "reason")
    inv = _load(uow, cmd.number, cmd.company)
    keys = list(cmd.invoices) if cmd.invoices is not None else None
    inv.credit_lines(keys)  # check before numbering
    issue_date = local_date(cmd.at, inv.timezone)
    number, seq = next_number(uow, inv.company, CREDIT_NOTE, issue_date, f"a credit note for {inv.number}")
    return uow.add(issue_credit_note(inv, keys, number=number, sequence=seq, issue_date=issue_date, reason=reason))


def pay_consolidated(store: Any, number: str, at: datetime, amount: str | Decimal | None = None, reference: str = "",
                     company: str = DEFAULT_COMPANY) -> ConsolidatedInvoice:
    """Handle :class:`PayConsolidated`; returns the invoice."""
    return handle(store, PayConsolidated(number, at, amount, reference, company))


def credit_consolidated(store: Any, number: str, at: datetime, invoices: list[str] | None = None, reason: str = "",
                        company: str = DEFAULT_COMPANY) -> Invoice:
    """Handle :class:`CreditConsolidated`; returns the credit note."""
    return handle(store, CreditConsolidated(number, at, tuple(invoices) if invoices is not None else None, reason, company))
