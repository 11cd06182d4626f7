"""``billing invoices list|show|finalize|void|credit|pay|outbox|mark-sent``: the engine's own invoice
documents and credit notes (part of the ``invoices`` group)."""

from __future__ import annotations

from typing import Any

import click

from commands.cli.common import (
    at_option, chosen_company, company_option, echo, emit_json, execute, json_option, list_company_options, opened,
    page_options, parse_at, parse_optional_date, report,
)
from commands.cli.invoices import invoices

STATUSES = ["DRAFT", "ISSUED", "OVERDUE", "PAID", "VOID", "CREDITED"]


def _invoice_line(inv: Any) -> str:
    return f"{inv.number or inv.id}: {inv.kind} {inv.status}, gross {inv.gross} {inv.currency}, balance {inv.balance}"


@invoices.command("list")
@list_company_options
@click.option("--customer")
@click.option("--status", type=click.Choice(STATUSES, case_sensitive=False))
@click.option("--kind", type=click.Choice(["INVOICE", "CREDIT_NOTE", "CONSOLIDATED", "ALL"], case_sensitive=False),
              help="Default: invoices and credit notes; ALL: every document of every source.")
@click.option("--from", "from_text", metavar="DATE", help="Issued on or after.")
@click.option("--to", "to_text", metavar="DATE", help="Issued on or before.")
@page_options
@json_option
@click.pass_context
def invoices_list(ctx: click.Context, company: str, all_companies: bool, customer: str | None, status: str | None,
                  kind: str | None, from_text: str | None, to_text: str | None, limit: int, offset: int, as_json: bool) -> None:
    """List documents: invoices and credit notes (a draft shows the first 8 digits of its id, which every
    command accepts), and with --kind the consolidated invoices too."""
    from projections import queries

    d1, d2 = parse_optional_date(from_text, "from"), parse_optional_date(to_text, "to")
    co = chosen_company(company, all_companies)
    report(ctx, limit, offset, as_json,
           lambda engine, page: queries.list_invoices(engine, co, customer, status, d1, d2, kind.upper() if kind else None, paging=page),
           ["number", "kind", "status", "company", "customer", "source", "issued", "due", "net", "tax", "gross", "cur"],
           lambda r: [r["number"] or f"(draft {r['id'][:8]})", r["kind"], r["status"], r["company"], r["customer"], r["source"],
                      r["issue_date"], r["due_date"], r["net"], r["tax"], r["gross"], r["currency"]],
           known={"customer": customer, "company": co})


@invoices.command("show")
@click.argument("ident", metavar="NUMBER")
@company_option
@json_option
@click.pass_context
def invoices_show(ctx: click.Context, ident: str, company: str | None, as_json: bool) -> None:
    """Show invoice NUMBER (or a draft's id) with lines and tax breakdown (JSON, with or without --json)."""
    from commands.invoices import find_invoice
    from projections import queries

    with opened(ctx, write=False) as store:
        inv = find_invoice(store, ident, company)
        rows = queries.list_invoices(store.read_engine, invoice_id=str(inv.id))
    emit_json(rows[0])


@invoices.command("finalize")
@click.argument("ident", metavar="ID")
@company_option
@at_option
@click.pass_context
def invoices_finalize(ctx: click.Context, ident: str, company: str, at_text: str | None) -> None:
    """Issue a DRAFT invoice (by id, or the first 8 digits of it): it is dated the day it is issued and
    gets the next number of its company's series."""
    from commands.invoices import FinalizeInvoice

    echo(_invoice_line(execute(ctx, FinalizeInvoice(ident, parse_at(at_text), company))))


@invoices.command("void")
@click.argument("ident", metavar="NUMBER")
@click.option("--reason", default="")
@company_option
@at_option
@click.pass_context
def invoices_void(ctx: click.Context, ident: str, reason: str, company: str, at_text: str | None) -> None:
    """Void an issued, unpaid invoice."""
    from commands.invoices import VoidInvoice

    echo(_invoice_line(execute(ctx, VoidInvoice(ident, parse_at(at_text), company, reason))))


@invoices.command("credit")
@click.argument("ident", metavar="NUMBER")
@click.option("--positions", metavar="N,M", help="Credit only these positions (default: every line not credited yet).")
@click.option("--reason", default="")
@company_option
@at_option
@click.pass_context
def invoices_credit(ctx: click.Context, ident: str, positions: str | None, reason: str, company: str, at_text: str | None) -> None:
    """Issue a credit note correcting invoice NUMBER (its own CN number series); each line is credited at
    most once."""
    from commands.csvfiles import parse_int
    from commands.invoices import CreditInvoice

    if positions is not None and not positions.strip():
        from domain.errors import ValidationError

        raise ValidationError("positions", "must not be empty (leave it out to credit every line not credited yet)")
    pos = tuple(parse_int(p, "positions") for p in positions.split(",")) if positions is not None else None
    note = execute(ctx, CreditInvoice(ident, parse_at(at_text), company, pos, reason))
    echo(f"credit note {note.number} for {note.references}: gross {note.gross} {note.currency}")


@invoices.command("pay")
@click.argument("ident", metavar="NUMBER")
@click.option("--amount", help="Amount paid (default: the open balance).")
@click.option("--reference", default="")
@company_option
@at_option
@click.pass_context
def invoices_pay(ctx: click.Context, ident: str, amount: str | None, reference: str, company: str, at_text: str | None) -> None:
    """Record a payment of invoice NUMBER; PAID once settled."""
    from commands.invoices import PayInvoice

    echo(_invoice_line(execute(ctx, PayInvoice(ident, parse_at(at_text), company, amount, reference))))


@invoices.command("outbox")
@click.option("--all", "include_sent", is_flag=True, help="Include invoices already sent.")
@list_company_options
@page_options
@json_option
@click.pass_context
def invoices_outbox(ctx: click.Context, include_sent: bool, company: str, all_companies: bool, limit: int, offset: int,
                    as_json: bool) -> None:
    """Issued invoices waiting to be sent (from contracts with auto-send)."""
    from projections import queries

    co = chosen_company(company, all_companies)
    report(ctx, limit, offset, as_json, lambda engine, page: queries.list_outbox(engine, include_sent, paging=page, company=co),
           ["number", "company", "customer", "queued", "sent"],
           lambda r: [r["number"], r["company"], r["customer"], r["queued_at"], r["sent_at"]])


@invoices.command("mark-sent")
@click.argument("ident", metavar="NUMBER")
@click.option("--channel", default="", help="How it was sent (email, post, ...).")
@company_option
@at_option
@click.pass_context
def invoices_mark_sent(ctx: click.Context, ident: str, channel: str, company: str, at_text: str | None) -> None:
    """Record that invoice NUMBER of the outbox was sent (it leaves the outbox)."""
    from commands.invoices import MarkSent

    changed = execute(ctx, MarkSent(ident, parse_at(at_text), company, channel))
    echo(f"{ident} {'marked sent' if changed else 'was already sent'}")
