"""Numbering a document inside a command: the company's series and format (issue 7)."""

from __future__ import annotations

from datetime import date
from typing import Any

from commands.bus import UnitOfWork
from domain.company import Company, company_id, number_format_at
from domain.invoice import FORMAT_OF, format_number, series_key
from domain.number_series import NumberSeries, series_id


def company_of(uow: UnitOfWork, company: str) -> Company | None:
    """The company aggregate, or None for a company that was never set (it has the defaults)."""
    found = uow.get(company_id(company))
    return found if isinstance(found, Company) else None


def next_number(uow: UnitOfWork, company: str, kind: str, issue_date: date, what: str) -> tuple[str, int]:
    """Reserve the next number of ``company``'s ``kind`` series of ``issue_date``'s year for a document
    dated ``issue_date`` (``what`` names it in errors); returns ``(number, sequence)``. The series joins
    the unit of work and records the allocation when it commits. Raises :class:`Conflict` for a date before
    the series' latest (numbers and dates run the same way)."""
    key = series_key(company, kind, issue_date.year)
    series: Any = uow.get(series_id(key)) or uow.add(NumberSeries.start(key))
    seq = series.next(issue_date, what)
    series.flush()
    fmt = number_format_at(company_of(uow, company), FORMAT_OF[kind], uow.at)
    return format_number(kind, issue_date.year, seq, fmt), seq
