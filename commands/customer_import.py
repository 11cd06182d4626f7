"""Importing customers from a CSV file (issue 2; a command on the bus since issue 7).

All-or-nothing: the whole file is validated first, against the store too, and probed on throwaway copies
at the import's business time; any problem rejects the file listing every bad row, and nothing is
written. Writing is batched and idempotent: importing the same file again changes nothing, and after a
crash half-way it completes the rest.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from commands.bus import UnitOfWork, handle, handler, retrying
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
from domain.money import validate_currency
from domain.periods import validate_mode_and_start_day
from domain.tenancy import DEFAULT_COMPANY, validate_company


@dataclass(frozen=True)
class ImportCustomers:
    """Import (create or bring up to date) the customers of CSV file ``path`` into ``company``."""

    path: str
    at: datetime
    company: str = DEFAULT_COMPANY
    progress: Callable[[int], None] | None = field(default=None, compare=False)


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
    autopay: bool | None = None


def parse_customer_row(line: int, row: dict[str, str], problems: Problems) -> CustomerRow | None:
    """Validate one row; record every problem in ``problems`` and return None if there is any."""
    before = len(problems.items)
    if (err := row_error(row)) is not None:
        problems.add(line, "row", err)
        return None
    ref = problems.check(line, lambda: validate_reference(row["reference"]))  # blanks around it are refused, as on the command line
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
    autopay = None
    if "autopay" in row and row["autopay"].strip():
        autopay = problems.check(line, lambda: parse_bool(row["autopay"], "autopay"))
    if len(problems.items) > before:
        return None
    return CustomerRow(line, ref, name, tz, cur, terms, approved, mode, start_day, frm, attrs, autopay)


def _apply_row(cust: Customer | None, r: CustomerRow, at: datetime, company: str) -> Customer:
    """Bring ``cust`` (None: a new customer) to row ``r`` by recording events on it; returns it."""
    if cust is None:
        cust = Customer.register(
            r.reference, r.name, r.timezone, r.currency, r.payment_terms_days, r.approved, list(r.summary_attributes or ()),
            company=company,
        )
        if r.autopay:
            cust.update(autopay=True)
    else:
        cust.update(name=r.name, payment_terms_days=r.payment_terms_days,
                    summary_attributes=list(r.summary_attributes) if r.summary_attributes is not None else None,
                    autopay=r.autopay)
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


@handler(ImportCustomers)
def _import(cmd: ImportCustomers, uow: UnitOfWork) -> dict[str, int]:
    """Import (create or bring up to date) the customers of CSV file ``path``.

    Columns: ``reference,name,timezone,currency,payment_terms_days,approved,consolidation,start_day,
    consolidate_from`` and optionally ``summary_attributes`` (names separated by ``|``) and ``autopay``
    (true/false; empty: unchanged, off for a new customer). ``consolidation``
    is none, weekly or monthly; an empty ``consolidate_from`` means the local date of ``at``.

    The whole file is validated first, against the store too (a time zone or currency that differs from an
    existing customer's, a reference given twice); any problem raises :class:`ImportRejected` listing every
    bad row, and nothing is written. Writing is batched and idempotent: importing the same file again
    changes nothing, and after a crash half-way it completes the rest. Returns counts (created, updated,
    unchanged).
    """
    store, path, at, company, progress = uow.store, cmd.path, cmd.at, validate_company(cmd.company), cmd.progress
    problems = Problems(path)
    rows: list[CustomerRow] = []
    seen: dict[str, int] = {}
    for line, raw in read_rows(path, CUSTOMER_COLUMNS, ["summary_attributes", "autopay"]):
        parsed = parse_customer_row(line, raw, problems)
        if parsed is None:
            continue
        if parsed.reference in seen:
            problems.add(line, "reference", f"{parsed.reference} is given twice (first on line {seen[parsed.reference]})")
            continue
        seen[parsed.reference] = line
        rows.append(parsed)
    existing = store.load_many([customer_id(r.reference, company) for r in rows])
    for r in rows:
        current = existing.get(customer_id(r.reference, company))
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
            current = existing.get(customer_id(r.reference, company))
            problems.check(r.line, lambda: _apply_row(copy.deepcopy(current) if current is not None else None, r, at, company))
    problems.raise_if_any()

    counts = {"created": 0, "updated": 0, "unchanged": 0}

    def apply_batch(batch: list[CustomerRow]) -> None:
        fresh = store.load_many([customer_id(r.reference, company) for r in batch])
        touched = []
        outcome = []
        with business_time(at):
            for r in batch:
                created = customer_id(r.reference, company) not in fresh
                cust = _apply_row(fresh.get(customer_id(r.reference, company)), r, at, company)
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


def import_customers(store: Any, path: str, at: datetime, progress: Callable[[int], None] | None = None,
                     company: str = DEFAULT_COMPANY) -> dict[str, int]:
    """Handle :class:`ImportCustomers`; returns counts (created, updated, unchanged)."""
    return handle(store, ImportCustomers(path, at, company, progress))
