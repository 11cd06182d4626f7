"""Determinism of contracts and invoice documents (DESIGN.md, "Determinism" and "Projections"; issue 3):

(a) the golden test extended to contracts: one scenario — contracts, position changes, drafts, finalize,
    credit notes, void, payments, deactivation, several ticks — run into two fresh stores (two SQLite files;
    SQLite and PostgreSQL) produces identical event streams: topic, originator id, version and state bytes;
(b) ticking every day for a year and ticking once at the end issue the same invoices, with the same
    numbers, dates, totals and statuses;
(c) rebuilding the projections reproduces exactly the rows the live runner wrote, for the contract and
    invoice tables.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import domain.contract  # noqa: F401  (the event streams are decoded in this process)
import domain.invoice  # noqa: F401
import domain.number_series  # noqa: F401
from commands.app import Store
from commands.config import resolve
from support import event_stream
from commands.contracts import (
    CreateContract,
    add_position,
    change_position,
    create_contract,
    end_contract,
    set_active,
    update_contract,
)
from commands.customers import AddCustomer, add_customer
from commands.invoices import credit_invoice, finalize_invoice, mark_sent, pay_invoice, void_invoice
from domain.contract import make_position
from projections import queries, registry
from projections import runner as projection_runner
from projections.tables import (
    contract_positions,
    contract_runs,
    contracts,
    due_work,
    invoice_lines,
    invoice_taxes,
    invoices,
    outbox,
)
from scheduler.tick import tick

UTC = timezone.utc
T0 = datetime(2025, 11, 1, tzinfo=UTC)
CONTRACT_TABLES = [contracts, contract_positions, contract_runs, invoices, invoice_lines, invoice_taxes, outbox, due_work]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def noon(y: int, m: int, d: int) -> datetime:
    return utc(y, m, d, 12)


def catch_up(store: Store) -> None:
    projection_runner.run(store, registry.ALL)


# ============================================================================================ the scenario
CUSTOMERS = [("BER", "Europe/Berlin", "EUR", 14), ("TYO", "Asia/Tokyo", "JPY", 7), ("NYC", "America/New_York", "USD", 30)]


def P(n: int, description: str, qty: str, price: str, rate: str, currency: str, **kw: Any) -> dict:
    return make_position(n, description, qty, price, rate, currency, **kw)


def setup(store: Store) -> None:
    # customers belong to a company (issue 7): both tenants of the scenario bill the same three customers
    for company in ("ACME", "BETA"):
        for ref, zone, cur, terms in CUSTOMERS:
            add_customer(store, AddCustomer(ref, f"{ref} Ltd", zone, cur, terms, company=company), T0)
    specs = [
        CreateContract("RENT", "ACME", "BER", "Office rent", "monthly", date(2025, 11, 30), auto_finalize=True, auto_send=True,
                       positions=(P(1, "Office rent", "1", "1000.00", "19", "EUR", attributes={"unit": "A1", "floor": 3}),
                                  P(2, "Cleaning", "2.5", "39.99", "7", "EUR", discountable=False))),
        CreateContract("CONSULT", "ACME", "BER", "Retainer", "quarterly", date(2025, 12, 15),
                       positions=(P(1, "Retainer", "10", "95.00", "standard", "EUR"),)),
        CreateContract("LIC", "ACME", "TYO", "Licence", "monthly", date(2026, 1, 31), currency="JPY", auto_finalize=True,
                       positions=(P(1, "Licence", "3", "333", "reduced", "JPY"), P(2, "Support", "1.5", "1001", "19", "JPY"))),
        CreateContract("HOST", "BETA", "NYC", "Hosting", "monthly", date(2026, 1, 1), end_date=date(2026, 5, 31),
                       auto_finalize=True, auto_send=True, positions=(P(1, "Hosting", "1", "99.99", "0", "USD"),)),
        CreateContract("EMPTY", "BETA", "NYC", "Later", "monthly", date(2026, 2, 1), auto_finalize=True),
        CreateContract("BIG", "BETA", "NYC", "Too big", "monthly", date(2026, 3, 1), auto_finalize=True,
                       positions=(P(1, "Everything", "1000", "999999999999.99", "19", "USD"),)),
        CreateContract("YEARLY", "BETA", "NYC", "Support", "annual", date(2025, 2, 28), next_run_date=date(2026, 2, 28),
                       auto_finalize=True, positions=(P(1, "Support", "1", "1200.00", "19", "USD"),)),
    ]
    for cmd in specs:
        create_contract(store, cmd, T0)


def _issued(summary: Any) -> list[tuple[str, str | None, str]]:
    return [(d["company"], d["number"], d["run_date"]) for d in summary.issued]


def golden_scenario(store: Store) -> dict[str, Any]:
    """Every kind of contract and invoice event, at fixed instants. Returns what it issued."""
    setup(store)
    issued: list[Any] = []
    issued += _issued(tick(store, noon(2025, 12, 1)))
    issued += _issued(tick(store, noon(2025, 12, 20)))
    change_position(store, "RENT", noon(2025, 12, 21), position=1, unit_price="1050.00")
    issued += _issued(tick(store, noon(2026, 1, 5)))
    catch_up(store)
    draft = queries.list_invoices(store.read_engine, status="DRAFT")
    assert len(draft) == 1
    finalized = [finalize_invoice(store, draft[0]["id"], noon(2026, 1, 6)).number]
    pay_invoice(store, "INV-2025-000001", noon(2026, 1, 7), reference="bank 1")
    pay_invoice(store, "INV-2025-000002", noon(2026, 1, 7), "500.00", "bank 2")
    mark_sent(store, "INV-2025-000001", noon(2026, 1, 8), "email")
    issued += _issued(tick(store, noon(2026, 3, 10)))
    # (the draft finalized on 2026-01-06 is INV-2026-000001 of ACME: dated the day it was issued)
    credit_invoice(store, "INV-2026-000002", noon(2026, 3, 11), positions=[2], reason="support not used", company="ACME")
    void_invoice(store, "INV-2026-000002", noon(2026, 3, 12), "sent to the wrong address", company="BETA")
    change_position(store, "BIG", noon(2026, 3, 13), position=1, quantity="1")
    add_position(store, "EMPTY", noon(2026, 3, 13), position=1, description="Storage", quantity="3", unit_price="12.34",
                 tax_rate="reduced", attributes={"box": "B7"})
    set_active(store, "HOST", noon(2026, 3, 14), False, "paused")
    issued += _issued(tick(store, noon(2026, 4, 15)))
    set_active(store, "HOST", noon(2026, 4, 16), True)
    update_contract(store, "RENT", noon(2026, 4, 16), payment_terms_days=30, name="Office rent (2026)")
    end_contract(store, "LIC", noon(2026, 4, 16), date(2026, 5, 31))
    credit_invoice(store, "INV-2025-000002", noon(2026, 4, 17), positions=[2], company="ACME")
    pay_invoice(store, "INV-2026-000001", noon(2026, 4, 20), company="BETA")
    issued += _issued(tick(store, noon(2026, 7, 1)))
    catch_up(store)
    for o in queries.list_outbox(store.read_engine):
        mark_sent(store, o["number"], noon(2026, 7, 2), "post", company=o["company"])
    for d in queries.list_invoices(store.read_engine, status="DRAFT"):
        finalized.append(finalize_invoice(store, d["id"], noon(2026, 7, 2)).number)
    credit_invoice(store, "INV-2026-000003", noon(2026, 7, 3), company="BETA")
    issued += _issued(tick(store, noon(2026, 7, 20)))
    return {"issued": issued, "finalized": finalized}


def _open(path: Path) -> Store:
    return Store(resolve(f"sqlite:///{path}"))


def _assert_same_streams(a: list, b: list) -> None:
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b)):
        assert x == y, f"notification #{i + 1} differs:\n{x}\n{y}"


def invoice_rows(store: Store) -> list[tuple]:
    catch_up(store)
    return sorted(
        (r["company"], r["kind"], r["number"] or "", r["source"], r["status"], r["issue_date"], r["due_date"],
         r["period_start"], r["period_end"], r["currency"], r["net"], r["tax"], r["gross"], r["paid"], r["credited"],
         r["references"] or "", repr(r["lines"]), repr(r["tax_breakdown"]))
        for r in queries.list_invoices(store.read_engine)
    )


def run_rows(store: Store) -> list[tuple]:
    """The audit trail without the instant each run was recorded at."""
    catch_up(store)
    return [(r["contract"], r["run_date"], r["status"], r["message"], r["invoice_number"], r["invoice_id"])
            for r in queries.list_runs(store.read_engine)]


# ============================================================================================ (a) golden
def test_golden_contracts_two_sqlite_stores_produce_identical_event_streams(tmp_path: Path) -> None:
    with _open(tmp_path / "a.db") as a, _open(tmp_path / "b.db") as b:
        ra = golden_scenario(a)
        rb = golden_scenario(b)
        assert ra == rb
        sa_, sb = event_stream(a), event_stream(b)
        assert invoice_rows(a) == invoice_rows(b)
    topics = {t for t, *_ in sa_}
    for t in ("Contract.Created", "Contract.Updated", "Contract.PositionAdded", "Contract.PositionChanged",
              "Contract.Deactivated", "Contract.Reactivated", "Contract.Ended", "Contract.RunRecorded",
              "Invoice.Created", "Invoice.Issued", "Invoice.MarkedOverdue", "Invoice.PaymentRecorded", "Invoice.Paid",
              "Invoice.Voided", "Invoice.Sent", "Invoice.Credited", "NumberSeries.Allocated"):
        assert "billing:" + t in topics, t
    runs = [state for t, _i, _v, state in sa_ if t == "billing:Contract.RunRecorded"]
    for status in (b'"SUCCESS"', b'"SKIPPED"', b'"FAILED"'):
        assert any(status in st for st in runs), status
    _assert_same_streams(sa_, sb)


def test_golden_contracts_sqlite_and_postgres_produce_identical_event_streams(sqlite_store: Store, pg_store: Store) -> None:
    ra = golden_scenario(sqlite_store)
    rb = golden_scenario(pg_store)
    assert ra == rb
    _assert_same_streams(event_stream(sqlite_store), event_stream(pg_store))
    assert invoice_rows(sqlite_store) == invoice_rows(pg_store)
    assert run_rows(sqlite_store) == run_rows(pg_store)


def test_the_golden_scenario_issues_what_it_should(sqlite_store: Store) -> None:
    result = golden_scenario(sqlite_store)
    catch_up(sqlite_store)
    rows = {(r["company"], r["number"]): r for r in queries.list_invoices(sqlite_store.read_engine)}
    # every number of every series is used once, gapless
    per_series: dict[tuple[str, str], list[int]] = {}
    for company, number in rows:
        prefix, year, seq = number.split("-")
        per_series.setdefault((company, f"{prefix}-{year}"), []).append(int(seq))
    for key, seqs in per_series.items():
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), key
    # the December draft finalized on 2026-01-06 is dated that day (its run date stays its service period)
    draft = rows[("ACME", "INV-2026-000001")]
    assert (draft["source"], draft["issue_date"], draft["period_start"]) == ("contract:CONSULT", "2026-01-06", "2025-12-15")
    assert result["finalized"][0] == "INV-2026-000001"
    # RENT: November at 1000.00, from December at 1050.00 (changed before the December run)
    rent = sorted((r for r in rows.values() if r["source"] == "contract:RENT"), key=lambda r: r["issue_date"])
    assert [r["issue_date"] for r in rent] == ["2025-11-30", "2025-12-30", "2026-01-30", "2026-02-28", "2026-03-30",
                                              "2026-04-30", "2026-05-30", "2026-06-30"]
    assert [r["lines"][0]["unit_price"] for r in rent] == ["1000.00"] + ["1050.00"] * 7
    # the terms changed on Apr 16: invoices issued after use 30 days
    assert [(r["issue_date"], r["due_date"]) for r in rent[4:6]] == [("2026-03-30", "2026-04-13"), ("2026-04-30", "2026-05-30")]
    # HOST: paused Mar 14, reactivated Apr 16: April (due in the pause) is skipped, May billed; ends May 31
    host = sorted((r for r in rows.values() if r["source"] == "contract:HOST"), key=lambda r: r["issue_date"])
    assert [(r["issue_date"], r["status"]) for r in host] == [
        ("2026-01-01", "PAID"), ("2026-02-01", "VOID"), ("2026-03-01", "OVERDUE"), ("2026-05-01", "OVERDUE")]
    assert [(r[1], r[2]) for r in run_rows(sqlite_store) if r[0] == "HOST"][3] == ("2026-04-01", "SKIPPED")
    yearly = [r for r in rows.values() if r["source"] == "contract:YEARLY"]
    assert [(r["number"], r["issue_date"], r["status"], r["credited"]) for r in yearly] == [
        ("INV-2026-000003", "2026-02-28", "CREDITED", "1428.00")]
    # LIC ends May 31 (a run date: it runs)
    lic = sorted(r["issue_date"] for r in rows.values() if r["source"] == "contract:LIC")
    assert lic == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]
    runs = run_rows(sqlite_store)
    big = [(r[1], r[2]) for r in runs if r[0] == "BIG"]
    assert big == [("2026-03-01", "FAILED"), ("2026-03-01", "SUCCESS"), ("2026-04-01", "SUCCESS"), ("2026-05-01", "SUCCESS"),
                   ("2026-06-01", "SUCCESS"), ("2026-07-01", "SUCCESS")]
    empty = [(r[1], r[2]) for r in runs if r[0] == "EMPTY"]
    assert empty[:2] == [("2026-02-01", "SKIPPED"), ("2026-03-01", "SKIPPED")] and {s for _d, s in empty[2:]} == {"SUCCESS"}
    assert [r[1] for r in runs if r[0] == "YEARLY"] == ["2026-02-28"]
    assert queries.list_outbox(sqlite_store.read_engine) == []


# ============================================================================================ (b) daily ≡ once
YEAR_FROM, YEAR_TO = date(2026, 1, 1), date(2026, 12, 31)


def year_setup(store: Store) -> None:
    for company in ("ACME", "BETA"):
        for ref, zone, cur, terms in CUSTOMERS:
            add_customer(store, AddCustomer(ref, f"{ref} Ltd", zone, cur, terms, company=company), T0)
    specs = [
        CreateContract("M-31", "ACME", "BER", "Month ends", "monthly", date(2026, 1, 31), auto_finalize=True, auto_send=True,
                       positions=(P(1, "Rent", "1", "1000.00", "19", "EUR"), P(2, "Parking", "1", "49.99", "7", "EUR"))),
        CreateContract("M-TYO", "ACME", "TYO", "Tokyo", "monthly", date(2026, 1, 1), currency="JPY", auto_finalize=True,
                       positions=(P(1, "Licence", "2.5", "333", "19", "JPY"),)),
        CreateContract("Q-30", "ACME", "BER", "Quarterly", "quarterly", date(2025, 11, 30), next_run_date=date(2026, 2, 28),
                       auto_finalize=True, positions=(P(1, "Service", "3", "33.33", "standard", "EUR"),)),
        CreateContract("S-NYC", "BETA", "NYC", "Half-yearly", "semi-annual", date(2026, 3, 31), auto_finalize=True,
                       positions=(P(1, "Audit", "1", "2500.00", "0", "USD"),)),
        CreateContract("A-NYC", "BETA", "NYC", "Yearly", "annual", date(2026, 6, 15), auto_finalize=True,
                       positions=(P(1, "Support", "1", "1200.00", "19", "USD"),)),
        CreateContract("END-NYC", "BETA", "NYC", "Ends", "monthly", date(2026, 1, 10), end_date=date(2026, 7, 20),
                       auto_finalize=True, positions=(P(1, "Seat", "4", "12.50", "19", "USD"),)),
        CreateContract("DRAFTS", "BETA", "NYC", "Drafts", "monthly", date(2026, 2, 28), positions=(P(1, "Hours", "7.5", "80.00", "19", "USD"),)),
        CreateContract("NOPOS", "BETA", "NYC", "Empty", "quarterly", date(2026, 1, 1), auto_finalize=True),
        CreateContract("FAILS", "BETA", "NYC", "Fails", "monthly", date(2026, 5, 1), auto_finalize=True,
                       positions=(P(1, "Everything", "1000", "999999999999.99", "19", "USD"),)),
    ]
    for cmd in specs:
        create_contract(store, cmd, T0)


def test_daily_ticks_for_a_year_equal_one_tick_at_the_end(tmp_path: Path) -> None:
    end = datetime.combine(YEAR_TO + timedelta(days=1), datetime.min.time(), tzinfo=UTC) + timedelta(hours=6)
    with _open(tmp_path / "daily.db") as daily, _open(tmp_path / "once.db") as once:
        year_setup(daily)
        year_setup(once)
        daily_issued = []
        t = datetime.combine(YEAR_FROM, datetime.min.time(), tzinfo=UTC) + timedelta(hours=6)
        while t <= end:
            daily_issued.extend(tick(daily, t).issued)
            t += timedelta(days=1)
        once_summary = tick(once, end)

        d_rows, o_rows = invoice_rows(daily), invoice_rows(once)
        assert len(d_rows) == 50
        assert d_rows == o_rows
        assert run_rows(daily) == run_rows(once)
        assert sorted((d["company"], d["number"] or "", d["contract"], d["run_date"], d["gross"]) for d in daily_issued) == sorted(
            (d["company"], d["number"] or "", d["contract"], d["run_date"], d["gross"]) for d in once_summary.issued)
        assert {r[4] for r in d_rows} == {"OVERDUE", "ISSUED", "DRAFT"}
        # numbers were assigned in the same order: by run date's first instant, then by contract
        by_number = lambda rows: [(r[0], r[2], r[3], r[5]) for r in rows]  # noqa: E731
        assert by_number(d_rows) == by_number(o_rows)

        # the same payments afterwards give the same statuses and balances
        for store in (daily, once):
            catch_up(store)
            for i, r in enumerate(queries.list_invoices(store.read_engine, status="OVERDUE")):
                if i % 2 == 0:
                    pay_invoice(store, r["number"], end + timedelta(days=1), company=r["company"])
        assert invoice_rows(daily) == invoice_rows(once)


# ============================================================================================ (c) rebuild ≡ live
def dump(store: Store) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    with store.read_engine.connect() as conn:
        for table in CONTRACT_TABLES:
            rows = conn.execute(sa.select(table)).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def test_rebuilding_the_projections_reproduces_the_live_contract_and_invoice_rows(store: Store) -> None:
    golden_scenario(store)
    catch_up(store)
    live = dump(store)
    for table in CONTRACT_TABLES:
        assert live[table.name], table.name
    positions = projection_runner.positions(store)
    assert projection_runner.rebuild(store, registry.ALL) > 0
    assert dump(store) == live
    assert projection_runner.positions(store) == positions
    projection_runner.rebuild(store, registry.ALL, page_size=7)
    rebuilt = dump(store)
    for name in live:
        assert rebuilt[name] == live[name], name
