"""Credit-card commands (issue 9): cards, charges, statement cycles, closing by hand, payments.

A card belongs to a company; its zone is the company's at the command's instant (UTC for a company never
set), snapshotted when it is added. Charge dates and statement dates are local dates in that zone.
Statements are named by their number ``ST-<card>-<seq>`` (:func:`domain.credit_card_invoice.statement_number`)
everywhere a command takes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from commands.bus import UnitOfWork, handler
from commands.card_batches import in_batches
from commands.numbering import company_of
from domain.attributes import validate_attributes
from domain.calendar import local_date, parse_date
from domain.card_charges import Purchase, close_oldest, open_first, post_purchases
from domain.card_rules import validate_installments
from domain.company import company_timezone_at
from domain.credit_card import CreditCard, card_id
from domain.credit_card_invoice import CreditCardInvoice, statement_id
from domain.errors import Conflict, NotFound, ValidationError
from domain.money import parse_amount, validate_currency
from domain.tenancy import DEFAULT_COMPANY, validate_company
from domain.text import validate_reference, validate_text


@dataclass(frozen=True)
class AddCard:
    """Add card ``reference`` (see :class:`domain.credit_card.CreditCard`). The same data again is a
    no-op; other data a :class:`Conflict` (use update)."""

    reference: str
    holder: str
    last4: str
    currency: str
    closing_day: int
    at: datetime
    company: str = DEFAULT_COMPANY
    due_day: int | None = None
    due_after_days: int | None = None
    boundary: str | None = None
    holidays: str | None = None


@dataclass(frozen=True)
class UpdateCard:
    """Change a card's holder, last four digits or cycle rules (for statements not closed yet)."""

    reference: str
    at: datetime
    company: str = DEFAULT_COMPANY
    holder: str | None = None
    last4: str | None = None
    closing_day: int | None = None
    due_day: int | None = None
    due_after_days: int | None = None
    boundary: str | None = None
    holidays: str | None = None


@dataclass(frozen=True)
class SetCardActive:
    """Deactivate a card (no charges; its open statement closes at its end, no next one opens) or
    activate it again (a statement opens for the current period if none is open)."""

    reference: str
    active: bool
    at: datetime
    company: str = DEFAULT_COMPANY


@dataclass(frozen=True)
class ChargeCard:
    """Post purchase ``charge_id`` (a negative ``amount`` is a refund) dated ``date`` (local), in
    ``installments`` parts (1–48). ``currency`` None means the card's; another one is refused."""

    card: str
    charge_id: str
    date: date
    amount: str
    merchant: str
    at: datetime
    company: str = DEFAULT_COMPANY
    installments: int = 1
    currency: str | None = None
    attributes: Any = None


@dataclass(frozen=True)
class SetStatementCycle:
    """Move the open statement's end to ``end_date`` (the bank's date wins; ``StatementCycleSet``), for
    ``card`` or, with ``card`` None, for every active card of the company."""

    card: str | None
    end_date: date
    at: datetime
    company: str = DEFAULT_COMPANY


@dataclass(frozen=True)
class CloseStatement:
    """Close the card's open statement by hand (the source system's ``close_invoice``): it ends today
    (the command's local date; a statement whose end has passed keeps it) and closes now; the next one
    opens."""

    card: str
    at: datetime
    company: str = DEFAULT_COMPANY


@dataclass(frozen=True)
class InitStatements:
    """Open the statements covering the last ``months`` months (the source system's
    ``create_initial_invoices``) for ``card`` or every active card; idempotent."""

    months: int
    at: datetime
    company: str = DEFAULT_COMPANY
    card: str | None = None


@dataclass(frozen=True)
class PayStatement:
    """Record a payment of a closed statement (default: its open balance)."""

    number: str
    at: datetime
    company: str = DEFAULT_COMPANY
    amount: str | None = None
    reference: str = ""


