"""``billing timesheets ...``: timesheet entries billed weekly per client (issue 8)."""

from __future__ import annotations

import click

from commands.cli.common import (
    at_option, chosen_company, company_option, counts_line, echo, execute, json_option, list_company_options,
    page_options, parse_at, report,
)


@click.group()
def timesheets() -> None:
    """Timesheet entries: one invoice per client per ISO week, 15-minute units, locked once invoiced."""


@timesheets.command("add")
@click.argument("entry_id")
@company_option
@click.option("--engagement", required=True, help="An hourly or mixed engagement of the company.")
@click.option("--start", "start_text", required=True, metavar="INSTANT", help="ISO 8601 with offset.")
@click.option("--end", "end_text", metavar="INSTANT", help="ISO 8601 with offset (or --minutes).")
@click.option("--minutes", type=click.IntRange(0, 1440), help="Duration instead of --end.")
@click.option("--staff", default="")
@click.option("--service-code", default="")
@click.option("--notes", default="")
@at_option
@click.pass_context
def timesheets_add(ctx: click.Context, entry_id: str, company: str, engagement: str, start_text: str, end_text: str | None,
                   minutes: int | None, staff: str, service_code: str, notes: str, at_text: str | None) -> None:
    """Record timesheet entry ENTRY_ID (no-op if it exists with the same data)."""
    from datetime import timedelta

    from commands.timesheets import AddTimesheetEntry
    from domain.calendar import parse_instant
    from domain.errors import ValidationError

    start = parse_instant(start_text, "start")
    if (end_text is None) == (minutes is None):
        raise ValidationError("end", "give either --end or --minutes")
    end = parse_instant(end_text, "end") if end_text is not None else start + timedelta(minutes=minutes or 0)
    cmd = AddTimesheetEntry(entry_id, engagement, start, end, parse_at(at_text), company, staff, service_code, notes)
    echo(f"entry {entry_id} {'recorded' if execute(ctx, cmd) else 'already recorded (unchanged)'}")


@timesheets.command("correct")
@click.argument("entry_id")
@company_option
@click.option("--minutes", type=click.IntRange(0, 1440), help="The session's true duration from its start.")
@click.option("--start", "start_text", metavar="INSTANT")
@click.option("--end", "end_text", metavar="INSTANT")
@at_option
@click.pass_context
def timesheets_correct(ctx: click.Context, entry_id: str, company: str, minutes: int | None, start_text: str | None,
                       end_text: str | None, at_text: str | None) -> None:
    """Correct entry ENTRY_ID; if it is invoiced, the difference in units goes on the client's next invoice
    (a credit line if fewer; a credit note if that invoice's total is negative)."""
    from commands.timesheets import CorrectTimesheetEntry
    from domain.calendar import parse_instant
    from domain.errors import ValidationError

    if minutes is None and start_text is None and end_text is None:
        raise ValidationError("minutes", "give --minutes, or --start and/or --end")
    cmd = CorrectTimesheetEntry(entry_id, parse_at(at_text), company, minutes,
                                parse_instant(start_text, "start") if start_text else None, parse_instant(end_text, "end") if end_text else None)
    echo(f"entry {entry_id} {'corrected' if execute(ctx, cmd) else 'unchanged'}")


@timesheets.command("delete")
@click.argument("entry_id")
@company_option
@at_option
@click.pass_context
def timesheets_delete(ctx: click.Context, entry_id: str, company: str, at_text: str | None) -> None:
    """Delete entry ENTRY_ID (refused once its week is invoiced)."""
    from commands.timesheets import DeleteTimesheetEntry

    echo(f"entry {entry_id} {'deleted' if execute(ctx, DeleteTimesheetEntry(entry_id, parse_at(at_text), company)) else 'was deleted already'}")


@timesheets.command("invoice")
@click.option("--customer", required=True)
@click.option("--week", required=True, metavar="YYYY-Www", help="ISO 8601 week, e.g. 2025-W01.")
@company_option
@at_option
@click.pass_context
def timesheets_invoice(ctx: click.Context, customer: str, week: str, company: str, at_text: str | None) -> None:
    """Issue CUSTOMER's invoice for WEEK now (admins: the same code path as the tick, which later finds it done)."""
    from commands.timesheets import InvoiceTimesheetWeek

    echo(f"issued {execute(ctx, InvoiceTimesheetWeek(customer, week, parse_at(at_text), company))}")


@timesheets.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@company_option
@click.option("--engagement", help="Record every row on this engagement (Toggl: default the row's Client).")
@at_option
@click.pass_context
def timesheets_import(ctx: click.Context, file: str, company: str, engagement: str | None, at_text: str | None) -> None:
    """Import entries from FILE.csv: entry_id,engagement,start,end,staff,service_code,notes, or a Toggl,
    Clockify or Harvest detailed export (detected by its header). All-or-nothing, idempotent."""
    from commands.timesheets import ImportTimesheets

    counts_line("entries", execute(ctx, ImportTimesheets(file, parse_at(at_text), company, engagement)))


@timesheets.command("list")
@list_company_options
@click.option("--customer")
@click.option("--engagement")
@click.option("--status", type=click.Choice(["open", "locked", "deleted"], case_sensitive=False))
@page_options
@json_option
@click.pass_context
def timesheets_list(ctx: click.Context, company: str, all_companies: bool, customer: str | None, engagement: str | None,
                    status: str | None, limit: int, offset: int, as_json: bool) -> None:
    """List timesheet entries with their week, lock and invoice."""
    from projections.timesheet_queries import list_entries

    co = chosen_company(company, all_companies)
    report(ctx, limit, offset, as_json, lambda engine, page: list_entries(engine, co, customer, engagement, status, paging=page),
           ["entry", "customer", "date", "minutes", "staff", "code", "week", "late", "status", "invoice"],
           lambda r: [r["entry_id"], r["customer"], r["date"], r["minutes"], r["staff"], r["service_code"], r["week"], r["late"],
                      r["status"], r["invoice"] or ""], known={"customer": customer, "engagement": engagement, "company": co})
