"""Recording and cancelling individual invoices, one at a time or in bulk (issue 2).

Recording routes each invoice to its customer's consolidation period (:meth:`Customer.route`) and saves
the invoice together with one ``LineAdded`` on that period's :class:`ConsolidatedInvoice`, in chunks of
at most :data:`CHUNK` invoices (one ``save`` stays under ~500 events). The external number is the
idempotency key: a number recorded before with the same data is skipped, with different data it is an
error, and a whole file is checked before anything is written.
"""

from __future__ import annotations

import gc
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from commands.bus import UnitOfWork, handle, handler, retrying
from commands.csvfiles import Problems, read_rows, row_error
from commands.numbering import next_number
from domain.base import business_time
from domain.calendar import local_date, parse_instant
from domain.consolidated_invoice import OVERDUE, PAID, ConsolidatedInvoice
from domain.customer import Customer, PeriodRef, customer_id
from domain.text import validate_reference
from domain.errors import Conflict, DomainError, NotFound, ValidationError
from domain.credit_notes import issue_credit_note
from domain.individual_invoice import CANCELLED, IndividualInvoice, individual_invoice_id, validate_attributes
from domain.invoice import CREDIT_NOTE
from domain.money import AMOUNT_LIMIT, parse_amount, validate_currency
from domain.tenancy import DEFAULT_COMPANY, validate_company
from domain.text import validate_text

#: Invoices per save: two events each (recorded + line added, or recorded + cancelled), plus the few
#: periods opened, stays under the ~500 events a save may hold.
CHUNK = 200
#: Consolidation periods kept in memory while recording (a period of a big airline holds ~1,100 lines).
PERIOD_CACHE = 64

INVOICE_COLUMNS = ["customer", "number", "issued_at", "amount", "currency", "status", "attributes"]


@dataclass(frozen=True)
class RecordInvoice:
    """Record an invoice issued elsewhere. ``cancelled`` records it and cancels it at once (an import of a
    cancelled invoice). ``line`` is its line in an import file (0 otherwise)."""

    number: str
    customer: str
    issued_at: datetime
    amount: Decimal
    currency: str
    attributes: dict
    cancelled: bool = False
    line: int = 0


def make_record(
    number: str,
    customer: str,
    issued_at: str | datetime,
    amount: str | Decimal,
    currency: str,
    attributes: object = None,
    status: str = "issued",
    line: int = 0,
) -> RecordInvoice:
    """Validate raw fields into a :class:`RecordInvoice`; raises :class:`ValidationError` naming the field."""
    validate_reference(number, "number")
    validate_reference(customer, "customer")
    at = issued_at if isinstance(issued_at, datetime) else parse_instant(issued_at, "issued_at")
    validate_currency(currency)
    value = parse_amount(amount, currency, "amount")
    attrs = validate_attributes(attributes)
    s = str(status).strip().lower()
    if s not in ("issued", "cancelled"):
        raise ValidationError("status", f"{status!r} is not issued or cancelled")
    return RecordInvoice(number, customer, at, value, currency, attrs, s == "cancelled", line)


def record_invoice(store: Any, cmd: RecordInvoice, at: datetime, company: str = DEFAULT_COMPANY) -> str:
    """Record one invoice; returns ``"recorded"``, ``"unchanged"`` or ``"cancelled"``."""
    counts = record_invoices(store, [cmd], at, company=company)
    for key in ("recorded", "cancelled", "unchanged"):
        if counts[key]:
            return key
    raise AssertionError(counts)


