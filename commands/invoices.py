"""Commands on invoice documents (issue 3): finalize, void, credit, pay, mark sent.

An invoice is named by its number (with ``company`` when two companies use the same number) or, for a
draft, by its id. The read model locates it (brought up to date first); the decision is taken on the loaded
aggregate, which is checked to be the one named.
"""

from __future__ import annotations

import re
from datetime import datetime
from uuid import UUID

import sqlalchemy as sa

from commands.app import Store
from commands.common import retrying
from domain.base import business_time
from domain.calendar import local_date
from domain.errors import NotFound, ValidationError
from domain.invoice import CREDIT_NOTE, INVOICE, Invoice, credit_note_id, format_number, series_key
from domain.text import validate_text
from domain.number_series import NumberSeries, series_id
from projections import registry
from projections import runner as projection_runner
from projections.tables import invoices

#: A draft's short id, as ``invoices list`` shows it: 8 to 32 hex digits of its id.
DRAFT_PREFIX = re.compile(r"[0-9a-f]{8}[0-9a-f-]{0,28}")


def find_invoice(store: Store, ident: str, company: str | None = None) -> Invoice:
    """Load the invoice with number (or id) ``ident``; raises :class:`NotFound`, or
    :class:`ValidationError` (field ``company``) when the number is ambiguous without a company."""
    projection_runner.run(store, registry.ALL)
    try:
        as_id: UUID | None = UUID(ident)
    except ValueError:
        as_id = None
    if as_id is None and DRAFT_PREFIX.fullmatch(ident.lower()):
        # A draft as lists show it: the first 8 (or more) hex digits of its id.
        stmt = sa.select(invoices.c.invoice_id, invoices.c.company).where(
            invoices.c.number.is_(None), invoices.c.invoice_id.startswith(ident.lower())
        )
        if company:
            stmt = stmt.where(invoices.c.company == company)
        with store.read_engine.connect() as conn:
            rows = conn.execute(stmt.limit(2)).all()
        if len(rows) > 1:
            raise ValidationError("number", f"{ident} names more than one draft; give more digits of its id")
        as_id = UUID(rows[0].invoice_id) if rows else None
        ident = str(as_id) if as_id else ident
    elif as_id is None:
        stmt = sa.select(invoices.c.invoice_id, invoices.c.company).where(invoices.c.number == ident)
        if company:
            stmt = stmt.where(invoices.c.company == company)
        with store.read_engine.connect() as conn:
            rows = conn.execute(stmt).all()
        if len(rows) > 1:
            raise ValidationError("company", f"{ident} exists for companies {', '.join(sorted(r.company for r in rows))}; name one with --company")
        as_id = UUID(rows[0].invoice_id) if rows else None
    inv = store.get(as_id) if as_id else None
    if not isinstance(inv, Invoice) or (inv.number is not None and inv.number != ident and str(inv.id) != ident):
        raise NotFound("number", f"no invoice {ident!r}" + (f" of company {company}" if company else ""))
    return inv


def _series(store: Store, key: str) -> NumberSeries:
    s = store.get(series_id(key))
    return s if s is not None else NumberSeries.start(key)


def finalize_invoice(store: Store, ident: str, at: datetime, company: str | None = None) -> Invoice:
    """DRAFT → ISSUED at ``at``: dated the local date of ``at`` in the customer's zone (the day it is issued;
    its run date stays on it as the service period), due that date + payment terms, numbered with the next
    number of the company's INV series of that year. Raises :class:`Conflict` for a date before the series'
    last number's (numbers and dates run the same way)."""

    def attempt() -> Invoice:
        inv = find_invoice(store, ident, company)
        issue_date = local_date(at, inv.timezone)
        with business_time(at):
            series = _series(store, series_key(inv.company, INVOICE, issue_date.year))
            seq = series.next(issue_date, f"invoice {inv.id}")
            inv.issue(format_number(INVOICE, issue_date.year, seq), seq, issue_date)
            series.flush()
            store.save([series, inv])
        return inv

    return retrying(attempt)


def void_invoice(store: Store, ident: str, at: datetime, reason: str = "", company: str | None = None) -> Invoice:
    """ISSUED/OVERDUE → VOID (no payment, no credit note)."""

    def attempt() -> Invoice:
        inv = find_invoice(store, ident, company)
        with business_time(at):
            inv.void(reason)
            store.save([inv])
        return inv

    return retrying(attempt)


def pay_invoice(store: Store, ident: str, at: datetime, amount: str | None = None, reference: str = "",
                company: str | None = None) -> Invoice:
    """Record a payment (default: the open balance)."""

    def attempt() -> Invoice:
        inv = find_invoice(store, ident, company)
        with business_time(at):
            inv.record_payment(amount, reference)
            store.save([inv])
        return inv

    return retrying(attempt)


def credit_invoice(store: Store, ident: str, at: datetime, positions: list[int] | None = None, reason: str = "",
                   company: str | None = None) -> Invoice:
    """Issue a credit note for invoice ``ident`` (all its lines, or ``positions``): its own CN number,
    issue date = the local date of ``at`` in the customer's zone, referencing the original. Returns the
    credit note."""

    reason = validate_text(reason, "reason")

    def attempt() -> Invoice:
        inv = find_invoice(store, ident, company)
        lines = inv.credit_lines(positions)
        issue_date = local_date(at, inv.timezone)
        built = lines
        totals = inv.credit_note_totals(lines)
        with business_time(at):
            series = _series(store, series_key(inv.company, CREDIT_NOTE, issue_date.year))
            seq = series.next(issue_date, f"a credit note for {inv.number}")
            note = Invoice.create(
                credit_note_id(inv.id, len(inv.credit_notes) + 1),
                kind=CREDIT_NOTE,
                company=inv.company,
                customer_id=inv.customer_id,
                customer_reference=inv.customer_reference,
                source=f"credit:{inv.number}",
                currency=inv.currency,
                timezone=inv.timezone,
                lines=built,
                totals=totals,
                issue_date=issue_date,
                payment_terms_days=0,
                period_start=inv.period_start,
                period_end=inv.period_end,
                references=inv.number,
                reason=reason,
                number=format_number(CREDIT_NOTE, issue_date.year, seq),
                sequence=seq,
            )
            inv.record_credit(note, [ln["position"] for ln in lines])
            series.flush()
            store.save([series, note, inv])
        return note

    return retrying(attempt)


def mark_sent(store: Store, ident: str, at: datetime, channel: str = "", company: str | None = None) -> bool:
    """Record that an issued invoice was sent (takes it out of the outbox); False if it already was."""

    def attempt() -> bool:
        inv = find_invoice(store, ident, company)
        with business_time(at):
            changed = inv.mark_sent(channel)
            store.save([inv])
        return changed

    return retrying(attempt)
