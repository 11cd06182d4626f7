"""The timesheet scenario (issue 8) for the shared suites (:mod:`scenarios`): a care practice in New York
(weeks across both DST changes of 2024) with three clients, rates that change after issue, the three unit
policies over time, late entries and deletions; 90 client-weeks for the racing tickers; the CLI's bad
inputs of rates and timesheets."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import Any

import domain.timesheets  # noqa: F401 - registers the topics the suites decode
from commands.app import Store
from commands.bus import handle
from commands.companies import SetCompany
from commands.config import resolve
from commands.customers import AddCustomer
from commands.engagements import CreateEngagement
from commands.invoices import pay_invoice
from commands.timesheets import AddTimesheetEntry, CorrectTimesheetEntry, DeleteTimesheetEntry, SetCustomerRate
from projections import queries, registry
from projections import runner as projection_runner
from scenarios import Action, Scenario
from scheduler.tick import tick
from support import events, js

UTC = timezone.utc
T0 = datetime(2024, 1, 1, tzinfo=UTC)
ZONE = "America/New_York"
CLIENTS = [("ANA", "Aetna", "25.00"), ("BEN", "Medicaid", "18.40"), ("CIA", "Blue Cross", "31.15")]


def catch_up(store: Store) -> None:
    projection_runner.run(store, registry.ALL)


def setup(store: Store) -> None:
    handle(store, SetCompany("CARE", T0, name="Care practice", timezone=ZONE, currency="USD"))
    for ref, payer, rate in CLIENTS:
        handle(store, AddCustomer(ref, f"Client {ref}", ZONE, "USD", 14, company="CARE", at=T0))
        handle(store, SetCustomerRate(ref, payer, rate, date(2024, 1, 1), T0, "CARE"))
        handle(store, CreateEngagement(f"T-{ref}", ref, f"Therapy {ref}", "hourly", date(2024, 1, 1), T0, "CARE"))


def _sessions() -> list[tuple[str, str, datetime, int]]:
    """(entry id, client, start, minutes): sessions on weekdays from Jan to May 2024, some short."""
    out = []
    day = date(2024, 1, 1)
    n = 0
    while day <= date(2024, 5, 31):
        for k, (ref, _p, _r) in enumerate(CLIENTS):
            if (day.toordinal() + k) % 3 == 0 and day.isoweekday() <= 5:
                minutes = (7, 22, 23, 38, 53, 60, 8)[(n + k) % 7]
                hour = 13 + (n % 5)  # 08:00-12:00 in New York
                out.append((f"S{n:04d}", ref, datetime(day.year, day.month, day.day, hour, 5 * (n % 6), tzinfo=UTC), minutes))
                n += 1
        day += timedelta(days=1)
    return out


def _actions(late: bool = False) -> list[Action]:
    """The scenario's commands at their instants; with ``late``, also an entry recorded after its week was
    invoiced by a punctual weekly tick (daily ≡ once leaves it out: a late tick would find it in time)."""
    acts = []
    for eid, ref, start, minutes in _sessions():
        recorded = start + timedelta(minutes=minutes + 30)
        acts.append(Action(recorded, lambda s, e=eid, r=ref, st=start, m=minutes, at=recorded: handle(
            s, AddTimesheetEntry(e, f"T-{r}", st, st + timedelta(minutes=m), at, "CARE", "Dana", "90837"))))
    # a late entry (its week was invoiced on Tuesday Feb 13) and a deletion before the week is invoiced
    late_at = datetime(2024, 2, 20, 18, tzinfo=UTC)
    acts += [] if not late else [Action(late_at, lambda s: handle(s, AddTimesheetEntry("LATE-1", "T-ANA", datetime(2024, 2, 7, 15, tzinfo=UTC),
                                                                       datetime(2024, 2, 7, 15, 50, tzinfo=UTC), late_at, "CARE", "Eli", "90834"))),
                             Action(late_at + timedelta(hours=1), lambda s: handle(s, CorrectTimesheetEntry(
                                 "LATE-1", late_at + timedelta(hours=1), "CARE", minutes=35))),
                             Action(datetime(2024, 3, 1, 12, tzinfo=UTC), lambda s: handle(s, CorrectTimesheetEntry(
                                 "LATE-1", datetime(2024, 3, 1, 12, tzinfo=UTC), "CARE", minutes=80)))]
    del_at = datetime(2024, 3, 8, 23, tzinfo=UTC)
    victim = next(e for e, _r, st, _m in _sessions() if st.date() == date(2024, 3, 6))
    acts.append(Action(del_at, lambda s: handle(s, DeleteTimesheetEntry(victim, del_at, "CARE"))))
    # rates change after issue (old invoices keep theirs); the unit policy changes twice
    rate_at = datetime(2024, 3, 1, 18, tzinfo=UTC)
    acts.append(Action(rate_at, lambda s: handle(s, SetCustomerRate("ANA", "Aetna", "27.50", date(2024, 3, 1), rate_at, "CARE"))))
    p1 = datetime(2024, 3, 20, 18, tzinfo=UTC)
    acts.append(Action(p1, lambda s: handle(s, SetCompany("CARE", p1, timesheet_units="ceil_per_client_day"))))
    p2 = datetime(2024, 4, 24, 18, tzinfo=UTC)
    acts.append(Action(p2, lambda s: handle(s, SetCompany("CARE", p2, timesheet_units="cms_8_minute"))))
    return sorted(acts, key=lambda a: a.at)


def golden_scenario(store: Store) -> dict[str, Any]:
    """Every kind of timesheet event at fixed instants, ticking every Tuesday at 12:00 UTC."""
    setup(store)
    issued: list[Any] = []
    acts = _actions(late=True)
    i = 0
    t = datetime(2024, 1, 2, 12, tzinfo=UTC)
    while t <= datetime(2024, 6, 11, 12, tzinfo=UTC):
        while i < len(acts) and acts[i].at < t:
            acts[i].run(store)
            i += 1
        issued += [(d["company"], d["number"]) for d in tick(store, t).issued]
        t += timedelta(days=7)
    while i < len(acts):
        acts[i].run(store)
        i += 1
    catch_up(store)
    for r in queries.list_invoices(store.read_engine, company="CARE", status="OVERDUE")[::2]:
        pay_invoice(store, r["number"], datetime(2024, 6, 12, tzinfo=UTC), company="CARE")
    issued += [(d["company"], d["number"]) for d in tick(store, datetime(2024, 6, 20, tzinfo=UTC)).issued]
    return {"issued": issued}


def state(store: Store) -> dict[str, Any]:
    from projections.timesheet_queries import list_entries

    catch_up(store)
    docs = sorted((r["number"], r["status"], r["issue_date"], r["due_date"], r["period_start"], r["gross"], r["paid"], repr(r["lines"]))
                  for r in queries.list_invoices(store.read_engine, company="CARE"))
    return {"invoices": docs, "entries": list_entries(store.read_engine, "CARE")}


def daily_ticks() -> list[datetime]:
    """Every six hours from Jan 1 to Jun 20, 2024 (local 07:00 Tuesdays are hit in both offsets)."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [start + timedelta(hours=6 * n) for n in range(4 * 172)]


