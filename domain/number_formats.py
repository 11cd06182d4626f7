"""Document number formats (issue 7): a prefix and a sequence width per document kind, per company.

``invoice`` ``INV-2026-000001``, ``credit_note`` ``CN-2026-000001`` (prefix, year, sequence per company and
year), ``consolidated`` ``CONS-2026-W04-001`` (prefix, period label, sequence per label). A company sets its
own from an instant on (:meth:`domain.company.Company.set_number_format`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.errors import ValidationError

INVOICE_FORMAT = "invoice"
CREDIT_NOTE_FORMAT = "credit_note"
CONSOLIDATED_FORMAT = "consolidated"
FORMAT_KINDS = (INVOICE_FORMAT, CREDIT_NOTE_FORMAT, CONSOLIDATED_FORMAT)

_PREFIX = re.compile(r"[A-Z0-9][A-Z0-9-]{0,11}")


@dataclass(frozen=True)
class NumberFormat:
    """A document number's prefix and sequence width: ``NumberFormat("INV", 6)`` → ``INV-2026-000042``."""

    prefix: str
    width: int

    def invoice_number(self, year: int, seq: int) -> str:
        return f"{self.prefix}-{year}-{seq:0{self.width}d}"

    def period_number(self, label: str, seq: int) -> str:
        return f"{self.prefix}-{label}-{seq:0{self.width}d}"


DEFAULT_FORMATS = {
    INVOICE_FORMAT: NumberFormat("INV", 6),
    CREDIT_NOTE_FORMAT: NumberFormat("CN", 6),
    CONSOLIDATED_FORMAT: NumberFormat("CONS", 3),
}


def parse_number_format(text: str) -> tuple[str, NumberFormat]:
    """``invoice=RE`` or ``invoice=RE:5`` → ``("invoice", NumberFormat("RE", 5))`` (width defaults to
    the kind's default). Raises :class:`ValidationError` (field ``number_format``)."""
    kind, sep, rest = str(text).partition("=")
    kind = kind.strip().lower().replace("-", "_")
    if not sep or kind not in FORMAT_KINDS:
        raise ValidationError("number_format", f"{text!r} must be KIND=PREFIX[:WIDTH] with KIND one of {', '.join(FORMAT_KINDS)}")
    prefix, _, width_text = rest.strip().partition(":")
    if not _PREFIX.fullmatch(prefix):
        raise ValidationError("number_format", f"prefix {prefix!r} must be 1-12 of A-Z, 0-9 and -, starting with a letter or digit")
    width = DEFAULT_FORMATS[kind].width
    if width_text:
        if not width_text.isascii() or not width_text.isdigit() or not 1 <= int(width_text) <= 12:
            raise ValidationError("number_format", f"width {width_text!r} must be a whole number from 1 to 12")
        width = int(width_text)
    return kind, NumberFormat(prefix, width)
