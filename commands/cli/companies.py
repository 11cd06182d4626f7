"""``billing companies ...`` and ``billing tax-rates ...``: the tenants and their settings (issue 7)."""

from __future__ import annotations

import click

from commands.cli.common import (
    at_option, catch_up, company_option, echo, emit_json, execute, json_option, opened, page_options, parse_at, report,
)


@click.group()
def companies() -> None:
    """Companies (tenants): name, time zone, default currency, number formats."""


@companies.command("set")
@click.argument("company")
@click.option("--name")
@click.option("--timezone", "tz", help="IANA time zone (a company never set is UTC).")
@click.option("--currency", help="Default ISO 4217 currency.")
@click.option("--number-format", "formats", multiple=True, metavar="KIND=PREFIX[:WIDTH]",
              help="invoice, credit_note or consolidated, e.g. invoice=RE:5 (repeatable).")
@click.option("--timesheet-units", metavar="POLICY",
              help="ceil_per_entry (default), ceil_per_client_day or cms_8_minute: how timesheet minutes become 15-minute units.")
@at_option
@click.pass_context
def companies_set(ctx: click.Context, company: str, name: str | None, tz: str | None, currency: str | None,
                  formats: tuple[str, ...], timesheet_units: str | None, at_text: str | None) -> None:
    """Create COMPANY or change its settings, from the command's instant on (never retroactively)."""
    from commands.companies import SetCompany
    from domain.number_formats import parse_number_format

    parsed = tuple(parse_number_format(f) for f in formats)
    changed = execute(ctx, SetCompany(company, parse_at(at_text), name, tz, currency, parsed, timesheet_units))
    echo(f"company {company} {'set' if changed else 'unchanged'}")


@companies.command("list")
@page_options
@json_option
@click.pass_context
def companies_list(ctx: click.Context, limit: int, offset: int, as_json: bool) -> None:
    """List the companies that have settings."""
    from projections.company_queries import list_companies
    from projections.paging import sliced

    report(ctx, limit, offset, as_json, lambda engine, page: sliced(list_companies(engine), page),
           ["company", "name", "zone", "currency"], lambda r: [r["company"], r["name"], r["timezone"], r["currency"]])


@companies.command("show")
@click.argument("company")
@json_option
@click.pass_context
def companies_show(ctx: click.Context, company: str, as_json: bool) -> None:
    """Show COMPANY with its tax rates and number formats (JSON, with or without --json)."""
    from projections.company_queries import show_company

    from projections.paging import require_known

    with opened(ctx, write=False) as store:
        catch_up(store)
        require_known(store.read_engine, company=company)
        emit_json(show_company(store.read_engine, company))


@click.group("tax-rates")
def tax_rates() -> None:
    """A company's tax-rate catalogue (standard 19 %, reduced 7 %, zero 0 % unless it adds its own)."""


@tax_rates.command("add")
@company_option
@click.option("--name", required=True, help="The rate's name, e.g. standard-jp.")
@click.option("--percent", required=True, help="0-100, up to 4 decimals.")
@click.option("--from", "from_text", metavar="DATE", help="In force from this local date (default: today in the company's zone).")
@at_option
@click.pass_context
def tax_rates_add(ctx: click.Context, company: str, name: str, percent: str, from_text: str | None, at_text: str | None) -> None:
    """Add a tax rate (or a new percentage for a rate's name) to the company's catalogue."""
    from commands.cli.common import parse_optional_date
    from commands.companies import AddTaxRate

    changed = execute(ctx, AddTaxRate(company, name, percent, parse_at(at_text), parse_optional_date(from_text, "from")))
    echo(f"tax rate {name} of {company} {'added' if changed else 'unchanged'}")


@tax_rates.command("list")
@company_option
@click.option("--on", "on_text", metavar="DATE", help="The catalogue in force on this date (default: every rate, with dates).")
@page_options
@json_option
@click.pass_context
def tax_rates_list(ctx: click.Context, company: str, on_text: str | None, limit: int, offset: int, as_json: bool) -> None:
    """List the company's tax rates."""
    from commands.cli.common import parse_optional_date
    from projections.company_queries import list_tax_rates
    from projections.paging import sliced

    on = parse_optional_date(on_text, "on")
    report(ctx, limit, offset, as_json, lambda engine, page: sliced(list_tax_rates(engine, company, on), page),
           ["name", "percent", "from"], lambda r: [r["name"], r["percent"], r["effective_from"]], known={"company": company})