def daily_check(s: dict[str, Any]) -> None:
    assert len(s["invoices"]) > 40
    lines = "".join(r[7] for r in s["invoices"])
    assert "cms_8_minute" in lines and "ceil_per_client_day" in lines and "ceil_per_entry" in lines
    assert {e["status"] for e in s["entries"]} == {"LOCKED", "DELETED"}


def pay_half(store: Store, at: datetime) -> None:
    catch_up(store)
    for r in queries.list_invoices(store.read_engine, company="CARE", status="OVERDUE")[::2]:
        pay_invoice(store, r["number"], at, company="CARE")


def golden_check(stream: list[tuple[str, str, int, bytes]]) -> None:
    assert sum(1 for t, *_ in stream if t == "billing:TimesheetWeek.TimesheetLocked") > 40
    assert any(b'"late":true' in st.replace(b" ", b"") for t, _i, _v, st in stream if t == "billing:TimesheetEntry.Created")


# ============================================================================================ racing tickers
RACE_AT = datetime(2024, 12, 31, 12, tzinfo=UTC)


def race_setup(store: Store) -> int:
    """Three clients, thirty weeks of sessions each (90 client-weeks due by the tick)."""
    setup(store)
    n = 0
    for week in range(30):
        for k, (ref, _p, _r) in enumerate(CLIENTS):
            start = datetime(2024, 1, 2, 15, tzinfo=UTC) + timedelta(days=7 * week + k)
            handle(store, AddTimesheetEntry(f"R{n:04d}", f"T-{ref}", start, start + timedelta(minutes=20 + k), T0 + timedelta(days=1), "CARE"))
            n += 1
    catch_up(store)
    return 30 * len(CLIENTS)


def race_check(store: Store, weeks: int, reported: Counter) -> None:
    locked = Counter(e.originator_id for e in events(store, "billing:TimesheetWeek.TimesheetLocked"))
    assert all(c == 1 for c in locked.values()), "a week was locked twice"
    created = events(store, "billing:Invoice.Created")
    assert len({e.originator_id for e in created}) == len(created) == len(locked) == weeks
    seqs = sorted(e.sequence for e in created)
    assert seqs == list(range(1, weeks + 1)), "INV numbers are not gapless"
    assert sum(reported.values()) <= weeks


