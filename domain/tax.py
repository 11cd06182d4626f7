"""Tax rates and invoice totals (EN 16931 rounding).

A tax rate is named and has a percentage. The catalogue holds the rates contracts may use; a position
snapshots the name and percentage, so an invoice keeps the rate it was issued with.

Totals (DESIGN.md, "Time, calendars, money"; EN 16931 BT-116/BT-117): line net = quantity × unit price,
rounded half-up to the currency's minor unit; tax per rate = the sum of the line nets of that rate times
the percentage, rounded half-up once per rate; gross = net + tax.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from domain.errors import ValidationError
from domain.money import EXACT, exact_product, exact_sum, round_money


@dataclass(frozen=True, order=True)
class TaxRate:
    """A named VAT rate: ``TaxRate("standard", Decimal("19"))`` is 19 %."""

    name: str
    percent: Decimal


#: The rates contracts may use, by name (the German VAT rates of the reference example).
CATALOGUE: dict[str, TaxRate] = {
    "standard": TaxRate("standard", Decimal("19")),
    "reduced": TaxRate("reduced", Decimal("7")),
    "zero": TaxRate("zero", Decimal("0")),
}


def tax_rate(given: str | int | Decimal) -> TaxRate:
    """The catalogue rate named ``given`` or with percentage ``given`` (``"19"``, ``"19%"``, ``7``).

    Raises :class:`ValidationError` (field ``tax_rate``) for any other value, listing the known rates.
    """
    text = str(given).strip().rstrip("%").strip().lower()
    if text in CATALOGUE:
        return CATALOGUE[text]
    try:
        pct = Decimal(text)
    except Exception:  # noqa: BLE001 - decimal raises several kinds
        pct = None
    if pct is not None and pct.is_finite():
        for rate in CATALOGUE.values():
            if rate.percent == pct:
                return rate
    known = ", ".join(f"{r.name} {r.percent} %" for r in CATALOGUE.values())
    raise ValidationError("tax_rate", f"{given!r} is not a known tax rate ({known})")


def line_net(quantity: Decimal, unit_price: Decimal, currency: str) -> Decimal:
    """quantity × unit price, computed exactly, rounded half-up to the currency's minor unit."""
    return round_money(exact_product(quantity, unit_price), currency)


@dataclass(frozen=True)
class TaxLine:
    """The tax of one rate: ``base`` (sum of its line nets) and ``tax`` (rounded once)."""

    name: str
    percent: Decimal
    base: Decimal
    tax: Decimal


def totals(lines: Iterable[tuple[str, Decimal, Decimal]], currency: str) -> tuple[Decimal, list[TaxLine], Decimal, Decimal]:
    """Totals of ``lines`` given as ``(rate name, percent, line net)``.

    Returns ``(net, breakdown, tax, gross)``; the breakdown is sorted by (percent descending, name).
    """
    bases: dict[tuple[str, Decimal], Decimal] = {}
    net = Decimal(0)
    for name, percent, amount in lines:
        bases[(name, percent)] = EXACT.add(bases.get((name, percent), Decimal(0)), amount)
        net = EXACT.add(net, amount)
    breakdown = [
        TaxLine(name, percent, base, round_money(EXACT.divide(exact_product(base, percent), Decimal(100)), currency))
        for (name, percent), base in sorted(bases.items(), key=lambda kv: (-kv[0][1], kv[0][0]))
    ]
    tax = exact_sum(t.tax for t in breakdown)
    return round_money(net, currency), breakdown, round_money(tax, currency), round_money(EXACT.add(net, tax), currency)
