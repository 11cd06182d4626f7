"""Customer commands: add, update, approve, set or disable consolidation, bulk import.

Each function takes the :class:`commands.app.Store`, the command's fields and ``at``, its business
instant (aware). It validates everything before it records anything, saves atomically, and retries when
another writer saved the same customer first.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from commands.app import Store
from commands.common import require, retrying
from commands.csvfiles import Problems, parse_bool, parse_int, read_rows, row_error
from domain.base import business_time
from domain.calendar import local_date, parse_date, validate_timezone
from domain.customer import (
    DEFAULT_PAYMENT_TERMS_DAYS,
    Customer,
    customer_id,
    validate_name,
    validate_payment_terms,
    validate_reference,
    validate_summary_attributes,
)
from domain.errors import Conflict
from domain.money import validate_currency
from domain.periods import validate_mode_and_start_day


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


def add_customer(store: Store, cmd: AddCustomer, at: datetime) -> bool:
    """Handle :class:`AddCustomer`; returns True if the customer was created, False if it existed as given."""

    def attempt() -> bool:
        existing = store.get(customer_id(cmd.reference))
        with business_time(at):
            if existing is not None:
                _check_same(existing, cmd)
                return False
            customer = Customer.register(
                cmd.reference,
                cmd.name,
                cmd.timezone,
                cmd.currency,
                cmd.payment_terms_days,
                cmd.approved,
                list(cmd.summary_attributes),
            )
            store.save([customer])
            return True

    _validate_add(cmd)
    return retrying(attempt)


def _validate_add(cmd: AddCustomer) -> None:
    validate_reference(cmd.reference)
    validate_name(cmd.name)
    validate_timezone(cmd.timezone)
    validate_currency(cmd.currency)
    validate_payment_terms(cmd.payment_terms_days)
    validate_summary_attributes(cmd.summary_attributes)


def _check_same(existing: Customer, cmd: AddCustomer) -> None:
    given = {
        "name": validate_name(cmd.name),
        "timezone": cmd.timezone,
        "currency": cmd.currency,
        "payment_terms_days": cmd.payment_terms_days,
        "approved": cmd.approved,
        "summary_attributes": validate_summary_attributes(cmd.summary_attributes),
    }
    for field, value in given.items():
        stored = getattr(existing, field)
        if stored != value:
            raise Conflict(
                field,
                f"customer {existing.reference} already exists with {field} {stored!r}, not {value!r} (use 'customers update')",
            )


def update_customer(
    store: Store,
    reference: str,
    at: datetime,
    *,
    name: str | None = None,
    payment_terms_days: int | None = None,
    summary_attributes: list[str] | None = None,
    timezone: str | None = None,
    currency: str | None = None,
) -> bool:
    """Change a customer's name, payment terms or summary attributes (time zone and currency are fixed).

    Returns True if anything changed. Raises :class:`domain.errors.NotFound` for an unknown reference.
    """

    def attempt() -> bool:
        customer = require(store, customer_id(reference), "customer", f"customer {reference!r}")
        with business_time(at):
            changed = customer.update(
                name=name,
                payment_terms_days=payment_terms_days,
                summary_attributes=summary_attributes,
                timezone=timezone,
                currency=currency,
            )
            store.save([customer])
        return changed

    return retrying(attempt)


def approve_customer(store: Store, reference: str, at: datetime, approved: bool = True) -> bool:
    """Approve (or, with ``approved=False``, withdraw approval of) a customer; True if it changed."""

    def attempt() -> bool:
        customer = require(store, customer_id(reference), "customer", f"customer {reference!r}")
        with business_time(at):
            changed = customer.approve() if approved else customer.withdraw_approval()
            store.save([customer])
        return changed

    return retrying(attempt)


def set_consolidation(
    store: Store, reference: str, mode: str, start_day: int, effective_from: date | None, at: datetime
) -> bool:
    """Consolidate ``reference``'s invoices ``mode`` ("weekly"/"monthly", or "none" to disable) per period
    starting on ``start_day``, from local date ``effective_from`` (default: the local date of ``at``).

    Returns True if anything changed. Disabling ends the running consolidation at ``at``; what it gathered
    is consolidated at the next tick.
    """
    if str(mode).strip().lower() == "none":
        return disable_consolidation(store, reference, at)
    validate_mode_and_start_day(mode, start_day)

    def attempt() -> bool:
        customer = require(store, customer_id(reference), "customer", f"customer {reference!r}")
        frm = effective_from or local_date(at, customer.timezone)
        with business_time(at):
            changed = customer.set_consolidation(mode, start_day, frm)
            store.save([customer])
        return changed

    return retrying(attempt)


def disable_consolidation(store: Store, reference: str, at: datetime) -> bool:
    """End ``reference``'s running consolidation at ``at``; True if one was running."""

    def attempt() -> bool:
        customer = require(store, customer_id(reference), "customer", f"customer {reference!r}")
        with business_time(at):
            changed = customer.disable_consolidation(at)
            store.save([customer])
        return changed

    return retrying(attempt)


# ================================================================================================ import
CUSTOMER_COLUMNS = [
    "reference",
    "name",
    "timezone",
    "currency",
    "payment_terms_days",
    "approved",
    "consolidation",
    "start_day",
    "consolidate_from",
]


@dataclass(frozen=True)
class CustomerRow:
    """One validated row of a customers file (see :func:`import_customers`)."""

    line: int
    reference: str
    name: str
    timezone: str
    currency: str
    payment_terms_days: int
    approved: bool
    consolidation: str  # NONE, WEEKLY or MONTHLY
    start_day: int | None
    consolidate_from: date | None
    summary_attributes: tuple[str, ...] | None


