"""``billing invoices ...``: individual invoices recorded from elsewhere (record, cancel, import,
individual). The engine's own documents (list, show, finalize, void, credit, pay, outbox, mark-sent) are
in :mod:`commands.cli.documents`, in the same group."""

from __future__ import annotations

import click

from commands.cli.common import (
    at_option, catch_up, chosen_company, company_option, counts_line, echo, execute, json_option, list_company_options,
    opened, page_options, parse_at, parse_optional_date, progress_bar, report,
)


@click.group()
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
@company_option
@at_option
@click.pass_context
def invoices_record(ctx: click.Context, number: str, customer: str, issued_at: str, amount: str, currency: str,
                    attributes: str | None, company: str, at_text: str | None) -> None:
    """Record individual invoice NUMBER issued elsewhere (no-op if recorded with the same data)."""
    from commands.individual_invoices import RecordInvoices, make_record

    cmd = RecordInvoices((make_record(number, customer, issued_at, amount, currency, attributes),), parse_at(at_text), company)
    counts = execute(ctx, cmd)
    echo(f"invoice {number} {'recorded' if counts['recorded'] else 'already recorded (unchanged)'}")


@invoices.command("cancel")
@click.argument("number")
@click.option("--reason", default="")
@company_option
@at_option
@click.pass_context
def invoices_cancel(ctx: click.Context, number: str, reason: str, company: str, at_text: str | None) -> None:
    """Cancel individual invoice NUMBER. Gathered into an open period, it leaves it; inside an issued
    consolidated invoice, that invoice gets a credit note for its line."""
    from commands.individual_invoices import CancelIndividualInvoice

    changed = execute(ctx, CancelIndividualInvoice(number, parse_at(at_text), reason, company))
    echo(f"invoice {number} {'cancelled' if changed else 'was already cancelled'}")


@invoices.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@company_option
@at_option
@click.pass_context
def invoices_import(ctx: click.Context, file: str, company: str, at_text: str | None) -> None:
    """Import individual invoices from FILE.csv (all-or-nothing, idempotent). Columns: customer, number,
    issued_at, amount, currency, status, attributes."""
    from commands.individual_invoices import import_invoices

    at = parse_at(at_text)
    with opened(ctx) as store, progress_bar("invoices") as advance:
        counts = import_invoices(store, file, at, progress=advance, on_total=advance.set_total, company=company)  # type: ignore[attr-defined]
        catch_up(store)
    counts_line("invoices", counts)


@invoices.command("individual")
@click.option("--customer")
@click.option("--from", "from_text", metavar="DATE", help="Issued on or after this local date.")
@click.option("--to", "to_text", metavar="DATE", help="Issued on or before this local date.")
@list_company_options
@page_options
@json_option
@click.pass_context
def invoices_individual(ctx: click.Context, customer: str | None, from_text: str | None, to_text: str | None,
                        company: str, all_companies: bool, limit: int, offset: int, as_json: bool) -> None:
    """List recorded individual invoices and the consolidated invoice that includes each."""
    from projections import queries

    d1, d2 = parse_optional_date(from_text, "from"), parse_optional_date(to_text, "to")
    co = chosen_company(company, all_companies)
    report(ctx, limit, offset, as_json, lambda engine, page: queries.list_individual(engine, customer, d1, d2, paging=page, company=co),
           ["number", "customer", "issued on", "amount", "currency", "status", "consolidated"],
           lambda r: [r["number"], r["customer"], r["issued_on"], r["amount"], r["currency"], r["status"], r["consolidated_number"]],
           known={"customer": customer, "company": co})


from commands.cli import documents as _documents  # noqa: E402,F401 - registers the document commands