@dataclass(frozen=True)
class MoveStatement:
    """Move an open statement's period to ``[start_date, end_date]`` (HTTP PUT)."""

    number: str
    start_date: date
    end_date: date
    at: datetime
    company: str = DEFAULT_COMPANY


@dataclass(frozen=True)
class DeleteStatement:
    """Delete an open statement without charges (the oldest of several open ones)."""

    number: str
    at: datetime
    company: str = DEFAULT_COMPANY


@dataclass(frozen=True)
class SetRecurringCharge:
    """A recurring charge (the source system's fixed payment): ``amount`` at ``merchant`` on ``day`` of
    every month from ``start_date`` (default: the command's local date), posted by the tick on its day;
    ``stop`` ends it."""

    card: str
    charge_id: str
    at: datetime
    company: str = DEFAULT_COMPANY
    day: int | None = None
    amount: str | None = None
    merchant: str | None = None
    start_date: date | None = None
    stop: bool = False


#: What must match for adding a card again to be a no-op (its zone is a snapshot of the company's).
_COMPARED = ("holder", "last4", "currency", "closing_day", "due_day", "due_after_days", "boundary", "holidays")


def _where(company: str) -> str:
    return "" if company == DEFAULT_COMPANY else f" of company {company}"


def load_card(uow: UnitOfWork, reference: str, company: str) -> CreditCard:
    """Card ``reference`` of ``company``; :class:`NotFound` (field ``card``) if none."""
    validate_company(company)
    validate_reference(reference, "card")
    return uow.require(card_id(reference, company), "card", f"card {reference!r}{_where(company)}", CreditCard)


def open_statements(uow: UnitOfWork, card: CreditCard) -> dict[int, CreditCardInvoice]:
    """The card's open statement aggregates by seq."""
    found = uow.get_many([statement_id(card.id, s) for s, _a, _b in card.open])
    return {s.seq: s for s in found.values()}


def load_statement(uow: UnitOfWork, number: str, company: str) -> tuple[CreditCard, CreditCardInvoice]:
    """The card and statement ``number`` (``ST-<card>-<seq>``); :class:`NotFound` (field ``statement``)."""
    text = str(number).strip()
    ref, _, seq = text[3:].rpartition("-")
    missing = NotFound("statement", f"no statement {number!r}{_where(company)} (numbers look like ST-<card>-0001)")
    if not text.startswith("ST-") or not ref or not seq.isdigit() or len(seq) > 9:
        raise missing
    card = uow.get(card_id(ref, company))
    statement = uow.get(statement_id(card.id, int(seq))) if isinstance(card, CreditCard) else None
    if not isinstance(statement, CreditCardInvoice) or statement.status == "DELETED":
        raise missing
    return card, statement


def build_card(cmd: AddCard, company: Any, at: datetime) -> CreditCard:
    zone = company_timezone_at(company, at)
    return CreditCard.create(reference=cmd.reference, company=cmd.company, holder=cmd.holder, last4=cmd.last4,
                             currency=cmd.currency, timezone=zone, closing_day=cmd.closing_day, opened_on=local_date(at, zone),
                             due_day=cmd.due_day, due_after_days=cmd.due_after_days, boundary=cmd.boundary,
                             holidays=cmd.holidays)


def add_card(uow: UnitOfWork, cmd: AddCard, company: Any) -> bool:
    """Add the card of ``cmd`` and its first statement to the unit (False: it exists with the same data)."""
    card = build_card(cmd, company, uow.at)
    existing = uow.get(card.id)
    if existing is not None:
        for f in _COMPARED:
            if getattr(existing, f) != getattr(card, f):
                raise Conflict(f, f"card {cmd.reference} already exists with {f} {getattr(existing, f)!r}; use update")
        return False
    uow.add(card)
    uow.add(open_first(card, card.open[0]))
    return True


@handler(AddCard)
def _add(cmd: AddCard, uow: UnitOfWork) -> bool:
    validate_company(cmd.company)
    return add_card(uow, cmd, company_of(uow, cmd.company))


