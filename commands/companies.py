"""Company commands (issue 7): create or update a company (the tenant) and its settings, add tax rates.

Settings take effect from the command's business instant (tax rates from a local date not before it):
never retroactively.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from commands.bus import UnitOfWork, handle, handler
from domain.calendar import local_date
from domain.company import Company, company_id
from domain.money import parse_decimal
from domain.number_formats import NumberFormat
from domain.tenancy import validate_company


@dataclass(frozen=True)
class SetCompany:
    """Create company ``reference`` or change its name, time zone, default currency or number formats
    (``(kind, NumberFormat)`` pairs) from ``at`` on. Returns whether anything changed."""

    reference: str
    at: datetime
    name: str | None = None
    timezone: str | None = None
    currency: str | None = None
    number_formats: tuple[tuple[str, NumberFormat], ...] = ()
    timesheet_units: str | None = None


@dataclass(frozen=True)
class AddTaxRate:
    """Add rate ``name`` at ``percent`` % to ``company``'s catalogue from local date ``effective_from``
    (default: the local date of ``at`` in the company's zone)."""

    company: str
    name: str
    percent: str | Decimal
    at: datetime
    effective_from: date | None = None


@handler(SetCompany)
def _set(cmd: SetCompany, uow: UnitOfWork) -> bool:
    validate_company(cmd.reference)
    company = uow.get(company_id(cmd.reference))
    changed = False
    if company is None:
        company = uow.add(Company.register(cmd.reference, cmd.name, cmd.timezone or "UTC", cmd.currency))
        changed = True
    else:
        changed = company.update(cmd.at, name=cmd.name, timezone=cmd.timezone, currency=cmd.currency)
    for kind, fmt in cmd.number_formats:
        changed = company.set_number_format(kind, fmt, cmd.at) or changed
    if cmd.timesheet_units is not None:
        changed = company.update(cmd.at, timesheet_units=cmd.timesheet_units) or changed
    return changed


@handler(AddTaxRate)
def _add_tax_rate(cmd: AddTaxRate, uow: UnitOfWork) -> bool:
    validate_company(cmd.company)
    company = uow.get(company_id(cmd.company)) or uow.add(Company.register(cmd.company))
    percent = parse_decimal(cmd.percent, "percent")
    effective = cmd.effective_from or local_date(cmd.at, company.timezone_at(cmd.at))
    return company.add_tax_rate(cmd.name, percent, effective, cmd.at)


def set_company(store: Any, reference: str, at: datetime, **settings: Any) -> bool:
    return handle(store, SetCompany(reference, at, **settings))


def add_tax_rate(store: Any, company: str, name: str, percent: str, at: datetime, effective_from: date | None = None) -> bool:
    return handle(store, AddTaxRate(company, name, percent, at, effective_from))
