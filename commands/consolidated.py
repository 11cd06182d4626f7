"""Commands on consolidated invoices: recording a payment."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from commands.app import Store
from commands.common import retrying
from domain.base import business_time
from domain.consolidated_invoice import ConsolidatedInvoice
from domain.errors import NotFound
from projections import queries, registry
from projections import runner as projection_runner


def find_consolidated(store: Store, number: str) -> ConsolidatedInvoice:
    """Load consolidated invoice ``number``.

    The number is located through the read model (brought up to date first) and verified on the loaded
    aggregate: the decision is taken on the aggregate. Raises :class:`NotFound` for an unknown number.
    """
    projection_runner.run(store, registry.ALL)
    found = queries.find_consolidated_id(store.read_engine, number)
    inv = store.get(UUID(found)) if found else None
    if inv is None or inv.number != number:
        raise NotFound("number", f"no consolidated invoice {number!r}")
    return inv


def pay_consolidated(store: Store, number: str, at: datetime, amount: str | Decimal | None = None, reference: str = "") -> ConsolidatedInvoice:
    """Record a payment of ``amount`` (default: the open balance) against consolidated invoice ``number``
    at business instant ``at``; the invoice becomes PAID when settled. Returns the invoice."""

    def attempt() -> ConsolidatedInvoice:
        inv = find_consolidated(store, number)
        with business_time(at):
            inv.record_payment(amount, reference)
            store.save([inv])
        return inv

    return retrying(attempt)
