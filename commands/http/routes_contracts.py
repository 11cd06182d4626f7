"""``/v1/contracts``: recurring contracts, their positions and run history (issue 7, over the issue 3 bus
commands)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends
from fastapi.responses import JSONResponse
from pydantic import Field

from commands.http.app import Engine, Principal, at_of, engine_of, execute, page, principal, read
from commands.http.models import AT, AtIn, CSV, LIMIT, Strict, optional_date as _date
from domain.errors import NotFound

router = APIRouter()
INTERVALS = "monthly, quarterly, semi-annual or annual"


class PositionIn(Strict):
    position: int = Field(description="Position number, 1-9999, unique per contract")
    description: str
    quantity: str = Field(description="Decimal string, up to 4 places")
    unit_price: str = Field(description="Net unit price, decimal string in the contract's currency")
    tax_rate: str = Field(description="A rate of the company's catalogue by name (standard, reduced, zero, ...) or percentage")
    discountable: bool = True
    attributes: dict[str, Any] | None = None


class ContractIn(Strict):
    reference: str
    customer: str
    name: str
    interval: str = Field(description=INTERVALS)
    start_date: str = Field(description="ISO 8601 date")
    end_date: str | None = Field(default=None, description="Last possible run date")
    next_run_date: str | None = Field(default=None, description="First run date (default: the start date)")
    currency: str | None = Field(default=None, description="ISO 4217 (default: the customer's)")
    payment_terms_days: int | None = None
    auto_finalize: bool = False
    auto_send: bool = False
    positions: list[PositionIn] = Field(default_factory=list)
    at: str | None = AT


class ContractPatch(Strict):
    name: str | None = None
    interval: str | None = Field(default=None, description=INTERVALS)
    start_date: str | None = None
    next_run_date: str | None = None
    payment_terms_days: int | None = None
    auto_finalize: bool | None = None
    auto_send: bool | None = None
    at: str | None = AT


class PositionPatch(Strict):
    description: str | None = None
    quantity: str | None = None
    unit_price: str | None = None
    tax_rate: str | None = None
    discountable: bool | None = None
    attributes: dict[str, Any] | None = None
    at: str | None = AT


class DeactivateIn(Strict):
    reason: str = ""
    at: str | None = AT


class EndIn(Strict):
    end_date: str = Field(description="The last possible run date (ISO 8601)")
    at: str | None = AT


def _attributes(value: dict[str, Any] | None) -> dict | None:
    import json

    from domain.attributes import validate_attributes

    return None if value is None else validate_attributes(json.dumps(value), "attributes")


def show(engine: Engine, company: str, reference: str) -> dict[str, Any]:
    """Contract ``reference`` of ``company`` with its positions (404 when there is none)."""
    from projections import queries

    rows = read(engine, lambda s: queries.list_contracts(s.read_engine, company, reference=reference))
    if not rows:
        raise NotFound("contract", f"no contract {reference!r}")
    return rows[0]


@router.post("/contracts", status_code=201, tags=["contracts"])
def create_contract(body: ContractIn, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> JSONResponse:
    """Create a contract with its positions (the same data again: 200, unchanged; other data: 409)."""
    from commands.contracts import CreateContract, PositionSpec

    positions = tuple(PositionSpec(p.position, p.description, p.quantity, p.unit_price, p.tax_rate, p.discountable,
                                   _attributes(p.attributes)) for p in body.positions)
    cmd = CreateContract(body.reference, who.company, body.customer, body.name, body.interval, _date(body.start_date, "start_date"),
                         _date(body.end_date, "end_date"), _date(body.next_run_date, "next_run_date"), body.currency,
                         body.payment_terms_days, body.auto_finalize, body.auto_send, positions, at_of(body.at))
    created = execute(engine, cmd)
    return JSONResponse(show(engine, who.company, body.reference), status_code=201 if created else 200)


@router.get("/contracts", tags=["contracts"])
def list_contracts(customer: str | None = None, limit: int = LIMIT, cursor: str | None = None,
                   who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    from projections import queries
    from projections.paging import require_known

    read(engine, lambda s: require_known(s.read_engine, customer=customer, company=who.company))
    return page(engine, limit, cursor, lambda s, p: queries.list_contracts(s.read_engine, who.company, customer, paging=p))


@router.get("/contracts/{reference}", tags=["contracts"])
def show_contract(reference: str, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    return show(engine, who.company, reference)


@router.patch("/contracts/{reference}", tags=["contracts"])
def update_contract(reference: str, body: ContractPatch, who: Principal = Depends(principal),
                    engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """Change name, terms or flags; the schedule (interval, start, next run) only before the first run."""
    from commands.contracts import UpdateContract

    changes = {"name": body.name, "interval": body.interval, "start_date": _date(body.start_date, "start_date"),
               "next_run_date": _date(body.next_run_date, "next_run_date"), "payment_terms_days": body.payment_terms_days,
               "auto_finalize": body.auto_finalize, "auto_send": body.auto_send}
    execute(engine, UpdateContract(reference, at_of(body.at), tuple((k, v) for k, v in changes.items() if v is not None), who.company))
    return show(engine, who.company, reference)


@router.post("/contracts/{reference}/positions", status_code=201, tags=["contracts"])
def add_position(reference: str, body: PositionIn, at: str | None = None, who: Principal = Depends(principal),
                 engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    from commands.contracts import AddPosition

    execute(engine, AddPosition(reference, at_of(at), body.position, body.description, body.quantity, body.unit_price,
                                body.tax_rate, body.discountable, _attributes(body.attributes), who.company))
    return show(engine, who.company, reference)


@router.patch("/contracts/{reference}/positions/{position}", tags=["contracts"])
def change_position(reference: str, position: int, body: PositionPatch, who: Principal = Depends(principal),
                    engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    from commands.contracts import ChangePosition

    execute(engine, ChangePosition(reference, at_of(body.at), position, body.description, body.quantity, body.unit_price,
                                   body.tax_rate, body.discountable, _attributes(body.attributes), who.company))
    return show(engine, who.company, reference)


@router.delete("/contracts/{reference}/positions/{position}", tags=["contracts"])
def remove_position(reference: str, position: int, at: str | None = None, who: Principal = Depends(principal),
                    engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    from commands.contracts import RemovePosition

    execute(engine, RemovePosition(reference, at_of(at), position, who.company))
    return show(engine, who.company, reference)


@router.post("/contracts/{reference}/deactivate", tags=["contracts"])
def deactivate(reference: str, body: DeactivateIn = Body(default_factory=DeactivateIn), who: Principal = Depends(principal),
               engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """The tick leaves it alone; runs due while it is inactive are never billed."""
    from commands.contracts import SetContractActive

    execute(engine, SetContractActive(reference, at_of(body.at), False, body.reason, who.company))
    return show(engine, who.company, reference)


@router.post("/contracts/{reference}/reactivate", tags=["contracts"])
def reactivate(reference: str, body: AtIn = Body(default_factory=AtIn), who: Principal = Depends(principal),
               engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """Also releases a contract parked after a failed run; billing goes on with the next run date after it."""
    from commands.contracts import SetContractActive

    execute(engine, SetContractActive(reference, at_of(body.at), True, "", who.company))
    return show(engine, who.company, reference)


@router.post("/contracts/{reference}/end", tags=["contracts"])
def end(reference: str, body: EndIn, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    from commands.contracts import EndContract

    execute(engine, EndContract(reference, at_of(body.at), _date(body.end_date, "end_date"), who.company))
    return show(engine, who.company, reference)


@router.get("/contracts/{reference}/runs", tags=["contracts"])
def runs(reference: str, limit: int = LIMIT, cursor: str | None = None, who: Principal = Depends(principal),
         engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """The run history (audit trail) of the contract, one row per run date."""
    from projections import queries
    from projections.paging import require_known

    read(engine, lambda s: require_known(s.read_engine, contract=reference, company=who.company))
    return page(engine, limit, cursor, lambda s, p: queries.list_runs(s.read_engine, reference, who.company, paging=p))


@router.post("/contracts/import", tags=["contracts"])
def import_contracts(csv_text: str = CSV, at: str | None = None, who: Principal = Depends(principal),
                     engine: Engine = Depends(engine_of)) -> dict[str, int]:
    """Import contracts from a CSV body, one row per position (the columns of ``billing contracts import``);
    all or nothing. A row's ``company`` must be empty or the key's company."""
    from commands.contract_import import ImportContracts
    from commands.http.uploads import as_file

    with as_file(csv_text) as path:
        return execute(engine, ImportContracts(path, at_of(at), who.company, only_company=True))
