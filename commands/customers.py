"""Customer commands (issue 2, on the bus since issue 7): add, update, approve, set or disable
consolidation. The import is :mod:`commands.customer_import`.

Each command is a frozen dataclass with its business instant ``at`` and its ``company``; its handler
validates everything before it records anything (nothing is written on error).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from commands.bus import UnitOfWork, handle, handler
from domain.calendar import local_date, validate_timezone
from domain.customer import (
    DEFAULT_PAYMENT_TERMS_DAYS,
    Customer,
    customer_id,
    validate_name,
    validate_payment_terms,
    validate_reference,
    validate_summary_attributes,
)
from domain.errors import Conflict, ValidationError
from domain.money import validate_currency
from domain.periods import validate_mode_and_start_day
from domain.tenancy import DEFAULT_COMPANY, validate_company


@dataclass(frozen=True)
class AddCustomer:
    """Register a customer. Re-adding one with identical data is a no-op; with different data a
    :class:`Conflict` (use update)."""

    reference: str
    name: str
    timezone: str
    currency: str
    payment_terms_days: int = DEFAULT_PAYMENT_TERMS_DAYS
    approved: bool = False
    summary_attributes: tuple[str, ...] = ()
    at: datetime | None = None
    company: str = DEFAULT_COMPANY


@dataclass(frozen=True)
class UpdateCustomer:
    """Change a customer's name, payment terms or summary attributes (zone and currency are fixed: giving
    another one is a :class:`Conflict`)."""

    reference: str
    at: datetime
    name: str | None = None
    payment_terms_days: int | None = None
    summary_attributes: tuple[str, ...] | None = None
    timezone: str | None = None
    currency: str | None = None
    company: str = DEFAULT_COMPANY
    autopay: bool | None = None


@dataclass(frozen=True)
class ApproveCustomer:
    """Approve a customer for consolidation (``approved=False``: withdraw the approval)."""

    reference: str
    at: datetime
    approved: bool = True
    company: str = DEFAULT_COMPANY


@dataclass(frozen=True)
class SetConsolidation:
    """Consolidate the customer's invoices ``mode`` (weekly, monthly; ``none`` disables it, ending the
    running consolidation at ``at``) per period starting on ``start_day``, from local date
    ``effective_from`` (default: the local date of ``at``)."""

    reference: str
    mode: str
    start_day: int | None
    effective_from: date | None
    at: datetime
    company: str = DEFAULT_COMPANY


def load_customer(uow: UnitOfWork, reference: str, company: str) -> Customer:
    """The customer ``reference`` of ``company``; :class:`NotFound` (field ``customer``) if none."""
    where = "" if company == DEFAULT_COMPANY else f" of company {company}"
    return uow.require(customer_id(reference, company), "customer", f"customer {reference!r}{where}", Customer)


@handler(AddCustomer)
def _add(cmd: AddCustomer, uow: UnitOfWork) -> bool:
    validate_company(cmd.company)
    validate_reference(cmd.reference)
    validate_name(cmd.name)
    validate_timezone(cmd.timezone)
    validate_currency(cmd.currency)
    validate_payment_terms(cmd.payment_terms_days)
    attrs = validate_summary_attributes(cmd.summary_attributes)
    existing = uow.get(customer_id(cmd.reference, cmd.company))
    if existing is not None:
        given = {"name": validate_name(cmd.name), "timezone": cmd.timezone, "currency": cmd.currency,
                 "payment_terms_days": cmd.payment_terms_days, "approved": cmd.approved, "summary_attributes": attrs}
        for field, value in given.items():
            if getattr(existing, field) != value:
                raise Conflict(field, f"customer {existing.reference} already exists with {field} {getattr(existing, field)!r}, "
                                      f"not {value!r} (use 'customers update')")
        return False
    uow.add(Customer.register(cmd.reference, cmd.name, cmd.timezone, cmd.currency, cmd.payment_terms_days,
                              cmd.approved, list(attrs), company=cmd.company))
    return True


@handler(UpdateCustomer)
def _update(cmd: UpdateCustomer, uow: UnitOfWork) -> bool:
    customer = load_customer(uow, cmd.reference, cmd.company)
    attrs = list(cmd.summary_attributes) if cmd.summary_attributes is not None else None
    return customer.update(name=cmd.name, payment_terms_days=cmd.payment_terms_days, summary_attributes=attrs,
                           timezone=cmd.timezone, currency=cmd.currency, autopay=cmd.autopay)


@handler(ApproveCustomer)
def _approve(cmd: ApproveCustomer, uow: UnitOfWork) -> bool:
    customer = load_customer(uow, cmd.reference, cmd.company)
    return customer.approve() if cmd.approved else customer.withdraw_approval()


@handler(SetConsolidation)
def _set_consolidation(cmd: SetConsolidation, uow: UnitOfWork) -> bool:
    none = str(cmd.mode).strip().lower() == "none"
    if not none and cmd.start_day is None:
        raise ValidationError("start_day", f"is required for {str(cmd.mode).strip().lower()} consolidation")
    if none and cmd.start_day is not None:
        raise ValidationError("start_day", "is not used when consolidation is none")
    if not none:
        validate_mode_and_start_day(cmd.mode, cmd.start_day)  # type: ignore[arg-type]
    customer = load_customer(uow, cmd.reference, cmd.company)
    if str(cmd.mode).strip().lower() == "none":
        return customer.disable_consolidation(cmd.at)
    frm = cmd.effective_from or local_date(cmd.at, customer.timezone)
    return customer.set_consolidation(cmd.mode, cmd.start_day, frm)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ the Python API
def add_customer(store: Any, cmd: AddCustomer, at: datetime) -> bool:
    """Handle :class:`AddCustomer` at ``at``; True if created, False if it existed as given."""
    return handle(store, replace(cmd, at=at))


def update_customer(store: Any, reference: str, at: datetime, *, name: str | None = None,
                    payment_terms_days: int | None = None, summary_attributes: list[str] | None = None,
                    timezone: str | None = None, currency: str | None = None, company: str = DEFAULT_COMPANY) -> bool:
    """Handle :class:`UpdateCustomer`; True if anything changed. :class:`NotFound` for an unknown one."""
    attrs = tuple(summary_attributes) if summary_attributes is not None else None
    return handle(store, UpdateCustomer(reference, at, name, payment_terms_days, attrs, timezone, currency, company))


def approve_customer(store: Any, reference: str, at: datetime, approved: bool = True, company: str = DEFAULT_COMPANY) -> bool:
    """Handle :class:`ApproveCustomer`; True if it changed."""
    return handle(store, ApproveCustomer(reference, at, approved, company))


def set_consolidation(store: Any, reference: str, mode: str, start_day: int | None, effective_from: date | None, at: datetime,
                      company: str = DEFAULT_COMPANY) -> bool:
    """Handle :class:`SetConsolidation`; True if anything changed."""
    return handle(store, SetConsolidation(reference, mode, start_day, effective_from, at, company))


def disable_consolidation(store: Any, reference: str, at: datetime, company: str = DEFAULT_COMPANY) -> bool:
    """End ``reference``'s running consolidation at ``at``; True if one was running."""
    return handle(store, SetConsolidation(reference, "none", None, None, at, company))
