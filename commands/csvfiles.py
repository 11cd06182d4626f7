"""Reading import files: header checks, line numbers, and collecting every problem before anything is
written (an import is all-or-nothing)."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from domain.errors import DomainError, ImportRejected

T = TypeVar("T")

TRUE = {"true", "yes", "y", "1"}
FALSE = {"false", "no", "n", "0", ""}


@dataclass
class Problems:
    """Every bad row of a file: (line, field, rule). Raise with :meth:`raise_if_any`."""

    path: str
    items: list[tuple[int, str, str]] = field(default_factory=list)
    #: The kind of each problem (ValidationError, NotFound, Conflict), in the order of ``items``.
    kinds: list[type[DomainError]] = field(default_factory=list)

    def add(self, line: int, field_: str, rule: str, kind: type[DomainError] | None = None) -> None:
        from domain.errors import ValidationError

        self.items.append((line, field_, rule))
        self.kinds.append(kind or ValidationError)

    def check(self, line: int, fn: Callable[[], T]) -> T | None:
        """Run ``fn``; record a :class:`DomainError` it raises against ``line`` and return None."""
        try:
            return fn()
        except DomainError as e:
            self.add(line, e.field, e.rule, type(e))
            return None

    def first(self) -> DomainError:
        """The first problem as the error it is (for a single command, not a file)."""
        _line, field_, rule = self.items[0]
        return self.kinds[0](field_, rule)

    def raise_if_any(self) -> None:
        if self.items:
            raise ImportRejected(self.path, sorted(self.items))


def _open(path: str) -> tuple[Any, Any, list[str]]:
    """``(file, csv reader, stripped header)`` of CSV file ``path``, positioned after the header; raises
    :class:`ImportRejected` if it cannot be opened, is empty or is not UTF-8 CSV."""
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as e:
        raise ImportRejected(path, [(0, "file", e.strerror or str(e))]) from None
    reader = csv.reader(handle)
    try:
        return handle, reader, [h.strip() for h in next(reader)]
    except StopIteration:
        handle.close()
        raise ImportRejected(path, [(1, "header", "the file is empty")]) from None
    except (csv.Error, UnicodeDecodeError) as e:
        handle.close()
        raise ImportRejected(path, [(1, "header", f"not a readable UTF-8 CSV file ({e})")]) from None


def header(path: str) -> list[str]:
    """The column names of CSV file ``path`` (stripped, in order); :class:`ImportRejected` as
    :func:`read_rows` if the file cannot be read."""
    handle, _reader, names = _open(path)
    handle.close()
    return names


def read_rows(path: str, required: list[str], optional: list[str] = (), *, others: bool = False,
              ) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line number, row)`` for each data row of CSV file ``path`` (line 1 is the header; blank
    rows are skipped; a row whose number of fields differs from the header's is ``{"__error__": rule}``,
    see :func:`row_error`).

    Raises :class:`ImportRejected` if the file cannot be read or its header lacks a required column, has a
    column twice, or has an unknown one (``others``: a foreign export, whose other columns are allowed and
    ignored).
    """
    handle, reader, header_ = _open(path)
    with handle:
        missing = [c for c in required if c not in header_]
        unknown = [] if others else [c for c in header_ if c not in required and c not in optional]
        doubled = sorted({c for c in header_ if header_.count(c) > 1})
        if missing or unknown or doubled:
            problems = [(1, c, "required column is missing") for c in missing]
            problems += [(1, c, f"unknown column (expected {', '.join(required + list(optional))})") for c in unknown]
            problems += [(1, c, f"column is given {header_.count(c)} times; each column appears once") for c in doubled]
            raise ImportRejected(path, problems)
        try:
            start = reader.line_num + 1
            for values in reader:
                line, start = start, reader.line_num + 1  # the line the record starts on (a quoted field may span lines)
                if not any(v.strip() for v in values):
                    continue
                if len(values) != len(header_):
                    yield line, {"__error__": f"has {len(values)} fields, the header has {len(header_)}"}
                    continue
                yield line, dict(zip(header_, values))
        except (csv.Error, UnicodeDecodeError) as e:
            raise ImportRejected(path, [(reader.line_num, "file", f"not a readable UTF-8 CSV file ({e})")]) from None


def parse_bool(value: str, field_: str) -> bool:
    """``true/false, yes/no, y/n, 1/0`` (case-insensitive; empty is false)."""
    from domain.errors import ValidationError

    v = value.strip().lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise ValidationError(field_, f"{value!r} is not true or false")


_INT = re.compile(r"-?[0-9]{1,9}")


def parse_int(value: str, field_: str) -> int:
    """A whole number written in ASCII digits, with an optional minus sign, at most 9 digits
    (``"²"``, ``"--5"``, ``"1e3"`` are refused). Raises :class:`ValidationError` naming ``field_``."""
    from domain.errors import ValidationError

    v = value.strip() if isinstance(value, str) else value
    if not isinstance(v, str) or not _INT.fullmatch(v):
        raise ValidationError(field_, f"{value!r} is not a whole number (digits 0-9, at most 9)")
    return int(v)


def distinct_rows(path: str, columns: list[str], key: str, problems: Problems) -> list[tuple[int, dict[str, str]]]:
    """The rows of CSV file ``path`` (:func:`read_rows` with ``columns``) that are well formed and whose
    ``key`` column (stripped) was not given on an earlier line; every other row is recorded in
    ``problems`` (``row``: its structural error; ``key``: given twice, naming the first line)."""
    out: list[tuple[int, dict[str, str]]] = []
    seen: dict[str, int] = {}
    for line, row in read_rows(path, columns):
        if (err := row_error(row)) is not None:
            problems.add(line, "row", err)
            continue
        value = row[key].strip()
        if value in seen:
            problems.add(line, key, f"{value!r} is given twice (first on line {seen[value]})")
            continue
        seen[value] = line
        out.append((line, row))
    return out


def row_error(row: dict[str, Any]) -> str | None:
    """The structural error of a row from :func:`read_rows`, if any."""
    return row.get("__error__")
