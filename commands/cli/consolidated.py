"""``billing consolidated ...``: consolidated invoices, one per customer and billing period."""

from __future__ import annotations

import click

from commands.cli.common import (
    at_option, catch_up, console, echo, emit_json, json_option, opened, page_note, page_options, paging, parse_at, table,
)


@click.group()
def consolidated() -> None:
    """Consolidated invoices: one per customer and billing period."""


@consolidated.command("list")
@click.option("--customer", metavar="REF")
@click.option("--status", type=click.Choice(["PENDING", "OVERDUE", "PAID"], case_sensitive=False))
@page_options
@json_option
@click.pass_context
def consolidated_list(ctx: click.Context, customer: str | None, status: str | None, limit: int, offset: int, as_json: bool) -> None:
    """List issued consolidated invoices."""
    from projections import queries
    from projections.paging import require_known

    page = paging(limit, offset)
    with opened(ctx, write=False) as store:
        catch_up(store)
        require_known(store.read_engine, customer=customer)
        rows = queries.list_consolidated(store.read_engine, customer, status, paging=page)
    page_note(page, len(rows))
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

    with opened(ctx, write=False) as store:
        catch_up(store)
        inv = queries.show_consolidated(store.read_engine, number)
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
@at_option
@click.pass_context
def consolidated_pay(ctx: click.Context, number: str, amount: str | None, reference: str, at_text: str | None) -> None:
    """Record a payment of consolidated invoice NUMBER; it is PAID once settled."""
    from commands.consolidated import pay_consolidated

    at = parse_at(at_text)
    with opened(ctx) as store:
        inv = pay_consolidated(store, number, at, amount, reference)
        catch_up(store)
    echo(f"{number}: paid {inv.paid} {inv.currency}, balance {inv.balance}, status {inv.status}")


@consolidated.command("summary")
@json_option
@click.pass_context
def consolidated_summary(ctx: click.Context, as_json: bool) -> None:
    """Per customer: consolidated invoices, lines, total, paid, balance, overdue."""
    from projections import queries

    with opened(ctx, write=False) as store:
        catch_up(store)
        rows = queries.consolidated_summary(store.read_engine)
    if as_json:
        emit_json(rows)
        return
    table(["customer", "invoices", "lines", "total", "paid", "balance", "overdue", "cur"],
          [[r["customer"], r["invoices"], r["lines"], r["total"], r["paid"], r["balance"], r["overdue"], r["currency"]]
           for r in rows])
