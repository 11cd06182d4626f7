"""Every projection of the engine, in a stable order (the order ``billing projections status`` lists)."""

from __future__ import annotations

from projections.companies import companies_projection
from projections.consolidation import consolidated_projection, customers_projection, individual_invoices_projection
from projections.contracts import contracts_projection
from projections.documents import invoices_projection
from projections.engagements import engagements_projection
from projections.timesheets import timesheets_projection
from projections.cards import cards_projection
from projections.due_index import due_index_projection
from projections.runner import Projection

ALL: list[Projection] = [
    companies_projection,
    customers_projection,
    individual_invoices_projection,
    consolidated_projection,
    contracts_projection,
    invoices_projection,
    engagements_projection,
    timesheets_projection,
    cards_projection,
    due_index_projection,
]


def by_name(name: str) -> Projection:
    """The projection called ``name``; raises ``KeyError`` listing the known names."""
    for p in ALL:
        if p.name == name:
            return p
    raise KeyError(f"unknown projection {name!r}; known: {', '.join(p.name for p in ALL)}")
