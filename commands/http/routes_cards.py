"""``/v1/cards`` and the source system's resources (issue 9): ``/v1/credit-card-invoices/…`` (statements,
by number ``ST-<card>-0001``) and ``/v1/payment-statuses/``, over the bus commands of :mod:`commands.cards`
and :mod:`commands.card_import`. Fixed paths (``open/``, ``closed/``, ``summary/``, ``by_credit_card/``)
are declared before ``{id}``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import Field

from commands.http.app import Engine, Principal, at_of, engine_of, execute, page, principal, read
from commands.http.models import AT, CSV, LIMIT, AtIn, PaymentIn, Strict, optional_date as _date
from domain.errors import NotFound

router = APIRouter()
TAGS = ["cards"]
SOURCE = ["credit-card-invoices"]


class Rules(Strict):
    closing_day: int | None = Field(default=None, description="1-31, clamped to a short month's last day")
    due_day: int | None = Field(default=None, description="Due on the first such day after the close (clamped)")
    due_after_days: int | None = Field(default=None, description="Due this many days after the end (default 10)")
    boundary: str | None = Field(default=None, description="inclusive (default) or exclusive")
    holidays: str | None = Field(default=None, description="BR, US, GB or none: due dates move to the next business day")


class CardIn(Rules):
    reference: str
    holder: str
    last4: str = Field(description="The card's last four digits")
    currency: str = Field(description="ISO 4217")
    at: str | None = AT


class CardPatch(Rules):
    holder: str | None = None
    last4: str | None = None
    at: str | None = AT


class ChargeIn(Strict):
    charge_id: str = Field(description="The purchase's id (external key); the same id and data again: no-op")
    date: str | None = Field(default=None, description="Local date of the purchase, ISO 8601")
    amount: str | None = Field(default=None, description="Decimal string in the card's currency; negative: a refund")
    merchant: str = ""
    installments: int = Field(default=1, description="1-48 parts in consecutive statements")
    currency: str | None = Field(default=None, description="Must be the card's when given")
    attributes: dict[str, Any] | None = None
    at: str | None = AT


class CycleIn(Strict):
    end_date: str = Field(description="The open statement's new end date (inclusive, ISO 8601)")
    at: str | None = AT


class InitIn(Strict):
    months: int = Field(default=3, description="Months of history")
    card: str | None = Field(default=None, description="One card (default: every active card)")
    at: str | None = AT


class RecurringIn(Strict):
    charge_id: str
    day: int | None = Field(default=None, description="Day of the month, 1-31 (clamped)")
    amount: str | None = None
    merchant: str = ""
    start_date: str | None = Field(default=None, description="First posting on or after (default: today)")
    stop: bool = False
    at: str | None = AT


class StatementCreate(Strict):
    credit_card_id: str = Field(description="The card's reference")
    months: int = Field(default=3, description="Open the statements covering the last N months (create_initial_invoices)")
    at: str | None = AT


class StatementPut(Strict):
    start_date: str
    end_date: str
    at: str | None = AT


def _card(engine: Engine, company: str, reference: str) -> dict[str, Any]:
    from projections.card_queries import list_cards

    rows = read(engine, lambda s: list_cards(s.read_engine, company, reference=reference))
    if not rows:
        raise NotFound("card", f"no card {reference!r}")
    return rows[0]


def _statement(engine: Engine, company: str, number: str) -> dict[str, Any]:
    from projections.card_queries import list_statements

    rows = read(engine, lambda s: list_statements(s.read_engine, company, number=number, with_charges=True))
    if not rows:
        raise NotFound("statement", f"no statement {number!r}")
    return rows[0]


def _known_card(engine: Engine, company: str, card: str | None) -> None:
    from projections.paging import require_known

    read(engine, lambda s: require_known(s.read_engine, company=company, card=card))


# ---------------------------------------------------------------------------------------------- cards
@router.post("/cards", status_code=201, tags=TAGS)
def add_card(body: CardIn, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> JSONResponse:
    """Add a card (the same data again: 200, unchanged; other data: 409). Its first statement opens."""
    from commands.cards import AddCard
    from domain.errors import ValidationError

    if body.closing_day is None:
        raise ValidationError("closing_day", "a card needs its closing day (1-31)")
    created = execute(engine, AddCard(body.reference, body.holder, body.last4, body.currency, body.closing_day, at_of(body.at),
                                      who.company, body.due_day, body.due_after_days, body.boundary, body.holidays))
    return JSONResponse(_card(engine, who.company, body.reference), status_code=201 if created else 200)


@router.get("/cards", tags=TAGS)
def list_cards(limit: int = LIMIT, cursor: str | None = None, who: Principal = Depends(principal),
               engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    from projections import card_queries

    return page(engine, limit, cursor, lambda s, p: card_queries.list_cards(s.read_engine, who.company, paging=p))


@router.post("/cards/import", tags=TAGS)
def import_cards(csv_text: str = CSV, at: str | None = None, who: Principal = Depends(principal),
                 engine: Engine = Depends(engine_of)) -> dict[str, int]:
    """Import cards from a CSV body (the columns of ``billing cards import``); all or nothing."""
    from commands.card_import import ImportCards
    from commands.http.uploads import as_file

    with as_file(csv_text) as path:
        return execute(engine, ImportCards(path, at_of(at), who.company))


@router.post("/cards/charges/import", tags=TAGS)
def import_charges(csv_text: str = CSV, at: str | None = None, who: Principal = Depends(principal),
                   engine: Engine = Depends(engine_of)) -> dict[str, int]:
    """Import charges from a CSV body (own columns or the Birmingham format); all or nothing."""
    from commands.card_import import ImportCharges
    from commands.http.uploads import as_file

    with as_file(csv_text) as path:
        return execute(engine, ImportCharges(path, at_of(at), who.company))


@router.post("/cards/cycle", tags=TAGS)
def set_cycle_all(body: CycleIn, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, int]:
    """Move the open statement's end of every active card (``billing cards set-cycle --all``)."""
    from commands.cards import SetStatementCycle

    return execute(engine, SetStatementCycle(None, _date(body.end_date, "end_date"), at_of(body.at), who.company))


