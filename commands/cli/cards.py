"""``billing cards ...``: credit cards and their statements (issue 9)."""

from __future__ import annotations

import click

from commands.cli.common import (
    at_option, catch_up, chosen_company, company_option, counts_line, echo, emit_json, execute, json_option,
    list_company_options, opened, page_options, parse_at, parse_optional_date, report, table,
)

BOUNDARY = click.Choice(["inclusive", "exclusive"], case_sensitive=False)
HOLIDAYS = click.Choice(["BR", "US", "GB", "none"], case_sensitive=False)


def _not_found(what: str, value: str, company: str) -> Exception:
    from domain.errors import NotFound

    return NotFound(what, f"no {what} {value!r}" + ("" if company == "default" else f" of company {company}"))


@click.group()
def cards() -> None:
    """Credit cards: statements per billing period that close and open the next."""


def _rules(fn):  # noqa: ANN001, ANN202 - a click decorator
    for opt in reversed([
        click.option("--closing-day", type=int, help="Day of the month the statement closes, 1-31 (clamped to short months)."),
        click.option("--due-day", type=int, help="Due on the first such day after the close (clamped)."),
        click.option("--due-after-days", type=int, help="Due this many days after the statement's end (default 10)."),
        click.option("--boundary", type=BOUNDARY, help="A purchase on the closing day: in the closing statement (inclusive, "
                                                         "default) or the next (exclusive)."),
        click.option("--holidays", type=HOLIDAYS, help="Business-day calendar for due dates (weekends always move)."),
    ]):
        fn = opt(fn)
    return fn


@cards.command("add")
@click.argument("reference")
@company_option
@click.option("--holder", required=True)
@click.option("--last4", required=True, help="The card's last four digits.")
@click.option("--currency", required=True, help="ISO 4217.")
@_rules
@at_option
@click.pass_context
def cards_add(ctx: click.Context, reference: str, company: str, holder: str, last4: str, currency: str, closing_day: int | None,
              due_day: int | None, due_after_days: int | None, boundary: str | None, holidays: str | None, at_text: str | None) -> None:
    """Add card REFERENCE; its first statement is the period containing today (no-op if it exists the same)."""
    from commands.cards import AddCard
    from domain.errors import ValidationError

    if closing_day is None:
        raise ValidationError("closing_day", "a card needs its closing day (--closing-day 1-31)")
    cmd = AddCard(reference, holder, last4, currency, closing_day, parse_at(at_text), company, due_day, due_after_days, boundary, holidays)
    echo(f"card {reference} {'added' if execute(ctx, cmd) else 'already exists (unchanged)'}")


@cards.command("update")
@click.argument("reference")
@company_option
@click.option("--holder")
@click.option("--last4")
@_rules
@at_option
@click.pass_context
def cards_update(ctx: click.Context, reference: str, company: str, holder: str | None, last4: str | None, closing_day: int | None,
                 due_day: int | None, due_after_days: int | None, boundary: str | None, holidays: str | None, at_text: str | None) -> None:
    """Change card REFERENCE (for statements not closed yet)."""
    from commands.cards import UpdateCard

    cmd = UpdateCard(reference, parse_at(at_text), company, holder, last4, closing_day, due_day, due_after_days, boundary, holidays)
    echo(f"card {reference} {'updated' if execute(ctx, cmd) else 'unchanged'}")


def _set_active(ctx: click.Context, reference: str, company: str, active: bool, at_text: str | None) -> None:
    from commands.cards import SetCardActive

    changed = execute(ctx, SetCardActive(reference, active, parse_at(at_text), company))
    echo(f"card {reference} {('activated' if active else 'deactivated') if changed else 'unchanged'}")


@cards.command("deactivate")
@click.argument("reference")
@company_option
@at_option
@click.pass_context
def cards_deactivate(ctx: click.Context, reference: str, company: str, at_text: str | None) -> None:
    """Deactivate card REFERENCE: no more charges; its open statement closes at its end, no next one opens."""
    _set_active(ctx, reference, company, False, at_text)


