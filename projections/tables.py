"""Read-model tables (SQLAlchemy Core). Documented column by column in docs/read-models.md.

Portable types:

- identifiers are UUID strings (``String(36)``), readable in psql and BI tools;
- money is :class:`Money`: ``NUMERIC(20, 4)`` on PostgreSQL, and on SQLite the exact decimal as text
  (SQLite's NUMERIC is a binary float); reports sum it as ``Decimal``;
- instants are :class:`UTCDateTime`: ``timestamptz`` on PostgreSQL, ISO text in UTC on SQLite;
- local dates are ``DATE``; free attributes and lists are JSON.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

metadata = sa.MetaData()

#: Characters a document number column holds: a reference (at most 100, :mod:`domain.text`) with the
#: prefix and suffix the engine adds (``PKG-<engagement>-2026-01-01``, ``ST-<card>-0001``); engine-made
#: numbers (``INV-2026-000001``) are far shorter. A test checks the longest numbers fit
#: (tests/test_defects_newer.py).
NUMBER_LENGTH = 120


class Money(TypeDecorator):
    """An exact decimal amount: NUMERIC(20, 4) on PostgreSQL, decimal text on SQLite; Python ``Decimal``."""

    impl = sa.Numeric(20, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(40))
        return dialect.type_descriptor(sa.Numeric(20, 4, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        return str(value) if dialect.name == "sqlite" else Decimal(value)

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        return Decimal(str(value))


class UTCDateTime(TypeDecorator):
    """An instant, stored in UTC: ``timestamptz`` on PostgreSQL, ISO text on SQLite; aware UTC in Python."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def _id(name: str, **kw: Any) -> sa.Column:
    return sa.Column(name, sa.String(36), **kw)


projection_positions = sa.Table(
    "projection_positions",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="0"),
)

#: Events a projection could not apply (it passed over them; ``billing projections status`` lists them).
projection_errors = sa.Table(
    "projection_errors",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("notification_id", sa.BigInteger, primary_key=True),
    sa.Column("topic", sa.String(200), nullable=False),
    sa.Column("originator_id", sa.String(36), nullable=False),
    sa.Column("originator_version", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=False),
)

