"""Engagement commands (issue 8): create, update, end, renew, and the CSV import.

An engagement belongs to a company (the firm) and bills one of its customers (the client). Its zone is the
company's at the command's instant (UTC for a company never set), snapshotted: package fees fall due at the
local start of each period in it. Its tax rate is a rate of the company's catalogue on the command's local
date, by name or percentage (default ``zero`` for hourly engagements, care services; ``standard`` for
fees), snapshotted too: invoices use the rate the engagement names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from commands.bus import UnitOfWork, handler
from commands.csvfiles import Problems, distinct_rows, parse_int
from commands.customers import load_customer
from commands.numbering import company_of
from domain.calendar import local_date, parse_date
from domain.company import company_timezone_at, tax_rate_on
from domain.customer import customer_id
from domain.engagement import HOURLY, Engagement, engagement_id, validate_pricing
from domain.errors import Conflict
from domain.tenancy import DEFAULT_COMPANY, validate_company
from domain.text import validate_reference


@dataclass(frozen=True)
class CreateEngagement:
    """Create engagement ``reference`` of ``company`` with its customer ``customer`` (see
    :class:`domain.engagement.Engagement`). ``currency`` and ``payment_terms_days`` None mean the
    customer's; ``tax_rate`` None the default of the module docstring. Re-creating with identical data is a
    no-op; with different data a :class:`Conflict` (use update, end or renew)."""

    reference: str
    customer: str
    name: str
    pricing: str
    start_date: date
    at: datetime
    company: str = DEFAULT_COMPANY
    end_date: date | None = None
    fee: str | None = None
    currency: str | None = None
    schedule: str | None = None
    proration: str = "full"
    tax_rate: str | None = None
    payment_terms_days: int | None = None


@dataclass(frozen=True)
class UpdateEngagement:
    """Change name, payment terms, tax rate or fee (of periods not billed yet)."""

    reference: str
    at: datetime
    company: str = DEFAULT_COMPANY
    name: str | None = None
    payment_terms_days: int | None = None
    tax_rate: str | None = None
    fee: str | None = None


@dataclass(frozen=True)
class EndEngagement:
    """End the engagement's current term on ``end_date`` (inclusive)."""

    reference: str
    end_date: date
    at: datetime
    company: str = DEFAULT_COMPANY


@dataclass(frozen=True)
class RenewEngagement:
    """A new term from the current end + 1 day to ``end_date`` (inclusive), at ``fee`` (default: the current)."""

    reference: str
    end_date: date
    at: datetime
    company: str = DEFAULT_COMPANY
    fee: str | None = None


@dataclass(frozen=True)
class ImportEngagements:
    """Import engagements from CSV file ``path`` (columns :data:`ENGAGEMENT_COLUMNS`; all or nothing)."""

    path: str
    at: datetime
    company: str = DEFAULT_COMPANY


ENGAGEMENT_COLUMNS = ["reference", "customer", "name", "pricing", "fee", "currency", "schedule", "start", "end",
                      "proration", "tax_rate", "payment_terms_days"]
_COMPARED = ("customer_reference", "name", "pricing", "currency", "timezone", "payment_terms_days", "tax_rate", "tax_percent",
             "schedule", "proration", "terms")


def load_engagement(uow: UnitOfWork, reference: str, company: str) -> Engagement:
    """Engagement ``reference`` of ``company``; :class:`NotFound` (field ``engagement``) if none."""
    where = "" if company == DEFAULT_COMPANY else f" of company {company}"
    return uow.require(engagement_id(reference, company), "engagement", f"engagement {reference!r}{where}", Engagement)


def build_engagement(cmd: CreateEngagement, customer: Any, company: Any, at: datetime) -> Engagement:
    """The engagement ``cmd`` describes (recorded on a new aggregate, unsaved). ``company`` is the company
    aggregate (None: never set)."""
    name = cmd.tax_rate if cmd.tax_rate not in (None, "") else ("zero" if validate_pricing(cmd.pricing) == HOURLY else "standard")
    zone = company_timezone_at(company, at)
    rate = tax_rate_on(company, name, local_date(at, zone))
    return Engagement.create(
        reference=cmd.reference, company=cmd.company, customer_id=customer.id, customer_reference=customer.reference,
        name=cmd.name, pricing=cmd.pricing, currency=cmd.currency or customer.currency, timezone=zone,
        start_date=cmd.start_date, end_date=cmd.end_date,
        payment_terms_days=customer.payment_terms_days if cmd.payment_terms_days is None else cmd.payment_terms_days,
        tax_rate=rate.name, tax_percent=rate.percent, fee=cmd.fee, schedule=cmd.schedule, proration=cmd.proration or "full",
    )


