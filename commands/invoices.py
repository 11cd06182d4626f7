"""Commands on invoice documents (issue 3; on the bus since issue 7): finalize, void, credit, pay, mark
sent.

An invoice is named by its number (with its ``company``; numbers are unique per company) or, for a draft,
by its id or the first 8 (or more) digits of it, as lists show it. The read model locates it (brought up
to date first); the decision is taken on the loaded aggregate, which is checked to be the one named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import sqlalchemy as sa

from commands.bus import UnitOfWork, handle, handler
from commands.numbering import next_number
from domain.calendar import local_date
from domain.credit_notes import issue_credit_note
from domain.errors import NotFound, ValidationError
from domain.invoice import CREDIT_NOTE, INVOICE, Invoice
from domain.tenancy import DEFAULT_COMPANY
from domain.text import validate_text
from projections import registry
from projections import runner as projection_runner
from projections.tables import invoices

#: A draft's short id, as ``invoices list`` shows it: 8 to 32 hex digits of its id.
DRAFT_PREFIX = re.compile(r"[0-9a-f]{8}[0-9a-f-]{0,28}")


def locate_invoice(store: Any, ident: str, company: str | None = DEFAULT_COMPANY) -> UUID:
    """The id of the invoice of ``company`` with number (or id, or draft id prefix) ``ident``; raises
    :class:`NotFound` (field ``number``), or :class:`ValidationError` for an ambiguous draft prefix. The
    Python API may pass ``company=None``: any company's, as long as only one has that number."""
    projection_runner.run(store, registry.ALL)
    missing = NotFound("number", f"no invoice {ident!r}" + ("" if company in (None, DEFAULT_COMPANY) else f" of company {company}"))
    t = invoices
    try:
        stmt = sa.select(t.c.invoice_id).where(t.c.invoice_id == str(UUID(ident)))
    except ValueError:
        if DRAFT_PREFIX.fullmatch(ident.lower()):
            # a draft as lists show it; once finalized it is still found (and says it is issued)
            stmt = sa.select(t.c.invoice_id).where(t.c.invoice_id.startswith(ident.lower()))
        else:
            stmt = sa.select(t.c.invoice_id).where(t.c.number == ident)
    stmt = stmt.where(t.c.kind.in_([INVOICE, CREDIT_NOTE])).add_columns(t.c.company)
    if company is not None:
        stmt = stmt.where(t.c.company == company)
    with store.read_engine.connect() as conn:
        rows = conn.execute(stmt.limit(10)).all()
    if len({r.company for r in rows}) > 1:
        raise ValidationError("company", f"{ident} exists for companies {', '.join(sorted({r.company for r in rows}))}; name one with --company")
    if len(rows) > 1:
        raise ValidationError("number", f"{ident} names more than one draft; give more digits of its id")
    if not rows:
        raise missing
    return UUID(rows[0].invoice_id)


def find_invoice(store: Any, ident: str, company: str | None = None) -> Invoice:
    """Load the invoice named ``ident`` of ``company`` (see :func:`locate_invoice`)."""
    inv = store.get(locate_invoice(store, ident, company))
    if not isinstance(inv, Invoice):
        raise NotFound("number", f"no invoice {ident!r}")
    return inv


@dataclass(frozen=True)
class _OnInvoice:
    ident: str
    at: datetime
    company: str | None = DEFAULT_COMPANY


@dataclass(frozen=True)
class FinalizeInvoice(_OnInvoice):
    """DRAFT → ISSUED at ``at``: dated the local date of ``at`` in the customer's zone (the day it is
    issued; its run date stays the service period), due that date + payment terms, numbered with the next
    number of the company's INV series of that year."""


@dataclass(frozen=True)
class VoidInvoice(_OnInvoice):
    """ISSUED/OVERDUE → VOID (no payment, no credit note)."""

    reason: str = ""


@dataclass(frozen=True)
class PayInvoice(_OnInvoice):
    """Record a payment of ``amount`` (None: the open balance)."""

    amount: str | Decimal | None = None
    reference: str = ""


@dataclass(frozen=True)
class CreditInvoice(_OnInvoice):
    """Issue a credit note for the lines ``positions`` (None: every line not credited yet)."""

    positions: tuple[int, ...] | None = None
    reason: str = ""


@dataclass(frozen=True)
class MarkSent(_OnInvoice):
    """Record that an invoice of the outbox was sent."""

    channel: str = ""


def _load(cmd: _OnInvoice, uow: UnitOfWork) -> Invoice:
    return uow.require(locate_invoice(uow.store, cmd.ident, cmd.company), "number", f"invoice {cmd.ident!r}", Invoice)


@handler(FinalizeInvoice)
def _finalize(cmd: FinalizeInvoice, uow: UnitOfWork) -> Invoice:
    inv = _load(cmd, uow)
    issue_date = local_date(cmd.at, inv.timezone)
    if inv.status == "DRAFT":
        number, seq = next_number(uow, inv.company, INVOICE, issue_date, f"invoice {inv.id}")
    else:
        number, seq = "", 0
    inv.issue(number, seq, issue_date)
    return inv


@handler(VoidInvoice)
def _void(cmd: VoidInvoice, uow: UnitOfWork) -> Invoice:
    inv = _load(cmd, uow)
    inv.void(cmd.reason)
    return inv


@handler(PayInvoice)
def _pay(cmd: PayInvoice, uow: UnitOfWork) -> Invoice:
    inv = _load(cmd, uow)
    inv.record_payment(cmd.amount, cmd.reference)
    return inv


@handler(CreditInvoice)
def _credit(cmd: CreditInvoice, uow: UnitOfWork) -> Invoice:
    reason = validate_text(cmd.reason, "reason")
    inv = _load(cmd, uow)
    inv.credit_lines(list(cmd.positions) if cmd.positions is not None else None)  # check before numbering
    issue_date = local_date(cmd.at, inv.timezone)
    number, seq = next_number(uow, inv.company, CREDIT_NOTE, issue_date, f"a credit note for {inv.number}")
    return uow.add(issue_credit_note(inv, list(cmd.positions) if cmd.positions is not None else None,
                                     number=number, sequence=seq, issue_date=issue_date, reason=reason))


@handler(MarkSent)
def _mark_sent(cmd: MarkSent, uow: UnitOfWork) -> bool:
    return _load(cmd, uow).mark_sent(cmd.channel)


# ------------------------------------------------------------------------------------ the Python API
def finalize_invoice(store: Any, ident: str, at: datetime, company: str | None = None) -> Invoice:
    return handle(store, FinalizeInvoice(ident, at, company))


def void_invoice(store: Any, ident: str, at: datetime, reason: str = "", company: str | None = None) -> Invoice:
    return handle(store, VoidInvoice(ident, at, company, reason))


def pay_invoice(store: Any, ident: str, at: datetime, amount: str | None = None, reference: str = "",
                company: str | None = None) -> Invoice:
    return handle(store, PayInvoice(ident, at, company, amount, reference))


def credit_invoice(store: Any, ident: str, at: datetime, positions: list[int] | None = None, reason: str = "",
                   company: str | None = None) -> Invoice:
    """Issue a credit note for invoice ``ident``; returns the credit note."""
    return handle(store, CreditInvoice(ident, at, company, tuple(positions) if positions is not None else None, reason))


def mark_sent(store: Any, ident: str, at: datetime, channel: str = "", company: str | None = None) -> bool:
    return handle(store, MarkSent(ident, at, company, channel))
