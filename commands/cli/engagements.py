"""``billing engagements ...``: engagements with package fees per period (issue 8)."""

from __future__ import annotations

import click

from commands.cli.common import (
    at_option, catch_up, chosen_company, company_option, counts_line, echo, emit_json, execute, json_option,
    list_company_options, opened, page_options, parse_at, parse_optional_date, report,
)

PRICING = click.Choice(["package", "hourly", "mixed"], case_sensitive=False)
SCHEDULES = click.Choice(["monthly", "quarterly", "annual", "one_time"], case_sensitive=False)
PRORATION = click.Choice(["full", "prorate_days"], case_sensitive=False)


@click.group()
def engagements() -> None:
    """Engagements: package fees per month, quarter, year or once, never twice for a period."""


@engagements.command("create")
@click.argument("reference")
@company_option
@click.option("--customer", required=True, help="The client (a customer of the company).")
@click.option("--name", required=True)
@click.option("--pricing", type=PRICING, default="package", show_default=True)
@click.option("--fee", help="Package fee per period, in the currency (package and mixed pricing).")
@click.option("--schedule", type=SCHEDULES, help="Fee periods: calendar months, quarters, years, or the whole term once.")
@click.option("--start", "start_text", required=True, metavar="DATE", help="First day (local date).")
@click.option("--end", "end_text", metavar="DATE", help="Last day, inclusive (required for one_time).")
@click.option("--proration", type=PRORATION, default="full", show_default=True,
              help="A partial period: billed in full, or by covered days ÷ days of the period (half-up).")
@click.option("--currency", help="ISO 4217 (default: the customer's).")
@click.option("--tax-rate", help="A rate of the company's catalogue, by name or percent (default: standard; zero for hourly).")
@click.option("--payment-terms", type=int, help="Days from issue to due date (default: the customer's).")
@at_option
@click.pass_context
def engagements_create(ctx: click.Context, reference: str, company: str, customer: str, name: str, pricing: str,
                       fee: str | None, schedule: str | None, start_text: str, end_text: str | None, proration: str,
                       currency: str | None, tax_rate: str | None, payment_terms: int | None, at_text: str | None) -> None:
    """Create engagement REFERENCE of the company (no-op if it exists with the same data)."""
    from commands.engagements import CreateEngagement

    cmd = CreateEngagement(reference, customer, name, pricing, parse_optional_date(start_text, "start_date"), parse_at(at_text),
                           company, parse_optional_date(end_text, "end_date"), fee, currency, schedule, proration, tax_rate,
                           payment_terms)
    echo(f"engagement {reference} {'created' if execute(ctx, cmd) else 'already exists (unchanged)'}")


@engagements.command("update")
@click.argument("reference")
@company_option
@click.option("--name")
@click.option("--fee", help="New fee for the periods not billed yet.")
@click.option("--tax-rate")
@click.option("--payment-terms", type=int)
@at_option
@click.pass_context
def engagements_update(ctx: click.Context, reference: str, company: str, name: str | None, fee: str | None,
                       tax_rate: str | None, payment_terms: int | None, at_text: str | None) -> None:
    """Change engagement REFERENCE (periods already billed keep their invoices)."""
    from commands.engagements import UpdateEngagement

    cmd = UpdateEngagement(reference, parse_at(at_text), company, name, payment_terms, tax_rate, fee)
    echo(f"engagement {reference} {'updated' if execute(ctx, cmd) else 'unchanged'}")


@engagements.command("end")
@click.argument("reference")
@company_option
@click.option("--end", "end_text", required=True, metavar="DATE", help="Last day, inclusive.")
@at_option
@click.pass_context
def engagements_end(ctx: click.Context, reference: str, company: str, end_text: str, at_text: str | None) -> None:
    """End engagement REFERENCE's current term on DATE."""
    from commands.engagements import EndEngagement

    changed = execute(ctx, EndEngagement(reference, parse_optional_date(end_text, "end_date"), parse_at(at_text), company))
    echo(f"engagement {reference} {'ends ' + end_text if changed else 'unchanged'}")


@engagements.command("renew")
@click.argument("reference")
@company_option
@click.option("--end", "end_text", required=True, metavar="DATE", help="Last day of the new term, inclusive.")
@click.option("--fee", help="Fee of the new term (default: the current one).")
@at_option
@click.pass_context
def engagements_renew(ctx: click.Context, reference: str, company: str, end_text: str, fee: str | None, at_text: str | None) -> None:
    """Renew engagement REFERENCE: a new term from the current end + 1 day (issued invoices stay as they are)."""
    from commands.engagements import RenewEngagement

    execute(ctx, RenewEngagement(reference, parse_optional_date(end_text, "end_date"), parse_at(at_text), company, fee))
    echo(f"engagement {reference} renewed to {end_text}")


@engagements.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@company_option
@at_option
@click.pass_context
def engagements_import(ctx: click.Context, file: str, company: str, at_text: str | None) -> None:
    """Import engagements from FILE.csv (reference,customer,name,pricing,fee,currency,schedule,start,end,
    proration,tax_rate,payment_terms_days; all-or-nothing, idempotent)."""
    from commands.engagements import ImportEngagements

    counts_line("engagements", execute(ctx, ImportEngagements(file, parse_at(at_text), company)))


@engagements.command("list")
@list_company_options
@click.option("--customer")
@page_options
@json_option
@click.pass_context
def engagements_list(ctx: click.Context, company: str, all_companies: bool, customer: str | None, limit: int, offset: int,
                     as_json: bool) -> None:
    """List engagements."""
    from projections.engagement_queries import list_engagements

    co = chosen_company(company, all_companies)
    report(ctx, limit, offset, as_json, lambda engine, page: list_engagements(engine, co, customer, paging=page),
           ["reference", "company", "customer", "pricing", "fee", "schedule", "start", "end", "billed", "next due"],
           lambda r: [r["reference"], r["company"], r["customer"], r["pricing"], f"{r['fee'] or ''} {r['currency']}", r["schedule"] or "",
                      r["start_date"], r["end_date"] or "", r["periods_billed"], r["next_due_at"] or ""],
           known={"customer": customer, "company": co})


@engagements.command("show")
@click.argument("reference")
@company_option
@json_option
@click.pass_context
def engagements_show(ctx: click.Context, reference: str, company: str, as_json: bool) -> None:
    """Show engagement REFERENCE with its terms and the fee periods billed (JSON, with or without --json)."""
    from domain.errors import NotFound
    from projections.engagement_queries import list_engagements

    with opened(ctx, write=False) as store:
        catch_up(store)
        rows = list_engagements(store.read_engine, company, reference=reference, with_periods=True)
    if not rows:
        raise NotFound("engagement", f"no engagement {reference!r}" + ("" if company == "default" else f" of company {company}"))
    emit_json(rows[0])
