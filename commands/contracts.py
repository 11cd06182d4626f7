"""Contract commands (issue 3): create, update, positions, deactivate/reactivate, end, bulk import.

Every function validates before it records anything and retries when another writer saved the same
contract first. ``at`` is the command's business instant.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from commands.app import Store
from commands.common import require, retrying
from commands.csvfiles import Problems, parse_bool, parse_int, read_rows, row_error
from domain.base import business_time
from domain.calendar import parse_date
from domain.contract import Contract, contract_id, make_position
from domain.customer import customer_id
from domain.text import validate_reference
from domain.errors import Conflict, ValidationError
from domain.money import validate_currency
from domain.schedules import validate_interval


@dataclass(frozen=True)
class CreateContract:
    """Create a contract. ``currency`` and ``payment_terms_days`` None mean the customer's. Re-creating with identical data is a
    no-op; with different data a :class:`Conflict` (use update)."""

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
    positions: tuple[dict, ...] = field(default_factory=tuple)


def _load(store: Store, reference: str) -> Contract:
    return require(store, contract_id(reference), "contract", f"contract {reference!r}")


def create_contract(store: Store, cmd: CreateContract, at: datetime) -> bool:
    """Handle :class:`CreateContract`; True if created, False if it existed with the same data.

    Raises :class:`NotFound` for an unknown customer, :class:`ValidationError` for bad fields (end before
    start, next run before start, unknown currency or interval, duplicate position numbers)."""
    validate_reference(cmd.reference)

    def attempt() -> bool:
        customer = require(store, customer_id(cmd.customer), "customer", f"customer {cmd.customer!r}")
        currency = cmd.currency or customer.currency
        validate_currency(currency)
        with business_time(at):
            contract = Contract.create(
                reference=cmd.reference,
                company=cmd.company,
                customer_id=customer.id,
                customer_reference=customer.reference,
                name=cmd.name,
                currency=currency,
                timezone=customer.timezone,
                interval=cmd.interval,
                start_date=cmd.start_date,
                end_date=cmd.end_date,
                next_run_date=cmd.next_run_date,
                payment_terms_days=customer.payment_terms_days if cmd.payment_terms_days is None else cmd.payment_terms_days,
                auto_finalize=cmd.auto_finalize,
                auto_send=cmd.auto_send,
                positions=list(cmd.positions),
            )
            existing = store.get(contract.id)
            if existing is not None:
                _check_same(existing, contract)
                return False
            store.save([contract])
        return True

    return retrying(attempt)


def _check_same(existing: Contract, new: Contract) -> None:
    for f in ("company", "customer_reference", "name", "currency", "interval", "start_date", "end_date",
              "payment_terms_days", "auto_finalize", "auto_send"):
        if getattr(existing, f) != getattr(new, f):
            raise Conflict(f, f"contract {existing.reference} already exists with {f} {getattr(existing, f)!r}, not {getattr(new, f)!r}")
    if existing.runs == 0 and existing.next_run_date != new.next_run_date:
        raise Conflict("next_run_date", f"contract {existing.reference} already exists with next run {existing.next_run_date}")
    if existing.positions != new.positions:
        raise Conflict("positions", f"contract {existing.reference} already exists with other positions")


def update_contract(store: Store, reference: str, at: datetime, **changes: object) -> bool:
    """Change a contract's fields (see :meth:`Contract.update`); True if anything changed."""
    if "interval" in changes and changes["interval"] is not None:
        changes["interval"] = validate_interval(str(changes["interval"]))

    def attempt() -> bool:
        contract = _load(store, reference)
        with business_time(at):
            changed = contract.update(**changes)
            store.save([contract])
        return changed

    return retrying(attempt)


def add_position(store: Store, reference: str, at: datetime, *, position: int, description: str, quantity: str,
                 unit_price: str, tax_rate: str, discountable: bool = True, attributes: dict | None = None) -> None:
    """Add a position to contract ``reference`` (unit price in the contract's currency)."""

    def attempt() -> None:
        contract = _load(store, reference)
        p = make_position(position, description, quantity, unit_price, tax_rate, contract.currency, discountable, attributes)
        with business_time(at):
            contract.add_position(p)
            store.save([contract])

    retrying(attempt)


def change_position(store: Store, reference: str, at: datetime, *, position: int, description: str | None = None,
                    quantity: str | None = None, unit_price: str | None = None, tax_rate: str | None = None,
                    discountable: bool | None = None, attributes: dict | None = None) -> bool:
    """Change fields of an existing position (those given); True if it changed."""

    def attempt() -> bool:
        contract = _load(store, reference)
        if position not in contract.positions:
            raise ValidationError("position", f"{position} is not a position of contract {reference}")
        cur = contract.positions[position]
        p = make_position(
            position,
            description if description is not None else cur["description"],
            quantity if quantity is not None else cur["quantity"],
            unit_price if unit_price is not None else cur["unit_price"],
            tax_rate if tax_rate is not None else cur["tax_rate"],
            contract.currency,
            cur["discountable"] if discountable is None else discountable,
            cur["attributes"] if attributes is None else attributes,
        )
        with business_time(at):
            changed = contract.change_position(p)
            store.save([contract])
        return changed

    return retrying(attempt)


def remove_position(store: Store, reference: str, at: datetime, position: int) -> None:
    """Remove position ``position`` of contract ``reference``."""

    def attempt() -> None:
        contract = _load(store, reference)
        with business_time(at):
            contract.remove_position(position)
            store.save([contract])

    retrying(attempt)


