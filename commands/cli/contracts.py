"""``billing contracts ...``: recurring contracts, their positions and run history (issue 3)."""

from __future__ import annotations

from collections.abc import Callable

import click

from commands.cli.common import (
    at_option, catch_up, chosen_company, company_option, counts_line, echo, emit_json, execute, json_option,
    list_company_options, opened, page_options, parse_at, parse_optional_date, progress_bar, report,
)

INTERVALS = click.Choice(["monthly", "quarterly", "semi-annual", "annual"], case_sensitive=False)


@click.group()
def contracts() -> None:
    """Recurring contracts: positions billed every month, quarter, half-year or year."""


@contracts.command("create")
@click.argument("reference")
@company_option
@click.option("--customer", required=True, help="Customer reference (a customer of the company).")
@click.option("--name", required=True)
@click.option("--interval", required=True, type=INTERVALS)
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
    """Create contract REFERENCE of the company (no-op if it exists with the same data)."""
    from commands.contracts import CreateContract

    cmd = CreateContract(
        reference, company, customer, name, interval, parse_optional_date(start_text, "start_date"),
        parse_optional_date(end_text, "end_date"), parse_optional_date(next_text, "next_run_date"),
        currency, payment_terms, auto_finalize, auto_send, at=parse_at(at_text),
    )
    echo(f"contract {reference} {'created' if execute(ctx, cmd) else 'already exists (unchanged)'}")


@contracts.command("update")
@click.argument("reference")
@click.option("--name")
@click.option("--interval", type=INTERVALS)
@click.option("--start", "start_text", metavar="DATE")
@click.option("--next-run", "next_text", metavar="DATE")
@click.option("--payment-terms", type=int)
@click.option("--auto-finalize/--no-auto-finalize", default=None)
@click.option("--auto-send/--no-auto-send", default=None)
@company_option
@at_option
@click.pass_context
def contracts_update(ctx: click.Context, reference: str, name: str | None, interval: str | None, start_text: str | None,
                     next_text: str | None, payment_terms: int | None, auto_finalize: bool | None,
                     auto_send: bool | None, company: str, at_text: str | None) -> None:
    """Change contract REFERENCE (schedule changes only before its first run)."""
    from commands.contracts import UpdateContract

    changes = {
        "name": name, "interval": interval, "start_date": parse_optional_date(start_text, "start_date"),
        "next_run_date": parse_optional_date(next_text, "next_run_date"), "payment_terms_days": payment_terms,
        "auto_finalize": auto_finalize, "auto_send": auto_send,
    }
    cmd = UpdateContract(reference, parse_at(at_text), tuple((k, v) for k, v in changes.items() if v is not None), company)
    echo(f"contract {reference} {'updated' if execute(ctx, cmd) else 'unchanged'}")


def _position_options(fn: Callable) -> Callable:
    for opt in reversed([
        click.option("--position", "position", type=int, required=True, help="Position number, unique per contract."),
        click.option("--description"),
        click.option("--quantity", help="Decimal, up to 4 places."),
        click.option("--unit-price", help="Net unit price in the contract's currency."),
        click.option("--tax-rate", help="A rate of the company's catalogue, by name (standard, reduced, zero, ...) "
                                        "or percentage when only one rate has it."),
        click.option("--discountable/--not-discountable", default=None),
        click.option("--attributes", metavar="JSON", help="A JSON object (item, cost types, ...)."),
        company_option,
    ]):
        fn = opt(fn)
    return fn


def _json_object(text: str | None, field: str) -> dict | None:
    if text is None:
        return None
    from domain.attributes import validate_attributes

    return validate_attributes(text, field)


@contracts.command("add-position")
@click.argument("reference")
@_position_options
@at_option
@click.pass_context
def contracts_add_position(ctx: click.Context, reference: str, position: int, description: str | None, quantity: str | None,
                           unit_price: str | None, tax_rate: str | None, discountable: bool | None, attributes: str | None,
                           company: str, at_text: str | None) -> None:
    """Add a position (contract line) to contract REFERENCE."""
    from commands.contracts import AddPosition
    from domain.errors import ValidationError

    for field, value in (("description", description), ("quantity", quantity), ("unit_price", unit_price), ("tax_rate", tax_rate)):
        if value is None:
            raise ValidationError(field, "is required")
    execute(ctx, AddPosition(reference, parse_at(at_text), position, description, quantity, unit_price, tax_rate,  # type: ignore[arg-type]
                             True if discountable is None else discountable, _json_object(attributes, "attributes"), company))
    echo(f"contract {reference}: position {position} added")


@contracts.command("change-position")
@click.argument("reference")
@_position_options
@at_option
@click.pass_context
def contracts_change_position(ctx: click.Context, reference: str, position: int, description: str | None, quantity: str | None,
                              unit_price: str | None, tax_rate: str | None, discountable: bool | None, attributes: str | None,
                              company: str, at_text: str | None) -> None:
    """Change the given fields of a position of contract REFERENCE."""
    from commands.contracts import ChangePosition

    changed = execute(ctx, ChangePosition(reference, parse_at(at_text), position, description, quantity, unit_price, tax_rate,
                                          discountable, _json_object(attributes, "attributes"), company))
    echo(f"contract {reference}: position {position} {'changed' if changed else 'unchanged'}")


