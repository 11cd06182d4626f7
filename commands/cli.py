"""The ``billing`` command line: the edge where the wall clock and user input enter.

Exit status: 0 on success; 2 for usage and validation errors (a message naming the field and the rule,
nothing written); 1 for anything unexpected (one line, and ``--debug`` for the traceback). Every command
that writes takes ``--at`` (its business instant, ISO 8601 with offset; default: now) and brings the
projections up to date before it returns.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from commands.app import Store
from commands.config import DatabaseUnavailable, resolve
from domain.calendar import parse_date, parse_instant
from domain.errors import DomainError, ImportRejected, ValidationError

# Tables keep their width when piped (rich would otherwise fold them to 80 columns).
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class Failure(click.ClickException):
    """A user-facing error: printed on stderr as ``error: ...`` with the given exit status."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)


# ============================================================================================ plumbing
def now() -> datetime:
    """The wall clock, read only here at the edge."""
    return datetime.now(timezone.utc)  # edge


def at_option(fn: Callable) -> Callable:
    return click.option(
        "--at",
        "at_text",
        metavar="INSTANT",
        help="Business instant of the command, ISO 8601 with offset (default: now).",
    )(fn)


def json_option(fn: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(fn)


def parse_at(text: str | None) -> datetime:
    return now() if text is None else parse_instant(text, "at")


@contextmanager
def opened(ctx: click.Context) -> Iterator[Store]:
    """Open the configured store for one command."""
    try:
        config = resolve(ctx.obj["database_url"])
        store = Store(config)
    except DatabaseUnavailable as e:
        raise Failure(str(e), exit_code=1) from None
    try:
        yield store
    finally:
        store.close()


def catch_up(store: Store) -> None:
    """Bring every projection up to date (what you just did shows at once)."""
    from projections import registry
    from projections import runner as projection_runner

    head = store.head()
    positions = projection_runner.positions(store)
    lag = head - min((positions.get(p.name, 0) for p in registry.ALL), default=0)
    if lag > 20000:
        with progress_bar("projections", total=lag) as advance:
            start = min((positions.get(p.name, 0) for p in registry.ALL), default=0)
            state = {"done": start}

            def on_page(pos: int, _head: int) -> None:
                advance(pos - state["done"])
                state["done"] = pos

            projection_runner.run(store, registry.ALL, on_page=on_page)
    else:
        projection_runner.run(store, registry.ALL)


@contextmanager
def progress_bar(label: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr; yields ``advance(n)``."""
    with Progress(
        TextColumn("[bold]{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    ) as progress:
        task = progress.add_task(label, total=total)

        def advance(n: int) -> None:
            progress.advance(task, n)

        def set_total(t: int) -> None:
            progress.update(task, total=t)

        advance.set_total = set_total  # type: ignore[attr-defined]
        yield advance


def emit_json(value: Any) -> None:
    out.out(json.dumps(value, indent=2, default=str, ensure_ascii=False), highlight=False)


def table(columns: list[str], rows: list[list[Any]], title: str | None = None) -> None:
    t = Table(title=title, show_lines=False)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    out.print(t)


# ============================================================================================ root
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--database-url",
    envvar="BILLING_DATABASE_URL",
    metavar="URL",
    help="sqlite:///FILE (default sqlite:///billing.db) or postgresql://user@host:port/db[?schema=S]. "
    "Also $BILLING_DATABASE_URL.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None, debug: bool) -> None:
    """An event-sourced billing engine: every invoice is explained by an immutable event history, and
    issuing is a deterministic function of that history and a clock (`billing tick`)."""
    ctx.ensure_object(dict)
    ctx.obj["database_url"] = database_url
    ctx.obj["debug"] = debug


# ============================================================================================ tick
@cli.command("tick")
@click.option("--at", "at_text", metavar="INSTANT", help="The tick's instant, ISO 8601 with offset (default: now).")
@click.option("--dry-run", is_flag=True, help="Run the same code, write nothing, report what would be issued.")
@click.option("--company", metavar="CO", help="Only contract runs of this company (tenant).")
@json_option
@click.pass_context
def tick_cmd(ctx: click.Context, at_text: str | None, dry_run: bool, company: str | None, as_json: bool) -> None:
    """Issue everything due at INSTANT: close ended consolidation periods and issue their invoices, run due
    contracts, mark unpaid invoices overdue. Idempotent; catches up any number of missed periods."""
    from scheduler.tick import tick

    at = parse_at(at_text)
    with opened(ctx) as store:
        catch_up(store)
        if as_json or not err.is_terminal:
            summary = tick(store, at, dry_run=dry_run, company=company)
        else:
            with progress_bar("tick") as advance:
                state = {"done": 0}

                def on_progress(done: int, total: int) -> None:
                    advance.set_total(total)  # type: ignore[attr-defined]
                    advance(done - state["done"])
                    state["done"] = done

                summary = tick(store, at, dry_run=dry_run, company=company, progress=on_progress)
    if as_json:
        emit_json(summary.as_dict())
        return
    verb = "would issue" if dry_run else "issued"
    out.print(f"tick at {at.isoformat()}{' (dry run: nothing written)' if dry_run else ''}")
    for kind, counts in sorted(summary.counts.items()):
        out.print(f"  {kind}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    out.print(f"  {verb} {len(summary.issued)} document(s); {summary.events} event(s)")


# ============================================================================================ customers
@cli.group()
def customers() -> None:
    """Customers: who is billed, in which zone and currency, and how invoices consolidate."""


def _attrs(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    return tuple(a.strip() for a in text.split(",") if a.strip())


@customers.command("add")
@click.argument("reference")
@click.option("--name", required=True)
@click.option("--timezone", "tz", required=True, help="IANA time zone, e.g. Europe/Berlin.")
@click.option("--currency", required=True, help="ISO 4217 code, e.g. EUR.")
@click.option("--payment-terms", type=int, default=30, show_default=True, help="Days from issue to due date.")
@click.option("--approved/--not-approved", default=False, show_default=True)
@click.option("--summary-attributes", metavar="A,B", help="Attributes whose distinct values consolidated invoices list.")
@at_option
@click.pass_context
def customers_add(ctx: click.Context, reference: str, name: str, tz: str, currency: str, payment_terms: int,
                  approved: bool, summary_attributes: str | None, at_text: str | None) -> None:
    """Register customer REFERENCE (no-op if it exists with the same data)."""
    from commands.customers import AddCustomer, add_customer

    at = parse_at(at_text)
    cmd = AddCustomer(reference, name, tz, currency, payment_terms, approved, _attrs(summary_attributes) or ())
    with opened(ctx) as store:
        created = add_customer(store, cmd, at)
        catch_up(store)
    out.print(f"customer {reference} {'added' if created else 'already exists (unchanged)'}")


@customers.command("update")
@click.argument("reference")
@click.option("--name")
@click.option("--payment-terms", type=int)
@click.option("--summary-attributes", metavar="A,B")
@click.option("--timezone", "tz", help="Must equal the current one (it cannot change).")
@click.option("--currency", help="Must equal the current one (it cannot change).")
@at_option
@click.pass_context
def customers_update(ctx: click.Context, reference: str, name: str | None, payment_terms: int | None,
                     summary_attributes: str | None, tz: str | None, currency: str | None, at_text: str | None) -> None:
    """Change customer REFERENCE's name, payment terms or summary attributes."""
    from commands.customers import update_customer

    at = parse_at(at_text)
    attrs = _attrs(summary_attributes)
    with opened(ctx) as store:
        changed = update_customer(store, reference, at, name=name, payment_terms_days=payment_terms,
                                  summary_attributes=list(attrs) if attrs is not None else None, timezone=tz, currency=currency)
        catch_up(store)
    out.print(f"customer {reference} {'updated' if changed else 'unchanged'}")


@customers.command("approve")
@click.argument("reference")
@click.option("--withdraw", is_flag=True, help="Withdraw the approval instead.")
@at_option
@click.pass_context
def customers_approve(ctx: click.Context, reference: str, withdraw: bool, at_text: str | None) -> None:
    """Approve customer REFERENCE for consolidation (or --withdraw the approval)."""
    from commands.customers import approve_customer

    at = parse_at(at_text)
    with opened(ctx) as store:
        changed = approve_customer(store, reference, at, approved=not withdraw)
        catch_up(store)
    state = "not approved" if withdraw else "approved"
    out.print(f"customer {reference} {state}{'' if changed else ' (unchanged)'}")


@customers.command("consolidation")
@click.argument("reference")
@click.argument("mode", type=click.Choice(["weekly", "monthly", "none"], case_sensitive=False))
@click.option("--start-day", type=int, help="Weekly: ISO weekday 1-7 (1 = Monday). Monthly: day 1-28.")
@click.option("--from", "from_text", metavar="DATE", help="First local date covered (default: today in the customer's zone).")
@at_option
@click.pass_context
def customers_consolidation(ctx: click.Context, reference: str, mode: str, start_day: int | None,
                            from_text: str | None, at_text: str | None) -> None:
    """Set customer REFERENCE's consolidation: weekly, monthly, or none (disables it; what is pending is
    consolidated at the next tick)."""
    from commands.customers import set_consolidation

    at = parse_at(at_text)
    if mode.lower() != "none" and start_day is None:
        raise ValidationError("start_day", f"is required for {mode.lower()} consolidation")
    frm = parse_date(from_text, "from") if from_text else None
    with opened(ctx) as store:
        changed = set_consolidation(store, reference, mode, start_day or 1, frm, at)
        catch_up(store)
    out.print(f"customer {reference}: consolidation {mode.lower()}{'' if changed else ' (unchanged)'}")


@customers.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@at_option
@click.pass_context
def customers_import(ctx: click.Context, file: str, at_text: str | None) -> None:
    """Import customers from FILE.csv (all-or-nothing, idempotent). Columns: reference, name, timezone,
    currency, payment_terms_days, approved, consolidation, start_day, consolidate_from [, summary_attributes]."""
    from commands.customers import import_customers

    at = parse_at(at_text)
    with opened(ctx) as store, progress_bar("customers") as advance:
        counts = import_customers(store, file, at, progress=advance)
        catch_up(store)
    out.print("customers: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@customers.command("list")
@json_option
@click.pass_context
def customers_list(ctx: click.Context, as_json: bool) -> None:
    """List customers."""
    from projections import queries

    with opened(ctx) as store:
        catch_up(store)
        rows = queries.list_customers(store.read_engine)
    if as_json:
        emit_json(rows)
        return
    table(
        ["reference", "name", "zone", "currency", "terms", "approved", "consolidation", "from", "next close"],
        [[r["reference"], r["name"], r["timezone"], r["currency"], r["payment_terms_days"], r["approved"],
          r["consolidation"] + (f" ({r['start_day']})" if r["start_day"] else ""), r["consolidate_from"], r["next_close_at"]]
         for r in rows],
    )


@customers.command("show")
@click.argument("reference")
@click.pass_context
def customers_show(ctx: click.Context, reference: str) -> None:
    """Show customer REFERENCE as JSON."""
    from projections import queries

    with opened(ctx) as store:
        catch_up(store)
        rows = [r for r in queries.list_customers(store.read_engine) if r["reference"] == reference]
    if not rows:
        from domain.errors import NotFound

        raise NotFound("customer", f"no customer {reference!r}")
    emit_json(rows[0])


# ============================================================================================ individual invoices
@cli.group()
def invoices() -> None:
    """Invoices: individual invoices recorded from elsewhere (record, cancel, import, individual), and the
    engine's own invoice documents (list, show, finalize, void, credit, pay)."""


@invoices.command("record")
@click.argument("number")
@click.option("--customer", required=True)
@click.option("--issued-at", required=True, metavar="INSTANT", help="ISO 8601 instant with offset.")
@click.option("--amount", required=True)
@click.option("--currency", required=True)
@click.option("--attributes", metavar="JSON", help='A JSON object, e.g. \'{"flight": "UA1545"}\'.')
@at_option
@click.pass_context
def invoices_record(ctx: click.Context, number: str, customer: str, issued_at: str, amount: str, currency: str,
                    attributes: str | None, at_text: str | None) -> None:
    """Record individual invoice NUMBER issued elsewhere (no-op if recorded with the same data)."""
    from commands.individual_invoices import make_record, record_invoice

    at = parse_at(at_text)
    cmd = make_record(number, customer, issued_at, amount, currency, attributes)
    with opened(ctx) as store:
        result = record_invoice(store, cmd, at)
        catch_up(store)
    out.print(f"invoice {number} {'recorded' if result == 'recorded' else 'already recorded (unchanged)'}")


@invoices.command("cancel")
@click.argument("number")
@click.option("--reason", default="")
@at_option
@click.pass_context
def invoices_cancel(ctx: click.Context, number: str, reason: str, at_text: str | None) -> None:
    """Cancel individual invoice NUMBER (refused once it is in a closed consolidated invoice)."""
    from commands.individual_invoices import cancel_invoice

    at = parse_at(at_text)
    with opened(ctx) as store:
        changed = cancel_invoice(store, number, at, reason)
        catch_up(store)
    out.print(f"invoice {number} {'cancelled' if changed else 'was already cancelled'}")


@invoices.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@at_option
@click.pass_context
def invoices_import(ctx: click.Context, file: str, at_text: str | None) -> None:
    """Import individual invoices from FILE.csv (all-or-nothing, idempotent). Columns: customer, number,
    issued_at, amount, currency, status, attributes."""
    from commands.individual_invoices import import_invoices

    at = parse_at(at_text)
    with opened(ctx) as store, progress_bar("invoices") as advance:
        counts = import_invoices(store, file, at, progress=advance, on_total=advance.set_total)  # type: ignore[attr-defined]
        catch_up(store)
    out.print("invoices: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@invoices.command("individual")
@click.option("--customer")
@click.option("--from", "from_text", metavar="DATE", help="Issued on or after this local date.")
@click.option("--to", "to_text", metavar="DATE", help="Issued on or before this local date.")
@click.option("--limit", type=int)
@json_option
@click.pass_context
def invoices_individual(ctx: click.Context, customer: str | None, from_text: str | None, to_text: str | None,
                        limit: int | None, as_json: bool) -> None:
    """List recorded individual invoices and the consolidated invoice that includes each."""
    from projections import queries

    d1 = parse_date(from_text, "from") if from_text else None
    d2 = parse_date(to_text, "to") if to_text else None
    with opened(ctx) as store:
        catch_up(store)
        rows = queries.list_individual(store.read_engine, customer, d1, d2, limit)
    if as_json:
        emit_json(rows)
        return
    table(["number", "customer", "issued on", "amount", "currency", "status", "consolidated"],
          [[r["number"], r["customer"], r["issued_on"], r["amount"], r["currency"], r["status"], r["consolidated_number"]]
           for r in rows])


# ============================================================================================ consolidated
@cli.group()
def consolidated() -> None:
    """Consolidated invoices: one per customer and billing period."""


@consolidated.command("list")
@click.option("--customer", metavar="REF")
@click.option("--status", type=click.Choice(["PENDING", "OVERDUE", "PAID"], case_sensitive=False))
@json_option
@click.pass_context
def consolidated_list(ctx: click.Context, customer: str | None, status: str | None, as_json: bool) -> None:
    """List issued consolidated invoices."""
    from projections import queries

    with opened(ctx) as store:
        catch_up(store)
        rows = queries.list_consolidated(store.read_engine, customer, status)
    if as_json:
        emit_json(rows)
        return
    table(
        ["number", "customer", "period", "issued", "due", "status", "lines", "total", "cur"],
        [[r["number"], r["customer"], f"{r['period_start']} .. {r['period_end']})", r["issue_date"], r["due_date"],
          r["status"], r["count"], r["total"], r["currency"]] for r in rows],
    )


@consolidated.command("show")
@click.argument("number")
@json_option
@click.pass_context
def consolidated_show(ctx: click.Context, number: str, as_json: bool) -> None:
    """Show consolidated invoice NUMBER with its lines."""
    from domain.errors import NotFound
    from projections import queries

    with opened(ctx) as store:
        catch_up(store)
        inv = queries.show_consolidated(store.read_engine, number)
    if inv is None:
        raise NotFound("number", f"no consolidated invoice {number!r}")
    if as_json:
        emit_json(inv)
        return
    out.print(f"[bold]{inv['number']}[/bold]  customer {inv['customer']}  status {inv['status']}")
    out.print(f"period {inv['period_start']} .. {inv['period_end']} (exclusive)  issued {inv['issue_date']}  due {inv['due_date']}")
    for k, v in (inv["summary"] or {}).items():
        out.print(f"{k}: {', '.join(v)}")
    table(["#", "invoice", "date", "amount"],
          [[i + 1, line["number"], line["local_date"], line["amount"]] for i, line in enumerate(inv["lines"])])
    out.print(f"{inv['count']} line(s), total {inv['total']} {inv['currency']}, paid {inv['paid']}, balance {inv['balance']}")


@consolidated.command("pay")
@click.argument("number")
@click.option("--amount", help="Amount paid (default: the open balance).")
@click.option("--reference", default="", help="Payment reference (bank transfer id, ...).")
@at_option
@click.pass_context
def consolidated_pay(ctx: click.Context, number: str, amount: str | None, reference: str, at_text: str | None) -> None:
    """Record a payment of consolidated invoice NUMBER; it is PAID once settled."""
    from commands.consolidated import pay_consolidated

    at = parse_at(at_text)
    with opened(ctx) as store:
        inv = pay_consolidated(store, number, at, amount, reference)
        catch_up(store)
    out.print(f"{number}: paid {inv.paid} {inv.currency}, balance {inv.balance}, status {inv.status}")


@consolidated.command("summary")
@json_option
@click.pass_context
def consolidated_summary(ctx: click.Context, as_json: bool) -> None:
    """Per customer: consolidated invoices, lines, total, paid, balance, overdue."""
    from projections import queries

    with opened(ctx) as store:
        catch_up(store)
        rows = queries.consolidated_summary(store.read_engine)
    if as_json:
        emit_json(rows)
        return
    table(["customer", "invoices", "lines", "total", "paid", "balance", "overdue", "cur"],
          [[r["customer"], r["invoices"], r["lines"], r["total"], r["paid"], r["balance"], r["overdue"], r["currency"]]
           for r in rows])


# ============================================================================================ contracts
@cli.group()
def contracts() -> None:
    """Recurring contracts: positions billed every month, quarter, half-year or year."""


def _parse_optional_date(text: str | None, field: str):  # noqa: ANN202
    return parse_date(text, field) if text else None


@contracts.command("create")
@click.argument("reference")
@click.option("--company", required=True, help="The issuing company (tenant).")
@click.option("--customer", required=True, help="Customer reference.")
@click.option("--name", required=True)
@click.option("--interval", required=True, type=click.Choice(["monthly", "quarterly", "semi-annual", "annual"], case_sensitive=False))
@click.option("--start", "start_text", required=True, metavar="DATE")
@click.option("--end", "end_text", metavar="DATE", help="Last possible run date.")
@click.option("--next-run", "next_text", metavar="DATE", help="First run date (default: the start date).")
@click.option("--currency", help="ISO 4217 (default: the customer's).")
@click.option("--payment-terms", type=int, help="Days from issue to due date (default: the customer's).")
@click.option("--auto-finalize", is_flag=True, help="Issue invoices (with a number) instead of drafts.")
@click.option("--auto-send", is_flag=True, help="Put issued invoices into the outbox.")
@at_option
@click.pass_context
def contracts_create(ctx: click.Context, reference: str, company: str, customer: str, name: str, interval: str,
                     start_text: str, end_text: str | None, next_text: str | None, currency: str | None,
                     payment_terms: int | None, auto_finalize: bool, auto_send: bool, at_text: str | None) -> None:
    """Create contract REFERENCE (no-op if it exists with the same data)."""
    from commands.contracts import CreateContract, create_contract

    at = parse_at(at_text)
    cmd = CreateContract(
        reference, company, customer, name, interval, parse_date(start_text, "start_date"),
        _parse_optional_date(end_text, "end_date"), _parse_optional_date(next_text, "next_run_date"),
        currency, payment_terms, auto_finalize, auto_send,
    )
    with opened(ctx) as store:
        created = create_contract(store, cmd, at)
        catch_up(store)
    out.print(f"contract {reference} {'created' if created else 'already exists (unchanged)'}")


@contracts.command("update")
@click.argument("reference")
@click.option("--name")
@click.option("--interval", type=click.Choice(["monthly", "quarterly", "semi-annual", "annual"], case_sensitive=False))
@click.option("--start", "start_text", metavar="DATE")
@click.option("--next-run", "next_text", metavar="DATE")
@click.option("--payment-terms", type=int)
@click.option("--auto-finalize/--no-auto-finalize", default=None)
@click.option("--auto-send/--no-auto-send", default=None)
@at_option
@click.pass_context
def contracts_update(ctx: click.Context, reference: str, name: str | None, interval: str | None, start_text: str | None,
                     next_text: str | None, payment_terms: int | None, auto_finalize: bool | None,
                     auto_send: bool | None, at_text: str | None) -> None:
    """Change contract REFERENCE (schedule changes only before its first run)."""
    from commands.contracts import update_contract

    at = parse_at(at_text)
    changes = {
        "name": name, "interval": interval, "start_date": _parse_optional_date(start_text, "start_date"),
        "next_run_date": _parse_optional_date(next_text, "next_run_date"), "payment_terms_days": payment_terms,
        "auto_finalize": auto_finalize, "auto_send": auto_send,
    }
    with opened(ctx) as store:
        changed = update_contract(store, reference, at, **{k: v for k, v in changes.items() if v is not None})
        catch_up(store)
    out.print(f"contract {reference} {'updated' if changed else 'unchanged'}")


def _position_options(fn: Callable) -> Callable:
    for opt in reversed([
        click.option("--position", "position", type=int, required=True, help="Position number, unique per contract."),
        click.option("--description"),
        click.option("--quantity", help="Decimal, up to 4 places."),
        click.option("--unit-price", help="Net unit price in the contract's currency."),
        click.option("--tax-rate", help="A rate name (standard, reduced, zero) or percentage (19, 7, 0)."),
        click.option("--discountable/--not-discountable", default=None),
        click.option("--attributes", metavar="JSON", help="A JSON object (item, cost types, ...)."),
    ]):
        fn = opt(fn)
    return fn


def _json_object(text: str | None, field: str) -> dict | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValidationError(field, f"is not valid JSON ({e.msg})") from None
    if not isinstance(value, dict):
        raise ValidationError(field, "must be a JSON object")
    return value


@contracts.command("add-position")
@click.argument("reference")
@_position_options
@at_option
@click.pass_context
def contracts_add_position(ctx: click.Context, reference: str, position: int, description: str | None, quantity: str | None,
                           unit_price: str | None, tax_rate: str | None, discountable: bool | None, attributes: str | None,
                           at_text: str | None) -> None:
    """Add a position (contract line) to contract REFERENCE."""
    from commands.contracts import add_position

    at = parse_at(at_text)
    for field, value in (("description", description), ("quantity", quantity), ("unit_price", unit_price), ("tax_rate", tax_rate)):
        if value is None:
            raise ValidationError(field, "is required")
    with opened(ctx) as store:
        add_position(store, reference, at, position=position, description=description, quantity=quantity,  # type: ignore[arg-type]
                     unit_price=unit_price, tax_rate=tax_rate, discountable=True if discountable is None else discountable,  # type: ignore[arg-type]
                     attributes=_json_object(attributes, "attributes"))
        catch_up(store)
    out.print(f"contract {reference}: position {position} added")


@contracts.command("change-position")
@click.argument("reference")
@_position_options
@at_option
@click.pass_context
def contracts_change_position(ctx: click.Context, reference: str, position: int, description: str | None, quantity: str | None,
                              unit_price: str | None, tax_rate: str | None, discountable: bool | None, attributes: str | None,
                              at_text: str | None) -> None:
    """Change the given fields of a position of contract REFERENCE."""
    from commands.contracts import change_position

    at = parse_at(at_text)
    with opened(ctx) as store:
        changed = change_position(store, reference, at, position=position, description=description, quantity=quantity,
                                  unit_price=unit_price, tax_rate=tax_rate, discountable=discountable,
                                  attributes=_json_object(attributes, "attributes"))
        catch_up(store)
    out.print(f"contract {reference}: position {position} {'changed' if changed else 'unchanged'}")


@contracts.command("remove-position")
@click.argument("reference")
@click.option("--position", type=int, required=True)
@at_option
@click.pass_context
def contracts_remove_position(ctx: click.Context, reference: str, position: int, at_text: str | None) -> None:
    """Remove a position of contract REFERENCE."""
    from commands.contracts import remove_position

    at = parse_at(at_text)
    with opened(ctx) as store:
        remove_position(store, reference, at, position)
        catch_up(store)
    out.print(f"contract {reference}: position {position} removed")


@contracts.command("deactivate")
@click.argument("reference")
@click.option("--reason", default="")
@at_option
@click.pass_context
def contracts_deactivate(ctx: click.Context, reference: str, reason: str, at_text: str | None) -> None:
    """Deactivate contract REFERENCE (the tick leaves it alone)."""
    from commands.contracts import set_active

    at = parse_at(at_text)
    with opened(ctx) as store:
        changed = set_active(store, reference, at, False, reason)
        catch_up(store)
    out.print(f"contract {reference} {'deactivated' if changed else 'was not active'}")


@contracts.command("reactivate")
@click.argument("reference")
@at_option
@click.pass_context
def contracts_reactivate(ctx: click.Context, reference: str, at_text: str | None) -> None:
    """Reactivate contract REFERENCE (also releases a contract parked after a failed run)."""
    from commands.contracts import set_active

    at = parse_at(at_text)
    with opened(ctx) as store:
        changed = set_active(store, reference, at, True)
        catch_up(store)
    out.print(f"contract {reference} {'reactivated' if changed else 'was active'}")


@contracts.command("end")
@click.argument("reference")
@click.option("--end", "end_text", required=True, metavar="DATE", help="The last possible run date.")
@at_option
@click.pass_context
def contracts_end(ctx: click.Context, reference: str, end_text: str, at_text: str | None) -> None:
    """End contract REFERENCE on a date."""
    from commands.contracts import end_contract

    at = parse_at(at_text)
    end = parse_date(end_text, "end_date")
    with opened(ctx) as store:
        end_contract(store, reference, at, end)
        catch_up(store)
    out.print(f"contract {reference} ends on {end}")


@contracts.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@at_option
@click.pass_context
def contracts_import(ctx: click.Context, file: str, at_text: str | None) -> None:
    """Import contracts from FILE.csv, one row per position (all-or-nothing, idempotent)."""
    from commands.contracts import import_contracts

    at = parse_at(at_text)
    with opened(ctx) as store, progress_bar("contracts") as advance:
        counts = import_contracts(store, file, at, progress=advance)
        catch_up(store)
    out.print("contracts: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@contracts.command("list")
@click.option("--company")
@click.option("--customer")
@json_option
@click.pass_context
def contracts_list(ctx: click.Context, company: str | None, customer: str | None, as_json: bool) -> None:
    """List contracts."""
    from projections import queries

    with opened(ctx) as store:
        catch_up(store)
        rows = queries.list_contracts(store.read_engine, company, customer)
    if as_json:
        emit_json(rows)
        return
    table(["reference", "company", "customer", "name", "interval", "next run", "active", "parked", "positions"],
          [[r["reference"], r["company"], r["customer"], r["name"], r["interval"], r["next_run_date"], r["active"],
            r["parked"], len(r["positions"])] for r in rows])


@contracts.command("show")
@click.argument("reference")
@click.pass_context
def contracts_show(ctx: click.Context, reference: str) -> None:
    """Show contract REFERENCE with its positions, as JSON."""
    from domain.errors import NotFound
    from projections import queries

    with opened(ctx) as store:
        catch_up(store)
        rows = queries.list_contracts(store.read_engine, reference=reference)
    if not rows:
        raise NotFound("contract", f"no contract {reference!r}")
    emit_json(rows[0])


@contracts.command("runs")
@click.argument("reference", required=False)
@click.option("--company")
@json_option
@click.pass_context
def contracts_runs(ctx: click.Context, reference: str | None, company: str | None, as_json: bool) -> None:
    """The run history (audit trail) of contract REFERENCE (or of all)."""
    from projections import queries

    with opened(ctx) as store:
        catch_up(store)
        rows = queries.list_runs(store.read_engine, reference, company)
    if as_json:
        emit_json(rows)
        return
    table(["contract", "run date", "status", "invoice", "message"],
          [[r["contract"], r["run_date"], r["status"], r["invoice_number"] or (r["invoice_id"] and "draft"), r["message"]] for r in rows])


# ============================================================================================ invoice documents
def _status_choice() -> click.Choice:
    return click.Choice(["DRAFT", "ISSUED", "OVERDUE", "PAID", "VOID", "CREDITED"], case_sensitive=False)


@invoices.command("list")
@click.option("--company")
@click.option("--customer")
@click.option("--status", type=_status_choice())
@click.option("--kind", type=click.Choice(["INVOICE", "CREDIT_NOTE"], case_sensitive=False))
@click.option("--from", "from_text", metavar="DATE", help="Issued on or after.")
@click.option("--to", "to_text", metavar="DATE", help="Issued on or before.")
@json_option
@click.pass_context
def invoices_list(ctx: click.Context, company: str | None, customer: str | None, status: str | None, kind: str | None,
                  from_text: str | None, to_text: str | None, as_json: bool) -> None:
    """List invoice documents and credit notes."""
    from projections import queries

    d1, d2 = _parse_optional_date(from_text, "from"), _parse_optional_date(to_text, "to")
    with opened(ctx) as store:
        catch_up(store)
        rows = queries.list_invoices(store.read_engine, company, customer, status, d1, d2, kind.upper() if kind else None)
    if as_json:
        emit_json(rows)
        return
    table(["number", "kind", "status", "company", "customer", "source", "issued", "due", "net", "tax", "gross", "cur"],
          [[r["number"] or f"(draft {r['id'][:8]})", r["kind"], r["status"], r["company"], r["customer"], r["source"],
            r["issue_date"], r["due_date"], r["net"], r["tax"], r["gross"], r["currency"]] for r in rows])


@invoices.command("show")
@click.argument("ident", metavar="NUMBER")
@click.option("--company")
@click.pass_context
def invoices_show(ctx: click.Context, ident: str, company: str | None) -> None:
    """Show invoice NUMBER (or a draft's id) with lines and tax breakdown, as JSON."""
    from commands.invoices import find_invoice
    from projections import queries

    with opened(ctx) as store:
        inv = find_invoice(store, ident, company)
        rows = queries.list_invoices(store.read_engine, invoice_id=str(inv.id))
    emit_json(rows[0])


def _invoice_line(inv: Any) -> str:
    return f"{inv.number or inv.id}: {inv.kind} {inv.status}, gross {inv.gross} {inv.currency}, balance {inv.balance}"


@invoices.command("finalize")
@click.argument("ident", metavar="ID")
@click.option("--company")
@at_option
@click.pass_context
def invoices_finalize(ctx: click.Context, ident: str, company: str | None, at_text: str | None) -> None:
    """Issue a DRAFT invoice (by id): it gets the next number of its company's series."""
    from commands.invoices import finalize_invoice

    at = parse_at(at_text)
    with opened(ctx) as store:
        inv = finalize_invoice(store, ident, at, company)
        catch_up(store)
    out.print(_invoice_line(inv))


@invoices.command("void")
@click.argument("ident", metavar="NUMBER")
@click.option("--reason", default="")
@click.option("--company")
@at_option
@click.pass_context
def invoices_void(ctx: click.Context, ident: str, reason: str, company: str | None, at_text: str | None) -> None:
    """Void an issued, unpaid invoice."""
    from commands.invoices import void_invoice

    at = parse_at(at_text)
    with opened(ctx) as store:
        inv = void_invoice(store, ident, at, reason, company)
        catch_up(store)
    out.print(_invoice_line(inv))


@invoices.command("credit")
@click.argument("ident", metavar="NUMBER")
@click.option("--positions", metavar="N,M", help="Credit only these positions (default: all lines).")
@click.option("--reason", default="")
@click.option("--company")
@at_option
@click.pass_context
def invoices_credit(ctx: click.Context, ident: str, positions: str | None, reason: str, company: str | None, at_text: str | None) -> None:
    """Issue a credit note correcting invoice NUMBER (its own CN number series)."""
    from commands.csvfiles import parse_int
    from commands.invoices import credit_invoice

    at = parse_at(at_text)
    pos = [parse_int(p, "positions") for p in positions.split(",")] if positions else None
    with opened(ctx) as store:
        note = credit_invoice(store, ident, at, pos, reason, company)
        catch_up(store)
    out.print(f"credit note {note.number} for {note.references}: gross {note.gross} {note.currency}")


@invoices.command("pay")
@click.argument("ident", metavar="NUMBER")
@click.option("--amount", help="Amount paid (default: the open balance).")
@click.option("--reference", default="")
@click.option("--company")
@at_option
@click.pass_context
def invoices_pay(ctx: click.Context, ident: str, amount: str | None, reference: str, company: str | None, at_text: str | None) -> None:
    """Record a payment of invoice NUMBER; PAID once settled."""
    from commands.invoices import pay_invoice

    at = parse_at(at_text)
    with opened(ctx) as store:
        inv = pay_invoice(store, ident, at, amount, reference, company)
        catch_up(store)
    out.print(_invoice_line(inv))


@invoices.command("outbox")
@click.option("--all", "include_sent", is_flag=True, help="Include invoices already sent.")
@json_option
@click.pass_context
def invoices_outbox(ctx: click.Context, include_sent: bool, as_json: bool) -> None:
    """Issued invoices waiting to be sent (from contracts with auto-send)."""
    from projections import queries

    with opened(ctx) as store:
        catch_up(store)
        rows = queries.list_outbox(store.read_engine, include_sent)
    if as_json:
        emit_json(rows)
        return
    table(["number", "company", "customer", "queued", "sent"],
          [[r["number"], r["company"], r["customer"], r["queued_at"], r["sent_at"]] for r in rows])


@invoices.command("mark-sent")
@click.argument("ident", metavar="NUMBER")
@click.option("--channel", default="", help="How it was sent (email, post, ...).")
@click.option("--company")
@at_option
@click.pass_context
def invoices_mark_sent(ctx: click.Context, ident: str, channel: str, company: str | None, at_text: str | None) -> None:
    """Record that invoice NUMBER was sent (it leaves the outbox)."""
    from commands.invoices import mark_sent

    at = parse_at(at_text)
    with opened(ctx) as store:
        changed = mark_sent(store, ident, at, channel, company)
        catch_up(store)
    out.print(f"{ident} {'marked sent' if changed else 'was already sent'}")


# ============================================================================================ projections
@cli.group()
def projections() -> None:
    """Read models: status, run, rebuild."""


@projections.command("status")
@json_option
@click.pass_context
def projections_status(ctx: click.Context, as_json: bool) -> None:
    """Show the event log's head and each projection's position and lag."""
    from projections import queries, registry

    with opened(ctx) as store:
        head = store.head()
        rows = queries.projection_status(store.read_engine, head, [p.name for p in registry.ALL])
    if as_json:
        emit_json({"head": head, "projections": rows})
        return
    out.print(f"event log head: {head}")
    table(["projection", "position", "lag"], [[r["name"], r["position"], r["lag"]] for r in rows])


@projections.command("run")
@click.option("--follow", is_flag=True, help="Keep running, polling the event log.")
@click.option("--interval", type=float, default=1.0, show_default=True, help="Seconds between polls with --follow.")
@click.pass_context
def projections_run(ctx: click.Context, follow: bool, interval: float) -> None:
    """Bring every projection up to date (and with --follow, keep it so)."""
    from projections import registry
    from projections import runner as projection_runner

    with opened(ctx) as store:
        catch_up(store)
        if follow:
            try:
                projection_runner.follow(store, registry.ALL, interval)
            except KeyboardInterrupt:
                pass
        out.print(f"projections at {store.head()}")


@projections.command("rebuild")
@click.argument("names", nargs=-1)
@click.pass_context
def projections_rebuild(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Drop and replay projections NAMES (default: all) from the start of the event log."""
    from projections import registry
    from projections import runner as projection_runner

    try:
        chosen = [registry.by_name(n) for n in names] if names else registry.ALL
    except KeyError as e:
        raise ValidationError("names", str(e.args[0])) from None
    with opened(ctx) as store:
        head = store.head()
        with progress_bar("rebuild", total=head) as advance:
            state = {"done": 0}

            def on_page(pos: int, _head: int) -> None:
                advance(pos - state["done"])
                state["done"] = pos

            projection_runner.rebuild(store, chosen, on_page=on_page)
    out.print(f"rebuilt {', '.join(p.name for p in chosen)} up to {head}")


# ============================================================================================ import, scheduler
@cli.group("import")
def import_group() -> None:
    """Import real data sets."""


@import_group.command("nycflights13")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--period", type=click.Choice(["weekly", "monthly"]), default="weekly", show_default=True)
@at_option
@click.pass_context
def import_nycflights13(ctx: click.Context, directory: str, period: str, at_text: str | None) -> None:
    """Import the nycflights13 data set in DIRECTORY: a customer per carrier, an invoice per flight."""
    from commands.nycflights import import_flights

    at = parse_at(at_text)
    with opened(ctx) as store:
        with progress_bar("flights") as advance:
            counts = import_flights(store, directory, at, period, progress=advance, on_total=advance.set_total)  # type: ignore[attr-defined]
        catch_up(store)
    out.print("nycflights13: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@cli.group()
def scheduler() -> None:
    """The long-running scheduler."""


@scheduler.command("run")
@click.option("--interval", type=float, default=60.0, show_default=True, help="Seconds between ticks.")
@click.option("--iterations", type=int, help="Stop after this many ticks (default: run until interrupted).")
@click.pass_context
def scheduler_run(ctx: click.Context, interval: float, iterations: int | None) -> None:
    """Tick at the wall clock every INTERVAL seconds. Several may run at once: correctness comes from the
    event store, not from a lock."""
    from scheduler.loop import run_loop

    with opened(ctx) as store:
        try:
            run_loop(store, now, interval, iterations, lambda s: out.print(json.dumps(s.as_dict(), default=str)))
        except KeyboardInterrupt:
            pass


# ============================================================================================ entry point
def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0, 1 unexpected, 2 usage/validation)."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="billing", standalone_mode=False)
        return 0
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except ImportRejected as e:
        click.echo(f"error: {e}", err=True)
        return 2
    except DomainError as e:
        click.echo(f"error: {e.field}: {e.rule}", err=True)
        return 2
    except DatabaseUnavailable as e:
        click.echo(f"error: {e}", err=True)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        if debug:
            traceback.print_exc()
        click.echo(f"error: unexpected {type(e).__name__}: {e} (rerun with --debug for the traceback)", err=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
