"""``/v1/invoices``: every document of every source (issue 7), and its actions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import Field

from commands.http.app import Engine, Principal, at_of, engine_of, execute, page, principal, read
from commands.http.models import AT, AtIn, LIMIT, PaymentIn, Strict
from domain.errors import NotFound

router = APIRouter()


class VoidIn(Strict):
    reason: str = ""
    at: str | None = AT


class CreditIn(Strict):
    positions: list[int] | None = Field(default=None, description="Lines to credit; default: every line not credited yet")
    reason: str = ""
    at: str | None = AT


class SentIn(Strict):
    channel: str = ""
    at: str | None = AT


def show_document(engine: Engine, company: str, ident: str) -> dict[str, Any]:
    """One document of ``company`` by number (or id, or draft id prefix), with lines and tax breakdown."""
    from commands.invoices import locate_invoice
    from projections import queries

    def go(store: Any) -> dict[str, Any]:
        try:
            iid = locate_invoice(store, ident, company)
        except NotFound:
            rows = queries.list_invoices(store.read_engine, company, number=ident, kind="ALL")
            if not rows:
                raise
            return rows[0]
        return queries.list_invoices(store.read_engine, invoice_id=str(iid))[0]

    return read(engine, go)


@router.get("/invoices", tags=["invoices"])
def list_invoices(status: str | None = None, customer: str | None = None, kind: str | None = Query(None, description="INVOICE, CREDIT_NOTE, CONSOLIDATED or ALL"),
                  from_: str | None = Query(None, alias="from"), to: str | None = None, limit: int = LIMIT,
                  cursor: str | None = None, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """Documents (default: invoices and credit notes; ``kind=ALL``: every source's)."""
    from domain.calendar import parse_date
    from domain.errors import ValidationError
    from projections import queries
    from projections.paging import require_known

    if kind is not None and kind.upper() not in ("INVOICE", "CREDIT_NOTE", "CONSOLIDATED", "ALL"):
        raise ValidationError("kind", f"{kind!r} is not one of INVOICE, CREDIT_NOTE, CONSOLIDATED, ALL")
    d1 = parse_date(from_, "from") if from_ else None
    d2 = parse_date(to, "to") if to else None
    read(engine, lambda s: require_known(s.read_engine, customer=customer, company=who.company))
    return page(engine, limit, cursor, lambda s, p: queries.list_invoices(
        s.read_engine, who.company, customer, status, d1, d2, kind.upper() if kind else None, paging=p))


@router.get("/invoices/{ident}", tags=["invoices"])
def show_invoice(ident: str, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    return show_document(engine, who.company, ident)


@router.post("/invoices/{ident}/finalize", tags=["invoices"])
def finalize(ident: str, body: AtIn = Body(default_factory=AtIn), who: Principal = Depends(principal),
             engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """DRAFT → ISSUED: dated the day it is issued, numbered in the company's series."""
    from commands.invoices import FinalizeInvoice

    inv = execute(engine, FinalizeInvoice(ident, at_of(body.at), who.company))
    return show_document(engine, who.company, inv.number)


@router.post("/invoices/{ident}/void", tags=["invoices"])
def void(ident: str, body: VoidIn = Body(default_factory=VoidIn), who: Principal = Depends(principal),
         engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    from commands.invoices import VoidInvoice

    inv = execute(engine, VoidInvoice(ident, at_of(body.at), who.company, body.reason))
    return show_document(engine, who.company, inv.number)


@router.post("/invoices/{ident}/credit", status_code=201, tags=["invoices"])
def credit(ident: str, body: CreditIn = Body(default_factory=CreditIn), who: Principal = Depends(principal),
           engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """Issue a credit note (its own CN series); each line is credited at most once. Returns the note."""
    from commands.invoices import CreditInvoice

    positions = tuple(body.positions) if body.positions is not None else None
    note = execute(engine, CreditInvoice(ident, at_of(body.at), who.company, positions, body.reason))
    return show_document(engine, who.company, note.number)


@router.post("/invoices/{ident}/payments", tags=["invoices"])
def pay(ident: str, body: PaymentIn = Body(default_factory=PaymentIn), who: Principal = Depends(principal),
        engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    from commands.invoices import PayInvoice

    inv = execute(engine, PayInvoice(ident, at_of(body.at), who.company, body.amount, body.reference))
    return show_document(engine, who.company, inv.number)


@router.post("/invoices/{ident}/mark-sent", tags=["invoices"])
def mark_sent(ident: str, body: SentIn = Body(default_factory=SentIn), who: Principal = Depends(principal),
              engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    from commands.invoices import MarkSent

    changed = execute(engine, MarkSent(ident, at_of(body.at), who.company, body.channel))
    return {"number": ident, "sent": True, "changed": changed}


@router.get("/outbox", tags=["invoices"])
def outbox(include_sent: bool = False, limit: int = LIMIT, cursor: str | None = None, who: Principal = Depends(principal),
           engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """Issued invoices waiting to be sent (auto-send contracts)."""
    from projections import queries

    return page(engine, limit, cursor, lambda s, p: queries.list_outbox(s.read_engine, include_sent, paging=p, company=who.company))
