"""Free attributes of invoices and contract positions: a small flat JSON object of plain values.

The rule (issue 2, hardened in issue 6): a JSON object of at most :data:`MAX_KEYS` keys, each key 1–64
printable characters, each value a string (at most :data:`MAX_VALUE` characters of printable text), a number
(an integer or a decimal of at most 18 digits before and 12 after the point, kept as ``Decimal``; never a
float), a boolean or null. Nested objects and arrays are refused. Text input is parsed here too, so JSON
nested thousands deep, numbers of thousands of digits or lone surrogates are a :class:`ValidationError`
naming ``attributes``, never a crash.
"""

from __future__ import annotations

import json
from decimal import Decimal

from domain.errors import ValidationError
from domain.text import validate_name, validate_text

MAX_KEYS = 50
MAX_VALUE = 500
MAX_TEXT = 20000


class _DuplicateKey(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [k for k, _v in pairs]
    doubled = sorted({k for k in keys if keys.count(k) > 1})
    if doubled:
        raise _DuplicateKey(", ".join(doubled))
    return dict(pairs)


def _number(key: str, value: int | Decimal, field: str) -> int | Decimal:
    d = Decimal(value)
    exponent = d.as_tuple().exponent
    if not d.is_finite() or abs(d) >= Decimal(10) ** 18 or (isinstance(exponent, int) and exponent < -12):
        raise ValidationError(field, f"{key}: {value} is out of range (at most 18 digits before and 12 after the point)")
    return value


def validate_attributes(attributes: object, field: str = "attributes") -> dict:
    """Return ``attributes`` (a dict, or JSON text of an object, or None/"" for none) as a validated dict.

    Keys keep their given order (JSON objects from the same input always have the same order, so events
    stay deterministic). Raises :class:`ValidationError` naming ``field`` for anything else.
    """
    if attributes is None or attributes == "":
        return {}
    if isinstance(attributes, str):
        if len(attributes) > MAX_TEXT:
            raise ValidationError(field, f"is {len(attributes)} characters long; at most {MAX_TEXT} are allowed")
        try:
            attributes = json.loads(attributes, parse_float=Decimal, object_pairs_hook=_no_duplicate_keys)
        except json.JSONDecodeError as e:
            raise ValidationError(field, f"is not valid JSON ({e.msg})") from None
        except _DuplicateKey as e:
            raise ValidationError(field, f"gives key {e} more than once") from None
        except (RecursionError, ValueError):
            raise ValidationError(field, "is not a flat JSON object of plain values (nested too deep, or a number too long)") from None
    if not isinstance(attributes, dict):
        raise ValidationError(field, 'must be a JSON object like {"flight": "UA1545"}')
    if len(attributes) > MAX_KEYS:
        raise ValidationError(field, f"has {len(attributes)} keys; at most {MAX_KEYS} are allowed")
    out = {}
    for key, value in attributes.items():
        if not isinstance(key, str) or not key:
            raise ValidationError(field, "keys must be non-empty strings")
        if key != key.strip():
            raise ValidationError(field, f"key {key!r} has blanks around it")
        validate_name(key, field, 64)
        if isinstance(value, bool) or value is None:
            pass
        elif isinstance(value, (int, Decimal)):
            value = _number(key, value, field)
        elif isinstance(value, str):
            if value:
                validate_text(value, field, MAX_VALUE)
        else:
            raise ValidationError(field, f"{key}: values must be strings, numbers, booleans or null")
        out[key] = value
    return out
