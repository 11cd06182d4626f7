"""Importing contracts from a CSV file, one row per position (issue 3; a command on the bus since issue 7).

Each row's ``company`` column names the contract's company (empty: the command's); its ``customer`` is a
customer of that company. All-or-nothing and idempotent, like every import.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from commands.bus import UnitOfWork, handle, handler, retrying
from commands.contracts import CreateContract, build_contract
from commands.csvfiles import Problems, parse_bool, parse_int, read_rows, row_error
from domain.attributes import validate_attributes
from domain.base import business_time
from domain.calendar import local_date, parse_date
from domain.company import company_id, company_timezone_at, tax_rate_on
from domain.contract import Contract, contract_id, make_position
from domain.customer import customer_id
from domain.errors import Conflict
from domain.money import validate_currency
from domain.schedules import validate_interval
from domain.tenancy import DEFAULT_COMPANY, validate_company
from domain.text import validate_reference


@dataclass(frozen=True)
class ImportContracts:
    """Import the contracts of CSV file ``path`` (see :func:`import_contracts`). With ``only_company`` (the
    HTTP API: a key sees one company), a row naming another company than ``company`` is refused."""

    path: str
    at: datetime
    company: str = DEFAULT_COMPANY
    progress: Callable[[int], None] | None = field(default=None, compare=False)
    only_company: bool = False


CONTRACT_COLUMNS = [
    "reference", "company", "customer", "name", "interval", "start_date", "end_date", "next_run_date", "currency",
    "payment_terms_days", "auto_finalize", "auto_send", "position", "description", "quantity", "unit_price",
    "tax_rate", "discountable", "attributes",
]
CONTRACT_FIELDS = CONTRACT_COLUMNS[:12]


def import_contracts(store: Any, path: str, at: datetime, progress: Callable[[int], None] | None = None,
                     company: str = DEFAULT_COMPANY) -> dict[str, int]:
    """Handle :class:`ImportContracts`; returns counts (created, updated, unchanged)."""
    return handle(store, ImportContracts(path, at, company, progress))


@handler(ImportContracts)
def _import(cmd: ImportContracts, uow: UnitOfWork) -> dict[str, int]:
    """Import contracts from CSV ``path``, one row per position (columns :data:`CONTRACT_COLUMNS`).

    Rows of one contract must agree on its fields (reference … auto_send); empty ``end_date``,
    ``next_run_date``, ``currency`` mean none, the start date, the customer's currency. The file is the
    truth for the contracts it names: new ones are created with their positions, existing ones are brought
    up to date (fields changed, positions added, changed, and removed when absent from the file).

    All-or-nothing: every row is validated first, against the store too (unknown customer, a schedule that
    can no longer change); any problem raises :class:`ImportRejected` listing every bad row, and nothing is
    written. Idempotent: importing the same file again changes nothing. Returns counts.
    """
    store, path, at, progress = uow.store, cmd.path, cmd.at, cmd.progress
    default_company = validate_company(cmd.company)
    problems = Problems(path)
    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for line, row in read_rows(path, CONTRACT_COLUMNS):
        if (err := row_error(row)) is not None:
            problems.add(line, "row", err)
            continue
        row["company"] = row["company"] or default_company
        if cmd.only_company and row["company"] != default_company:
            problems.add(line, "company", f"is {row['company']!r}; this import may only name company {default_company}")
            continue
        groups.setdefault(row["reference"], []).append((line, row))

    def company_of_group(rows: list[tuple[int, dict[str, str]]]) -> str:
        return rows[0][1]["company"]

    customers = store.load_many(sorted({customer_id(r[0][1]["customer"], company_of_group(r)) for r in groups.values()}))
    existing = store.load_many([contract_id(ref, company_of_group(rows)) for ref, rows in groups.items() if ref])
    plans: list[tuple[int, CreateContract, Contract | None]] = []
    for ref, rows in groups.items():
        first_line, first = rows[0]
        if problems.check(first_line, lambda: validate_reference(ref)) is None:
            continue
        for line, row in rows[1:]:
            for f in CONTRACT_FIELDS:
                if row[f].strip() != first[f].strip():
                    problems.add(line, f, f"differs from line {first_line} of contract {ref}")
        if problems.check(first_line, lambda: validate_company(first["company"])) is None:
            continue
        if problems.check(first_line, lambda: validate_reference(first["customer"], "customer")) is None:
            continue
        cust = customers.get(customer_id(first["customer"], first["company"]))
        if cust is None:
            problems.add(first_line, "customer", f"no customer {first['customer']!r} of company {first['company']}")
            continue
        currency = first["currency"].strip() or cust.currency
        if problems.check(first_line, lambda: validate_currency(currency)) is None:
            continue
        positions = []
        seen: dict[int, int] = {}
        for line, row in rows:
            p = problems.check(line, lambda: _position_from_row(row, currency, store, at))
            if p is None:
                continue
            if p["position"] in seen:
                problems.add(line, "position", f"{p['position']} is given twice for contract {ref} (first on line {seen[p['position']]})")
                continue
            seen[p["position"]] = line
            positions.append(p)
        cmd = problems.check(first_line, lambda: _contract_from_row(ref, first, currency, positions))
        if cmd is None:
            continue
        current = existing.get(contract_id(ref, first["company"]))
        probe = problems.check(first_line, lambda: _probe(cmd, cust, current, at))
        if probe is None:
            continue
        plans.append((first_line, cmd, current))
    problems.raise_if_any()

    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for _line, cmd, _current in plans:
        outcome = retrying(lambda: _apply(store, cmd, customers[customer_id(cmd.customer, cmd.company)], at))
        counts[outcome] += 1
        if progress:
            progress(1)
    return counts


def _position_from_row(row: dict[str, str], currency: str, store: Any, at: datetime) -> dict:
    attrs = validate_attributes(row["attributes"].strip())
    co = store.get(company_id(row["company"]))
    rate = tax_rate_on(co, row["tax_rate"], local_date(at, company_timezone_at(co, at)))
    disc = row["discountable"].strip()
    return make_position(
        parse_int(row["position"], "position"),
        row["description"],
        row["quantity"],
        row["unit_price"],
        rate,
        currency,
        True if not disc else parse_bool(disc, "discountable"),
        attrs,
    )


def _contract_from_row(ref: str, row: dict[str, str], currency: str, positions: list[dict]) -> CreateContract:
    terms = row["payment_terms_days"].strip()
    return CreateContract(
        reference=ref,
        company=row["company"],
        customer=row["customer"],
        name=row["name"].strip(),
        interval=validate_interval(row["interval"]),
        start_date=parse_date(row["start_date"], "start_date"),
        end_date=parse_date(row["end_date"], "end_date") if row["end_date"].strip() else None,
        next_run_date=parse_date(row["next_run_date"], "next_run_date") if row["next_run_date"].strip() else None,
        currency=currency,
        payment_terms_days=parse_int(terms, "payment_terms_days") if terms else None,
        auto_finalize=parse_bool(row["auto_finalize"], "auto_finalize"),
        auto_send=parse_bool(row["auto_send"], "auto_send"),
        positions=tuple(sorted(positions, key=lambda p: p["position"])),
    )


def _probe(cmd: CreateContract, customer: object, current: Contract | None, at: datetime) -> bool:
    """Validate ``cmd`` against the domain without recording anything: the events land on throwaway
    copies (at the import's business time, so that the time rule is checked too) and are dropped."""
    with business_time(at):
        probe = _build(cmd, customer)
        if current is not None:
            current_copy = _clone(current)
            _sync(current_copy, probe, cmd)
    return True


def _build(cmd: CreateContract, customer: object) -> Contract:
    return build_contract(cmd, customer)


def _clone(contract: Contract) -> Contract:
    c = copy.deepcopy(contract)
    c.collect_events()
    return c


def _sync(current: Contract, target: Contract, cmd: CreateContract) -> None:
    """Bring ``current`` to ``target``'s fields and positions by recording events on it."""
    if current.company != target.company or current.customer_reference != target.customer_reference:
        raise Conflict("company" if current.company != target.company else "customer",
                       f"contract {current.reference} belongs to {current.company}/{current.customer_reference}; it cannot move")
    if current.currency != target.currency:
        raise Conflict("currency", f"contract {current.reference} is in {current.currency}; it cannot change")
    changes: dict[str, object] = {
        "name": target.name,
        "payment_terms_days": target.payment_terms_days,
        "auto_finalize": target.auto_finalize,
        "auto_send": target.auto_send,
        "end_date": target.end_date,
    }
    if current.runs == 0:
        changes.update(interval=target.interval, start_date=target.start_date, next_run_date=target.next_run_date)
    elif (current.interval, current.start_date) != (target.interval, target.start_date):
        raise Conflict("interval", f"contract {current.reference} has run already; its schedule can no longer change")
    current.update(**changes)
    for n in sorted(current.positions):
        if n not in target.positions:
            current.remove_position(n)
    for n, p in sorted(target.positions.items()):
        if n not in current.positions:
            current.add_position(p)
        else:
            current.change_position(p)


def _apply(store: Any, cmd: CreateContract, customer: object, at: datetime) -> str:
    current = store.get(contract_id(cmd.reference, cmd.company))
    with business_time(at):
        target = _build(cmd, customer)
        if current is None:
            store.save([target])
            return "created"
        _sync(current, target, cmd)
        changed = bool(current.pending_events)
        store.save([current])
    return "updated" if changed else "unchanged"