# ------------------------------------------------------------------------------------------- customers
customers = sa.Table(
    "customers",
    metadata,
    _id("customer_id", primary_key=True),
    sa.Column("company", sa.String(100), nullable=False),
    sa.Column("reference", sa.String(100), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("payment_terms_days", sa.Integer, nullable=False),
    sa.Column("approved", sa.Boolean, nullable=False),
    sa.Column("consolidation", sa.String(16), nullable=False),
    sa.Column("start_day", sa.Integer),
    sa.Column("consolidate_from", sa.Date),
    sa.Column("consolidation_ends_at", UTCDateTime),
    sa.Column("summary_attributes", sa.JSON, nullable=False),
    sa.Column("autopay", sa.Boolean, nullable=False, default=False),
    sa.Column("next_close_at", UTCDateTime),
    sa.Column("registered_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("company", "reference", name="customers_company_reference"),
)

# ------------------------------------------------------------------------------------------- individual invoices
individual_invoices = sa.Table(
    "individual_invoices",
    metadata,
    _id("invoice_id", primary_key=True),
    sa.Column("company", sa.String(100), nullable=False),
    sa.Column("number", sa.String(200), nullable=False),
    _id("customer_id", nullable=False),
    sa.Column("customer_reference", sa.String(100), nullable=False, index=True),
    sa.Column("issued_at", UTCDateTime, nullable=False),
    sa.Column("issued_on", sa.Date, nullable=False, index=True),
    sa.Column("amount", Money, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attributes", sa.JSON, nullable=False),
    _id("consolidated_invoice_id", index=True),
    sa.Column("consolidated_number", sa.String(NUMBER_LENGTH), index=True),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("company", "number", name="individual_invoices_company_number"),
)

# ------------------------------------------------------------------------------------------- consolidated invoices
consolidated_invoices = sa.Table(
    "consolidated_invoices",
    metadata,
    _id("consolidated_invoice_id", primary_key=True),
    sa.Column("company", sa.String(100), nullable=False),
    sa.Column("number", sa.String(NUMBER_LENGTH)),
    _id("customer_id", nullable=False),
    sa.Column("customer_reference", sa.String(100), nullable=False, index=True),
    sa.Column("regime", sa.Integer, nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("label", sa.String(16), nullable=False),
    sa.Column("sequence", sa.Integer),
    sa.Column("period_start", sa.Date, nullable=False),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("count", sa.Integer),
    sa.Column("total", Money),
    sa.Column("paid", Money),
    sa.Column("credited", Money),
    sa.Column("closed_at", UTCDateTime),
    sa.Column("issue_date", sa.Date, index=True),
    sa.Column("due_date", sa.Date),
    sa.Column("payment_terms_days", sa.Integer),
    sa.Column("summary", sa.JSON),
    sa.Column("opened_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("company", "number", name="consolidated_invoices_company_number"),
)

consolidated_invoice_lines = sa.Table(
    "consolidated_invoice_lines",
    metadata,
    _id("consolidated_invoice_id", primary_key=True),
    sa.Column("number", sa.String(200), primary_key=True),
    _id("invoice_id", nullable=False),
    sa.Column("issued_at", UTCDateTime, nullable=False),
    sa.Column("local_date", sa.Date, nullable=False),
    sa.Column("amount", Money, nullable=False),
    sa.Column("attributes", sa.JSON, nullable=False),
)

# ------------------------------------------------------------------------------------------- the tick's due index
due_work = sa.Table(
    "due_work",
    metadata,
    sa.Column("kind", sa.String(32), primary_key=True),
    _id("aggregate_id", primary_key=True),
    sa.Column("due_at", UTCDateTime),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("natural_key", sa.String(300), nullable=False),
    sa.Column("company", sa.String(100), nullable=False),
    # The source's own plan (the scheduler may plan from its index; it decides on the aggregate):
    sa.Column("plan", sa.JSON, nullable=False),
    sa.Index("due_work_due", "active", "due_at"),
)

# ------------------------------------------------------------------------------------------- contracts (issue 3)
contracts = sa.Table(
    "contracts",
    metadata,
    _id("contract_id", primary_key=True),
    sa.Column("reference", sa.String(100), nullable=False),
    sa.Column("company", sa.String(100), nullable=False, index=True),
    _id("customer_id", nullable=False),
    sa.Column("customer_reference", sa.String(100), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("interval", sa.String(16), nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date),
    sa.Column("next_run_date", sa.Date, nullable=False),
    sa.Column("last_run_date", sa.Date),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("parked", sa.Text),
    sa.Column("payment_terms_days", sa.Integer, nullable=False),
    sa.Column("auto_finalize", sa.Boolean, nullable=False),
    sa.Column("auto_send", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("company", "reference", name="contracts_company_reference"),
)

contract_positions = sa.Table(
    "contract_positions",
    metadata,
    _id("contract_id", primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("quantity", Money, nullable=False),
    sa.Column("unit_price", Money, nullable=False),
    sa.Column("tax_rate", sa.String(100), nullable=False),
    sa.Column("tax_percent", Money, nullable=False),
    sa.Column("discountable", sa.Boolean, nullable=False),
    sa.Column("attributes", sa.JSON, nullable=False),
)

contract_runs = sa.Table(
    "contract_runs",
    metadata,
    _id("contract_id", primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("run_date", sa.Date, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    _id("invoice_id", index=True),
    sa.Column("invoice_number", sa.String(NUMBER_LENGTH)),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
)

# ------------------------------------------------------------------------------------------- invoices (issue 3)
invoices = sa.Table(
    "invoices",
    metadata,
    _id("invoice_id", primary_key=True),
    sa.Column("number", sa.String(NUMBER_LENGTH)),
    sa.Column("sequence", sa.Integer),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("company", sa.String(100), nullable=False),
    _id("customer_id"),
    sa.Column("customer_reference", sa.String(100), index=True),
    sa.Column("source", sa.String(200), nullable=False, index=True),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("net", Money, nullable=False),
    sa.Column("tax", Money, nullable=False),
    sa.Column("gross", Money, nullable=False),
    sa.Column("paid", Money, nullable=False),
    sa.Column("credited", Money, nullable=False),
    sa.Column("issue_date", sa.Date, nullable=False, index=True),
    sa.Column("due_date", sa.Date, nullable=False),
    sa.Column("payment_terms_days", sa.Integer, nullable=False),
    sa.Column("period_start", sa.Date),
    sa.Column("period_end", sa.Date),
    sa.Column("references_number", sa.String(NUMBER_LENGTH)),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("auto_send", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("company", "number", name="invoices_company_number"),
)

invoice_lines = sa.Table(
    "invoice_lines",
    metadata,
    _id("invoice_id", primary_key=True),
    sa.Column("line", sa.Integer, primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("quantity", Money, nullable=False),
    sa.Column("unit_price", Money, nullable=False),
    sa.Column("net", Money, nullable=False),
    sa.Column("tax_rate", sa.String(100), nullable=False),
    sa.Column("tax_percent", Money, nullable=False),
    sa.Column("attributes", sa.JSON, nullable=False),
)

invoice_taxes = sa.Table(
    "invoice_taxes",
    metadata,
    _id("invoice_id", primary_key=True),
    sa.Column("tax_rate", sa.String(100), primary_key=True),
    sa.Column("tax_percent", Money, nullable=False),
    sa.Column("base", Money, nullable=False),
    sa.Column("tax", Money, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    _id("invoice_id", primary_key=True),
    sa.Column("number", sa.String(NUMBER_LENGTH), nullable=False),
    sa.Column("company", sa.String(100), nullable=False),
    sa.Column("customer_reference", sa.String(100), nullable=False),
    sa.Column("queued_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime),
)

# ------------------------------------------------------------------------------------------- companies (issue 7)
companies = sa.Table(
    "companies",
    metadata,
    _id("company_id", primary_key=True),
    sa.Column("company", sa.String(100), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("currency", sa.String(3)),
    sa.Column("timesheet_units", sa.String(32)),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

company_tax_rates = sa.Table(
    "company_tax_rates",
    metadata,
    _id("company_id", primary_key=True),
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("effective_from", sa.Date, primary_key=True),
    sa.Column("percent", Money, nullable=False),
)

company_number_formats = sa.Table(
    "company_number_formats",
    metadata,
    _id("company_id", primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("effective_at", UTCDateTime, primary_key=True),
    sa.Column("prefix", sa.String(12), nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
)

# ------------------------------------------------------------------------------------------- API keys (issue 7)
api_keys = sa.Table(
    "api_keys",
    metadata,
    _id("api_key_id", primary_key=True),
    sa.Column("key_id", sa.String(12), nullable=False, unique=True),
    sa.Column("company", sa.String(100), nullable=False, index=True),
    sa.Column("admin", sa.Boolean, nullable=False),
    sa.Column("label", sa.String(100), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
)


# ------------------------------------------------------------------------------------------- engagements (issue 8)
engagements = sa.Table(
    "engagements",
    metadata,
    _id("engagement_id", primary_key=True),
    sa.Column("reference", sa.String(100), nullable=False),
    sa.Column("company", sa.String(100), nullable=False, index=True),
    _id("customer_id", nullable=False),
    sa.Column("customer_reference", sa.String(100), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("pricing", sa.String(16), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("start_date", sa.Date, nullable=False),
    sa.Column("end_date", sa.Date),
    sa.Column("fee", Money),
    sa.Column("schedule", sa.String(16)),
    sa.Column("proration", sa.String(16), nullable=False),
    sa.Column("tax_rate", sa.String(100), nullable=False),
    sa.Column("tax_percent", Money, nullable=False),
    sa.Column("payment_terms_days", sa.Integer, nullable=False),
    sa.Column("terms", sa.JSON, nullable=False),
    sa.Column("billed_through", sa.Date),
    sa.Column("next_due_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("company", "reference", name="engagements_company_reference"),
)

engagement_periods = sa.Table(
    "engagement_periods",
    metadata,
    _id("engagement_id", primary_key=True),
    sa.Column("period_start", sa.Date, primary_key=True),
    sa.Column("period_end", sa.Date, nullable=False),
    sa.Column("amount", Money, nullable=False),
    _id("invoice_id", nullable=False),
    sa.Column("number", sa.String(NUMBER_LENGTH), nullable=False),
    sa.Column("billed_at", UTCDateTime, nullable=False),
)

# ------------------------------------------------------------------------------------------- timesheets (issue 8)
customer_rates = sa.Table(
    "customer_rates",
    metadata,
    _id("customer_id", primary_key=True),
    sa.Column("effective_from", sa.Date, primary_key=True),
    sa.Column("company", sa.String(100), nullable=False),
    sa.Column("customer_reference", sa.String(100), nullable=False),
    sa.Column("payer", sa.String(200), nullable=False),
    sa.Column("rate_per_unit", Money, nullable=False),
)

timesheet_entries = sa.Table(
    "timesheet_entries",
    metadata,
    _id("entry_id", primary_key=True),
    sa.Column("external_id", sa.String(100), nullable=False),
    sa.Column("company", sa.String(100), nullable=False, index=True),
    sa.Column("engagement", sa.String(100), nullable=False),
    sa.Column("customer_reference", sa.String(100), nullable=False, index=True),
    sa.Column("start", UTCDateTime, nullable=False),
    sa.Column("end", UTCDateTime, nullable=False),
    sa.Column("local_date", sa.Date, nullable=False),
    sa.Column("seconds", sa.Integer, nullable=False),
    sa.Column("staff", sa.String(100), nullable=False),
    sa.Column("service_code", sa.String(50), nullable=False),
    sa.Column("notes", sa.Text, nullable=False),
    _id("week_id", nullable=False, index=True),
    sa.Column("week_start", sa.Date, nullable=False),
    sa.Column("late", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    _id("invoice_id"),
    sa.Column("invoice_number", sa.String(NUMBER_LENGTH)),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("company", "external_id", name="timesheet_entries_company_external_id"),
)
