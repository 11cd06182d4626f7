"""Domain errors: every one names the field and the rule it breaks.

The CLI prints them on stderr and exits with status 2; nothing is written, because aggregates check their
rules before they record an event and handlers validate a whole command (or a whole import file) before
they save anything (DESIGN.md, "Errors").
"""

from __future__ import annotations


class DomainError(Exception):
    """Base class of every error caused by a command's input or by a business rule.

    ``field`` is the name of the offending input (``"timezone"``, ``"amount"``, ``"end_date"``) and
    ``rule`` says what it breaks, in words a user can act on.
    """

    def __init__(self, field: str, rule: str):
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}")


class ValidationError(DomainError):
    """An input value is malformed or out of range (an unknown currency, a negative amount, ...)."""


class NotFound(DomainError):
    """A command names an entity that does not exist (an unknown customer, contract or invoice)."""


class Conflict(DomainError):
    """A command contradicts what is already recorded.

    Raised for an idempotency key reused with different data (an external invoice number recorded
    before with another amount) and for transitions the lifecycle forbids (paying a void invoice).
    """


class ImportRejected(Exception):
    """A bulk import file was rejected as a whole; nothing was written.

    ``problems`` lists every bad row as ``(line number, field, rule)``, line numbers counted from 1 for the
    header line of the file (0: the file as a whole, which cannot be opened; shown without a line).
    """

    def __init__(self, path: str, problems: list[tuple[int, str, str]]):
        self.path = path
        self.problems = problems
        shown = "\n".join(f"  {f'line {line}: ' if line else ''}{field}: {rule}" for line, field, rule in problems[:200])
        more = f"\n  ... and {len(problems) - 200} more" if len(problems) > 200 else ""
        super().__init__(
            f"{path}: {len(problems)} invalid row(s), nothing was imported:\n{shown}{more}" if any(p[0] for p in problems)
            else f"{path}: cannot be read, nothing was imported:\n{shown}{more}"
        )
