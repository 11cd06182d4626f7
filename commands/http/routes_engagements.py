"""``/v1/engagements``: engagements and their package fees (issue 8, over the bus commands of
:mod:`commands.engagements`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import Field

from commands.http.app import Engine, Principal, at_of, engine_of, execute, page, principal, read
from commands.http.models import AT, CSV, LIMIT, Strict, optional_date as _date
from domain.errors import NotFound

router = APIRouter()


class EngagementIn(Strict):
    reference: str
    customer: str = Field(description="The client: a customer of the key's company")
    name: str
    pricing: str = Field(default="package", description="package, hourly or mixed")
    fee: str | None = Field(default=None, description="Fee per period, decimal string in the currency (package, mixed)")
    schedule: str | None = Field(default=None, description="monthly, quarterly, annual or one_time (package, mixed)")
    start_date: str = Field(description="First day, ISO 8601 date")
    end_date: str | None = Field(default=None, description="Last day, inclusive (required for one_time)")
    proration: str = Field(default="full", description="full or prorate_days")
    currency: str | None = Field(default=None, description="ISO 4217 (default: the customer's)")
    tax_rate: str | None = Field(default=None, description="A rate of the company's catalogue (default: standard; zero for hourly)")
    payment_terms_days: int | None = None
    at: str | None = AT


class EngagementPatch(Strict):
    name: str | None = None
    fee: str | None = Field(default=None, description="For the periods not billed yet")
    tax_rate: str | None = None
    payment_terms_days: int | None = None
    at: str | None = AT


class EndIn(Strict):
    end_date: str = Field(description="Last day of the current term, inclusive (ISO 8601)")
    at: str | None = AT


class RenewIn(Strict):
    end_date: str = Field(description="Last day of the new term, inclusive (ISO 8601)")
    fee: str | None = Field(default=None, description="Fee of the new term (default: the current one)")
    at: str | None = AT


def show(engine: Engine, company: str, reference: str) -> dict[str, Any]:
    """Engagement ``reference`` of ``company`` with its terms and billed periods (404 when there is none)."""
    from projections.engagement_queries import list_engagements

    rows = read(engine, lambda s: list_engagements(s.read_engine, company, reference=reference, with_periods=True))
    if not rows:
        raise NotFound("engagement", f"no engagement {reference!r}")
    return rows[0]


@router.post("/engagements", status_code=201, tags=["engagements"])
def create_engagement(body: EngagementIn, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> JSONResponse:
    """Create an engagement (the same data again: 200, unchanged; other data: 409)."""
    from commands.engagements import CreateEngagement

    cmd = CreateEngagement(body.reference, body.customer, body.name, body.pricing, _date(body.start_date, "start_date"),
                           at_of(body.at), who.company, _date(body.end_date, "end_date"), body.fee, body.currency,
                           body.schedule, body.proration, body.tax_rate, body.payment_terms_days)
    created = execute(engine, cmd)
    return JSONResponse(show(engine, who.company, body.reference), status_code=201 if created else 200)


@router.get("/engagements", tags=["engagements"])
def list_engagements(customer: str | None = None, limit: int = LIMIT, cursor: str | None = None,
                     who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    from projections import engagement_queries
    from projections.paging import require_known

    read(engine, lambda s: require_known(s.read_engine, customer=customer, company=who.company))
    return page(engine, limit, cursor, lambda s, p: engagement_queries.list_engagements(s.read_engine, who.company, customer, paging=p))


@router.get("/engagements/{reference}", tags=["engagements"])
def show_engagement(reference: str, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    return show(engine, who.company, reference)


@router.patch("/engagements/{reference}", tags=["engagements"])
def update_engagement(reference: str, body: EngagementPatch, who: Principal = Depends(principal),
                      engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    from commands.engagements import UpdateEngagement

    execute(engine, UpdateEngagement(reference, at_of(body.at), who.company, body.name, body.payment_terms_days, body.tax_rate, body.fee))
    return show(engine, who.company, reference)


@router.post("/engagements/{reference}/end", tags=["engagements"])
def end_engagement(reference: str, body: EndIn, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    from commands.engagements import EndEngagement

    execute(engine, EndEngagement(reference, _date(body.end_date, "end_date"), at_of(body.at), who.company))
    return show(engine, who.company, reference)


@router.post("/engagements/{reference}/renew", tags=["engagements"])
def renew_engagement(reference: str, body: RenewIn, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """A new term from the current end + 1 day; invoices already issued are never touched."""
    from commands.engagements import RenewEngagement

    execute(engine, RenewEngagement(reference, _date(body.end_date, "end_date"), at_of(body.at), who.company, body.fee))
    return show(engine, who.company, reference)


@router.post("/engagements/import", tags=["engagements"])
def import_engagements(csv_text: str = CSV, at: str | None = None, who: Principal = Depends(principal),
                       engine: Engine = Depends(engine_of)) -> dict[str, int]:
    """Import engagements from a CSV body (the columns of ``billing engagements import``); all or nothing."""
    from commands.engagements import ImportEngagements
    from commands.http.uploads import as_file

    with as_file(csv_text) as path:
        return execute(engine, ImportEngagements(path, at_of(at), who.company))
