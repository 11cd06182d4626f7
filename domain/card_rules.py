"""The rules a card is given (issue 9), each checked here before anything is written: closing day 1–31,
due rule (a due day 1–31 or 0–90 days after the end; 10 days when neither is given, the source system's
rule), boundary ``inclusive``/``exclusive``, the last four digits, installments 1–48. Each raises
:class:`ValidationError` naming the field and the rule."""

from __future__ import annotations

import re

from domain.errors import ValidationError
from domain.schedules import EXCLUSIVE, INCLUSIVE

BOUNDARIES = (INCLUSIVE, EXCLUSIVE)
MAX_INSTALLMENTS = 48
#: The source system's due rule: the statement's end + 10 days.
DEFAULT_DUE_AFTER_DAYS = 10


_WHOLE = re.compile(r"-?[0-9]{1,9}")


def _whole(value: object, field: str, low: int, high: int, rule: str) -> int:
    if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        value = int(value.strip())  # ASCII digits only: "²" and "٣" are refused, never int()-ed
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(field, f"{value!r} must be a whole number from {low} to {high} ({rule})")
    return value


def validate_closing_day(value: object) -> int:
    """A closing day 1–31 (clamped per month); :class:`ValidationError` on ``closing_day``."""
    return _whole(value, "closing_day", 1, 31, "a day of the month; 29–31 close on a short month's last day")


def validate_due_rule(due_day: object, due_after_days: object) -> tuple[int | None, int | None]:
    """``(due_day, due_after_days)``: exactly one (``due_after_days`` 10 when neither is given).
    Raises :class:`ValidationError` on ``due_day`` (1–31; both given) or ``due_after_days`` (0–90)."""
    if due_day not in (None, "") and due_after_days not in (None, ""):
        raise ValidationError("due_day", "give a due day or a number of days after the end, not both")
    if due_day not in (None, ""):
        return _whole(due_day, "due_day", 1, 31, "the first such day after the close"), None
    if due_after_days in (None, ""):
        return None, DEFAULT_DUE_AFTER_DAYS
    return None, _whole(due_after_days, "due_after_days", 0, 90, "days after the statement's end")


def validate_boundary(value: object) -> str:
    """``inclusive`` (default) or ``exclusive``; :class:`ValidationError` on ``boundary``."""
    key = str(value).strip().upper() if value not in (None, "") else INCLUSIVE
    if key not in BOUNDARIES:
        raise ValidationError("boundary", f"{value!r} is not one of inclusive, exclusive")
    return key


def validate_last4(value: object) -> str:
    """Four digits; :class:`ValidationError` on ``last4``."""
    s = str(value).strip() if value is not None else ""
    if len(s) != 4 or not s.isascii() or not s.isdigit():
        raise ValidationError("last4", f"{value!r} is not the card's last four digits (like 1234)")
    return s


def validate_installments(value: object) -> int:
    """1–48; :class:`ValidationError` on ``installments``."""
    return _whole(1 if value in (None, "") else value, "installments", 1, MAX_INSTALLMENTS, "parts of a purchase")


