"""Contract commands (issue 3; on the bus since issue 7): create, update, positions, deactivate and
reactivate, end. The import is :mod:`commands.contract_import`.

A contract belongs to a company (the tenant, its issuer) and bills a customer of that company. Tax rates
of positions are resolved in the company's catalogue as of the command's business date (its local date in
the company's zone) and snapshotted on the position.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from commands.bus import UnitOfWork, handle, handler
from commands.customers import load_customer
from commands.numbering import company_of
from domain.calendar import local_date
from domain.company import company_timezone_at, tax_rate_on
from domain.contract import Contract, contract_id, make_position
from domain.errors import Conflict, ValidationError
from domain.money import validate_currency
from domain.schedules import validate_interval
from domain.tax import TaxRate
from domain.tenancy import DEFAULT_COMPANY, validate_company
from domain.text import validate_reference


@dataclass(frozen=True)
class PositionSpec:
    """A position as a caller gives it (the HTTP API): its tax rate by name or percentage, resolved in the
    company's catalogue when the contract is created (see :func:`resolve_tax_rate`)."""

    position: int
    description: str
    quantity: str
    unit_price: str
    tax_rate: str
    discountable: bool = True
    attributes: dict | None = field(default=None, compare=False)


@dataclass(frozen=True)
class CreateContract:
    """Create a contract of ``company`` billing its customer ``customer``. ``currency`` and
    ``payment_terms_days`` None mean the customer's. Re-creating with identical data is a no-op; with
    different data a :class:`Conflict` (use update)."""

    reference: str
    company: str
    customer: str
    name: str
    interval: str
    start_date: date
    end_date: date | None = None
    next_run_date: date | None = None
    currency: str | None = None
    payment_terms_days: int | None = None
    auto_finalize: bool = False
    auto_send: bool = False
    positions: tuple[dict | PositionSpec, ...] = field(default_factory=tuple)
    at: datetime | None = None


@dataclass(frozen=True)
class UpdateContract:
    """Change a contract's fields (see :meth:`Contract.update`)."""

    reference: str
    at: datetime
    changes: tuple[tuple[str, Any], ...]
    company: str | None = DEFAULT_COMPANY


@dataclass(frozen=True)
class AddPosition:
    """Add a position (contract line); unit price in the contract's currency, tax rate by name or percent."""

    reference: str
    at: datetime
    position: int
    description: str
    quantity: str
    unit_price: str
    tax_rate: str
    discountable: bool = True
    attributes: dict | None = field(default=None, compare=False)
    company: str | None = DEFAULT_COMPANY


@dataclass(frozen=True)
class ChangePosition:
    """Change the given fields of an existing position."""

    reference: str
    at: datetime
    position: int
    description: str | None = None
    quantity: str | None = None
    unit_price: str | None = None
    tax_rate: str | None = None
    discountable: bool | None = None
    attributes: dict | None = field(default=None, compare=False)
    company: str | None = DEFAULT_COMPANY


@dataclass(frozen=True)
class RemovePosition:
    reference: str
    at: datetime
    position: int
    company: str | None = DEFAULT_COMPANY


@dataclass(frozen=True)
class SetContractActive:
    """Deactivate (``active=False``) or reactivate a contract (reactivating also unparks it; runs due while
    it was inactive are never billed)."""

    reference: str
    at: datetime
    active: bool
    reason: str = ""
    company: str | None = DEFAULT_COMPANY


@dataclass(frozen=True)
class EndContract:
    """End a contract on ``end_date`` (its last possible run date)."""

    reference: str
    at: datetime
    end_date: date
    company: str | None = DEFAULT_COMPANY


def load_contract(uow: UnitOfWork, reference: str, company: str | None) -> Contract:
    """Contract ``reference`` of ``company``. The Python API may pass ``company=None``: the one company
    that has such a contract (found in the read model, brought up to date first)."""
    if company is None:
        company = _company_of_contract(uow.store, reference)
    where = "" if company == DEFAULT_COMPANY else f" of company {company}"
    return uow.require(contract_id(reference, company), "contract", f"contract {reference!r}{where}", Contract)


