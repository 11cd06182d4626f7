"""Pages of report rows, and the check that a filter names something that exists (issue 6, items 16-17).

Every list is paginated: ``limit`` rows (default :data:`DEFAULT_LIMIT`; ``None`` for all) after ``offset``
rows, in the list's own deterministic order; :class:`Paging` also reports how many rows the whole list has,
so the CLI can say how many more there are and the HTTP API can hand out an opaque cursor to the next page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from domain.errors import NotFound, ValidationError
from projections.card_tables import credit_cards
from projections.tables import api_keys, companies, contracts, customers, engagements

DEFAULT_LIMIT = 100
MAX_LIMIT = 10000
MAX_OFFSET = 10**12


@dataclass
class Paging:
    """A page request (``limit`` None: everything) and, once a list ran, its ``total`` row count."""

    limit: int | None = DEFAULT_LIMIT
    offset: int = 0
    total: int = 0

    def __post_init__(self) -> None:
        if self.limit is not None and (isinstance(self.limit, bool) or not isinstance(self.limit, int) or not 1 <= self.limit <= MAX_LIMIT):
            raise ValidationError("limit", f"{self.limit!r} must be a whole number from 1 to {MAX_LIMIT} (0 or none: no limit)")
        if isinstance(self.offset, bool) or not isinstance(self.offset, int) or not 0 <= self.offset <= MAX_OFFSET:
            raise ValidationError("offset", f"{self.offset!r} must be a whole number from 0 to {MAX_OFFSET}")

    @property
    def more(self) -> int:
        """Rows after this page."""
        if self.limit is None:
            return 0
        return max(0, self.total - self.offset - self.limit)

    def apply(self, conn: sa.Connection, stmt: sa.Select) -> sa.Select:
        """Count the rows of ``stmt`` (into :attr:`total`) and return ``stmt`` limited to this page."""
        self.total = conn.execute(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())).scalar() or 0
        stmt = stmt.offset(self.offset) if self.offset else stmt
        return stmt.limit(self.limit) if self.limit is not None else stmt


def sliced(rows: list[Any], paging: Paging | None) -> list[Any]:
    """``rows`` (a short list built in Python: a catalogue, the companies) limited to ``paging`` (all of
    them when None), counting them into its :attr:`Paging.total`."""
    if paging is None:
        return rows
    paging.total = len(rows)
    end = None if paging.limit is None else paging.offset + paging.limit
    return rows[paging.offset:end]


def paged(conn: sa.Connection, stmt: sa.Select, paging: Paging | None) -> sa.Select:
    """``stmt`` limited to ``paging`` (unchanged when None)."""
    return stmt if paging is None else paging.apply(conn, stmt)


def require_known(engine: sa.Engine, *, customer: str | None = None, contract: str | None = None,
                  company: str | None = None, card: str | None = None, engagement: str | None = None) -> None:
    """Raise :class:`NotFound` naming the field if a filter names a customer or contract (of ``company``,
    when given) or a company the read models do not know (an unknown reference is an error, not an empty
    list); likewise a card or an engagement. The default company always exists; a company is known once it has settings, a
    customer, a contract, a card or an API key."""
    checks: list[tuple[str, str, Any]] = []
    if company and company != "default":
        checks.append(("company", company, sa.select(sa.literal(1)).where(sa.or_(
            sa.exists().where(companies.c.company == company), sa.exists().where(customers.c.company == company),
            sa.exists().where(contracts.c.company == company), sa.exists().where(api_keys.c.company == company),
            sa.exists().where(credit_cards.c.company == company), sa.exists().where(engagements.c.company == company),
        ))))
    if customer:
        stmt = sa.select(customers.c.reference).where(customers.c.reference == customer)
        checks.append(("customer", customer, stmt.where(customers.c.company == company) if company else stmt))
    if contract:
        stmt = sa.select(contracts.c.reference).where(contracts.c.reference == contract)
        checks.append(("contract", contract, stmt.where(contracts.c.company == company) if company else stmt))
    if card:
        stmt = sa.select(credit_cards.c.reference).where(credit_cards.c.reference == card)
        checks.append(("card", card, stmt.where(credit_cards.c.company == company) if company else stmt))
    if engagement:
        stmt = sa.select(engagements.c.reference).where(engagements.c.reference == engagement)
        checks.append(("engagement", engagement, stmt.where(engagements.c.company == company) if company else stmt))
    if not checks:
        return
    with engine.connect() as conn:
        for field, value, stmt in checks:
            if conn.execute(stmt).first() is None:
                raise NotFound(field, f"no {field} {value!r}")
