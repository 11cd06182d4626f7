"""Payments of issued documents (consolidated invoices, invoices): the rule both share."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from domain.errors import ValidationError
from domain.money import parse_amount
from domain.text import MAX_NOTE, validate_text


def record_payment(document: Any, amount: Decimal | str | None, reference: str) -> None:
    """Record a payment of ``amount`` (default: the open balance) on ``document``: ``PaymentRecorded``
    with the running total and the balance left, then ``Paid`` when nothing is owed any more.

    ``document`` has ``currency``, ``paid``, ``balance`` and the two event classes. The caller checks the
    document's status first. Raises :class:`ValidationError` (field ``amount``) for an amount that is not
    positive, has more decimals than the currency, or exceeds the open balance.
    """
    balance = document.balance
    value = balance if amount is None else parse_amount(amount, document.currency, allow_negative=True)
    if value <= 0:
        raise ValidationError("amount", f"{value} is not greater than zero; a payment must be greater than zero")
    if value > balance:
        raise ValidationError("amount", f"{value} exceeds the open balance {balance} {document.currency}")
    reference = validate_text(reference, "reference", MAX_NOTE)
    document.trigger_event(
        document.PaymentRecorded, amount=value, reference=reference, paid_total=document.paid + value, balance=balance - value
    )
    if document.balance == 0:
        document.trigger_event(document.Paid)
