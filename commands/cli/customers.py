"""``billing customers ...``: who is billed, in which zone and currency, and how invoices consolidate."""

from __future__ import annotations

import click

from commands.cli.common import (
    at_option, catch_up, chosen_company, company_option, counts_line, echo, emit_json, execute, json_option,
    list_company_options, opened, page_options, parse_at, parse_optional_date, progress_bar, report,
)


@click.group()
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
@company_option
@at_option
@click.pass_context
def customers_add(ctx: click.Context, reference: str, name: str, tz: str, currency: str, payment_terms: int,
                  approved: bool, summary_attributes: str | None, company: str, at_text: str | None) -> None:
    """Register customer REFERENCE (no-op if it exists with the same data)."""
    from commands.customers import AddCustomer

    cmd = AddCustomer(reference, name, tz, currency, payment_terms, approved, _attrs(summary_attributes) or (), parse_at(at_text), company)
    echo(f"customer {reference} {'added' if execute(ctx, cmd) else 'already exists (unchanged)'}")


@customers.command("update")
@click.argument("reference")
@click.option("--name")
@click.option("--payment-terms", type=int)
@click.option("--summary-attributes", metavar="A,B")
@click.option("--timezone", "tz", help="Must equal the current one (it cannot change).")
@click.option("--currency", help="Must equal the current one (it cannot change).")
@click.option("--autopay/--no-autopay", default=None, help="The client pays by direct debit or card on file (package-fee invoices say so).")
@company_option
@at_option
@click.pass_context
def customers_update(ctx: click.Context, reference: str, name: str | None, payment_terms: int | None,
                     summary_attributes: str | None, tz: str | None, currency: str | None, autopay: bool | None, company: str,
                     at_text: str | None) -> None:
    """Change customer REFERENCE's name, payment terms, summary attributes or autopay."""
    from commands.customers import UpdateCustomer

    cmd = UpdateCustomer(reference, parse_at(at_text), name, payment_terms, _attrs(summary_attributes), tz, currency, company, autopay)
    echo(f"customer {reference} {'updated' if execute(ctx, cmd) else 'unchanged'}")


@customers.command("approve")
@click.argument("reference")
@click.option("--withdraw", is_flag=True, help="Withdraw the approval instead.")
@company_option
@at_option
@click.pass_context
def customers_approve(ctx: click.Context, reference: str, withdraw: bool, company: str, at_text: str | None) -> None:
    """Approve customer REFERENCE for consolidation (or --withdraw the approval)."""
    from commands.customers import ApproveCustomer

    changed = execute(ctx, ApproveCustomer(reference, parse_at(at_text), not withdraw, company))
    state = "not approved" if withdraw else "approved"
    echo(f"customer {reference} {state}{'' if changed else ' (unchanged)'}")


@customers.command("consolidation")
@click.argument("reference")
@click.argument("mode", type=click.Choice(["weekly", "monthly", "none"], case_sensitive=False))
@click.option("--start-day", type=int, help="Weekly: ISO weekday 1-7 (1 = Monday). Monthly: day 1-28.")
@click.option("--from", "from_text", metavar="DATE", help="First local date covered (default: today in the customer's zone).")
@company_option
@at_option
@click.pass_context
def customers_consolidation(ctx: click.Context, reference: str, mode: str, start_day: int | None,
                            from_text: str | None, company: str, at_text: str | None) -> None:
    """Set customer REFERENCE's consolidation: weekly, monthly, or none (disables it; what is pending is
    consolidated at the next tick)."""
    from commands.customers import SetConsolidation

    mode = mode.lower()
    cmd = SetConsolidation(reference, mode, start_day, parse_optional_date(from_text, "from"), parse_at(at_text), company)
    echo(f"customer {reference}: consolidation {mode}{'' if execute(ctx, cmd) else ' (unchanged)'}")


@customers.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@company_option
@at_option
@click.pass_context
def customers_import(ctx: click.Context, file: str, company: str, at_text: str | None) -> None:
    """Import customers from FILE.csv (all-or-nothing, idempotent). Columns: reference, name, timezone,
    currency, payment_terms_days, approved, consolidation, start_day, consolidate_from [, summary_attributes]."""
    from commands.customer_import import ImportCustomers

    at = parse_at(at_text)
    with progress_bar("customers") as advance:
        counts = execute(ctx, ImportCustomers(file, at, company, advance))
    counts_line("customers", counts)


@customers.command("list")
@list_company_options
@page_options
@json_option
@click.pass_context
def customers_list(ctx: click.Context, company: str, all_companies: bool, limit: int, offset: int, as_json: bool) -> None:
    """List customers."""
    from projections import queries

    co = chosen_company(company, all_companies)
    report(ctx, limit, offset, as_json, lambda engine, page: queries.list_customers(engine, page, company=co),
           ["reference", "name", "zone", "currency", "terms", "approved", "consolidation", "from", "next close"],
           lambda r: [r["reference"], r["name"], r["timezone"], r["currency"], r["payment_terms_days"], r["approved"],
                      r["consolidation"] + (f" ({r['start_day']})" if r["start_day"] else ""), r["consolidate_from"], r["next_close_at"]])


@customers.command("show")
@click.argument("reference")
@company_option
@json_option
@click.pass_context
def customers_show(ctx: click.Context, reference: str, company: str, as_json: bool) -> None:
    """Show customer REFERENCE (JSON, with or without --json)."""
    from domain.errors import NotFound
    from projections import queries

    with opened(ctx, write=False) as store:
        catch_up(store)
        rows = queries.list_customers(store.read_engine, reference=reference, company=company)
    if not rows:
        raise NotFound("customer", f"no customer {reference!r}")
    emit_json(rows[0])


@customers.command("set-rate")
@click.argument("reference")
@click.option("--payer", required=True, help="The insurance payer (1-200 characters).")
@click.option("--rate-per-unit", required=True, help="Per 15 minutes, in the customer's currency.")
@click.option("--from", "from_text", required=True, metavar="DATE", help="First local date the rate applies to.")
@company_option
@at_option
@click.pass_context
def customers_set_rate(ctx: click.Context, reference: str, payer: str, rate_per_unit: str, from_text: str, company: str,
                       at_text: str | None) -> None:
    """Set customer REFERENCE's payer and rate per 15-minute unit from DATE (timesheet invoices issued
    before keep the rate they were issued with)."""
    from commands.cli.common import parse_optional_date
    from commands.timesheets import SetCustomerRate

    changed = execute(ctx, SetCustomerRate(reference, payer, rate_per_unit, parse_optional_date(from_text, "from"), parse_at(at_text), company))
    echo(f"customer {reference}: {'rate set' if changed else 'rate unchanged'}")
