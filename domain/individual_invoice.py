"""The IndividualInvoice aggregate: an invoice issued elsewhere and recorded here (issue 2).

Its external number is the idempotency key: the aggregate id is ``derive_id("individual-invoice",
number)``, so recording the same number twice with the same data is a no-op and with different data a
:class:`Conflict`. ``gathered_into`` names the consolidated invoice (period) it was routed to when recorded,
or is None when it stays individual. Cancelled invoices are never consolidated.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from domain.base import BillingAggregate, derive_id
from domain.errors import Conflict, ValidationError

ISSUED = "ISSUED"
CANCELLED = "CANCELLED"


def individual_invoice_id(number: str) -> UUID:
    """The derived id of the individual invoice with external number ``number``."""
    return derive_id("individual-invoice", number)


def validate_attributes(attributes: object) -> dict:
    """Free attributes: a JSON object of strings to strings, numbers (kept as Decimal), booleans or null.

    Returned with keys in their given order (JSON objects from the same file always have the same order, so
    events stay deterministic). Raises :class:`ValidationError` (field ``attributes``) otherwise.
    """
    if attributes is None or attributes == "":
        return {}
    if isinstance(attributes, str):
        try:
            attributes = json.loads(attributes, parse_float=Decimal)
        except json.JSONDecodeError as e:
            raise ValidationError("attributes", f"is not valid JSON ({e.msg})") from None
    if not isinstance(attributes, dict):
        raise ValidationError("attributes", "must be a JSON object like {\"flight\": \"UA1545\"}")
    for key, value in attributes.items():
        if not isinstance(key, str) or not key:
            raise ValidationError("attributes", "keys must be non-empty strings")
        if not (value is None or isinstance(value, (str, int, bool, Decimal))):
            raise ValidationError("attributes", f"{key}: values must be strings, numbers, booleans or null")
    return dict(attributes)


class IndividualInvoice(BillingAggregate):
    """A recorded external invoice: number (unique), customer, issue instant, amount, currency, status
    ISSUED or CANCELLED, free attributes."""

    TOPIC = "billing:IndividualInvoice"

    class Created(BillingAggregate.Created):
        TOPIC = "billing:IndividualInvoice.Created"
        number: str
        customer_id: UUID
        customer_reference: str
        issued_at: datetime
        issued_on: date
        amount: Decimal
        currency: str
        attributes: dict
        gathered_into: UUID | None

    class Cancelled(BillingAggregate.Event):
        TOPIC = "billing:IndividualInvoice.Cancelled"
        reason: str

        def apply(self, inv: IndividualInvoice) -> None:
            inv.status = CANCELLED

    def __init__(
        self,
        number: str,
        customer_id: UUID,
        customer_reference: str,
        issued_at: datetime,
        issued_on: date,
        amount: Decimal,
        currency: str,
        attributes: dict,
        gathered_into: UUID | None,
    ):
        self.number = number
        self.issued_on = issued_on
        self.customer_id = customer_id
        self.customer_reference = customer_reference
        self.issued_at = issued_at
        self.amount = amount
        self.currency = currency
        self.attributes = attributes
        self.gathered_into = gathered_into
        self.status = ISSUED

    @classmethod
    def record(
        cls,
        number: str,
        customer_id: UUID,
        customer_reference: str,
        issued_at: datetime,
        issued_on: date,
        amount: Decimal,
        currency: str,
        attributes: dict,
        gathered_into: UUID | None,
    ) -> IndividualInvoice:
        """Record a validated invoice; ``issued_on`` is the local date of ``issued_at`` in the customer's
        zone, ``gathered_into`` the consolidated invoice it is routed to (None: it stays individual)."""
        return cls._create_with_id(
            cls.Created,
            individual_invoice_id(number),
            number=number,
            customer_id=customer_id,
            customer_reference=customer_reference,
            issued_at=issued_at,
            issued_on=issued_on,
            amount=amount,
            currency=currency,
            attributes=attributes,
            gathered_into=gathered_into,
        )

    def check_same(self, customer_reference: str, issued_at: datetime, amount: Decimal, currency: str, attributes: dict) -> None:
        """Raise :class:`Conflict` naming the first differing field if this invoice was recorded with other
        data than given (the idempotency-key contract)."""
        given = {
            "customer": customer_reference,
            "issued_at": issued_at,
            "amount": amount,
            "currency": currency,
            "attributes": attributes,
        }
        stored = {
            "customer": self.customer_reference,
            "issued_at": self.issued_at,
            "amount": self.amount,
            "currency": self.currency,
            "attributes": self.attributes,
        }
        for field, value in given.items():
            if stored[field] != value:
                shown_old = stored[field].isoformat() if isinstance(stored[field], datetime) else stored[field]
                shown_new = value.isoformat() if isinstance(value, datetime) else value
                raise Conflict(
                    field,
                    f"invoice {self.number} is already recorded with {field} {shown_old}, not {shown_new}",
                )

    def cancel(self, reason: str = "") -> bool:
        """Cancel the invoice; a no-op (False) if it already is cancelled."""
        if self.status == CANCELLED:
            return False
        self.trigger_event(self.Cancelled, reason=reason)
        return True