@handler(UpdateCard)
def _update(cmd: UpdateCard, uow: UnitOfWork) -> bool:
    card = load_card(uow, cmd.reference, cmd.company)
    return card.update(holder=cmd.holder, last4=cmd.last4, closing_day=cmd.closing_day, due_day=cmd.due_day,
                       due_after_days=cmd.due_after_days, boundary=cmd.boundary, holidays=cmd.holidays)


@handler(SetCardActive)
def _active(cmd: SetCardActive, uow: UnitOfWork) -> bool:
    card = load_card(uow, cmd.reference, cmd.company)
    was = card.active
    opened = card.set_active(cmd.active, local_date(uow.at, card.timezone))
    if opened:
        uow.add(open_first(card, opened))
    return was != card.active


def purchase(charge_id: object, charge_date: object, amount: object, merchant: object, currency: str,
             installments: object = 1, attributes: object = None, given_currency: object = None) -> Purchase:
    """A validated :class:`Purchase` in ``currency`` (the card's); raises :class:`ValidationError` naming
    the field: ``charge_id``, ``date``, ``amount`` (required; the currency's minor unit; a negative one is a
    refund), ``currency`` (another than the card's), ``merchant``, ``installments`` (1–48), ``attributes``."""
    cid = validate_reference(charge_id, "charge_id")
    if "/" in cid:
        raise ValidationError("charge_id", f"{cid!r} contains '/'; a charge id has none (installment parts are <id>/2, ...)")
    if charge_date in (None, ""):
        raise ValidationError("date", "a charge needs its date (ISO 8601, like 2026-01-31)")
    day = parse_date(charge_date, "date")
    if amount in (None, ""):
        raise ValidationError("amount", "a charge needs an amount (negative for a refund)")
    if given_currency not in (None, "") and validate_currency(str(given_currency).strip()) != currency:
        raise ValidationError("currency", f"{given_currency} is not the card's currency {currency}")
    value = parse_amount(str(amount).strip(), currency, allow_negative=True)
    return Purchase(cid, day, value, validate_text(merchant or "", "merchant", 200), validate_installments(installments),
                    validate_attributes(attributes))


@handler(ChargeCard)
def _charge(cmd: ChargeCard, uow: UnitOfWork) -> dict[str, int]:
    card = load_card(uow, cmd.card, cmd.company)
    p = purchase(cmd.charge_id, cmd.date, cmd.amount, cmd.merchant, card.currency, cmd.installments, cmd.attributes, cmd.currency)
    return post_purchases(card, open_statements(uow, card), [p])


def cards_of(uow: UnitOfWork, company: str, reference: str | None) -> list[UUID]:
    """The id of ``reference``'s card (:class:`NotFound` if none), or of every card of ``company`` (from
    the read model's list, brought up to date first; each is loaded and checked where it is changed)."""
    if reference is not None:
        return [load_card(uow, reference, company).id]
    from projections import runner
    from projections.card_queries import card_references
    from projections.cards import cards_projection

    runner.run(uow.store, [cards_projection])  # every card added so far is listed
    return [card_id(r, company) for r in card_references(uow.store.read_engine, company)]


@handler(SetStatementCycle)
def _set_cycle(cmd: SetStatementCycle, uow: UnitOfWork) -> dict[str, int]:
    """Returns counts (moved, unchanged). Every card is checked before anything is written (one card's
    refusal writes nothing); with ``card`` None, inactive cards are left alone."""
    end = parse_date(cmd.end_date, "end_date")

    def apply(work: UnitOfWork, cid: UUID) -> str:
        card = work.get(cid)
        if cmd.card is None and not card.active:
            return "skipped"
        if not card.open:
            raise Conflict("card", f"card {card.reference} has no open statement")
        moved = card.set_cycle(end)
        if moved is None:
            return "unchanged"
        seq, start, new_end, released = moved
        statement = work.require(statement_id(card.id, seq), "statement", f"statement {seq} of card {card.reference}")
        statement.set_cycle(start, new_end)
        statement.post(released)
        return "moved"

    done = in_batches(uow, cards_of(uow, validate_company(cmd.company), cmd.card), apply)
    return {k: done.count(k) for k in ("moved", "unchanged", "skipped")}


