"""Money: ``Decimal`` amounts with an ISO 4217 currency, never floats.

The minor unit (number of decimals) comes from ISO 4217 through the ``iso4217`` package: JPY 0, EUR 2,
BHD 3. Rounding is always ROUND_HALF_UP to the currency's minor unit, and every place that rounds says so.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from iso4217 import Currency

from domain.errors import ValidationError


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
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


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
    return value


def parse_amount(text: str | Decimal | int, currency: str, field: str = "amount", *, allow_negative: bool = False) -> Decimal:
    """Parse an amount of ``currency`` exactly: no more decimals than its minor unit, never rounded.

    Returns the amount quantized to the minor unit (``"12.5"`` USD → ``Decimal("12.50")``). Raises
    :class:`ValidationError` naming ``field`` for a malformed number, a negative one (unless
    ``allow_negative``), or one with more decimals than the currency has (``12.345`` USD).
    """
    value = parse_decimal(text, field)
    if value < 0 and not allow_negative:
        raise ValidationError(field, f"{text} is negative; amounts must be zero or more")
    places = minor_unit(currency)
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > places and value != value.quantize(quantum(currency)):
        raise ValidationError(
            field, f"{text} has more decimals than {currency} allows ({places})"
        )
    return value.quantize(quantum(currency))


def format_amount(amount: Decimal, currency: str) -> str:
    """Return ``amount`` as a plain string with exactly the currency's decimals (``"1190.00"``)."""
    return str(amount.quantize(quantum(currency)))