@cards.command("activate")
@click.argument("reference")
@company_option
@at_option
@click.pass_context
def cards_activate(ctx: click.Context, reference: str, company: str, at_text: str | None) -> None:
    """Activate card REFERENCE again (a statement opens for the current period if none is open)."""
    _set_active(ctx, reference, company, True, at_text)


@cards.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@company_option
@at_option
@click.pass_context
def cards_import(ctx: click.Context, file: str, company: str, at_text: str | None) -> None:
    """Import cards from FILE.csv (reference,holder,last4,currency,closing_day,due_day,due_after_days,boundary,
    holidays; all-or-nothing, idempotent)."""
    from commands.card_import import ImportCards

    counts_line("cards", execute(ctx, ImportCards(file, parse_at(at_text), company)))


@cards.command("charge")
@click.argument("card")
@company_option
@click.option("--id", "charge_id", required=True, help="The purchase's id (the external key; the same id again is a no-op).")
@click.option("--date", "date_text", metavar="DATE", help="The purchase's local date (required).")
@click.option("--amount", help="In the card's currency; negative for a refund (required).")
@click.option("--merchant", default="", help="Merchant name.")
@click.option("--installments", type=int, default=1, show_default=True, help="Parts in consecutive statements (1-48).")
@click.option("--currency", help="Must be the card's (checked when given).")
@click.option("--attributes", help='Free attributes, a JSON object like {"category": "fuel"}.')
@at_option
@click.pass_context
def cards_charge(ctx: click.Context, card: str, company: str, charge_id: str, date_text: str | None, amount: str | None, merchant: str,
                 installments: int, currency: str | None, attributes: str | None, at_text: str | None) -> None:
    """Post a purchase (or a refund) to CARD's statement for its date (a late one to the open statement)."""
    from commands.cards import ChargeCard

    cmd = ChargeCard(card, charge_id, parse_optional_date(date_text, "date"), amount, merchant, parse_at(at_text), company,
                     installments, currency, attributes)
    counts_line("charges", execute(ctx, cmd))


@cards.command("import-charges")
@click.argument("file", type=click.Path(dir_okay=False))
@company_option
@at_option
@click.pass_context
def cards_import_charges(ctx: click.Context, file: str, company: str, at_text: str | None) -> None:
    """Import charges from FILE.csv: card,charge_id,date,amount,merchant[,installments,currency,attributes], or a
    Birmingham purchase-card file (detected by its header). All-or-nothing, idempotent."""
    from commands.card_import import ImportCharges

    counts_line("charges", execute(ctx, ImportCharges(file, parse_at(at_text), company)))


@cards.command("set-cycle")
@click.argument("card", required=False)
@company_option
@click.option("--all", "all_cards", is_flag=True, help="Every active card of the company.")
@click.option("--end", "end_text", required=True, metavar="DATE", help="The open statement's new end date (inclusive).")
@at_option
@click.pass_context
def cards_set_cycle(ctx: click.Context, card: str | None, company: str, all_cards: bool, end_text: str, at_text: str | None) -> None:
    """Move the open statement's end to DATE (the bank's own date wins; later periods follow the anchor)."""
    from commands.cards import SetStatementCycle
    from domain.errors import ValidationError

    if (card is None) == (not all_cards):
        raise ValidationError("card", "name a card or give --all (not both)")
    counts_line("statements", execute(ctx, SetStatementCycle(card, parse_optional_date(end_text, "end_date"), parse_at(at_text), company)))


@cards.command("close")
@click.argument("card")
@company_option
@at_option
@click.pass_context
def cards_close(ctx: click.Context, card: str, company: str, at_text: str | None) -> None:
    """Close CARD's open statement now (it ends today) and open the next."""
    from commands.cards import CloseStatement

    echo(f"statement {execute(ctx, CloseStatement(card, parse_at(at_text), company))} closed")


