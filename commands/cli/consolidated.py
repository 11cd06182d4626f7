"""``billing consolidated ...``: consolidated invoices, one per customer and billing period."""

from __future__ import annotations

import click

from commands.cli.common import (
    at_option, catch_up, chosen_company, company_option, console, echo, emit_json, execute, json_option,
    list_company_options, opened, page_options, parse_at, report, table,
)


@click.group()
def consolidated() -> None:
    """Consolidated invoices: one per customer and billing period."""


@consolidated.command("list")
@click.option("--customer", metavar="REF")
@click.option("--status", type=click.Choice(["PENDING", "OVERDUE", "PAID", "CREDITED"], case_sensitive=False))
@list_company_options
@page_options
@json_option
@click.pass_context
def consolidated_list(ctx: click.Context, customer: str | None, status: str | None, company: str, all_companies: bool,
                      limit: int, offset: int, as_json: bool) -> None:
    """List issued consolidated invoices."""
    from projections import queries

    co = chosen_company(company, all_companies)
    report(ctx, limit, offset, as_json, lambda engine, page: queries.list_consolidated(engine, customer, status, paging=page, company=co),
           ["number", "customer", "period", "issued", "due", "status", "lines", "total", "cur"],
           lambda r: [r["number"], r["customer"], f"[{r['period_start']} .. {r['period_end']})", r["issue_date"], r["due_date"],
                      r["status"], r["count"], r["total"], r["currency"]], known={"customer": customer, "company": co})


@consolidated.command("show")
@click.argument("number")
@company_option
@json_option
@click.pass_context
def consolidated_show(ctx: click.Context, number: str, company: str, as_json: bool) -> None:
    """Show consolidated invoice NUMBER with its lines."""
    from domain.errors import NotFound
    from projections import queries

    with opened(ctx, write=False) as store:
        catch_up(store)
        inv = queries.show_consolidated(store.read_engine, number, company)
    if inv is None:
        raise NotFound("number", f"no consolidated invoice {number!r}")
    if as_json:
        emit_json(inv)
        return
    from rich.markup import escape

    console().print(f"[bold]{escape(inv['number'])}[/bold]  customer {escape(inv['customer'])}  status {inv['status']}")
    echo(f"period {inv['period_start']} .. {inv['period_end']} (exclusive)  issued {inv['issue_date']}  due {inv['due_date']}")
    for k, v in (inv["summary"] or {}).items():
        echo(f"{k}: {', '.join(v)}")
    table(["#", "invoice", "date", "amount"],
          [[i + 1, line["number"], line["local_date"], line["amount"]] for i, line in enumerate(inv["lines"])])
    echo(f"{inv['count']} line(s), total {inv['total']} {inv['currency']}, paid {inv['paid']}, balance {inv['balance']}")


@consolidated.command("pay")
@click.argument("number")
@click.option("--amount", help="Amount paid (default: the open balance).")
@click.option("--reference", default="", help="Payment reference (bank transfer id, ...).")
@company_option
@at_option
@click.pass_context
def consolidated_pay(ctx: click.Context, number: str, amount: str | None, reference: str, company: str, at_text: str | None) -> None:
    """Record a payment of consolidated invoice NUMBER; it is PAID once settled."""
    from commands.consolidated import PayConsolidated

    inv = execute(ctx, PayConsolidated(number, parse_at(at_text), amount, reference, company))
    echo(f"{number}: paid {inv.paid} {inv.currency}, balance {inv.balance}, status {inv.status}")


@consolidated.command("credit")
@click.argument("number")
@click.option("--invoices", "numbers", metavar="N1,N2", help="Credit the lines of these individual invoices (default: every line not credited yet).")
@click.option("--reason", default="")
@company_option
@at_option
@click.pass_context
def consolidated_credit(ctx: click.Context, number: str, numbers: str | None, reason: str, company: str, at_text: str | None) -> None:
    """Issue a credit note for lines of consolidated invoice NUMBER (its company's CN series); each line is
    credited at most once."""
    from commands.consolidated import CreditConsolidated

    if numbers is not None and not numbers.strip():
        from domain.errors import ValidationError

        raise ValidationError("invoices", "must not be empty (leave it out to credit every line not credited yet)")
    keys = tuple(n.strip() for n in numbers.split(",")) if numbers is not None else None
    note = execute(ctx, CreditConsolidated(number, parse_at(at_text), keys, reason, company))
    echo(f"credit note {note.number} for {note.references}: gross {note.gross} {note.currency}")


@consolidated.command("summary")
@list_company_options
@json_option
@click.pass_context
def consolidated_summary(ctx: click.Context, company: str, all_companies: bool, as_json: bool) -> None:
    """Per customer: consolidated invoices, lines, total, paid, balance, overdue."""
    from projections import queries

    with opened(ctx, write=False) as store:
        catch_up(store)
        rows = queries.consolidated_summary(store.read_engine, chosen_company(company, all_companies))
    if as_json:
        emit_json(rows)
        return
    table(["customer", "invoices", "lines", "total", "paid", "balance", "overdue", "cur"],
          [[r["customer"], r["invoices"], r["lines"], r["total"], r["paid"], r["balance"], r["overdue"], r["currency"]]
           for r in rows])
