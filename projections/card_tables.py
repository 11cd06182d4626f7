"""Read-model tables of credit cards and their statements (issue 9), on the shared metadata of
:mod:`projections.tables` (documented in docs/read-models.md)."""

from __future__ import annotations

import sqlalchemy as sa

from projections.tables import Money, UTCDateTime, _id, metadata

credit_cards = sa.Table(
    "credit_cards",
    metadata,
    _id("card_id", primary_key=True),
    sa.Column("company", sa.String(100), nullable=False, index=True),
    sa.Column("reference", sa.String(100), nullable=False),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("last4", sa.String(4), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("closing_day", sa.Integer, nullable=False),
    sa.Column("due_day", sa.Integer),
    sa.Column("due_after_days", sa.Integer),
    sa.Column("boundary", sa.String(16), nullable=False),
    sa.Column("holidays", sa.String(8), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("company", "reference", name="credit_cards_company_reference"),
)

card_statements = sa.Table(
    "card_statements",
    metadata,
    _id("statement_id", primary_key=True),
    sa.Column("number", sa.String(120), nullable=False),
    sa.Column("company", sa.String(100), nullable=False),
    _id("card_id", nullable=False),
    sa.Column("card_reference", sa.String(100), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("is_closed", sa.Boolean, nullable=False),
    sa.Column("total_amount", Money, nullable=False),
    sa.Column("purchases_count", sa.Integer, nullable=False),
    sa.Column("refunds_count", sa.Integer, nullable=False),
    sa.Column("late_count", sa.Integer, nullable=False),
    sa.Column("paid", Money, nullable=False),
    sa.Column("due_date", sa.Date),
    sa.Column("closed_at", UTCDateTime),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("company", "number", name="card_statements_company_number"),
    sa.Index("card_statements_card", "company", "card_reference", "seq"),
)

card_charges = sa.Table(
    "card_charges",
    metadata,
    _id("statement_id", primary_key=True),
    sa.Column("line", sa.Integer, primary_key=True),
    sa.Column("charge_id", sa.String(120), nullable=False),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("amount", Money, nullable=False),
    sa.Column("merchant", sa.String(200), nullable=False),
    sa.Column("late", sa.Boolean, nullable=False),
    sa.Column("part", sa.Integer, nullable=False),
    sa.Column("parts", sa.Integer, nullable=False),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("posted_at", UTCDateTime, nullable=False),
)

card_recurring_charges = sa.Table(
    "card_recurring_charges",
    metadata,
    _id("card_id", primary_key=True),
    sa.Column("charge_id", sa.String(100), primary_key=True),
    sa.Column("company", sa.String(100), nullable=False),
    sa.Column("card_reference", sa.String(100), nullable=False),
    sa.Column("day", sa.Integer, nullable=False),
    sa.Column("amount", Money, nullable=False),
    sa.Column("merchant", sa.String(200), nullable=False),
    sa.Column("next_date", sa.Date),
)