# ================================================================================================ validation
def validate_against_store(
    store: Any, cmds: Sequence[RecordInvoice], problems: Problems, at: datetime, company: str = DEFAULT_COMPANY
) -> tuple[dict[str, Customer], dict[str, str]]:
    """Check ``cmds`` against what is recorded, adding every problem to ``problems``.

    Returns the customers by reference and, for numbers already recorded, what to do: ``"skip"`` (same
    data) or ``"cancel"`` (recorded as issued, now given as cancelled).
    """
    refs = sorted({c.customer for c in cmds})
    loaded = store.load_many([customer_id(r, company) for r in refs])
    customers = {c.reference: c for c in loaded.values()}
    seen: dict[str, RecordInvoice] = {}
    for c in cmds:
        cust = customers.get(c.customer)
        if cust is None:
            problems.add(c.line, "customer", f"no customer {c.customer!r}", NotFound)
        elif cust.currency != c.currency:
            problems.add(c.line, "currency", f"{c.currency} differs from customer {c.customer}'s currency {cust.currency}")
        first = seen.get(c.number)
        if first is not None and (
            first.customer, first.issued_at, first.amount, first.currency, first.attributes, first.cancelled
        ) != (c.customer, c.issued_at, c.amount, c.currency, c.attributes, c.cancelled):
            problems.add(c.line, "number", f"{c.number} is given twice with different data (first on line {first.line})", Conflict)
        seen.setdefault(c.number, c)
    existing: dict[str, str] = {}
    numbers = list(seen)
    for i in range(0, len(numbers), 2000):
        chunk = numbers[i : i + 2000]
        found = store.load_many([individual_invoice_id(n, company) for n in chunk])
        for inv in found.values():
            c = seen[inv.number]
            try:
                inv.check_same(c.customer, c.issued_at, c.amount, c.currency, c.attributes)
            except DomainError as e:
                problems.add(c.line, e.field, e.rule, type(e))
                continue
            if inv.status == CANCELLED and not c.cancelled:
                problems.add(c.line, "status", f"invoice {inv.number} is cancelled; it cannot be issued again", Conflict)
            existing[inv.number] = "cancel" if c.cancelled and inv.status != CANCELLED else "skip"
            if existing[inv.number] == "cancel":
                _check_cancel(store, inv, c, problems, at)
    _check_period_totals(store, cmds, customers, existing, problems, at)
    return customers, existing


def _check_cancel(store: Any, inv: IndividualInvoice, c: RecordInvoice, problems: Problems, at: datetime) -> None:
    """A row that cancels a recorded invoice changes it and the period that holds it (or credits that
    period's issued invoice): the time rule holds for both, checked before anything is written."""
    touched = [inv]
    pid = inv.gathered_into
    while pid is not None:
        period = store.get(pid)
        if period is None:
            break
        if inv.number in period.lines:
            touched.append(period)
            break
        pid = period.removed.get(inv.number)
    for agg in touched:
        if agg.modified_on > at:
            problems.add(c.line, "at", f"{at.isoformat()} is before {agg.modified_on.isoformat()}, when {agg.describe()} "
                                       "last changed: a command's business time is never before the last event of what it changes", Conflict)
            return


def _check_period_totals(
    store: Any, cmds: Sequence[RecordInvoice], customers: dict[str, Customer], existing: dict[str, str],
    problems: Problems, at: datetime,
) -> None:
    """Every consolidation period the new invoices are routed to keeps its total within the engine's bound
    (:func:`domain.money.check_amount`): checked for the whole file before anything is written."""
    added: dict[UUID, list[RecordInvoice]] = {}
    seen: set[str] = set()
    for c in cmds:
        cust = customers.get(c.customer)
        if cust is None or c.cancelled or c.number in existing or c.number in seen:
            continue
        seen.add(c.number)
        ref = cust.route(c.issued_at)
        if ref is not None:
            added.setdefault(ref.consolidated_invoice_id, []).append(c)
    if not added:
        return
    periods = store.load_many(list(added))
    for pid, group in added.items():
        period = periods.get(pid)
        if period is not None and not period.is_open:
            continue  # closed meanwhile: the writer routes these again with a fresh customer
        if period is not None and period.modified_on > at:
            problems.add(group[0].line, "at", f"{at.isoformat()} is before {period.modified_on.isoformat()}, when "
                         f"{period.describe()} last changed: a command's business time is never before the last event of what it changes", Conflict)
            continue
        total = period.gathered if period is not None else Decimal(0)
        for c in group:
            total += c.amount
            if abs(total) >= AMOUNT_LIMIT:
                problems.add(c.line, "amount", f"{c.amount} would bring the consolidated total of customer {c.customer}'s "
                             f"period to {total} {c.currency}, out of range: amounts must be less than 1000000000000000 (10^15)")
                break