def set_active(store: Store, reference: str, at: datetime, active: bool, reason: str = "") -> bool:
    """Deactivate (``active=False``) or reactivate a contract (reactivating also unparks it)."""

    def attempt() -> bool:
        contract = _load(store, reference)
        with business_time(at):
            changed = contract.reactivate() if active else contract.deactivate(reason)
            store.save([contract])
        return changed

    return retrying(attempt)


def end_contract(store: Store, reference: str, at: datetime, end_date: date) -> None:
    """End contract ``reference`` on ``end_date`` (its last possible run date)."""

    def attempt() -> None:
        contract = _load(store, reference)
        with business_time(at):
            contract.end(end_date)
            store.save([contract])

    retrying(attempt)


# ================================================================================================ import
CONTRACT_COLUMNS = [
    "reference", "company", "customer", "name", "interval", "start_date", "end_date", "next_run_date", "currency",
    "payment_terms_days", "auto_finalize", "auto_send", "position", "description", "quantity", "unit_price",
    "tax_rate", "discountable", "attributes",
]
CONTRACT_FIELDS = CONTRACT_COLUMNS[:12]


def import_contracts(store: Store, path: str, at: datetime, progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Import contracts from CSV ``path``, one row per position (columns :data:`CONTRACT_COLUMNS`).

    Rows of one contract must agree on its fields (reference … auto_send); empty ``end_date``,
    ``next_run_date``, ``currency`` mean none, the start date, the customer's currency. The file is the
    truth for the contracts it names: new ones are created with their positions, existing ones are brought
    up to date (fields changed, positions added, changed, and removed when absent from the file).

    All-or-nothing: every row is validated first, against the store too (unknown customer, a schedule that
    can no longer change); any problem raises :class:`ImportRejected` listing every bad row, and nothing is
    written. Idempotent: importing the same file again changes nothing. Returns counts.
    """
    problems = Problems(path)
    groups: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for line, row in read_rows(path, CONTRACT_COLUMNS):
        if (err := row_error(row)) is not None:
            problems.add(line, "row", err)
            continue
        groups.setdefault(row["reference"].strip(), []).append((line, row))
    customers = store.load_many(sorted({customer_id(r[0][1]["customer"].strip()) for r in groups.values()}))
    existing = store.load_many([contract_id(ref) for ref in groups if ref])
    plans: list[tuple[int, CreateContract, Contract | None]] = []
    for ref, rows in groups.items():
        first_line, first = rows[0]
        if problems.check(first_line, lambda: validate_reference(ref)) is None:
            continue
        for line, row in rows[1:]:
            for f in CONTRACT_FIELDS:
                if row[f].strip() != first[f].strip():
                    problems.add(line, f, f"differs from line {first_line} of contract {ref}")
        cust = customers.get(customer_id(first["customer"].strip()))
        if cust is None:
            problems.add(first_line, "customer", f"no customer {first['customer'].strip()!r}")
            continue
        currency = first["currency"].strip() or cust.currency
        if problems.check(first_line, lambda: validate_currency(currency)) is None:
            continue
        positions = []
        seen: dict[int, int] = {}
        for line, row in rows:
            p = problems.check(line, lambda: _position_from_row(row, currency))
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
        current = existing.get(contract_id(ref))
        probe = problems.check(first_line, lambda: _probe(cmd, cust, current, at))
        if probe is None:
            continue
        plans.append((first_line, cmd, current))
    problems.raise_if_any()

    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for _line, cmd, _current in plans:
        outcome = retrying(lambda: _apply(store, cmd, customers[customer_id(cmd.customer)], at))
        counts[outcome] += 1
        if progress:
            progress(1)
    return counts


def _position_from_row(row: dict[str, str], currency: str) -> dict:
    attrs_text = row["attributes"].strip()
    attrs = None
    if attrs_text:
        try:
            attrs = json.loads(attrs_text)
        except json.JSONDecodeError as e:
            raise ValidationError("attributes", f"is not valid JSON ({e.msg})") from None
        if not isinstance(attrs, dict):
            raise ValidationError("attributes", "must be a JSON object")
    disc = row["discountable"].strip()
    return make_position(
        parse_int(row["position"], "position"),
        row["description"],
        row["quantity"],
        row["unit_price"],
        row["tax_rate"],
        currency,
        True if not disc else parse_bool(disc, "discountable"),
        attrs,
    )


def _contract_from_row(ref: str, row: dict[str, str], currency: str, positions: list[dict]) -> CreateContract:
    terms = row["payment_terms_days"].strip()
    return CreateContract(
        reference=ref,
        company=row["company"].strip(),
        customer=row["customer"].strip(),
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
    return Contract.create(
        reference=cmd.reference, company=cmd.company, customer_id=customer.id,  # type: ignore[attr-defined]
        customer_reference=customer.reference, name=cmd.name, currency=cmd.currency,  # type: ignore[attr-defined]
        timezone=customer.timezone, interval=cmd.interval, start_date=cmd.start_date,  # type: ignore[attr-defined]
        end_date=cmd.end_date, next_run_date=cmd.next_run_date,
        payment_terms_days=customer.payment_terms_days if cmd.payment_terms_days is None else cmd.payment_terms_days,  # type: ignore[attr-defined]
        auto_finalize=cmd.auto_finalize, auto_send=cmd.auto_send, positions=list(cmd.positions),
    )


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


def _apply(store: Store, cmd: CreateContract, customer: object, at: datetime) -> str:
    current = store.get(contract_id(cmd.reference))
    with business_time(at):
        target = _build(cmd, customer)
        if current is None:
            store.save([target])
            return "created"
        _sync(current, target, cmd)
        changed = bool(current.pending_events)
        store.save([current])
    return "updated" if changed else "unchanged"

