"""The IndividualInvoice aggregate: an invoice issued elsewhere and recorded here (issue 2).

Its external number is the idempotency key: the aggregate id is ``derive_id("individual-invoice",
number)``, so recording the same number twice with the same data is a no-op and with different data a
:class:`Conflict`. ``gathered_into`` names the consolidated invoice (period) it was routed to when recorded,
or is None when it stays individual. Cancelled invoices are never consolidated.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from domain.base import BillingAggregate
from domain.attributes import validate_attributes  # noqa: F401 - re-exported
from domain.errors import Conflict
from domain.tenancy import DEFAULT_COMPANY, scoped_id
from domain.text import validate_text

ISSUED = "ISSUED"
CANCELLED = "CANCELLED"


def individual_invoice_id(number: str, company: str = DEFAULT_COMPANY) -> UUID:
    """The derived id of the individual invoice with external number ``number`` of ``company``."""
    return scoped_id("individual-invoice", company, number)


class IndividualInvoice(BillingAggregate):
    """A recorded external invoice: number (unique), customer, issue instant, amount, currency, status
    ISSUED or CANCELLED, free attributes."""

    TOPIC = "billing:IndividualInvoice"

    class Created(BillingAggregate.Created):
        TOPIC = "billing:IndividualInvoice.Created"
        class_version = 2
        company: str
        number: str
        customer_id: UUID
        customer_reference: str
        issued_at: datetime
        issued_on: date
        amount: Decimal
        currency: str
        attributes: dict
        gathered_into: UUID | None

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["company"] = DEFAULT_COMPANY

    class Cancelled(BillingAggregate.Event):
        TOPIC = "billing:IndividualInvoice.Cancelled"
        reason: str

        def apply(self, inv: IndividualInvoice) -> None:
            inv.status = CANCELLED

    def __init__(
        self,
        company: str,
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
        self.company = company
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

    def describe(self) -> str:
        return f"individual invoice {self.number}"

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
        company: str = DEFAULT_COMPANY,
    ) -> IndividualInvoice:
        """Record a validated invoice; ``issued_on`` is the local date of ``issued_at`` in the customer's
        zone, ``gathered_into`` the consolidated invoice it is routed to (None: it stays individual)."""
        return cls._create_with_id(
            cls.Created,
            individual_invoice_id(number, company),
            company=company,
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
        reason = validate_text(reason, "reason")
        if self.status == CANCELLED:
            return False
        self.trigger_event(self.Cancelled, reason=reason)
        return True
