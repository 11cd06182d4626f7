"""A first end-to-end pass on both backends: record, tick, read back."""

from datetime import date, datetime, timezone
from decimal import Decimal

from commands.customers import AddCustomer, add_customer, set_consolidation
from commands.individual_invoices import make_record, record_invoice
from projections import queries
from scheduler.tick import tick

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_weekly_consolidation_end_to_end(store):
    add_customer(store, AddCustomer("ACME", "Acme", "Europe/Berlin", "EUR", 14, True), T0)
    set_consolidation(store, "ACME", "weekly", 1, date(2026, 1, 5), T0)
    for n, day, amount in [("A1", 6, "10.00"), ("A2", 9, "5.50"), ("A3", 13, "1.00")]:
        at = datetime(2026, 1, day, 9, tzinfo=timezone.utc)
        record_invoice(store, make_record(n, "ACME", at, amount, "EUR"), at)
    summary = tick(store, datetime(2026, 1, 20, tzinfo=timezone.utc))
    assert summary.counts["consolidation"]["issued"] == 2
    rows = queries.list_consolidated(store.read_engine)
    assert [(r["number"], r["total"], r["count"]) for r in rows] == [
        ("CONS-2026-W02-001", "15.50", 2),
        ("CONS-2026-W03-001", "1.00", 1),
    ]
    assert rows[0]["period_end"] == "2026-01-12" and rows[0]["due_date"] == "2026-01-26"
    assert tick(store, datetime(2026, 1, 20, tzinfo=timezone.utc)).events == 0
    assert Decimal(rows[0]["total"]) + Decimal(rows[1]["total"]) == Decimal("16.50")
