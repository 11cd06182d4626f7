"""Credit notes: correcting any issued document (issue 3; for consolidated invoices, issue 7).

A credit note is an :class:`domain.invoice.Invoice` of kind ``CREDIT_NOTE``: its own document with its own
number series (``CN-2026-000001``, per company and year of its issue date), referencing the document it
corrects, dated the local date of the command in the customer's zone, owed nothing (payment terms 0).
Which lines it may credit and what its totals are is the document lifecycle's rule
(:meth:`domain.document.Document.credit_lines`, :meth:`~domain.document.Document.credit_note_totals`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any
from uuid import UUID

from domain.base import derive_id
from domain.document import CONSOLIDATED, CREDIT_NOTE, Document
from domain.invoice import Invoice


def credit_note_id(document_id: UUID, n: int) -> UUID:
    """The ``n``-th credit note (1-based) of document ``document_id``."""
    return derive_id("credit-note", document_id, n)


def issue_credit_note(
    document: Document, keys: Sequence[Any] | None, *, number: str, sequence: int, issue_date: date, reason: str = ""
) -> Invoice:
    """Credit the lines ``keys`` of ``document`` (None: every line not credited yet) with a new credit note
    numbered ``number``; records ``Credited`` on the document and returns the note (both unsaved).

    A consolidated invoice's lines are renumbered 1..n on the note, each describing the individual invoice
    it credits. Raises what :meth:`Document.credit_lines` and :meth:`Document.credit_note_totals` raise.
    """
    credited = document.credit_lines(keys)
    totals = document.credit_note_totals(credited)
    lines = tuple(ln for _k, ln in credited)
    if document.kind == CONSOLIDATED:
        lines = tuple(replace(ln, position=i) for i, ln in enumerate(lines, start=1))
    d: Any = document
    note = Invoice.create(
        credit_note_id(d.id, len(d.credit_notes) + 1),
        kind=CREDIT_NOTE,
        company=d.company,
        customer_id=d.customer_id,
        customer_reference=d.customer_reference,
        source=f"credit:{d.number}",
        currency=d.currency,
        timezone=d.timezone,
        lines=lines,
        totals=totals,
        issue_date=issue_date,
        payment_terms_days=0,
        period_start=d.period_start,
        period_end=d.period_end,
        references=d.number,
        number=number,
        sequence=sequence,
        reason=reason,
    )
    document.record_credit(note.id, number, totals, [k for k, _ln in credited])
    return note