def _company_of_contract(store: Any, reference: str) -> str:
    import sqlalchemy as sa

    from projections import registry
    from projections import runner as projection_runner
    from projections.tables import contracts

    projection_runner.run(store, registry.ALL)
    with store.read_engine.connect() as conn:
        found = sorted(r.company for r in conn.execute(sa.select(contracts.c.company).where(contracts.c.reference == reference)))
    if len(found) > 1:
        raise ValidationError("company", f"contract {reference} exists for companies {', '.join(found)}; name one")
    return found[0] if found else DEFAULT_COMPANY


def resolve_tax_rate(uow: UnitOfWork, company: str, given: str | TaxRate) -> TaxRate:
    """The rate named (or with the percentage) ``given`` in ``company``'s catalogue on the command's date."""
    if isinstance(given, TaxRate):
        return given
    co = company_of(uow, company)
    return tax_rate_on(co, given, local_date(uow.at, company_timezone_at(co, uow.at)))


def build_contract(cmd: CreateContract, customer: Any) -> Contract:
    """The contract ``cmd`` describes, for ``customer`` (recorded on a new aggregate, unsaved)."""
    currency = cmd.currency or customer.currency
    validate_currency(currency)
    return Contract.create(
        reference=cmd.reference, company=cmd.company, customer_id=customer.id, customer_reference=customer.reference,
        name=cmd.name, currency=currency, timezone=customer.timezone, interval=cmd.interval, start_date=cmd.start_date,
        end_date=cmd.end_date, next_run_date=cmd.next_run_date,
        payment_terms_days=customer.payment_terms_days if cmd.payment_terms_days is None else cmd.payment_terms_days,
        auto_finalize=cmd.auto_finalize, auto_send=cmd.auto_send, positions=list(cmd.positions),
    )


@handler(CreateContract)
def _create(cmd: CreateContract, uow: UnitOfWork) -> bool:
    validate_company(cmd.company)
    validate_reference(cmd.reference)
    customer = load_customer(uow, cmd.customer, cmd.company)
    if any(isinstance(p, PositionSpec) for p in cmd.positions):
        currency = cmd.currency or customer.currency
        validate_currency(currency)
        cmd = replace(cmd, positions=tuple(
            make_position(p.position, p.description, p.quantity, p.unit_price, resolve_tax_rate(uow, cmd.company, p.tax_rate),
                          currency, p.discountable, p.attributes) if isinstance(p, PositionSpec) else p
            for p in cmd.positions))
    contract = build_contract(cmd, customer)
    existing = uow.get(contract.id)
    if existing is not None:
        _check_same(existing, contract)
        return False
    uow.add(contract)
    return True


def _check_same(existing: Contract, new: Contract) -> None:
    for f in ("company", "customer_reference", "name", "currency", "interval", "start_date", "end_date",
              "payment_terms_days", "auto_finalize", "auto_send"):
        if getattr(existing, f) != getattr(new, f):
            raise Conflict(f, f"contract {existing.reference} already exists with {f} {getattr(existing, f)!r}, not {getattr(new, f)!r}")
    if existing.runs == 0 and existing.next_run_date != new.next_run_date:
        raise Conflict("next_run_date", f"contract {existing.reference} already exists with next run {existing.next_run_date}")
    if existing.positions != new.positions:
        raise Conflict("positions", f"contract {existing.reference} already exists with other positions")


@handler(UpdateContract)
def _update(cmd: UpdateContract, uow: UnitOfWork) -> bool:
    changes = dict(cmd.changes)
    if changes.get("interval") is not None:
        changes["interval"] = validate_interval(str(changes["interval"]))
    return load_contract(uow, cmd.reference, cmd.company).update(**changes)


@handler(AddPosition)
def _add_position(cmd: AddPosition, uow: UnitOfWork) -> None:
    contract = load_contract(uow, cmd.reference, cmd.company)
    rate = resolve_tax_rate(uow, contract.company, cmd.tax_rate)
    contract.add_position(make_position(cmd.position, cmd.description, cmd.quantity, cmd.unit_price, rate,
                                        contract.currency, cmd.discountable, cmd.attributes))