@contracts.command("remove-position")
@click.argument("reference")
@click.option("--position", type=int, required=True)
@company_option
@at_option
@click.pass_context
def contracts_remove_position(ctx: click.Context, reference: str, position: int, company: str, at_text: str | None) -> None:
    """Remove a position of contract REFERENCE."""
    from commands.contracts import RemovePosition

    execute(ctx, RemovePosition(reference, parse_at(at_text), position, company))
    echo(f"contract {reference}: position {position} removed")


@contracts.command("deactivate")
@click.argument("reference")
@click.option("--reason", default="")
@company_option
@at_option
@click.pass_context
def contracts_deactivate(ctx: click.Context, reference: str, reason: str, company: str, at_text: str | None) -> None:
    """Deactivate contract REFERENCE: the tick leaves it alone, and runs due while it is inactive are
    never billed."""
    from commands.contracts import SetContractActive

    changed = execute(ctx, SetContractActive(reference, parse_at(at_text), False, reason, company))
    echo(f"contract {reference} {'deactivated' if changed else 'was not active'}")


@contracts.command("reactivate")
@click.argument("reference")
@company_option
@at_option
@click.pass_context
def contracts_reactivate(ctx: click.Context, reference: str, company: str, at_text: str | None) -> None:
    """Reactivate contract REFERENCE (also releases a contract parked after a failed run); billing goes on
    with the next run date after the reactivation."""
    from commands.contracts import SetContractActive

    changed = execute(ctx, SetContractActive(reference, parse_at(at_text), True, "", company))
    echo(f"contract {reference} {'reactivated' if changed else 'was active'}")


@contracts.command("end")
@click.argument("reference")
@click.option("--end", "end_text", required=True, metavar="DATE", help="The last possible run date.")
@company_option
@at_option
@click.pass_context
def contracts_end(ctx: click.Context, reference: str, end_text: str, company: str, at_text: str | None) -> None:
    """End contract REFERENCE on a date."""
    from commands.contracts import EndContract

    end = parse_optional_date(end_text, "end_date")
    execute(ctx, EndContract(reference, parse_at(at_text), end, company))
    echo(f"contract {reference} ends on {end}")


@contracts.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@company_option
@at_option
@click.pass_context
def contracts_import(ctx: click.Context, file: str, company: str, at_text: str | None) -> None:
    """Import contracts from FILE.csv, one row per position (all-or-nothing, idempotent). An empty
    ``company`` cell means the command's company."""
    from commands.contract_import import ImportContracts

    at = parse_at(at_text)
    with progress_bar("contracts") as advance:
        counts = execute(ctx, ImportContracts(file, at, company, advance))
    counts_line("contracts", counts)


@contracts.command("list")
@list_company_options
@click.option("--customer")
@page_options
@json_option
@click.pass_context
def contracts_list(ctx: click.Context, company: str, all_companies: bool, customer: str | None, limit: int, offset: int,
                   as_json: bool) -> None:
    """List contracts."""
    from projections import queries

    co = chosen_company(company, all_companies)
    report(ctx, limit, offset, as_json, lambda engine, page: queries.list_contracts(engine, co, customer, paging=page),
           ["reference", "company", "customer", "name", "interval", "next run", "active", "parked", "positions"],
           lambda r: [r["reference"], r["company"], r["customer"], r["name"], r["interval"], r["next_run_date"], r["active"],
                      r["parked"], len(r["positions"])], known={"customer": customer, "company": co})


@contracts.command("show")
@click.argument("reference")
@company_option
@json_option
@click.pass_context
def contracts_show(ctx: click.Context, reference: str, company: str, as_json: bool) -> None:
    """Show contract REFERENCE with its positions (JSON, with or without --json)."""
    from domain.errors import NotFound
    from projections import queries

    with opened(ctx, write=False) as store:
        catch_up(store)
        rows = queries.list_contracts(store.read_engine, company, reference=reference)
    if not rows:
        raise NotFound("contract", f"no contract {reference!r}")
    emit_json(rows[0])


@contracts.command("runs")
@click.argument("reference", required=False)
@list_company_options
@page_options
@json_option
@click.pass_context
def contracts_runs(ctx: click.Context, reference: str | None, company: str, all_companies: bool, limit: int, offset: int,
                   as_json: bool) -> None:
    """The run history (audit trail) of contract REFERENCE (or of all)."""
    from projections import queries

    co = chosen_company(company, all_companies)
    report(ctx, limit, offset, as_json, lambda engine, page: queries.list_runs(engine, reference, co, paging=page),
           ["contract", "run date", "status", "invoice", "message"],
           lambda r: [r["contract"], r["run_date"], r["status"],
                      r["invoice_number"] or (r["invoice_id"] and f"(draft {r['invoice_id'][:8]})"), r["message"]],
           known={"contract": reference, "company": co})
