"""Charges of a card and how they land on its statements (issue 9): purchases, installment parts,
fingerprints of charge ids, and the two moves that span a card and its statements — posting purchases
(:func:`post_purchases`) and closing the oldest open statement (:func:`close_oldest`). The rules are in
:mod:`domain.credit_card`'s docstring."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING

from domain.calendar import start_of_day
from domain.credit_card_invoice import Charge, CreditCardInvoice
from domain.errors import ValidationError
from domain.money import check_amount, exact_sum, quantum

if TYPE_CHECKING:
    from domain.credit_card import CreditCard


def installment_parts(amount: Decimal, currency: str, parts: int) -> list[Decimal]:
    """``amount`` split into ``parts`` amounts in the currency's minor unit that sum to it exactly: each
    part is the quotient rounded down to the minor unit, the remainder cent(s) go to the first part
    (R$ 100.00 in 3 → 33.34 + 33.33 + 33.33)."""
    q = quantum(currency)
    base = (amount / parts).quantize(q, rounding=ROUND_DOWN)
    return [amount - base * (parts - 1)] + [base] * (parts - 1)


def fingerprint(charge_date: date, amount: Decimal, merchant: str, parts: int, attributes: dict) -> str:
    """A digest of what a charge id stands for: the same id must always mean the same purchase."""
    text = json.dumps([charge_date.isoformat(), str(amount), merchant, parts, attributes], sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def split_charge(charge_id: str, charge_date: date, amount: Decimal, currency: str, merchant: str, parts: int,
                 attributes: dict, late: bool) -> list[Charge]:
    """The charges of a purchase: one, or ``parts`` installment parts (ids ``<id>``, ``<id>/2``, ...)."""
    if parts == 1:
        return [Charge(charge_id, charge_date, amount, merchant, late, 1, 1, attributes)]
    amounts = installment_parts(amount, currency, parts)
    return [Charge(charge_id if i == 0 else f"{charge_id}/{i + 1}", charge_date, a, merchant, late and i == 0, i + 1, parts,
                   {**attributes, "purchase_total": str(amount)}) for i, a in enumerate(amounts)]


def total_of(charges: Iterable[Charge]) -> Decimal:
    return exact_sum(c.amount for c in charges)


@dataclass(frozen=True)
class Purchase:
    """A purchase to post (validated): external ``id``, local ``date``, ``amount`` in the card's currency
    (negative: a refund), ``merchant``, ``parts`` installments (1: none), free ``attributes``."""

    id: str
    date: date
    amount: Decimal
    merchant: str
    parts: int = 1
    attributes: dict = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return fingerprint(self.date, self.amount, self.merchant, self.parts, self.attributes)

    def to_event(self) -> list:
        return [self.id, self.date.isoformat(), str(self.amount), self.merchant, self.parts, self.attributes]

    @classmethod
    def from_event(cls, data: list) -> Purchase:
        return cls(data[0], date.fromisoformat(data[1]), Decimal(data[2]), data[3], data[4], data[5])


def post_purchases(card: CreditCard, statements: dict[int, CreditCardInvoice], purchases: Iterable[Purchase]) -> dict[str, int]:
    """Post ``purchases`` to ``card``'s open statements (``statements``: seq → open statement, every one of
    ``card.open``) in order, by the rules of the module docstring; one event per touched aggregate. Returns
    counts (posted, unchanged: the same id with the same data, late, refunds, installment_parts_pending).
    Raises like :meth:`CreditCard.place` / :meth:`CreditCard.known_charge` / :meth:`CreditCardInvoice.post`
    (nothing is recorded then: the caller's unit of work is dropped)."""
    counts = {"posted": 0, "unchanged": 0, "late": 0, "refunds": 0, "waiting": 0, "installment_parts_pending": 0}
    waiting: list[list] = []
    by_seq: dict[int, list[Charge]] = {}
    recorded: list[tuple[str, str, int]] = []
    pending: dict[int, list] = {}
    seen: dict[str, str] = {}
    for p in purchases:
        digest = p.digest
        if p.id in seen:
            if seen[p.id] != digest:
                raise ValidationError("charge_id", f"{p.id!r} is given twice with different data")
            counts["unchanged"] += 1
            continue
        seen[p.id] = digest
        if card.known_charge(p.id, digest):
            counts["unchanged"] += 1
            continue
        if p.parts > 1 and p.amount <= 0:
            raise ValidationError("installments", f"a refund ({p.amount}) is not split into installments")
        seq, late = card.place(p.date, p.amount)
        recorded.append((p.id, digest, seq))
        counts["posted"] += 1
        counts["refunds"] += p.amount < 0
        if seq == 0:
            waiting.append(p.to_event())
            counts["waiting"] += 1
            continue
        for k, charge in enumerate(split_charge(p.id, p.date, p.amount, card.currency, p.merchant, p.parts, p.attributes, late)):
            target = seq + k
            if target in statements:
                by_seq.setdefault(target, []).append(charge)
            else:
                pending.setdefault(target, []).append(charge.to_event())
                counts["installment_parts_pending"] += 1
        counts["late"] += late
    if waiting or pending:
        _check_ahead(card, waiting, pending)
    for seq in sorted(by_seq):
        statements[seq].post(by_seq[seq])
    card.record_charges(recorded, [[s, pending[s]] for s in sorted(pending)], waiting)
    return counts


def _check_ahead(card: CreditCard, waiting: list[list], pending: dict[int, list]) -> None:
    """The charges a card holds for statements not open yet (waiting purchases and installment parts, the
    ones it holds already and ``waiting``/``pending`` about to be added) add up to an amount within the
    engine's bound (:func:`domain.money.check_amount`, < 10^15) in absolute value, each charge counted by its
    absolute value: they land in statements not known yet, so a refund for one month must not offset a
    purchase of another; then whichever statements they land in, no total is out of range, and the command is
    refused now rather than every close later (a card cannot be deactivated with charges waiting, so a close
    refused then could never be undone). Raises :class:`ValidationError` on ``amount``."""
    ahead = [w[2] for w in (*card.waiting, *waiting)]
    ahead += [c[2] for _seq, parts in card.pending for c in parts] + [c[2] for parts in pending.values() for c in parts]
    check_amount(exact_sum([abs(Decimal(a)) for a in ahead]), card.currency, "amount",
                 f"the charges card {card.reference} holds for statements not open yet (in absolute value)")


def close_oldest(card: CreditCard, statement: CreditCardInvoice, closed_at: datetime) -> CreditCardInvoice | None:
    """Close ``statement`` (the card's oldest open one) at ``closed_at``: ``InvoiceIssued`` on it with its
    totals and due date, ``PeriodClosed`` on the card, and, if it was the current one of an active card, the
    next statement opened from the anchor with the installment parts waiting for it. Returns the new
    statement (unsaved) or None."""
    nxt, due = card.record_close(statement.seq, statement.total_amount, statement.purchases_count)
    statement.close(closed_at, due, start_of_day(due + timedelta(days=1), card.timezone))
    if nxt is None:
        return None
    new = CreditCardInvoice.open(card_id=card.id, card_reference=card.reference, company=card.company, seq=nxt[0],
                                 currency=card.currency, timezone=card.timezone, start_date=date.fromisoformat(nxt[1]),
                                 end_date=date.fromisoformat(nxt[2]))
    new.post(card.pending_for_opened(nxt[0]))
    return new


def open_first(card: CreditCard, entry: list) -> CreditCardInvoice:
    """The statement aggregate of the card's open statement ``entry`` (``[seq, start, end]``), unsaved."""
    return CreditCardInvoice.open(card_id=card.id, card_reference=card.reference, company=card.company, seq=entry[0],
                                  currency=card.currency, timezone=card.timezone, start_date=date.fromisoformat(entry[1]),
                                  end_date=date.fromisoformat(entry[2]))
