"""Recurring charges of a card (issue 9; the source system's ``fixed`` payments): an amount at a merchant
on a day of every month (1–31, clamped to a short month's last day) from a first date on, posted by the
tick on its day (:mod:`scheduler.sources.cards`), or skipped for good on a day the card is inactive.
:class:`RecurringCharges` is mixed into :class:`domain.credit_card.CreditCard`, which declares the two
events below as its own."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from domain.base import BillingAggregate
from domain.card_rules import _whole
from domain.errors import ValidationError
from domain.money import check_amount
from domain.schedules import closing_date, first_day_after
from domain.text import validate_reference, validate_text


class RecurringChargeSet(BillingAggregate.Event):
    """Recurring charge ``id``: ``amount`` at ``merchant`` on ``day`` of every month, next on ``next``
    (None: stopped)."""

    TOPIC = "billing:CreditCard.RecurringChargeSet"
    charge_id: str
    day: int
    amount: Decimal
    merchant: str
    next: date | None
    schedule: dict

    def apply(self, c: Any) -> None:
        c.recurring = {**c.recurring, self.charge_id: {"day": self.day, "amount": self.amount, "merchant": self.merchant,
                                                       "next": self.next}}


class RecurringChargePosted(BillingAggregate.Event):
    TOPIC = "billing:CreditCard.RecurringChargePosted"
    charge_id: str
    date: date
    next: date
    schedule: dict
    skipped: bool

    def apply(self, c: Any) -> None:
        c.recurring = {**c.recurring, self.charge_id: {**c.recurring[self.charge_id], "next": self.next}}


class RecurringCharges:
    """The recurring-charge commands of a card (``self.recurring``: charge id → day, amount, merchant,
    next posting date or None once stopped); events are recorded with the aggregate's ``trigger_event``."""

    currency: str
    recurring: dict[str, dict]
    _pending_day: int

    def set_recurring(self, charge_id: str, day: object, amount: Decimal, merchant: str, first: date) -> None:
        """Post ``amount`` at ``merchant`` on ``day`` (1–31, clamped) of every month from ``first`` on."""
        charge_id = validate_reference(charge_id, "charge_id")
        if "/" in charge_id:
            raise ValidationError("charge_id", f"{charge_id!r} contains '/'; its postings are <id>/<date>")
        d = _whole(day, "day", 1, 31, "the day of the month it is posted; clamped to a short month's last day")
        if amount <= 0:
            raise ValidationError("amount", f"{amount} is not greater than zero; a recurring charge is a purchase")
        nxt = first if first.day == min(d, _month_end(first)) else first_day_after(first, d)
        self._pending_day = d
        self.trigger_event(self.RecurringChargeSet, charge_id=charge_id, day=d, amount=check_amount(amount, self.currency),
                           merchant=validate_text(merchant, "merchant"), next=nxt, schedule=self._schedule(charge_id, nxt))

    def stop_recurring(self, charge_id: str) -> bool:
        r = self.recurring.get(charge_id)
        if r is None:
            raise ValidationError("charge_id", f"card {self.reference} has no recurring charge {charge_id!r}")
        if r["next"] is None:
            return False
        self.trigger_event(self.RecurringChargeSet, charge_id=charge_id, day=r["day"], amount=r["amount"], merchant=r["merchant"],
                           next=None, schedule=self._schedule(charge_id, None))
        return True

    def record_recurring(self, charge_id: str, on: date, skipped: bool = False) -> None:
        """Record that recurring charge ``charge_id`` of ``on`` was posted (or ``skipped``: the card was
        inactive that day; it is never posted later); the next one is on its day of the next month."""
        r = self.recurring[charge_id]
        nxt = first_day_after(on, r["day"])
        self.trigger_event(self.RecurringChargePosted, charge_id=charge_id, date=on, next=nxt, schedule=self._schedule(charge_id, nxt),
                           skipped=skipped)

    def _schedule(self, charge_id: str, nxt: date | None) -> dict:
        """Every recurring charge's ``[day, next posting date]`` (ISO; None: stopped) once ``charge_id``'s
        is ``nxt`` (what the tick plans from)."""
        out = {k: [v["day"], v["next"].isoformat() if v["next"] else None] for k, v in sorted(self.recurring.items())}
        day = out[charge_id][0] if charge_id in out else self._pending_day
        out[charge_id] = [day, nxt.isoformat() if nxt else None]
        return dict(sorted(out.items()))


def _month_end(d: date) -> int:
    return closing_date(d.year, d.month, 31).day
