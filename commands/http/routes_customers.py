"""``/v1/customers``, ``/v1/individual-invoices``, ``/v1/consolidated-invoices`` (issue 7)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import Field

from commands.http.app import Engine, Principal, at_of, engine_of, execute, page, principal, read
from commands.http.models import AT, CSV, LIMIT, PaymentIn, Strict
from domain.errors import NotFound

router = APIRouter()


class CustomerIn(Strict):
    reference: str
    name: str
    timezone: str
    currency: str
    payment_terms_days: int = 30
    approved: bool = False
    summary_attributes: list[str] = Field(default_factory=list)
    at: str | None = AT


class CustomerPatch(Strict):
    name: str | None = None
    payment_terms_days: int | None = None
    summary_attributes: list[str] | None = None
    approved: bool | None = None
    autopay: bool | None = None
    timezone: str | None = None
    currency: str | None = None
    at: str | None = AT


class ConsolidationIn(Strict):
    mode: str = Field(description="weekly, monthly or none")
    start_day: int | None = None
    from_: str | None = Field(default=None, alias="from", description="First local date covered (ISO 8601)")
    at: str | None = AT


class IndividualInvoiceIn(Strict):
    number: str
    customer: str
    issued_at: str
    amount: str
    currency: str
    attributes: dict[str, Any] | None = None
    at: str | None = AT


class CancelIn(Strict):
    reason: str = ""
    at: str | None = AT


class ConsolidatedCreditIn(Strict):
    invoices: list[str] | None = Field(default=None, description="Individual invoice numbers; default: every line not credited yet")
    reason: str = ""
    at: str | None = AT


def _customer(engine: Engine, company: str, reference: str) -> dict[str, Any]:
    from projections import queries

    rows = read(engine, lambda s: queries.list_customers(s.read_engine, reference=reference, company=company))
    if not rows:
        raise NotFound("customer", f"no customer {reference!r}")
    return rows[0]


# ============================================================================================ customers
@router.post("/customers", status_code=201, tags=["customers"])
def add_customer(body: CustomerIn, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> JSONResponse:
    """Register a customer (the same data again: 200, unchanged; other data: 409)."""
    from commands.customers import AddCustomer

    cmd = AddCustomer(body.reference, body.name, body.timezone, body.currency, body.payment_terms_days, body.approved,
                      tuple(body.summary_attributes), at_of(body.at), who.company)
    created = execute(engine, cmd)
    return JSONResponse(_customer(engine, who.company, body.reference), status_code=201 if created else 200)


@router.get("/customers", tags=["customers"])
def list_customers(limit: int = LIMIT, cursor: str | None = None, who: Principal = Depends(principal),
                   engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    from projections import queries

    return page(engine, limit, cursor, lambda s, p: queries.list_customers(s.read_engine, p, company=who.company))


@router.get("/customers/{reference}", tags=["customers"])
def show_customer(reference: str, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    return _customer(engine, who.company, reference)


@router.patch("/customers/{reference}", tags=["customers"])
def update_customer(reference: str, body: CustomerPatch, who: Principal = Depends(principal),
                    engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """Change name, payment terms, summary attributes, autopay or approval (zone and currency are fixed)."""
    from commands.customers import ApproveCustomer, UpdateCustomer

    at = at_of(body.at)
    attrs = tuple(body.summary_attributes) if body.summary_attributes is not None else None
    execute(engine, UpdateCustomer(reference, at, body.name, body.payment_terms_days, attrs, body.timezone, body.currency, who.company,
                                   body.autopay))
    if body.approved is not None:
        execute(engine, ApproveCustomer(reference, at, body.approved, who.company))
    return _customer(engine, who.company, reference)


@router.put("/customers/{reference}/consolidation", tags=["customers"])
def set_consolidation(reference: str, body: ConsolidationIn, who: Principal = Depends(principal),
                      engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """Consolidate weekly (start day 1-7, ISO weekday) or monthly (1-28) from a local date, or stop (none)."""
    from commands.customers import SetConsolidation
    from domain.calendar import parse_date

    frm = parse_date(body.from_, "from") if body.from_ else None
    execute(engine, SetConsolidation(reference, body.mode, body.start_day, frm, at_of(body.at), who.company))
    return _customer(engine, who.company, reference)


@router.post("/customers/import", tags=["customers"])
def import_customers(csv_text: str = CSV, at: str | None = None, who: Principal = Depends(principal),
                     engine: Engine = Depends(engine_of)) -> dict[str, int]:
    """Import customers from a CSV body (the columns of ``billing customers import``); all or nothing."""
    from commands.customer_import import ImportCustomers
    from commands.http.uploads import as_file

    with as_file(csv_text) as path:
        return execute(engine, ImportCustomers(path, at_of(at), who.company))


# ============================================================================================ individual invoices
@router.post("/individual-invoices", status_code=201, tags=["individual invoices"])
def record_invoice(body: IndividualInvoiceIn, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> JSONResponse:
    """Record an invoice issued elsewhere (the same data again: 200, unchanged)."""
    from commands.individual_invoices import RecordInvoices, make_record
    from projections import queries

    cmd = RecordInvoices((make_record(body.number, body.customer, body.issued_at, body.amount, body.currency, body.attributes),),
                         at_of(body.at), who.company)
    counts = execute(engine, cmd)
    rows = read(engine, lambda s: [r for r in queries.list_individual(s.read_engine, body.customer, company=who.company)
                                   if r["number"] == body.number])
    return JSONResponse(rows[0] if rows else {}, status_code=201 if counts["recorded"] else 200)


@router.get("/individual-invoices", tags=["individual invoices"])
def list_individual(customer: str | None = None, from_: str | None = Query(None, alias="from"), to: str | None = None,
                    limit: int = LIMIT, cursor: str | None = None, who: Principal = Depends(principal),
                    engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    from domain.calendar import parse_date
    from projections import queries
    from projections.paging import require_known

    d1 = parse_date(from_, "from") if from_ else None
    d2 = parse_date(to, "to") if to else None
    read(engine, lambda s: require_known(s.read_engine, customer=customer, company=who.company))
    return page(engine, limit, cursor, lambda s, p: queries.list_individual(s.read_engine, customer, d1, d2, paging=p, company=who.company))


@router.post("/individual-invoices/{number}/cancel", tags=["individual invoices"])
def cancel_invoice(number: str, body: CancelIn = Body(default_factory=CancelIn), who: Principal = Depends(principal),
                   engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """Cancel; inside an issued consolidated invoice, its line is credited there."""
    from commands.individual_invoices import CancelIndividualInvoice

    changed = execute(engine, CancelIndividualInvoice(number, at_of(body.at), body.reason, who.company))
    return {"number": number, "cancelled": True, "changed": changed}


@router.post("/individual-invoices/import", tags=["individual invoices"])
def import_invoices(csv_text: str = CSV, at: str | None = None, who: Principal = Depends(principal),
                    engine: Engine = Depends(engine_of)) -> dict[str, int]:
    from commands.http.uploads import as_file
    from commands.individual_invoices import import_invoices as run_import

    with as_file(csv_text) as path:
        return engine.run(lambda: _caught_up(engine, run_import(engine.store, path, at_of(at), company=who.company)))


def _caught_up(engine: Engine, result: Any) -> Any:
    from projections import registry
    from projections import runner as projection_runner

    projection_runner.run(engine.store, registry.ALL)
    return result


# ============================================================================================ consolidated invoices
@router.get("/consolidated-invoices", tags=["consolidated invoices"])
def list_consolidated(customer: str | None = None, status: str | None = None, limit: int = LIMIT, cursor: str | None = None,
                      who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    from projections import queries
    from projections.paging import require_known

    read(engine, lambda s: require_known(s.read_engine, customer=customer, company=who.company))
    return page(engine, limit, cursor, lambda s, p: queries.list_consolidated(s.read_engine, customer, status, paging=p, company=who.company))


@router.get("/consolidated-invoices/summary", tags=["consolidated invoices"])
def consolidated_summary(who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> list[dict[str, Any]]:
    from projections import queries

    return read(engine, lambda s: queries.consolidated_summary(s.read_engine, who.company))


@router.get("/consolidated-invoices/{number}", tags=["consolidated invoices"])
def show_consolidated(number: str, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    from projections import queries

    found = read(engine, lambda s: queries.show_consolidated(s.read_engine, number, who.company))
    if found is None:
        raise NotFound("number", f"no consolidated invoice {number!r}")
    return found


@router.post("/consolidated-invoices/{number}/payments", tags=["consolidated invoices"])
def pay_consolidated(number: str, body: PaymentIn = Body(default_factory=PaymentIn), who: Principal = Depends(principal),
                     engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    from commands.consolidated import PayConsolidated

    execute(engine, PayConsolidated(number, at_of(body.at), body.amount, body.reference, who.company))
    return show_consolidated(number, who, engine)


@router.post("/consolidated-invoices/{number}/credit", status_code=201, tags=["consolidated invoices"])
def credit_consolidated(number: str, body: ConsolidatedCreditIn = Body(default_factory=ConsolidatedCreditIn),
                        who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """Issue a credit note for lines of the consolidated invoice (its company's CN series)."""
    from commands.consolidated import CreditConsolidated
    from commands.http.routes_invoices import show_document

    keys = tuple(body.invoices) if body.invoices is not None else None
    note = execute(engine, CreditConsolidated(number, at_of(body.at), keys, body.reason, who.company))
    return show_document(engine, who.company, note.number)