@handler(ChangePosition)
def _change_position(cmd: ChangePosition, uow: UnitOfWork) -> bool:
    contract = load_contract(uow, cmd.reference, cmd.company)
    if cmd.position not in contract.positions:
        raise ValidationError("position", f"{cmd.position} is not a position of contract {cmd.reference}")
    cur = contract.positions[cmd.position]
    rate = (resolve_tax_rate(uow, contract.company, cmd.tax_rate) if cmd.tax_rate is not None
            else TaxRate(cur["tax_rate"], cur["tax_percent"]))
    p = make_position(
        cmd.position,
        cmd.description if cmd.description is not None else cur["description"],
        cmd.quantity if cmd.quantity is not None else cur["quantity"],
        cmd.unit_price if cmd.unit_price is not None else cur["unit_price"],
        rate,
        contract.currency,
        cur["discountable"] if cmd.discountable is None else cmd.discountable,
        cur["attributes"] if cmd.attributes is None else cmd.attributes,
    )
    return contract.change_position(p)


@handler(RemovePosition)
def _remove_position(cmd: RemovePosition, uow: UnitOfWork) -> None:
    load_contract(uow, cmd.reference, cmd.company).remove_position(cmd.position)


@handler(SetContractActive)
def _set_active(cmd: SetContractActive, uow: UnitOfWork) -> bool:
    contract = load_contract(uow, cmd.reference, cmd.company)
    return contract.reactivate() if cmd.active else contract.deactivate(cmd.reason)


@handler(EndContract)
def _end(cmd: EndContract, uow: UnitOfWork) -> None:
    load_contract(uow, cmd.reference, cmd.company).end(cmd.end_date)


# ------------------------------------------------------------------------------------ the Python API
def create_contract(store: Any, cmd: CreateContract, at: datetime) -> bool:
    """Handle :class:`CreateContract` at ``at``; True if created, False if it existed with the same data.

    Raises :class:`NotFound` for an unknown customer (of the contract's company), :class:`ValidationError`
    for bad fields (end before start, next run before start, unknown currency or interval, duplicate
    position numbers)."""
    return handle(store, replace(cmd, at=at))


def update_contract(store: Any, reference: str, at: datetime, company: str | None = None, **changes: object) -> bool:
    """Change a contract's fields (see :meth:`Contract.update`); True if anything changed."""
    return handle(store, UpdateContract(reference, at, tuple(changes.items()), company))


def add_position(store: Any, reference: str, at: datetime, *, position: int, description: str, quantity: str,
                 unit_price: str, tax_rate: str, discountable: bool = True, attributes: dict | None = None,
                 company: str | None = None) -> None:
    """Add a position to contract ``reference`` (unit price in the contract's currency)."""
    handle(store, AddPosition(reference, at, position, description, quantity, unit_price, tax_rate, discountable, attributes, company))


def change_position(store: Any, reference: str, at: datetime, *, position: int, description: str | None = None,
                    quantity: str | None = None, unit_price: str | None = None, tax_rate: str | None = None,
                    discountable: bool | None = None, attributes: dict | None = None, company: str | None = None) -> bool:
    """Change fields of an existing position (those given); True if it changed."""
    return handle(store, ChangePosition(reference, at, position, description, quantity, unit_price, tax_rate,
                                        discountable, attributes, company))


def remove_position(store: Any, reference: str, at: datetime, position: int, company: str | None = None) -> None:
    handle(store, RemovePosition(reference, at, position, company))


def set_active(store: Any, reference: str, at: datetime, active: bool, reason: str = "", company: str | None = None) -> bool:
    """Deactivate (``active=False``) or reactivate a contract (reactivating also unparks it)."""
    return handle(store, SetContractActive(reference, at, active, reason, company))


def end_contract(store: Any, reference: str, at: datetime, end_date: date, company: str | None = None) -> None:
    handle(store, EndContract(reference, at, end_date, company))