# ================================================================================================ writing
class _Recorder:
    """Writes validated invoices in chunks, keeping customers and recent periods in memory."""

    def __init__(self, store: Any, customers: dict[str, Customer], at: datetime, company: str):
        self.store = store
        self.company = company
        self.customers = customers
        self.at = at
        self.periods: OrderedDict[UUID, ConsolidatedInvoice] = OrderedDict()

    def period(self, ref: PeriodRef, customer: Customer) -> ConsolidatedInvoice:
        pid = ref.consolidated_invoice_id
        p = self.periods.get(pid)
        if p is not None:
            self.periods.move_to_end(pid)
            return p
        p = self.store.get(pid) or ConsolidatedInvoice.open(ref, customer)
        self.periods[pid] = p
        while len(self.periods) > PERIOD_CACHE:
            old_id, old = self.periods.popitem(last=False)
            if old.pending_events:  # keep unsaved ones until the chunk is saved
                self.periods[old_id] = old
                self.periods.move_to_end(old_id, last=False)
                break
        return p

    def write_chunk(self, chunk: Sequence[RecordInvoice]) -> dict[str, int]:
        counts = {"recorded": 0, "consolidating": 0, "cancelled": 0}
        touched: dict[UUID, Any] = {}
        with business_time(self.at):
            for cmd in chunk:
                cust = self.customers[cmd.customer]
                ref = None if cmd.cancelled else cust.route(cmd.issued_at)
                period = None
                if ref is not None:
                    period = self.period(ref, cust)
                    if not period.is_open:
                        raise _StaleCustomer(cust.reference)
                inv = IndividualInvoice.record(
                    cmd.number,
                    cust.id,
                    cust.reference,
                    cmd.issued_at,
                    local_date(cmd.issued_at, cust.timezone),
                    cmd.amount,
                    cmd.currency,
                    cmd.attributes,
                    period.id if period is not None else None,
                    company=self.company,
                )
                if period is not None:
                    period.add_line(cmd.number, inv.id, cmd.issued_at, cmd.amount, cmd.attributes)
                    touched[period.id] = period
                    counts["consolidating"] += 1
                if cmd.cancelled:
                    inv.cancel("recorded as cancelled")
                    counts["cancelled"] += 1
                touched[inv.id] = inv
                counts["recorded"] += 1
            self.store.save(touched.values())
        return counts

    def reload(self, chunk: Sequence[RecordInvoice]) -> None:
        """After a lost race: fresh customers, and forget cached periods."""
        refs = sorted({c.customer for c in chunk})
        fresh = self.store.load_many([customer_id(r, self.company) for r in refs])
        for c in fresh.values():
            self.customers[c.reference] = c
        self.periods.clear()


class _StaleCustomer(Exception):
    """The routed period closed meanwhile: reload the customer and route again."""


@dataclass(frozen=True)
class RecordInvoices:
    """Record invoices issued elsewhere (validated with :func:`make_record`) for ``company``. For a file
    (``path`` given), every problem is collected and the file rejected as a whole."""

    invoices: tuple[RecordInvoice, ...]
    at: datetime
    company: str = DEFAULT_COMPANY
    path: str | None = None
    problems: Problems | None = field(default=None, compare=False)
    progress: Callable[[int], None] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class CancelIndividualInvoice:
    """Cancel individual invoice ``number``. One gathered into an open period leaves it; one already
    inside an issued consolidated invoice is cancelled and credited there (a credit note of its line)."""

    number: str
    at: datetime
    reason: str = ""
    company: str = DEFAULT_COMPANY


def record_invoices(
    store: Any,
    cmds: Sequence[RecordInvoice],
    at: datetime,
    progress: Callable[[int], None] | None = None,
    path: str | None = None,
    problems: Problems | None = None,
    company: str = DEFAULT_COMPANY,
) -> dict[str, int]:
    """Handle :class:`RecordInvoices`: returns counts (recorded, consolidating, cancelled, unchanged)."""
    return handle(store, RecordInvoices(tuple(cmds), at, company, path, problems, progress))


@handler(RecordInvoices)
def _record(cmd: RecordInvoices, uow: UnitOfWork) -> dict[str, int]:
    """Everything is checked before anything is written. For a file (``path`` given) every problem is
    collected — with those already in ``problems`` — and raised as :class:`ImportRejected`; for commands
    (``path`` None) the first problem is raised as a :class:`DomainError`."""
    store, cmds, at, path, progress = uow.store, cmd.invoices, cmd.at, cmd.path, cmd.progress
    company = validate_company(cmd.company)
    problems = cmd.problems if cmd.problems is not None else Problems(path or "<command>")
    customers, existing = validate_against_store(store, cmds, problems, at, company)
    if problems.items:
        if path is None:
            raise problems.first()
        problems.raise_if_any()
    counts = {"recorded": 0, "consolidating": 0, "cancelled": 0, "unchanged": 0}
    todo: list[RecordInvoice] = []
    done_numbers: set[str] = set()
    cancels: list[RecordInvoice] = []
    for c in cmds:
        if c.number in done_numbers:
            counts["unchanged"] += 1
            continue
        done_numbers.add(c.number)
        action = existing.get(c.number)
        if action == "skip":
            counts["unchanged"] += 1
        elif action == "cancel":
            cancels.append(c)
        else:
            todo.append(c)
    writer = _Recorder(store, customers, at, company)
    # The commands live until the end: keep them out of the garbage collector's full collections, which
    # would re-scan hundreds of thousands of them over and over (as in the tick; unfrozen at the end).
    gc.freeze()
    try:
        _write_all(store, writer, todo, counts, progress, company)
    finally:
        gc.unfreeze()
    for c in cancels:
        if handle(store, CancelIndividualInvoice(c.number, at, "cancelled by import", company)):
            counts["cancelled"] += 1
        if progress:
            progress(1)
    return counts