@handler(CloseStatement)
def _close(cmd: CloseStatement, uow: UnitOfWork) -> str:
    """Returns the closed statement's number."""
    card = load_card(uow, cmd.card, cmd.company)
    today = local_date(uow.at, card.timezone)
    if len(card.open) != 1:
        raise Conflict("card", f"card {card.reference} has {len(card.open)} open statements; the tick closes the older ones first")
    statement = open_statements(uow, card)[card.open[0][0]]
    if statement.start_date > today:
        raise Conflict("card", f"the open statement {statement.number} starts on {statement.start_date}, after today {today}")
    if today < statement.end_date and card.set_cycle(today) is not None:
        statement.set_cycle(statement.start_date, today)  # (an earlier end releases no waiting charge)
    new = close_oldest(card, statement, uow.at)
    if new is not None:
        uow.add(new)
    return statement.number


@handler(InitStatements)
def _init(cmd: InitStatements, uow: UnitOfWork) -> dict[str, int]:
    """Returns counts (cards, opened, unchanged). With ``card`` None, inactive cards are left alone."""
    def apply(work: UnitOfWork, cid: UUID) -> int | None:
        card = work.get(cid)
        if cmd.card is None and not card.active:
            return None
        first = open_statements(work, card)[card.open[0][0]]
        opened = card.init_statements(local_date(work.at, card.timezone), cmd.months)
        if opened is None:
            return None
        first.set_cycle(*(date.fromisoformat(x) for x in card.open[0][1:]))
        for entry in opened:
            work.add(open_first(card, entry))
        return len(opened)

    done = in_batches(uow, cards_of(uow, validate_company(cmd.company), cmd.card), apply)
    return {"cards": sum(1 for d in done if d), "opened": sum(d or 0 for d in done), "unchanged": sum(1 for d in done if not d)}


@handler(PayStatement)
def _pay(cmd: PayStatement, uow: UnitOfWork) -> dict[str, str]:
    _card, statement = load_statement(uow, cmd.number, cmd.company)
    if statement.is_open:
        raise Conflict("status", f"{statement.number} is OPEN; a statement is paid once it has closed")
    statement.record_payment(cmd.amount, cmd.reference)
    return {"number": statement.number, "status": statement.status, "balance": str(statement.balance)}


@handler(MoveStatement)
def _move(cmd: MoveStatement, uow: UnitOfWork) -> None:
    card, statement = load_statement(uow, cmd.number, cmd.company)
    start, end = parse_date(cmd.start_date, "start_date"), parse_date(cmd.end_date, "end_date")
    statement.set_cycle(start, end)
    statement.post(card.move_statement(statement.seq, start, end))


@handler(DeleteStatement)
def _delete(cmd: DeleteStatement, uow: UnitOfWork) -> None:
    card, statement = load_statement(uow, cmd.number, cmd.company)
    statement.delete()
    card.delete_statement(statement.seq)


@handler(SetRecurringCharge)
def _recurring(cmd: SetRecurringCharge, uow: UnitOfWork) -> bool:
    card = load_card(uow, cmd.card, cmd.company)
    if cmd.stop:
        return card.stop_recurring(validate_reference(cmd.charge_id, "charge_id"))
    if cmd.day is None:
        raise ValidationError("day", "a recurring charge needs its day of the month (1-31)")
    if cmd.amount in (None, ""):
        raise ValidationError("amount", "a recurring charge needs an amount")
    first = parse_date(cmd.start_date, "start_date") if cmd.start_date is not None else local_date(uow.at, card.timezone)
    card.set_recurring(cmd.charge_id, cmd.day, parse_amount(str(cmd.amount), card.currency, allow_negative=True), cmd.merchant or "", first)
    return True
