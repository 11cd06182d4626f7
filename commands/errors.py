"""One table from errors to exit statuses and HTTP statuses (DESIGN.md, "Errors"), shared by every entry
point.

| error | exit | HTTP |
| --- | --- | --- |
| :class:`domain.errors.ValidationError`, a rejected import, a usage error | 2 | 422 |
| :class:`domain.errors.NotFound` (an unknown reference, a missing store) | 2 | 404 |
| :class:`domain.errors.Conflict` (a rule of the lifecycle, the time rule) | 2 | 409 |
| the database is unavailable (unreachable, connection lost, locked, read-only, the store dropped while running) | 1 | 503 |
| anything else (a bug) | 1 | 500 |

Every message is one line (a rejected import lists its rows below it); a database error never shows its
SQL or parameters. Nothing here imports a driver: errors are recognised by their classes' names.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import Conflict, DomainError, ImportRejected, NotFound, ValidationError


@dataclass(frozen=True)
class Outcome:
    """How an entry point reports an error: ``kind`` (validation, not_found, conflict, database,
    unexpected), exit status, HTTP status, the field it names (if any) and a one-line message."""

    kind: str
    exit_code: int
    http_status: int
    field: str | None
    message: str


#: Domain errors, most specific first.
TABLE: list[tuple[type[DomainError], str, int, int]] = [
    (NotFound, "not_found", 2, 404),
    (Conflict, "conflict", 2, 409),
    (ValidationError, "validation", 2, 422),
    (DomainError, "validation", 2, 422),
]

_DATABASE_ERRORS = {
    ("sqlalchemy.exc", "OperationalError"), ("sqlalchemy.exc", "InterfaceError"), ("sqlalchemy.exc", "TimeoutError"),
    ("sqlalchemy.exc", "DisconnectionError"), ("psycopg", "OperationalError"), ("psycopg", "InterfaceError"),
    ("psycopg.errors", "AdminShutdown"), ("psycopg_pool", "PoolTimeout"), ("sqlite3", "OperationalError"),
    ("eventsourcing.persistence", "OperationalError"), ("eventsourcing.persistence", "InterfaceError"),
}


#: SQLite reports unusable files and SQL mistakes alike as OperationalError: these say the former.
_SQLITE_UNAVAILABLE = ("unable to open", "locked", "readonly", "read-only", "disk i/o", "disk is full", "not a database", "malformed")


#: PostgreSQL errors that say the store's schema or tables are gone (dropped while a command ran).
_STORE_GONE = {("psycopg.errors", "UndefinedTable"), ("psycopg.errors", "InvalidSchemaName")}


def _causes(error: BaseException) -> list[BaseException]:
    """``error``, the driver error it wraps (``orig``) and its causes, outermost first."""
    out: list[BaseException] = []
    e: BaseException | None = error
    while e is not None and e not in out and len(out) < 8:
        out.append(e)
        e = getattr(e, "orig", None) or e.__cause__
    return out


def _store_gone(error: BaseException) -> bool:
    return any((type(e).__module__, type(e).__name__) in _STORE_GONE for e in _causes(error))


def is_database_error(error: BaseException) -> bool:
    """True if ``error`` says the database is unavailable (a driver or pool error, or the store's schema
    or tables dropped while a command ran; not a bug)."""
    if type(error).__name__ in ("DatabaseUnavailable", "TickLockTimeout"):
        return True
    if _store_gone(error):
        return True
    if not any((c.__module__, c.__name__) in _DATABASE_ERRORS for c in type(error).__mro__):
        return False
    inner = getattr(error, "orig", None) or error
    if type(inner).__module__ == "sqlite3":
        return any(p in str(inner).lower() for p in _SQLITE_UNAVAILABLE)
    return True


def database_message(error: BaseException) -> str:
    """One line about a database error: the driver's own first line, without SQL or parameters."""
    if type(error).__name__ in ("DatabaseUnavailable", "TickLockTimeout"):
        return str(error)
    inner = getattr(error, "orig", None) or error.__cause__ or error
    text = str(inner).strip().splitlines()[0] if str(inner).strip() else type(inner).__name__
    text = _without_sql(text)
    if _store_gone(error):
        text += " (were the store's tables dropped while it ran?)"
    return f"the database is unavailable: {text}"


def _without_sql(text: str) -> str:
    """``text`` without the SQL, parameters and link SQLAlchemy appends."""
    for marker in ("[SQL:", "(Background on this error"):
        text = text.split(marker)[0]
    return text.strip()


def classify(error: BaseException) -> Outcome:
    """The :class:`Outcome` of ``error`` (see the table in the module docstring)."""
    if isinstance(error, ImportRejected):
        return Outcome("validation", 2, 422, None, str(error))
    for cls, kind, exit_code, status in TABLE:
        if isinstance(error, cls):
            return Outcome(kind, exit_code, status, error.field, f"{error.field}: {error.rule}")
    if is_database_error(error):
        return Outcome("database", 1, 503, None, database_message(error))
    text = _without_sql(" ".join(str(error).split()))[:300]
    return Outcome("unexpected", 1, 500, None, f"unexpected {type(error).__name__}: {text}")
