"""Typed, immutable values of an invoice document: :class:`Money`, :class:`InvoiceLine`, :class:`TaxAmount`
and :class:`Totals` (issue 7).

Events keep plain values (DESIGN.md, "Event payloads hold plain values"): each value converts to and from
its event form (``to_event`` / ``from_event``), so what is stored is unchanged while the domain reasons
with types. Totals follow EN 16931 (BT-116/BT-117): line net = quantity × unit price rounded half-up to the
currency's minor unit; tax per rate on the sum of that rate's line nets, rounded half-up once; gross = net
+ tax (:func:`invoice_totals`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from domain.money import EXACT, check_amount, format_amount, round_money, validate_currency


@dataclass(frozen=True, order=True)
class Money:
    """An amount of an ISO 4217 currency (``Money(Decimal("12.50"), "EUR")``), exact, never a float."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError("Money.amount must be a Decimal")
        validate_currency(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(EXACT.add(self.amount, other.amount), self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(EXACT.subtract(self.amount, other.amount), self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __str__(self) -> str:
        return f"{format_amount(self.amount, self.currency)} {self.currency}"


@dataclass(frozen=True)
class InvoiceLine:
    """One line of a document: ``position`` (1..n, unique per document), ``description``, ``quantity``
    (up to 4 decimals), net ``unit_price`` and ``net`` in the document's currency, the tax rate's name and
    percentage as snapshotted when the line was made, and free ``attributes``."""

    position: int
    description: str
    quantity: Decimal
    unit_price: Decimal
    net: Decimal
    tax_rate: str
    tax_percent: Decimal
    attributes: Mapping[str, Any] = field(default_factory=dict)
    discountable: bool = True

    def to_event(self) -> dict[str, Any]:
        return {
            "position": self.position, "description": self.description, "quantity": self.quantity,
            "unit_price": self.unit_price, "tax_rate": self.tax_rate, "tax_percent": self.tax_percent,
            "discountable": self.discountable, "attributes": dict(self.attributes), "net": self.net,
        }

    @classmethod
    def from_event(cls, data: Mapping[str, Any]) -> InvoiceLine:
        return cls(
            position=data["position"], description=data["description"], quantity=data["quantity"],
            unit_price=data["unit_price"], net=data["net"], tax_rate=data["tax_rate"], tax_percent=data["tax_percent"],
            attributes=dict(data.get("attributes") or {}), discountable=data.get("discountable", True),
        )


@dataclass(frozen=True, order=True)
class TaxAmount:
    """The tax of one rate: ``base`` (sum of its line nets) and ``tax`` (rounded once)."""

    name: str
    percent: Decimal
    base: Decimal
    tax: Decimal

    def to_event(self) -> dict[str, Any]:
        return {"name": self.name, "percent": self.percent, "base": self.base, "tax": self.tax}

    @classmethod
    def from_event(cls, data: Mapping[str, Any]) -> TaxAmount:
        return cls(data["name"], data["percent"], data["base"], data["tax"])


@dataclass(frozen=True)
class Totals:
    """Net, tax and gross of a document and its tax breakdown (sorted by percent descending, name)."""

    currency: str
    net: Decimal
    tax: Decimal
    gross: Decimal
    breakdown: tuple[TaxAmount, ...] = ()

    def check(self) -> Totals:
        """Return self if every amount is within the engine's bound; else :class:`ValidationError`."""
        for name, value in (("net", self.net), ("tax", self.tax), ("gross", self.gross)):
            check_amount(value, self.currency, name, f"the document's {name}")
        return self

    def to_event(self) -> dict[str, Any]:
        return {"net": self.net, "tax": self.tax, "gross": self.gross, "tax_breakdown": [t.to_event() for t in self.breakdown]}


def invoice_totals(lines: Iterable[InvoiceLine], currency: str) -> Totals:
    """The EN 16931 totals of ``lines`` (see the module docstring)."""
    bases: dict[tuple[str, Decimal], Decimal] = {}
    net = Decimal(0)
    for ln in lines:
        key = (ln.tax_rate, ln.tax_percent)
        bases[key] = EXACT.add(bases.get(key, Decimal(0)), ln.net)
        net = EXACT.add(net, ln.net)
    breakdown = tuple(
        TaxAmount(name, percent, base, round_money(EXACT.divide(EXACT.multiply(base, percent), Decimal(100)), currency))
        for (name, percent), base in sorted(bases.items(), key=lambda kv: (-kv[0][1], kv[0][0]))
    )
    tax = Decimal(0)
    for t in breakdown:
        tax = EXACT.add(tax, t.tax)
    return Totals(currency, round_money(net, currency), round_money(tax, currency), round_money(EXACT.add(net, tax), currency), breakdown)