@router.post("/cards/init-statements", tags=TAGS)
def init_statements(body: InitIn, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, int]:
    from commands.cards import InitStatements

    return execute(engine, InitStatements(body.months, at_of(body.at), who.company, body.card))


@router.get("/cards/{reference}", tags=TAGS)
def show_card(reference: str, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    return _card(engine, who.company, reference)


@router.patch("/cards/{reference}", tags=TAGS)
def update_card(reference: str, body: CardPatch, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    from commands.cards import UpdateCard

    execute(engine, UpdateCard(reference, at_of(body.at), who.company, body.holder, body.last4, body.closing_day, body.due_day,
                               body.due_after_days, body.boundary, body.holidays))
    return _card(engine, who.company, reference)


def _active(engine: Engine, who: Principal, reference: str, active: bool, at: str | None) -> dict[str, Any]:
    from commands.cards import SetCardActive

    execute(engine, SetCardActive(reference, active, at_of(at), who.company))
    return _card(engine, who.company, reference)


@router.post("/cards/{reference}/deactivate", tags=TAGS)
def deactivate_card(reference: str, body: AtIn | None = None, who: Principal = Depends(principal),
                    engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """No more charges; the open statement closes at its end and no next one opens."""
    return _active(engine, who, reference, False, body.at if body else None)


@router.post("/cards/{reference}/activate", tags=TAGS)
def activate_card(reference: str, body: AtIn | None = None, who: Principal = Depends(principal),
                  engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    return _active(engine, who, reference, True, body.at if body else None)


@router.post("/cards/{reference}/charges", tags=TAGS)
def charge_card(reference: str, body: ChargeIn, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, int]:
    """Post a purchase or refund (``billing cards charge``)."""
    from commands.cards import ChargeCard

    return execute(engine, ChargeCard(reference, body.charge_id, _date(body.date, "date") if body.date else None, body.amount,
                                      body.merchant, at_of(body.at), who.company, body.installments, body.currency, body.attributes))


@router.post("/cards/{reference}/cycle", tags=TAGS)
def set_cycle(reference: str, body: CycleIn, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, int]:
    from commands.cards import SetStatementCycle

    return execute(engine, SetStatementCycle(reference, _date(body.end_date, "end_date"), at_of(body.at), who.company))


@router.post("/cards/{reference}/close", tags=TAGS)
def close_card_statement(reference: str, body: AtIn | None = None, who: Principal = Depends(principal),
                         engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """Close the card's open statement now (it ends today) and open the next."""
    from commands.cards import CloseStatement

    return _statement(engine, who.company, execute(engine, CloseStatement(reference, at_of(body.at if body else None), who.company)))


@router.post("/cards/{reference}/recurring-charges", tags=TAGS)
def recurring_charge(reference: str, body: RecurringIn, who: Principal = Depends(principal),
                     engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    from commands.cards import SetRecurringCharge

    execute(engine, SetRecurringCharge(reference, body.charge_id, at_of(body.at), who.company, body.day, body.amount, body.merchant,
                                       _date(body.start_date, "start_date"), body.stop))
    return _card(engine, who.company, reference)


@router.get("/cards/{reference}/statements", tags=TAGS)
def card_statements(reference: str, state: str | None = None, limit: int = LIMIT, cursor: str | None = None,
                    who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    return _statements(engine, who.company, reference, state, limit, cursor)


def _statements(engine: Engine, company: str, card: str | None, state: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
    from domain.errors import ValidationError
    from projections import card_queries

    if state not in (None, "open", "closed"):
        raise ValidationError("state", f"{state!r} is not open or closed")
    _known_card(engine, company, card)
    return page(engine, limit, cursor, lambda s, p: card_queries.list_statements(s.read_engine, company, card, state, paging=p))


# ---------------------------------------------------------------------------------------------- the source system's names
@router.get("/credit-card-invoices/", tags=SOURCE)
def statements(limit: int = LIMIT, cursor: str | None = None, who: Principal = Depends(principal),
               engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    return _statements(engine, who.company, None, None, limit, cursor)


@router.post("/credit-card-invoices/", status_code=201, tags=SOURCE)
def create_statements(body: StatementCreate, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> JSONResponse:
    """Open the card's statements covering the last ``months`` months (``create_initial_invoices``;
    idempotent: 200 when nothing opened). Returns the card's open statements."""
    from commands.cards import InitStatements
    from projections.card_queries import list_statements

    counts = execute(engine, InitStatements(body.months, at_of(body.at), who.company, body.credit_card_id))
    rows = read(engine, lambda s: list_statements(s.read_engine, who.company, body.credit_card_id, "open"))
    return JSONResponse({"items": rows, **counts}, status_code=201 if counts["opened"] else 200)


@router.get("/credit-card-invoices/open/", tags=SOURCE)
def open_statements(limit: int = LIMIT, cursor: str | None = None, who: Principal = Depends(principal),
                    engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    return _statements(engine, who.company, None, "open", limit, cursor)


@router.get("/credit-card-invoices/closed/", tags=SOURCE)
def closed_statements(limit: int = LIMIT, cursor: str | None = None, who: Principal = Depends(principal),
                      engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    return _statements(engine, who.company, None, "closed", limit, cursor)


@router.get("/credit-card-invoices/by_credit_card/", tags=SOURCE)
def statements_by_card(credit_card_id: str, limit: int = LIMIT, cursor: str | None = None, who: Principal = Depends(principal),
                       engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    return _statements(engine, who.company, credit_card_id, None, limit, cursor)


@router.get("/credit-card-invoices/summary/", tags=SOURCE)
def statements_summary(credit_card_id: str | None = None, who: Principal = Depends(principal),
                       engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """Counts open/closed/overdue, charges, refunds and totals per currency (``billing cards summary``)."""
    from projections.card_queries import summary

    _known_card(engine, who.company, credit_card_id)
    return read(engine, lambda s: summary(s.read_engine, who.company, credit_card_id))


@router.get("/credit-card-invoices/{number}/", tags=SOURCE)
def show_statement(number: str, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    return _statement(engine, who.company, number)


@router.put("/credit-card-invoices/{number}/", tags=SOURCE)
def move_statement(number: str, body: StatementPut, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """Move an open statement's dates (its charges must stay inside; neighbours must not overlap)."""
    from commands.cards import MoveStatement

    execute(engine, MoveStatement(number, _date(body.start_date, "start_date"), _date(body.end_date, "end_date"), at_of(body.at),
                                  who.company))
    return _statement(engine, who.company, number)


@router.delete("/credit-card-invoices/{number}/", status_code=204, tags=SOURCE)
def delete_statement(number: str, at: str | None = None, who: Principal = Depends(principal),
                     engine: Engine = Depends(engine_of)) -> None:
    """Delete an open statement without charges (the oldest of several open ones); else 409. ``at``: the
    business instant (ISO 8601 with offset; default the server's clock)."""
    from commands.cards import DeleteStatement

    execute(engine, DeleteStatement(number, at_of(at), who.company))


@router.post("/credit-card-invoices/{number}/close_invoice/", tags=SOURCE)
def close_invoice(number: str, body: AtIn | None = None, who: Principal = Depends(principal),
                  engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """Close this open statement now (it ends today) and open the next (``billing cards close``)."""
    from commands.cards import CloseStatement

    found = _statement(engine, who.company, number)
    if found["is_closed"]:
        from domain.errors import Conflict

        raise Conflict("statement", f"{number} is closed already")
    return _statement(engine, who.company, execute(engine, CloseStatement(found["card"], at_of(body.at if body else None), who.company)))


@router.post("/credit-card-invoices/{number}/payments", tags=SOURCE)
def pay_statement(number: str, body: PaymentIn, who: Principal = Depends(principal), engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    from commands.cards import PayStatement

    execute(engine, PayStatement(number, at_of(body.at), who.company, body.amount, body.reference))
    return _statement(engine, who.company, number)


@router.get("/payment-statuses/", tags=SOURCE)
def payment_statuses(status: str | None = None, limit: int = LIMIT, cursor: str | None = None, who: Principal = Depends(principal),
                     engine: Engine = Depends(engine_of)) -> dict[str, Any]:
    """The payment status of every closed statement (payment type ``credit_card``)."""
    from domain.errors import ValidationError
    from projections import card_queries

    if status is not None and status.upper() not in ("PENDING", "OVERDUE", "PAID"):
        raise ValidationError("status", f"{status!r} is not pending, overdue or paid")
    return page(engine, limit, cursor, lambda s, p: card_queries.payment_statuses(s.read_engine, who.company, status, paging=p))