@cards.command("init-statements")
@company_option
@click.option("--months", type=int, default=3, show_default=True, help="Months of history to open statements for.")
@click.option("--card", help="One card (default: every active card).")
@at_option
@click.pass_context
def cards_init(ctx: click.Context, company: str, months: int, card: str | None, at_text: str | None) -> None:
    """Open the statements covering the last N months so history can be imported (idempotent)."""
    from commands.cards import InitStatements

    counts_line("statements", execute(ctx, InitStatements(months, parse_at(at_text), company, card)))


@cards.command("recurring")
@click.argument("card")
@company_option
@click.option("--id", "charge_id", required=True, help="The recurring charge's id.")
@click.option("--day", type=int, help="Day of the month it is posted (1-31, clamped).")
@click.option("--amount")
@click.option("--merchant", default="")
@click.option("--from", "from_text", metavar="DATE", help="First posting on or after this date (default: today).")
@click.option("--stop", is_flag=True, help="Stop it (nothing more is posted).")
@at_option
@click.pass_context
def cards_recurring(ctx: click.Context, card: str, company: str, charge_id: str, day: int | None, amount: str | None, merchant: str,
                    from_text: str | None, stop: bool, at_text: str | None) -> None:
    """Set (or --stop) a recurring charge of CARD, posted by the tick on its day every month."""
    from commands.cards import SetRecurringCharge

    cmd = SetRecurringCharge(card, charge_id, parse_at(at_text), company, day, amount, merchant,
                             parse_optional_date(from_text, "start_date"), stop)
    changed = execute(ctx, cmd)
    echo(f"recurring charge {charge_id} {('stopped' if stop else 'set') if changed else 'unchanged'}")


@cards.command("list")
@list_company_options
@page_options
@json_option
@click.pass_context
def cards_list(ctx: click.Context, company: str, all_companies: bool, limit: int, offset: int, as_json: bool) -> None:
    """List cards."""
    from projections.card_queries import list_cards

    co = chosen_company(company, all_companies)
    report(ctx, limit, offset, as_json, lambda engine, page: list_cards(engine, co, paging=page),
           ["reference", "company", "holder", "last4", "currency", "closing", "due", "boundary", "holidays", "active", "open", "closed"],
           lambda r: [r["reference"], r["company"], r["holder"], r["last4"], r["currency"], r["closing_day"],
                      f"day {r['due_day']}" if r["due_day"] else f"+{r['due_after_days']} d", r["boundary"], r["holidays"],
                      "yes" if r["active"] else "no", r["open_statements"], r["closed_statements"]], known={"company": co})


@cards.command("statements")
@list_company_options
@click.option("--card")
@click.option("--open", "only_open", is_flag=True, help="Open statements only.")
@click.option("--closed", "only_closed", is_flag=True, help="Closed statements only.")
@page_options
@json_option
@click.pass_context
def cards_statements(ctx: click.Context, company: str, all_companies: bool, card: str | None, only_open: bool, only_closed: bool,
                     limit: int, offset: int, as_json: bool) -> None:
    """List statements (card, period, totals, due date, payment status)."""
    from domain.errors import ValidationError
    from projections.card_queries import list_statements

    if only_open and only_closed:
        raise ValidationError("open", "give --open or --closed, not both")
    co = chosen_company(company, all_companies)
    state = "open" if only_open else "closed" if only_closed else None
    report(ctx, limit, offset, as_json, lambda engine, page: list_statements(engine, co, card, state, paging=page),
           ["number", "card", "start", "end", "days", "closed", "total", "count", "due", "status", "paid"],
           lambda r: [r["number"], r["card"], r["start_date"], r["end_date"], r["billing_period_days"], "yes" if r["is_closed"] else "no",
                      f"{r['total_amount']} {r['currency']}", r["purchases_count"], r["due_date"] or "", r["status"], r["paid_amount"]],
           known={"company": co, "card": card})