def _write_all(
    store: Any, writer: _Recorder, todo: list[RecordInvoice], counts: dict[str, int],
    progress: Callable[[int], None] | None, company: str,
) -> None:
    for i in range(0, len(todo), CHUNK):
        chunk = todo[i : i + CHUNK]
        state = {"chunk": chunk}

        def again(_error: BaseException) -> None:
            # Another writer may have recorded some of these meanwhile: skip what now exists.
            writer.reload(state["chunk"])
            found = store.load_many([individual_invoice_id(c.number, company) for c in state["chunk"]])
            before = len(state["chunk"])
            state["chunk"] = [c for c in state["chunk"] if individual_invoice_id(c.number, company) not in found]
            counts["unchanged"] += before - len(state["chunk"])

        got = retrying(lambda: writer.write_chunk(state["chunk"]), retry_on=(_StaleCustomer,), before_retry=again)
        for k, v in got.items():
            counts[k] += v
        if progress:
            progress(len(chunk))


def cancel_invoice(store: Any, number: str, at: datetime, reason: str = "", company: str = DEFAULT_COMPANY) -> bool:
    """Handle :class:`CancelIndividualInvoice`; False if it already was cancelled."""
    return handle(store, CancelIndividualInvoice(number, at, reason, company))


@handler(CancelIndividualInvoice)
def _cancel(cmd: CancelIndividualInvoice, uow: UnitOfWork) -> bool:
    """A gathered invoice leaves its open consolidation period (``LineRemoved``). One inside an issued
    consolidated invoice (which never changes) is credited there: a credit note of its line, numbered in
    the company's CN series, dated the local date of ``at`` (issue 7). Raises :class:`NotFound` for an
    unknown number."""
    reason = validate_text(cmd.reason, "reason")
    inv = uow.require(individual_invoice_id(cmd.number, cmd.company), "number", f"individual invoice {cmd.number!r}")
    if inv.status == CANCELLED:
        return False
    pid = inv.gathered_into
    while pid is not None:
        period = uow.get(pid)
        if period is None:
            break
        if cmd.number in period.lines:
            if period.is_open:
                period.remove_line(cmd.number, "cancelled")
            elif period.number is not None and cmd.number not in period.credited_positions and period.status in (period.ISSUED_STATUS, OVERDUE, PAID):
                issue_date = local_date(cmd.at, period.timezone)
                number, seq = next_number(uow, period.company, CREDIT_NOTE, issue_date, f"a credit note for {period.number}")
                uow.add(issue_credit_note(period, [cmd.number], number=number, sequence=seq, issue_date=issue_date,
                                          reason=reason or f"{cmd.number} cancelled"))
            break
        pid = period.removed.get(cmd.number)
    inv.cancel(reason)
    return True


# ================================================================================================ import
def parse_invoice_rows(path: str, problems: Problems) -> list[RecordInvoice]:
    """Read and validate every row of an invoices CSV file (columns :data:`INVOICE_COLUMNS`)."""
    out = []
    for line, row in read_rows(path, INVOICE_COLUMNS):
        if (err := row_error(row)) is not None:
            problems.add(line, "row", err)
            continue
        cmd = problems.check(
            line,
            lambda: make_record(
                row["number"],  # references are never trimmed: blanks around them are refused everywhere
                row["customer"],
                row["issued_at"],
                row["amount"],
                row["currency"].strip(),
                row["attributes"],
                row["status"] or "issued",
                line,
            ),
        )
        if cmd is not None:
            out.append(cmd)
    return out


def import_invoices(
    store: Any, path: str, at: datetime, progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None, company: str = DEFAULT_COMPANY,
) -> dict[str, int]:
    """Import the individual invoices of CSV file ``path``: validate all, then record in chunks.

    Columns ``customer,number,issued_at,amount,currency,status,attributes``: ``issued_at`` an ISO 8601
    instant with offset, ``status`` issued or cancelled (empty: issued), ``attributes`` an optional JSON
    object. Raises :class:`ImportRejected` listing every bad row (nothing written).
    """
    problems = Problems(path)
    cmds = parse_invoice_rows(path, problems)
    if on_total:
        on_total(len(cmds))
    # Rows with format errors are already listed; the others are checked against the store too, so the
    # rejection lists every bad row at once.
    return record_invoices(store, cmds, at, progress, path, problems, company)

