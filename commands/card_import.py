"""Card imports (issue 9): cards from ``billing cards import FILE.csv`` and charges from
``billing cards import-charges FILE.csv``, in the project's own format or the Birmingham City Council
purchase-card format (detected by its header). Each import is all-or-nothing: every row is checked
first, against the store too; any problem rejects the file listing every bad row, and nothing is written.
Importing the same file again changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from commands.bus import UnitOfWork, handler
from commands.card_batches import in_batches, preload_cards
from commands.cards import AddCard, add_card, open_statements, purchase
from commands.csvfiles import Problems, distinct_rows, header, parse_int, read_rows, row_error
from commands.numbering import company_of
from domain.card_charges import Purchase, post_purchases
from domain.credit_card import CreditCard, card_id
from domain.errors import NotFound, ValidationError
from domain.tenancy import DEFAULT_COMPANY, validate_company

CARD_COLUMNS = ["reference", "holder", "last4", "currency", "closing_day", "due_day", "due_after_days", "boundary", "holidays"]
CHARGE_COLUMNS = ["card", "charge_id", "date", "amount", "merchant"]
CHARGE_OPTIONAL = ["installments", "currency", "attributes"]
#: The Birmingham purchase-card export (examples/birmingham-pcard/README.md).
BIRMINGHAM_COLUMNS = ["statement_file", "card", "directorate", "transaction_date", "merchant", "amount", "currency",
                      "billing_amount", "billing_currency", "vat_desc", "cac_code", "cac_desc", "cac_code_2", "cac_desc_2",
                      "cac_code_3", "tax_amount", "source_row"]


def birmingham_card(masked: str, directorate: str) -> str:
    """The card reference of a Birmingham row: ``<last four digits> <directorate>`` (one card per masked
    number and directorate; blanks around the directorate dropped, its spelling kept)."""
    return f"{masked.strip()[-4:]} {directorate.strip()}".strip()


@dataclass(frozen=True)
class ImportCards:
    """Import cards from CSV file ``path`` (columns :data:`CARD_COLUMNS`; an empty cell: the default)."""

    path: str
    at: datetime
    company: str = DEFAULT_COMPANY


@dataclass(frozen=True)
class ImportCharges:
    """Import charges from CSV file ``path``: :data:`CHARGE_COLUMNS` (+ :data:`CHARGE_OPTIONAL`), or the
    Birmingham format (:data:`BIRMINGHAM_COLUMNS`; card :func:`birmingham_card`, charge id
    ``<statement_file>:<source_row>``, amount ``billing_amount`` where given, else ``amount``)."""

    path: str
    at: datetime
    company: str = DEFAULT_COMPANY


def _optional_int(value: str, field: str) -> int | None:
    return parse_int(value, field) if value.strip() else None


@handler(ImportCards)
def _import_cards(cmd: ImportCards, uow: UnitOfWork) -> dict[str, int]:
    company = validate_company(cmd.company)
    problems = Problems(cmd.path)
    co = company_of(uow, company)
    counts = {"created": 0, "unchanged": 0}
    rows = distinct_rows(cmd.path, CARD_COLUMNS, "reference", problems)
    probe = UnitOfWork(uow.store, uow.at)  # checks and adds every row (saved by in_batches)
    valid: list[tuple[str, dict[str, str]]] = []
    done: list[bool] = []
    probe.get_many([card_id(r["reference"].strip(), company) for _l, r in rows if r["reference"].strip()])
    for line, row in rows:
        ref = row["reference"].strip()

        def add(row: dict[str, str] = row, ref: str = ref) -> bool:
            return add_card(probe, _add_command(ref, row, cmd.at, company), co)

        got = problems.check(line, add)
        if got is not None:
            counts["created" if got else "unchanged"] += 1
            valid.append((ref, row))
            done.append(got)
    problems.raise_if_any()

    def apply(work: UnitOfWork, item: tuple[str, dict[str, str]]) -> bool:
        ref, row = item
        return add_card(work, _add_command(ref, row, cmd.at, company), co)

    in_batches(uow, valid, apply, preload=lambda work, chunk: preload_cards(work, [card_id(ref, company) for ref, _row in chunk]),
               owner=lambda item: card_id(item[0], company), work=probe, applied=done)
    return counts


def _add_command(ref: str, row: dict[str, str], at: datetime, company: str) -> AddCard:
    closing = row["closing_day"].strip()
    if not closing:
        raise ValidationError("closing_day", "a card needs its closing day (1-31)")
    return AddCard(ref, row["holder"].strip(), row["last4"].strip(), row["currency"].strip(), parse_int(closing, "closing_day"), at,
                   company, _optional_int(row["due_day"], "due_day"), _optional_int(row["due_after_days"], "due_after_days"),
                   row["boundary"].strip() or None, row["holidays"].strip() or None)


def _rows(cmd: ImportCharges, problems: Problems) -> list[tuple[int, str, dict[str, Any]]]:
    """``(line, card reference, purchase fields)`` of every readable row."""
    birmingham = "statement_file" in header(cmd.path)
    out = []
    for line, row in read_rows(cmd.path, BIRMINGHAM_COLUMNS if birmingham else CHARGE_COLUMNS,
                               () if birmingham else CHARGE_OPTIONAL):
        if (err := row_error(row)) is not None:
            problems.add(line, "row", err)
            continue
        if birmingham:
            money = row["billing_amount"].strip() or row["amount"]
            currency = row["billing_currency"].strip() if row["billing_amount"].strip() else row["currency"]
            attrs = {k: row[k].strip() for k in ("cac_code", "cac_code_2", "vat_desc") if row[k].strip()}
            out.append((line, birmingham_card(row["card"], row["directorate"]),
                        {"charge_id": f"{row['statement_file'].strip()}:{row['source_row'].strip()}",
                         "charge_date": row["transaction_date"].strip(), "amount": money, "merchant": row["merchant"].strip(),
                         "given_currency": currency, "attributes": attrs}))
        else:
            out.append((line, row["card"].strip(),
                        {"charge_id": row["charge_id"].strip(), "charge_date": row["date"].strip(), "amount": row["amount"],
                         "merchant": row["merchant"].strip(), "given_currency": row.get("currency", ""),
                         "installments": row.get("installments", "").strip() or 1,
                         "attributes": row.get("attributes") or None}))
    return out


@handler(ImportCharges)
def _import_charges(cmd: ImportCharges, uow: UnitOfWork) -> dict[str, int]:
    """Returns counts (posted, unchanged, late, refunds, waiting, installment_parts_pending, cards)."""
    company = validate_company(cmd.company)
    problems = Problems(cmd.path)
    rows = _rows(cmd, problems)
    probe = UnitOfWork(uow.store, uow.at)  # checks every row, then posts them (saved by in_batches)
    ids = sorted({card_id(ref, company) for _l, ref, _f in rows if ref}, key=str)
    preload_cards(probe, ids)
    cards = probe.get_many(ids)
    by_card: dict[Any, list[Purchase]] = {}
    seen: dict[tuple[str, str], tuple[int, str]] = {}
    last_line: dict[Any, int] = {}
    for line, ref, fields in rows:
        def check(ref: str = ref, fields: dict[str, Any] = fields, line: int = line) -> None:
            card = cards.get(card_id(ref, company)) if ref else None
            if not isinstance(card, CreditCard):
                raise NotFound("card", f"no card {ref!r}" + ("" if company == DEFAULT_COMPANY else f" of company {company}"))
            p = purchase(currency=card.currency, **fields)
            key = (ref, p.id)
            if key in seen and seen[key][1] != p.digest:
                raise ValidationError("charge_id", f"{p.id!r} is given twice with different data (first on line {seen[key][0]})")
            seen.setdefault(key, (line, p.digest))
            if not card.known_charge(p.id, p.digest):
                if p.parts > 1 and p.amount <= 0:
                    raise ValidationError("installments", f"a refund ({p.amount}) is not split into installments")
                card.place(p.date, p.amount)
            by_card.setdefault(card.id, []).append(p)
            last_line[card.id] = line

        problems.check(line, check)
    problems.raise_if_any()

    def apply(work: UnitOfWork, cid: Any) -> dict[str, int]:
        card = work.get(cid)
        return post_purchases(card, open_statements(work, card), by_card[cid])

    # A card's charges together can break a rule no single row does (the total it holds for statements not
    # open yet, a statement's total): posted on the probe here, refused at the card's last line.
    done = [problems.check(last_line[cid], lambda cid=cid: apply(probe, cid)) for cid in by_card]
    problems.raise_if_any()
    counts = {"posted": 0, "unchanged": 0, "late": 0, "refunds": 0, "waiting": 0, "installment_parts_pending": 0, "cards": len(by_card)}
    for got in in_batches(uow, list(by_card), apply, work=probe, applied=done):
        for k, v in got.items():
            counts[k] += v
    return counts
