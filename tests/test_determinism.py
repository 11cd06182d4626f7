"""Determinism (DESIGN.md, "Determinism" and "Projections"):

(a) the golden test: one scenario run into two fresh stores (two SQLite files; SQLite and PostgreSQL)
    produces identical event streams — topic, originator id, version and state bytes of every notification;
(b) ticking every day for months and ticking once at the end issue the same consolidated invoices;
(c) rebuilding the projections reproduces exactly the rows the live runner wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from commands.app import Store
from commands.config import resolve
from support import event_stream
from commands.consolidated import pay_consolidated
from commands.customers import (
    AddCustomer,
    add_customer,
    approve_customer,
    disable_consolidation,
    set_consolidation,
    update_customer,
)
from commands.individual_invoices import RecordInvoice, cancel_invoice, make_record, record_invoice, record_invoices
from projections import queries, registry
from projections import runner as projection_runner
from scheduler.tick import tick

UTC = timezone.utc
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ============================================================================================ the scenario
CUSTOMERS = [
    # reference, zone, currency, terms, approved, mode, start day, consolidate from, summary attributes
    ("ACME", "Europe/Berlin", "EUR", 14, True, "weekly", 1, date(2026, 1, 5), ("route",)),
    ("BOMBAY", "Asia/Kolkata", "INR", 30, True, "monthly", 1, date(2026, 1, 1), ()),
    ("NYC", "America/New_York", "USD", 7, False, "weekly", 7, date(2026, 1, 4), ("route", "kind")),
    ("PHX", "America/Phoenix", "USD", 0, True, "monthly", 28, date(2026, 1, 10), ()),
    ("TOKYO", "Asia/Tokyo", "JPY", 10, True, "weekly", 3, date(2026, 1, 7), ()),
]
AMOUNTS = {"EUR": ["12.50", "0.99", "100.00", "7.35"], "INR": ["1500.00", "99.50"], "USD": ["25.00", "310.20", "4.44"], "JPY": ["1200", "980", "15000"]}


def invoices_of_day(day: date) -> list[tuple[str, str, datetime, str, dict]]:
    """The invoices issued on ``day`` (UTC date of the instant): a deterministic spread over customers,
    hours and amounts."""
    out = []
    n = (day - date(2026, 1, 1)).days
    for k, (ref, _tz, cur, *_rest) in enumerate(CUSTOMERS):
        if (n + k) % 3 == 0:
            continue
        for j in range(1 + (n * (k + 1)) % 2):
            hour = (5 * n + 7 * k + 11 * j) % 24
            issued_at = datetime(day.year, day.month, day.day, hour, (13 * n + j) % 60, tzinfo=UTC)
            amounts = AMOUNTS[cur]
            amount = amounts[(n + j + k) % len(amounts)]
            attrs = {"route": f"R{(n + k) % 4}", "kind": "B" if j else "A", "seq": n * 10 + j}
            out.append((f"{ref}-{day:%m%d}-{j}", ref, issued_at, amount, attrs))
    return out


def add_customers(store: Store) -> None:
    for ref, tz, cur, terms, approved, mode, start_day, frm, attrs in CUSTOMERS:
        add_customer(store, AddCustomer(ref, f"{ref} Ltd", tz, cur, terms, approved, attrs), T0)
        set_consolidation(store, ref, mode, start_day, frm, T0)


def currency_of(ref: str) -> str:
    return next(c[2] for c in CUSTOMERS if c[0] == ref)


def record_day(store: Store, day: date) -> list[RecordInvoice]:
    cmds = [make_record(num, ref, issued_at, amount, currency_of(ref), attrs) for num, ref, issued_at, amount, attrs in invoices_of_day(day)]
    if cmds:
        record_invoices(store, cmds, max(c.issued_at for c in cmds))
    return cmds


def _half(store: Store, number: str) -> Decimal:
    projection_runner.run(store, registry.ALL)
    row = queries.show_consolidated(store.read_engine, number)
    places = Decimal(1) if row["currency"] == "JPY" else Decimal("0.01")
    return (Decimal(row["balance"]) / 2).quantize(places)


def golden_scenario(store: Store) -> dict[str, Any]:
    """Several customers and zones, weekly and monthly, cancellations, a late arrival, a change of regime,
    disabling, late approval, payments and several ticks (some dry runs). Returns what was issued."""
    add_customers(store)
    update_customer(store, "ACME", utc(2026, 1, 2), name="ACME GmbH", payment_terms_days=21)
    issued: list[str] = []
    settled: set[str] = set()
    day = date(2026, 1, 2)
    while day <= date(2026, 3, 20):
        # the day's tick at 06:00 UTC comes first: every command runs in business-time order
        if day.isoweekday() == 1 or day.day == 1:
            at = datetime(day.year, day.month, day.day, 6, tzinfo=UTC)
            if day.day % 2:
                tick(store, at, dry_run=True)
            summary = tick(store, at)
            issued.extend(d["number"] for d in summary.issued)
        cmds = record_day(store, day)
        # cancel one invoice of the day a minute after the day's invoices were recorded (its period is
        # still open; a command's business time never precedes what it changes)
        if day.day % 5 == 0 and cmds:
            cancel_invoice(store, cmds[0].number, max(c.issued_at for c in cmds) + timedelta(minutes=1), "duplicate")
        if day == date(2026, 1, 20):
            approve_customer(store, "NYC", utc(2026, 1, 20, 12))
        if day == date(2026, 2, 10):
            # a late arrival: issued in ACME's closed week W03, recorded now
            record_invoice(store, make_record("ACME-LATE", "ACME", utc(2026, 1, 14, 9), "55.55", "EUR", {"route": "R9"}), utc(2026, 2, 10, 23, 59))
            # PHX stops consolidating mid-period
            disable_consolidation(store, "PHX", utc(2026, 2, 10, 17, 30))
        if day == date(2026, 2, 20):
            # ACME records three invoices in advance (issued on 03-01), then switches to monthly
            # consolidation from March: closing its truncated week W09 moves them on to March
            advance = [make_record(f"ACME-ADV-{k}", "ACME", utc(2026, 3, 1, 10 + k), "30.00", "EUR", {"route": "R7"}) for k in range(3)]
            record_invoices(store, advance, utc(2026, 2, 20, 8))
            set_consolidation(store, "ACME", "monthly", 1, date(2026, 3, 1), utc(2026, 2, 20, 9))
        if day == date(2026, 3, 4):
            # cancel one of the moved invoices: it leaves the March period it was moved to
            cancel_invoice(store, "ACME-ADV-1", utc(2026, 3, 4, 23, 59), "not flown")
        if day.isoweekday() == 3:
            # pay the oldest unsettled invoice in full and the next one in part
            todo = [n for n in issued[: len(issued) // 2] if n not in settled]
            at = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
            if todo:
                inv = pay_consolidated(store, todo[0], at, None, f"bank {day}")
                assert inv.status == "PAID"
                settled.add(todo[0])
            if len(todo) > 1:
                pay_consolidated(store, todo[1], at, _half(store, todo[1]), f"bank {day} part")
                settled.add(todo[1])
        day += timedelta(days=1)
    final = tick(store, utc(2026, 4, 15))
    issued.extend(d["number"] for d in final.issued)
    return {"issued": issued}


def _open(path: Path) -> Store:
    return Store(resolve(f"sqlite:///{path}"))


def _assert_same_streams(a: list, b: list) -> None:
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b)):
        assert x == y, f"notification #{i + 1} differs:\n{x}\n{y}"


# ============================================================================================ (a) golden
def test_golden_two_sqlite_stores_produce_identical_event_streams(tmp_path: Path) -> None:
    with _open(tmp_path / "a.db") as a, _open(tmp_path / "b.db") as b:
        ra = golden_scenario(a)
        rb = golden_scenario(b)
        assert ra == rb
        sa_, sb = event_stream(a), event_stream(b)
    assert len(sa_) > 500
    topics = {t for t, *_ in sa_}
    for t in ("Customer.PeriodClosed", "ConsolidatedInvoice.InvoiceIssued", "ConsolidatedInvoice.LineRemoved",
              "ConsolidatedInvoice.MarkedOverdue", "ConsolidatedInvoice.Paid", "IndividualInvoice.Cancelled",
              "Customer.ConsolidationDisabled", "NumberSeries.Allocated", "Customer.Approved",
              "Customer.ConsolidationSet", "ConsolidatedInvoice.PaymentRecorded", "Customer.Updated"):
        assert "billing:" + t in topics, t
    removed = [state for t, _i, _v, state in sa_ if t == "billing:ConsolidatedInvoice.LineRemoved"]
    assert any(b'"moved"' in st for st in removed) and any(b'"cancelled"' in st for st in removed)
    _assert_same_streams(sa_, sb)


def test_golden_sqlite_and_postgres_produce_identical_event_streams(sqlite_store: Store, pg_store: Store) -> None:
    ra = golden_scenario(sqlite_store)
    rb = golden_scenario(pg_store)
    assert ra == rb
    _assert_same_streams(event_stream(sqlite_store), event_stream(pg_store))
    assert _consolidated_rows(sqlite_store) == _consolidated_rows(pg_store)


def test_the_scenario_issues_what_it_should(sqlite_store: Store) -> None:
    result = golden_scenario(sqlite_store)
    rows = queries.list_consolidated(sqlite_store.read_engine)
    assert sorted(r["number"] for r in rows) == sorted(result["issued"])
    assert len(set(result["issued"])) == len(result["issued"])
    # every issued, non-cancelled, consolidated invoice is counted exactly once
    inds = queries.list_individual(sqlite_store.read_engine)
    by_cons: dict[str, Decimal] = {}
    for r in inds:
        if r["consolidated_number"]:
            assert r["status"] == "ISSUED"
            by_cons[r["consolidated_number"]] = by_cons.get(r["consolidated_number"], Decimal(0)) + Decimal(r["amount"])
    assert {r["number"]: Decimal(r["total"]) for r in rows} == by_cons
    late = next(r for r in inds if r["number"] == "ACME-LATE")
    assert late["consolidated_number"].startswith("CONS-2026-W07-")  # ACME's first open week on 02-10
    adv = {r["number"]: r for r in inds if r["number"].startswith("ACME-ADV-")}
    assert adv["ACME-ADV-0"]["consolidated_number"] == adv["ACME-ADV-2"]["consolidated_number"]
    assert adv["ACME-ADV-0"]["consolidated_number"].startswith("CONS-2026-M03-")
    assert adv["ACME-ADV-1"]["status"] == "CANCELLED" and adv["ACME-ADV-1"]["consolidated_number"] is None
    march = queries.show_consolidated(sqlite_store.read_engine, adv["ACME-ADV-0"]["consolidated_number"])
    assert {"ACME-ADV-0", "ACME-ADV-2"} <= {line["number"] for line in march["lines"]}
    assert "ACME-ADV-1" not in {line["number"] for line in march["lines"]}
    statuses = {r["status"] for r in rows}
    assert {"PAID", "OVERDUE"} <= statuses


# ============================================================================================ (b) daily ≡ once
DAILY_FROM, DAILY_TO = date(2026, 1, 2), date(2026, 4, 30)


def _consolidated_rows(store: Store, include_open: bool = False) -> list[tuple]:
    projection_runner.run(store, registry.ALL)
    rows = queries.list_consolidated(store.read_engine, include_open=include_open)
    return sorted(
        (r["number"] or "", r["customer"], r["label"], r["period_start"], r["period_end"], r["issue_date"], r["due_date"],
         r["count"], r["total"], r["paid"], r["status"], repr(r["summary"]))
        for r in rows
    )


@dataclass(frozen=True)
class Action:
    at: datetime
    run: Callable[[Store], Any]


def _actions() -> list[Action]:
    """Everything but ticks, each at its business instant (invoices recorded when issued)."""
    acts: list[Action] = []
    day = DAILY_FROM
    while day <= DAILY_TO:
        for num, ref, issued_at, amount, attrs in invoices_of_day(day):
            cmd = make_record(num, ref, issued_at, amount, currency_of(ref), attrs)
            acts.append(Action(issued_at, lambda s, c=cmd: record_invoices(s, [c], c.issued_at)))
            if day.day % 5 == 0 and num.endswith("-0") and ref != "PHX":
                # cancelled a minute later: no tick (at 00:00 and 12:00 UTC) and no period end in between
                acts.append(Action(issued_at + timedelta(minutes=1), lambda s, n=num, t=issued_at: cancel_invoice(s, n, t + timedelta(minutes=1))))
        day += timedelta(days=1)
    disable_at = utc(2026, 2, 10, 17, 30)
    acts.append(Action(disable_at, lambda s: disable_consolidation(s, "PHX", disable_at)))
    regime_at = utc(2026, 2, 20, 9)
    acts.append(Action(regime_at, lambda s: set_consolidation(s, "ACME", "monthly", 1, date(2026, 3, 1), regime_at)))
    acts.sort(key=lambda a: a.at)
    return acts


def _setup_approved(store: Store) -> None:
    for ref, tz, cur, terms, _approved, mode, start_day, frm, attrs in CUSTOMERS:
        add_customer(store, AddCustomer(ref, f"{ref} Ltd", tz, cur, terms, True, attrs), T0)
        set_consolidation(store, ref, mode, start_day, frm, T0)


def _pay_some(store: Store, at: datetime) -> None:
    rows = queries.list_consolidated(store.read_engine)
    for i, r in enumerate(sorted(rows, key=lambda r: r["number"])):
        if i % 3 == 0:
            pay_consolidated(store, r["number"], at)
        elif i % 3 == 1:
            cur = r["currency"]
            part = Decimal(r["total"]) / 2
            part = part.quantize(Decimal(1) if cur == "JPY" else Decimal("0.01"))
            if part > 0:
                pay_consolidated(store, r["number"], at, part)
    projection_runner.run(store, registry.ALL)


def test_daily_ticks_for_months_equal_one_tick_at_the_end(tmp_path: Path) -> None:
    acts = _actions()
    end = datetime.combine(DAILY_TO + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    with _open(tmp_path / "daily.db") as daily, _open(tmp_path / "once.db") as once:
        _setup_approved(daily)
        _setup_approved(once)
        # daily: ticks at every UTC midnight (and at noon), commands in between
        i = 0
        t = datetime.combine(DAILY_FROM, datetime.min.time(), tzinfo=UTC)
        daily_issued = []
        while t <= end:
            while i < len(acts) and acts[i].at < t:
                acts[i].run(daily)
                i += 1
            daily_issued.extend(tick(daily, t).issued)
            t += timedelta(hours=12)
        assert i == len(acts)
        # once: every command, then one tick
        for a in acts:
            a.run(once)
        once_summary = tick(once, end)

        d_rows = _consolidated_rows(daily)
        o_rows = _consolidated_rows(once)
        assert len(d_rows) > 40
        assert d_rows == o_rows
        assert _consolidated_rows(daily, include_open=True) == _consolidated_rows(once, include_open=True)
        assert sorted(d["number"] for d in daily_issued) == sorted(d["number"] for d in once_summary.issued)
        assert {r[10] for r in d_rows} == {"OVERDUE", "PENDING"}

        # the same payments afterwards give the same statuses and balances
        pay_at = end + timedelta(days=1)
        _pay_some(daily, pay_at)
        _pay_some(once, pay_at)
        assert _consolidated_rows(daily) == _consolidated_rows(once)
        # and the same individual invoices are consolidated into the same numbers
        ind = lambda s: sorted((r["number"], r["status"], r["consolidated_number"] or "") for r in queries.list_individual(s.read_engine))
        assert ind(daily) == ind(once)


# ============================================================================================ (c) rebuild ≡ live
def dump_read_models(store: Store) -> dict[str, list[tuple]]:
    """Every row of every read-model table, sorted."""
    out: dict[str, list[tuple]] = {}
    with store.read_engine.connect() as conn:
        for p in registry.ALL:
            for table in p.tables:
                rows = conn.execute(sa.select(table)).all()
                out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def test_rebuilding_the_projections_reproduces_the_live_rows(store: Store) -> None:
    golden_scenario(store)
    projection_runner.run(store, registry.ALL)
    live = dump_read_models(store)
    for name in ("customers", "individual_invoices", "consolidated_invoices", "consolidated_invoice_lines", "due_work"):
        assert live[name], name
    positions = projection_runner.positions(store)
    applied = projection_runner.rebuild(store, registry.ALL)
    assert applied > 0
    rebuilt = dump_read_models(store)
    for name in live:
        assert rebuilt[name] == live[name], name
    assert projection_runner.positions(store) == positions


def test_rebuilding_in_small_pages_reproduces_the_live_rows(store: Store) -> None:
    golden_scenario(store)
    projection_runner.run(store, registry.ALL)
    live = dump_read_models(store)
    projection_runner.rebuild(store, registry.ALL, page_size=7)
    rebuilt = dump_read_models(store)
    for name in live:
        assert rebuilt[name] == live[name], name