def _check_same(existing: Engagement, new: Engagement) -> None:
    for f in _COMPARED:
        if getattr(existing, f) != getattr(new, f):
            shown = "its terms" if f == "terms" else f"{f} {getattr(existing, f)!r}"
            raise Conflict(f if f != "terms" else "end_date",
                           f"engagement {existing.reference} already exists with {shown}; use update, end or renew")


def _create_or_check(uow: UnitOfWork, cmd: CreateEngagement) -> bool:
    validate_company(cmd.company)
    validate_reference(cmd.reference)
    customer = load_customer(uow, cmd.customer, cmd.company)
    engagement = build_engagement(cmd, customer, company_of(uow, cmd.company), uow.at)
    existing = uow.get(engagement.id)
    if existing is not None:
        _check_same(existing, engagement)
        return False
    uow.add(engagement)
    return True


@handler(CreateEngagement)
def _create(cmd: CreateEngagement, uow: UnitOfWork) -> bool:
    return _create_or_check(uow, cmd)


@handler(UpdateEngagement)
def _update(cmd: UpdateEngagement, uow: UnitOfWork) -> bool:
    engagement = load_engagement(uow, cmd.reference, cmd.company)
    changes: dict[str, Any] = {"name": cmd.name, "payment_terms_days": cmd.payment_terms_days, "fee": cmd.fee}
    if cmd.tax_rate is not None:
        co = company_of(uow, cmd.company)
        rate = tax_rate_on(co, cmd.tax_rate, local_date(uow.at, company_timezone_at(co, uow.at)))
        changes.update(tax_rate=rate.name, tax_percent=rate.percent)
    return engagement.update(**changes)


@handler(EndEngagement)
def _end(cmd: EndEngagement, uow: UnitOfWork) -> bool:
    return load_engagement(uow, cmd.reference, cmd.company).end(parse_date(cmd.end_date, "end_date"))


@handler(RenewEngagement)
def _renew(cmd: RenewEngagement, uow: UnitOfWork) -> None:
    load_engagement(uow, cmd.reference, cmd.company).renew(parse_date(cmd.end_date, "end_date"), cmd.fee)


@handler(ImportEngagements)
def _import(cmd: ImportEngagements, uow: UnitOfWork) -> dict[str, int]:
    """Every row is one engagement of the command's company (columns :data:`ENGAGEMENT_COLUMNS`; an empty
    cell means the default: the customer's currency and terms, no end, ``full`` proration, the default tax
    rate). All-or-nothing: every row is checked first (against the store too: unknown customers, an
    existing engagement with other data); any problem raises :class:`ImportRejected` listing every bad row
    and nothing is written. Idempotent: importing the same file again changes nothing. Returns counts
    (created, unchanged)."""
    company = validate_company(cmd.company)
    problems = Problems(cmd.path)
    rows = distinct_rows(cmd.path, ENGAGEMENT_COLUMNS, "reference", problems)
    store = uow.store
    customers = store.load_many(sorted({customer_id(r["customer"].strip(), company) for _l, r in rows if r["customer"].strip()}))
    existing = store.load_many([engagement_id(r["reference"].strip(), company) for _l, r in rows if r["reference"].strip()])
    co = company_of(uow, company)
    counts = {"created": 0, "unchanged": 0}
    new: list[Engagement] = []
    for line, row in rows:
        def build(row: dict[str, str] = row) -> Engagement:
            ref = validate_reference(row["reference"].strip())
            cust_ref = validate_reference(row["customer"].strip(), "customer")
            customer = customers.get(customer_id(cust_ref, company))
            if customer is None:
                from domain.errors import NotFound

                raise NotFound("customer", f"no customer {cust_ref!r} of company {company}")
            terms = row["payment_terms_days"].strip()
            c = CreateEngagement(
                reference=ref, customer=cust_ref, name=row["name"].strip(), pricing=row["pricing"].strip(),
                start_date=parse_date(row["start"], "start"), at=cmd.at, company=company,
                end_date=parse_date(row["end"], "end") if row["end"].strip() else None,
                fee=row["fee"].strip() or None, currency=row["currency"].strip() or None,
                schedule=row["schedule"].strip() or None, proration=row["proration"].strip() or "full",
                tax_rate=row["tax_rate"].strip() or None,
                payment_terms_days=parse_int(terms, "payment_terms_days") if terms else None,
            )
            engagement = build_engagement(c, customer, co, cmd.at)
            current = existing.get(engagement.id)
            if current is not None:
                _check_same(current, engagement)
                return current
            return engagement

        got = problems.check(line, build)
        if got is None:
            continue
        if got.id in existing:
            counts["unchanged"] += 1
        else:
            new.append(got)
    problems.raise_if_any()
    for engagement in new:
        uow.add(engagement)
        counts["created"] += 1
    return counts
