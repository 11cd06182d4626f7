"""Text that enters the engine: references, names and free text, each with one documented bound.

Every text a command carries ends up in an event (JSON, UTF-8) and in a read-model column of fixed
width, read by PostgreSQL, SQLite and BI tools. So every text is checked here, before anything is written
(issue 6, items 21 and 26):

- a **reference** (customer, contract, company, invoice number, …) is 1–100 printable characters without
  surrounding blanks (``str.isprintable``: no control character, no line break, no NUL);
- a **name** (customer name, contract name) is 1–200 printable characters after trimming blanks;
- a **free text** (a description, a reason, a payment reference, notes) is 0 up to a bound given per field,
  printable apart from line breaks and tabs (descriptions may span lines);
- every text encodes as UTF-8: a lone surrogate (``"\\ud800"``), which JSON can carry but UTF-8 cannot, is
  refused.

Each check raises :class:`ValidationError` naming the field and the rule.
"""

from __future__ import annotations

from domain.errors import ValidationError

#: Longest reference (read models: ``VARCHAR(100)``).
MAX_REFERENCE = 100
#: Longest name (read models: ``VARCHAR(200)``).
MAX_NAME = 200
#: Longest description of a line or position.
MAX_DESCRIPTION = 1000
#: Longest reason (void, credit, cancel) or payment reference.
MAX_NOTE = 200


def _encodable(value: str, field: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(field, "contains a character that is not valid Unicode text (a lone surrogate)") from None


def validate_reference(value: object, field: str = "reference") -> str:
    """Return ``value`` if it is a reference: 1–100 printable characters without surrounding blanks.

    Raises :class:`ValidationError` naming ``field`` otherwise (empty, too long, a control character or
    line break, blanks around it, not a string).
    """
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "must not be empty")
    _encodable(value, field)
    if value != value.strip():
        raise ValidationError(field, f"{value!r} has blanks around it")
    if len(value) > MAX_REFERENCE:
        raise ValidationError(field, f"is {len(value)} characters long; a reference has at most {MAX_REFERENCE}")
    if not value.isprintable():
        raise ValidationError(field, f"{value!r} contains a control character or line break; a reference is printable text")
    return value


def validate_name(value: object, field: str = "name", max_length: int = MAX_NAME) -> str:
    """Return ``value`` trimmed if it is a name: 1–``max_length`` (default 200) printable characters.

    Raises :class:`ValidationError` naming ``field`` otherwise.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "must not be empty")
    _encodable(value, field)
    value = value.strip()
    if len(value) > max_length:
        raise ValidationError(field, f"is {len(value)} characters long; at most {max_length} are allowed")
    if not value.isprintable():
        raise ValidationError(field, f"{value!r} contains a control character or line break; a name is printable text")
    return value


def validate_text(value: object, field: str, max_length: int = MAX_NOTE) -> str:
    """Return ``value`` trimmed if it is free text: 0–``max_length`` characters, printable apart from line
    breaks and tabs. ``None`` is the empty text.

    Raises :class:`ValidationError` naming ``field`` for a NUL or another control character, a lone
    surrogate, or a text over the bound.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(field, "must be text")
    _encodable(value, field)
    value = value.strip()
    if len(value) > max_length:
        raise ValidationError(field, f"is {len(value)} characters long; at most {max_length} are allowed")
    if not value.replace("\n", "").replace("\t", "").replace("\r", "").isprintable():
        raise ValidationError(field, "contains a control character (such as NUL); only printable text, line breaks and tabs are allowed")
    return value
