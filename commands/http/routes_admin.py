"""``/v1/company``, ``/v1/tax-rates``, ``/v1/api-keys``, ``/v1/tick``, ``/v1/projections`` (issue 7).

Reading the company and its tax rates needs any key of it; changing them, ticking, rebuilding the read
models and managing keys need an admin key. A tick over HTTP does the key's company's work only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import Field

from commands.http.app import Engine, Principal, admin, at_of, engine_of, execute, page, principal, read
from commands.http.models import AT, LIMIT, Strict

router = APIRouter()


class CompanyPatch(Strict):
    name: str | None = None
    timezone: str | None = Field(default=None, description="IANA time zone")
    currency: str | None = Field(default=None, description="Default ISO 4217 currency")
    number_formats: dict[str, str] | None = Field(default=None, description='e.g. {"invoice": "RE:5", "credit_note": "GS"}')
    timesheet_units: str | None = Field(default=None, description="ceil_per_entry, ceil_per_client_day or cms_8_minute")
    at: str | None = AT


class TaxRateIn(Strict):
    name: str
    percent: str = Field(description="0-100, up to 4 decimals, as a decimal string")
    effective_from: str | None = Field(default=None, description="Local date it is in force from (default: the command's date)")
    at: str | None = AT


class ApiKeyIn(Strict):
    admin: bool = False
    label: str = ""
    at: str | None = AT


class TickIn(Strict):
    at: str | None = Field(default=None, description="The tick's instant, ISO 8601 with offset (default: now)")
    dry_run: bool = False
    kind: str | None = Field(default=None, description="Only this kind of work: consolidation, contract, overdue, ...")


class RebuildIn(Strict):
    names: list[str] = Field(default_factory=list, description="Projections to rebuild (default: all)")


# ============================================================================================ company
@router.get("/company", tags=["company"])
def show_company(who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """The key's company: settings, tax rates and number formats."""
    from projections.company_queries import show_company as query

    return read(engine, lambda s: query(s.read_engine, who.company))


@router.patch("/company", tags=["company"])
def set_company(body: CompanyPatch, who: Principal = Depends(admin), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """Change the company's name, zone, default currency or number formats from ``at`` on (never
    retroactively)."""
    from commands.companies import SetCompany
    from domain.number_formats import parse_number_format

    formats = tuple(parse_number_format(f"{k}={v}") for k, v in sorted((body.number_formats or {}).items()))
    execute(engine, SetCompany(who.company, at_of(body.at), body.name, body.timezone, body.currency, formats, body.timesheet_units))
    return show_company(who, engine)


@router.get("/tax-rates", tags=["company"])
def list_tax_rates(on: str | None = Query(None, description="The catalogue in force on this date"), limit: int = LIMIT,
                   cursor: str | None = None, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """The company's tax rates, a page like every list."""
    from domain.calendar import parse_date
    from projections.company_queries import list_tax_rates as query
    from projections.paging import sliced

    day = parse_date(on, "on") if on else None
    return page(engine, limit, cursor, lambda s, p: sliced(query(s.read_engine, who.company, day), p))


@router.post("/tax-rates", status_code=201, tags=["company"])
def add_tax_rate(body: TaxRateIn, who: Principal = Depends(admin), engine: Engine = Depends(engine_of)) -> list[dict[str, Any]]:
    """Add a rate (or a new percentage for a rate's name) to the catalogue; returns the catalogue."""
    from commands.companies import AddTaxRate
    from domain.calendar import parse_date

    frm = parse_date(body.effective_from, "effective_from") if body.effective_from else None
    from projections.company_queries import list_tax_rates as query

    execute(engine, AddTaxRate(who.company, body.name, body.percent, at_of(body.at), frm))
    return read(engine, lambda s: query(s.read_engine, who.company, None))


# ============================================================================================ API keys
@router.get("/api-keys", tags=["api keys"])
def list_keys(limit: int = LIMIT, cursor: str | None = None, who: Principal = Depends(admin),
              engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """The company's keys (never their secrets), a page like every list."""
    from projections.company_queries import list_api_keys
    from projections.paging import sliced

    return page(engine, limit, cursor, lambda s, p: sliced(list_api_keys(s.read_engine, who.company), p))


@router.post("/api-keys", status_code=201, tags=["api keys"])
def create_key(body: ApiKeyIn = Body(default_factory=ApiKeyIn), who: Principal = Depends(admin),
               engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """A new key of the company. The answer holds the key; it is never shown again."""
    from commands.api_keys import new_key
    from domain.text import validate_text

    label = validate_text(body.label, "label", 100)
    at = at_of(body.at)
    key = engine.run(lambda: new_key(engine.store, who.company, at, body.admin, label))
    return {"key": key, "key_id": key.split("_")[1], "company": who.company, "admin": body.admin, "label": label}


@router.post("/api-keys/{key_id}/revoke", tags=["api keys"])
def revoke_key(key_id: str, body: ApiKeyIn | None = None, who: Principal = Depends(admin),
               engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    from commands.api_keys import RevokeApiKey

    changed = execute(engine, RevokeApiKey(key_id, at_of(body.at if body else None), who.company))
    return {"key_id": key_id, "revoked": True, "changed": changed}


# ============================================================================================ tick, projections
@router.post("/tick", tags=["operations"])
def tick(body: TickIn = Body(default_factory=TickIn), who: Principal = Depends(admin), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """Issue everything of the company due at ``at`` (idempotent; catches up missed periods)."""
    from commands.ticking import Tick

    summary = execute(engine, Tick(at_of(body.at), body.dry_run, who.company, body.kind))
    return summary.as_dict()


@router.get("/projections", tags=["operations"])
def projections_status(who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """The event log's head, each read model's position and lag, and the events a projection passed over."""
    from projections import queries, registry

    def go() -> dict[str, Any]:
        head = engine.store.head()
        return {"head": head, "projections": queries.projection_status(engine.store.read_engine, head, [p.name for p in registry.ALL])}

    return engine.run(go)


@router.post("/projections/rebuild", tags=["operations"])
def rebuild(body: RebuildIn = Body(default_factory=RebuildIn), who: Principal = Depends(admin),
            engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """Rebuild read models beside the live ones and swap them in (every company's: the tables are shared)."""
    from domain.errors import Conflict, ValidationError
    from projections import registry
    from projections.rebuild import rebuild_beside
    from projections.runner import ProjectionFailed

    try:
        chosen = [registry.by_name(n) for n in dict.fromkeys(body.names)] if body.names else registry.ALL
    except KeyError as e:
        raise ValidationError("names", str(e.args[0])) from None
    try:
        report = engine.run(lambda: rebuild_beside(engine.store, chosen))
    except ProjectionFailed as e:
        raise Conflict("names", f"rebuild failed, the read models are unchanged: {e}") from None
    return {"rebuilt": [p.name for p in chosen], "head": report.head, "differences": report.differences}
