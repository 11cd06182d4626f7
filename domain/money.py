"""Money: ``Decimal`` amounts with an ISO 4217 currency, never floats.

The minor unit (number of decimals) comes from ISO 4217 through the ``iso4217`` package: JPY 0, EUR 2,
BHD 3. Rounding is always ROUND_HALF_UP to the currency's minor unit, and every place that rounds says so.

**The bound** (issue 6, item 1): every amount that enters (a command, a CSV cell) and every amount the
engine computes from them (a line net, an invoice's net, tax and gross, a consolidated total, a statement
total, a running balance) is less than :data:`AMOUNT_LIMIT` = 10^15 in absolute value (at most 15 digits
before the decimal point). The read models store money as ``NUMERIC(20, 4)`` (16 digits before the point),
so every amount the engine accepts fits them exactly; the bound is checked before anything is written.
Quantities are less than :data:`QUANTITY_LIMIT` = 10^9 with at most 4 decimals.

**Exact arithmetic**: products and sums of money are computed in :data:`EXACT`, a decimal context that
raises instead of rounding (``Inexact`` is trapped), so a computation can never round silently; the only
rounding is :func:`round_money` (half-up to the minor unit), where the rules call for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow
from functools import lru_cache

from iso4217 import Currency

from domain.errors import ValidationError


#: Every amount is less than this in absolute value (see the module docstring).
AMOUNT_LIMIT = Decimal(10) ** 15
#: Every quantity is less than this in absolute value.
QUANTITY_LIMIT = Decimal(10) ** 9
#: Longest decimal text accepted (sign, digits and point): longer input is refused before parsing.
MAX_NUMBER_TEXT = 40

#: Exact arithmetic: 60 significant digits and every inexact result is an error, never rounded.
EXACT = Context(prec=60, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow, Inexact])
#: The context of the one deliberate rounding (:func:`round_money`): half-up, enough digits for any bound.
_ROUNDING = Context(prec=60, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow])


@lru_cache(maxsize=None)
def minor_unit(code: str) -> int:
    """Return the number of decimals of ISO 4217 currency ``code`` (``"EUR"`` → 2, ``"JPY"`` → 0).

    Raises :class:`ValidationError` (field ``currency``) for a code that is not an ISO 4217 currency or
    that has no minor unit (precious metals, ``XXX``, ...).
    """
    return _currency(code, "currency")


def _currency(code: str, field: str) -> int:
    if not isinstance(code, str) or len(code) != 3 or not code.isalpha() or not code.isupper():
        raise ValidationError(field, f"{code!r} is not an ISO 4217 currency code (three capital letters)")
    try:
        exponent = Currency(code).exponent
    except ValueError:
        raise ValidationError(field, f"{code!r} is not an ISO 4217 currency") from None
    if exponent is None:
        raise ValidationError(field, f"{code} has no minor unit and cannot be invoiced")
    return int(exponent)


def validate_currency(code: str, field: str = "currency") -> str:
    """Return ``code`` if it is an invoiceable ISO 4217 currency, else raise :class:`ValidationError`."""
    _currency(code, field)
    return code


@lru_cache(maxsize=None)
def quantum(currency: str) -> Decimal:
    """Return the smallest amount of ``currency`` as a Decimal exponent (``Decimal("0.01")`` for EUR)."""
    return Decimal(1).scaleb(-minor_unit(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Round ``amount`` half-up to the minor unit of ``currency`` (ISO 4217). ``2.675 EUR`` → ``2.68``."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP, context=_ROUNDING)


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    """The exact sum of ``values`` (:data:`EXACT`: raises ``decimal.Inexact`` rather than round)."""
    total = Decimal(0)
    for v in values:
        total = EXACT.add(total, v)
    return total


def exact_product(a: Decimal, b: Decimal) -> Decimal:
    """The exact product ``a × b`` (:data:`EXACT`)."""
    return EXACT.multiply(a, b)


def check_amount(value: Decimal, currency: str, field: str = "amount", what: str = "") -> Decimal:
    """Return ``value`` if it is within the engine's bound (``|value| < 10^15``, :data:`AMOUNT_LIMIT`).

    ``what`` says which computed amount it is (``"the consolidated total"``); raises
    :class:`ValidationError` naming ``field`` otherwise, before anything is written.
    """
    if abs(value) >= AMOUNT_LIMIT:
        subject = f"{what} {value} {currency}" if what else f"{value} {currency}"
        raise ValidationError(
            field,
            f"{subject} is out of range: amounts must be less than 1000000000000000 (10^15) in absolute value",
        )
    return value


def parse_decimal(text: str | Decimal | int, field: str) -> Decimal:
    """Parse a decimal number written with a dot (``"1234.50"``), never through float.

    Raises :class:`ValidationError` naming ``field`` for anything else (``"1,5"``, ``"abc"``, ``"NaN"``,
    ``"1e3"``).
    """
    if isinstance(text, Decimal):
        value = text
    elif isinstance(text, int) and not isinstance(text, bool):
        value = Decimal(text)
    elif isinstance(text, str):
        s = text.strip()
        if len(s) > MAX_NUMBER_TEXT:
            raise ValidationError(field, f"has {len(s)} characters; a number has at most {MAX_NUMBER_TEXT}")
        if not s or any(c not in "0123456789.-+" for c in s):
            raise ValidationError(field, f"{text!r} is not a decimal number (write it like 1234.50)")
        try:
            value = Decimal(s)
        except InvalidOperation:
            raise ValidationError(field, f"{text!r} is not a decimal number (write it like 1234.50)") from None
    else:
        raise ValidationError(field, f"{text!r} is not a decimal number")
    if not value.is_finite():
        raise ValidationError(field, f"{text!r} is not a finite number")
    if len(value.as_tuple().digits) > MAX_NUMBER_TEXT or abs(value.as_tuple().exponent) > MAX_NUMBER_TEXT:  # type: ignore[arg-type]
        raise ValidationError(field, f"{text} has too many digits")
    return value


def parse_amount(text: str | Decimal | int, currency: str, field: str = "amount", *, allow_negative: bool = False) -> Decimal:
    """Parse an amount of ``currency`` exactly: no more decimals than its minor unit, never rounded.

    Returns the amount quantized to the minor unit (``"12.5"`` USD → ``Decimal("12.50")``). Raises
    :class:`ValidationError` naming ``field`` for a malformed number, a negative one (unless
    ``allow_negative``), one with more decimals than the currency has (``12.345`` USD), or one out of the
    engine's bound (:func:`check_amount`).
    """
    value = parse_decimal(text, field)
    if value < 0 and not allow_negative:
        raise ValidationError(field, f"{text} is negative; amounts must be zero or more")
    check_amount(value, currency, field)
    places = minor_unit(currency)
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > places and value != value.quantize(quantum(currency)):
        raise ValidationError(
            field, f"{text} has more decimals than {currency} allows ({places})"
        )
    if value == 0:
        value = abs(value)  # -0 is 0
    return value.quantize(quantum(currency), context=_ROUNDING)


def format_amount(amount: Decimal, currency: str) -> str:
    """Return ``amount`` as a plain string with exactly the currency's decimals (``"1190.00"``)."""
    return str(amount.quantize(quantum(currency), rounding=ROUND_HALF_UP, context=_ROUNDING))