# ============================================================================================ bad input (CLI)
A = ["--at", "2024-01-01T00:00:00Z"]
ADD = ["timesheets", "add", "N1", "--company", "CARE", "--engagement", "T-ANA", "--staff", "Dana", *A]
BAD = [
    ("customer", ["customers", "set-rate", "NOPE", "--company", "CARE", "--payer", "X", "--rate-per-unit", "1.00", "--from", "2024-01-01", *A]),
    ("rate_per_unit", ["customers", "set-rate", "ANA", "--company", "CARE", "--payer", "X", "--rate-per-unit=-1.00", "--from", "2024-01-01", *A]),
    ("rate_per_unit", ["customers", "set-rate", "ANA", "--company", "CARE", "--payer", "X", "--rate-per-unit", "1.001", "--from", "2024-01-01", *A]),
    ("payer", ["customers", "set-rate", "ANA", "--company", "CARE", "--payer", "", "--rate-per-unit", "1.00", "--from", "2024-01-01", *A]),
    ("engagement", ["timesheets", "add", "N1", "--company", "CARE", "--engagement", "NOPE", "--start", "2024-01-02T10:00:00Z", "--minutes", "5", *A]),
    ("engagement", ["timesheets", "add", "N1", "--company", "CARE", "--engagement", "PKG", "--start", "2024-01-02T10:00:00Z", "--minutes", "5", *A]),
    ("end", [*ADD, "--start", "2024-01-02T10:00:00Z", "--end", "2024-01-02T09:00:00Z"]),
    ("end", [*ADD, "--start", "2024-01-02T10:00:00Z", "--end", "2024-01-03T10:00:01Z"]),
    ("start", [*ADD, "--start", "2024-01-02 10:00", "--minutes", "5"]),
    ("entry_id", ["timesheets", "add", "E1", "--company", "CARE", "--engagement", "T-ANA", "--start", "2024-01-02T10:00:00Z", "--minutes", "45", *A]),
    ("timesheet_units", ["companies", "set", "CARE", "--timesheet-units", "round", *A]),
    ("entry_id", ["timesheets", "delete", "NOPE", "--company", "CARE", *A]),
    ("minutes", ["timesheets", "correct", "E1", "--company", "CARE", *A]),
    ("end", ["timesheets", "correct", "E1", "--company", "CARE", "--end", "2024-01-02T14:00:00Z", *A]),
    ("week", ["timesheets", "invoice", "--customer", "ANA", "--week", "2024-W54", "--company", "CARE", *A]),
    ("week", ["timesheets", "invoice", "--customer", "ANA", "--week", "2024-W05", "--company", "CARE", *A]),
    ("customer", ["timesheets", "invoice", "--customer", "NOPE", "--week", "2024-W01", "--company", "CARE", *A]),
]


def bad_seed(url: str) -> None:
    """The practice CARE with client ANA (rate 25.00), hourly engagement T-ANA, package engagement PKG, entry E1."""
    with Store(resolve(url)) as s:
        handle(s, SetCompany("CARE", T0, name="Care", timezone=ZONE, currency="USD"))
        handle(s, AddCustomer("ANA", "Ana", ZONE, "USD", 14, company="CARE", at=T0))
        handle(s, SetCustomerRate("ANA", "Aetna", "25.00", date(2024, 1, 1), T0, "CARE"))
        handle(s, CreateEngagement("T-ANA", "ANA", "Therapy", "hourly", date(2024, 1, 1), T0, "CARE"))
        handle(s, CreateEngagement("PKG", "ANA", "Fees", "package", date(2024, 1, 1), T0, "CARE", None, "10.00", None, "monthly"))
        start = datetime(2024, 1, 2, 15, tzinfo=UTC)
        handle(s, AddTimesheetEntry("E1", "T-ANA", start, start + timedelta(minutes=50), T0, "CARE", "Dana"), catch_up=True)


def bad_after(url: str) -> None:
    rows = js(url, "timesheets", "list", "--company", "CARE")
    assert [(r["entry_id"], r["minutes"], r["status"]) for r in rows] == [("E1", "50.00", "OPEN")]


SCENARIO = Scenario(
    name="timesheets",
    golden=golden_scenario,
    topics=tuple("billing:" + t for t in (
        "TimesheetEntry.Created", "TimesheetEntry.Deleted", "TimesheetWeek.Created", "TimesheetWeek.EntryAdded",
        "TimesheetWeek.EntryRemoved", "TimesheetWeek.TimesheetLocked", "TimesheetEntry.Corrected", "TimesheetWeek.CorrectionAdded", "Customer.RateSet", "Invoice.Created",
        "Invoice.MarkedOverdue", "Invoice.Paid", "Company.Updated")),
    golden_check=golden_check,
    state=state,
    daily_setup=setup,
    daily_actions=_actions,
    daily_ticks=daily_ticks,
    daily_check=daily_check,
    after=pay_half,
    race_setup=race_setup,
    race_at=RACE_AT,
    race_check=race_check,
    reported_key=lambda d: (d["company"], d["number"]),
    bad_seed=bad_seed,
    bad_cases=BAD,
    bad_after=bad_after,
)