def parse_customer_row(line: int, row: dict[str, str], problems: Problems) -> CustomerRow | None:
    """Validate one row; record every problem in ``problems`` and return None if there is any."""
    before = len(problems.items)
    if (err := row_error(row)) is not None:
        problems.add(line, "row", err)
        return None
    ref = problems.check(line, lambda: validate_reference(row["reference"].strip()))
    name = problems.check(line, lambda: validate_name(row["name"]))
    tz = problems.check(line, lambda: validate_timezone(row["timezone"].strip()))
    cur = problems.check(line, lambda: validate_currency(row["currency"].strip()))
    terms_text = row["payment_terms_days"].strip()
    terms = problems.check(
        line,
        lambda: validate_payment_terms(parse_int(terms_text, "payment_terms_days")) if terms_text else DEFAULT_PAYMENT_TERMS_DAYS,
    )
    approved = problems.check(line, lambda: parse_bool(row["approved"], "approved"))
    mode = row["consolidation"].strip().upper() or "NONE"
    start_day = None
    frm = None
    if mode == "NONE":
        pass
    elif mode in ("WEEKLY", "MONTHLY"):
        sd_text = row["start_day"].strip()
        if not sd_text:
            problems.add(line, "start_day", f"is required for {mode.lower()} consolidation")
        else:
            start_day = problems.check(line, lambda: validate_mode_and_start_day(mode, parse_int(sd_text, "start_day"))[1])
        if row["consolidate_from"].strip():
            frm = problems.check(line, lambda: parse_date(row["consolidate_from"], "consolidate_from"))
    else:
        problems.add(line, "consolidation", f"{row['consolidation']!r} is not one of none, weekly, monthly")
    attrs = None
    if "summary_attributes" in row and row["summary_attributes"].strip():
        attrs = problems.check(
            line, lambda: tuple(validate_summary_attributes(row["summary_attributes"].replace("|", ",").split(",")))
        )
    if len(problems.items) > before:
        return None
    return CustomerRow(line, ref, name, tz, cur, terms, approved, mode, start_day, frm, attrs)


def _apply_row(cust: Customer | None, r: CustomerRow, at: datetime) -> Customer:
    """Bring ``cust`` (None: a new customer) to row ``r`` by recording events on it; returns it."""
    if cust is None:
        cust = Customer.register(
            r.reference, r.name, r.timezone, r.currency, r.payment_terms_days, r.approved, list(r.summary_attributes or ()),
        )
    else:
        cust.update(name=r.name, payment_terms_days=r.payment_terms_days,
                    summary_attributes=list(r.summary_attributes) if r.summary_attributes is not None else None)
        if r.approved:
            cust.approve()
        else:
            cust.withdraw_approval()
    if r.consolidation == "NONE":
        cust.disable_consolidation(at)
    else:
        assert r.start_day is not None
        cust.set_consolidation(r.consolidation, r.start_day, r.consolidate_from or local_date(at, r.timezone))
    return cust


def import_customers(store: Store, path: str, at: datetime, progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Import (create or bring up to date) the customers of CSV file ``path``.

    Columns: ``reference,name,timezone,currency,payment_terms_days,approved,consolidation,start_day,
    consolidate_from`` and optionally ``summary_attributes`` (names separated by ``|``). ``consolidation``
    is none, weekly or monthly; an empty ``consolidate_from`` means the local date of ``at``.

    The whole file is validated first, against the store too (a time zone or currency that differs from an
    existing customer's, a reference given twice); any problem raises :class:`ImportRejected` listing every
    bad row, and nothing is written. Writing is batched and idempotent: importing the same file again
    changes nothing, and after a crash half-way it completes the rest. Returns counts (created, updated,
    unchanged).
    """
    problems = Problems(path)
    rows: list[CustomerRow] = []
    seen: dict[str, int] = {}
    for line, raw in read_rows(path, CUSTOMER_COLUMNS, ["summary_attributes"]):
        parsed = parse_customer_row(line, raw, problems)
        if parsed is None:
            continue
        if parsed.reference in seen:
            problems.add(line, "reference", f"{parsed.reference} is given twice (first on line {seen[parsed.reference]})")
            continue
        seen[parsed.reference] = line
        rows.append(parsed)
    existing = store.load_many([customer_id(r.reference) for r in rows])
    for r in rows:
        current = existing.get(customer_id(r.reference))
        if current is not None:
            if current.timezone != r.timezone:
                problems.add(r.line, "timezone", f"customer {r.reference} has time zone {current.timezone}; it cannot change")
            if current.currency != r.currency:
                problems.add(r.line, "currency", f"customer {r.reference} has currency {current.currency}; it cannot change")
    problems.raise_if_any()
    # Probe every row on a throwaway copy at the import's business time: a domain rule one row breaks
    # (a consolidation date that would rewrite closed periods, the time rule) rejects the file up front.
    with business_time(at):
        for r in rows:
            current = existing.get(customer_id(r.reference))
            problems.check(r.line, lambda: _apply_row(copy.deepcopy(current) if current is not None else None, r, at))
    problems.raise_if_any()

    counts = {"created": 0, "updated": 0, "unchanged": 0}

    def apply_batch(batch: list[CustomerRow]) -> None:
        fresh = store.load_many([customer_id(r.reference) for r in batch])
        touched = []
        outcome = []
        with business_time(at):
            for r in batch:
                created = customer_id(r.reference) not in fresh
                cust = _apply_row(fresh.get(customer_id(r.reference)), r, at)
                outcome.append("created" if created else ("updated" if cust.pending_events else "unchanged"))
                touched.append(cust)
            store.save(touched)
        for o in outcome:
            counts[o] += 1

    for i in range(0, len(rows), 50):
        batch = rows[i : i + 50]
        retrying(lambda: apply_batch(batch))
        if progress:
            progress(len(batch))
    return counts
