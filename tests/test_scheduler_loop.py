"""The scheduler loop ticks at its clock, every interval, and a second loop finds nothing left to do."""

from datetime import date, datetime, timedelta, timezone

from commands.customers import AddCustomer, add_customer
from commands.contracts import CreateContract, add_position, create_contract
from scheduler.loop import run_loop

T0 = datetime(2025, 12, 1, tzinfo=timezone.utc)


def test_the_loop_ticks_at_its_clock_and_catches_up(store):
    add_customer(store, AddCustomer("TEN", "Tenant", "Europe/Berlin", "EUR", 14, True, company="ACME"), T0)
    create_contract(store, CreateContract("RENT", "ACME", "TEN", "Rent", "monthly", date(2026, 1, 1), auto_finalize=True), T0)
    add_position(store, "RENT", T0, position=1, description="Rent", quantity="1", unit_price="1000.00", tax_rate="19")
    instants = iter([datetime(2026, 1, 1, 12, tzinfo=timezone.utc) + timedelta(days=31 * i) for i in range(3)])
    slept: list[float] = []
    summaries = []
    n = run_loop(store, lambda: next(instants), 60.0, iterations=3, on_tick=summaries.append, sleep=slept.append)
    assert n == 3 and slept == [60.0, 60.0]
    assert [s.counts.get("contract", {}).get("issued", 0) for s in summaries] == [1, 1, 1]
    assert [d["number"] for s in summaries for d in s.issued] == ["INV-2026-000001", "INV-2026-000002", "INV-2026-000003"]
    again = run_loop(store, lambda: datetime(2026, 3, 5, tzinfo=timezone.utc), 0, iterations=1, on_tick=summaries.append, sleep=slept.append)
    assert again == 1 and summaries[-1].events == 0