@cards.command("show")
@click.argument("number")
@company_option
@json_option
@click.pass_context
def cards_show(ctx: click.Context, number: str, company: str, as_json: bool) -> None:
    """Show statement NUMBER (ST-<card>-0001) with its charges (JSON, with or without --json)."""
    from projections.card_queries import list_statements

    with opened(ctx, write=False) as store:
        catch_up(store)
        rows = list_statements(store.read_engine, company, number=number, with_charges=True)
    if not rows:
        raise _not_found("statement", number, company)
    emit_json(rows[0])


@cards.command("pay")
@click.argument("number")
@company_option
@click.option("--amount", help="Default: the open balance.")
@click.option("--reference", default="", help="Payment reference.")
@at_option
@click.pass_context
def cards_pay(ctx: click.Context, number: str, company: str, amount: str | None, reference: str, at_text: str | None) -> None:
    """Record a payment of closed statement NUMBER (partial payments; never more than the balance)."""
    from commands.cards import PayStatement

    r = execute(ctx, PayStatement(number, parse_at(at_text), company, amount, reference))
    echo(f"statement {r['number']} {r['status']} (balance {r['balance']})")


@cards.command("move-statement")
@click.argument("number")
@company_option
@click.option("--start", "start_text", required=True, metavar="DATE")
@click.option("--end", "end_text", required=True, metavar="DATE")
@at_option
@click.pass_context
def cards_move(ctx: click.Context, number: str, company: str, start_text: str, end_text: str, at_text: str | None) -> None:
    """Move open statement NUMBER to START..END (inclusive; its charges must stay inside)."""
    from commands.cards import MoveStatement

    execute(ctx, MoveStatement(number, parse_optional_date(start_text, "start_date"), parse_optional_date(end_text, "end_date"),
                               parse_at(at_text), company))
    echo(f"statement {number} now {start_text} to {end_text}")


@cards.command("delete-statement")
@click.argument("number")
@company_option
@at_option
@click.pass_context
def cards_delete(ctx: click.Context, number: str, company: str, at_text: str | None) -> None:
    """Delete open statement NUMBER (without charges; the oldest of several open ones)."""
    from commands.cards import DeleteStatement

    execute(ctx, DeleteStatement(number, parse_at(at_text), company))
    echo(f"statement {number} deleted")


@cards.command("summary")
@list_company_options
@click.option("--card")
@json_option
@click.pass_context
def cards_summary(ctx: click.Context, company: str, all_companies: bool, card: str | None, as_json: bool) -> None:
    """Statements open/closed/overdue, charges, refunds and totals per currency."""
    from projections.card_queries import summary
    from projections.paging import require_known

    co = chosen_company(company, all_companies)
    with opened(ctx, write=False) as store:
        catch_up(store)
        require_known(store.read_engine, company=co, card=card)
        s = summary(store.read_engine, co, card)
    if as_json:
        emit_json(s)
        return
    table(["currency", "cards", "statements", "open", "closed", "overdue", "charges", "refunds", "charges total", "refunds total",
           "closed total", "owed"],
          [[c["currency"], s["cards"], c["statements"], c["open"], c["closed"], c["overdue"], c["charges"], c["refunds"],
            c["charges_total"], c["refunds_total"], c["closed_total"], c["owed"]] for c in s["currencies"]])


@cards.command("payment-statuses")
@list_company_options
@click.option("--status", type=click.Choice(["pending", "overdue", "paid"], case_sensitive=False))
@page_options
@json_option
@click.pass_context
def cards_payment_statuses(ctx: click.Context, company: str, all_companies: bool, status: str | None, limit: int, offset: int,
                           as_json: bool) -> None:
    """Payment status of every closed statement (payment type credit_card)."""
    from projections.card_queries import payment_statuses

    co = chosen_company(company, all_companies)
    report(ctx, limit, offset, as_json, lambda engine, page: payment_statuses(engine, co, status, paging=page),
           ["statement", "type", "card", "expected", "paid", "due", "status"],
           lambda r: [r["id"], r["payment_type"], r["card"], f"{r['expected_amount']} {r['currency']}", r["paid_amount"], r["due_date"],
                      r["status"]], known={"company": co})
