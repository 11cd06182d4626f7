"""The package-fee scenario (issue 8) for the shared suites (:mod:`scenarios`): engagements of two firms in
two zones with every schedule (monthly, quarterly, annual, one-time), both partial-period policies, a
renewal, an end, a fee change, autopay and payments; 80 engagements for the racing tickers; the
CLI's bad inputs of engagements."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import Any

import domain.engagement  # noqa: F401 - registers the topics the suites decode
import domain.invoice  # noqa: F401
from commands.app import Store
from commands.bus import handle
from commands.companies import SetCompany
from commands.config import resolve
from commands.customers import AddCustomer, UpdateCustomer
from commands.engagements import CreateEngagement, EndEngagement, RenewEngagement, UpdateEngagement
from commands.invoices import pay_invoice
from domain.engagement import engagement_id
from projections import queries, registry
from projections import runner as projection_runner
from scenarios import Scenario
from scheduler.tick import tick
from support import events, js

UTC = timezone.utc
T0 = datetime(2023, 12, 1, tzinfo=UTC)
FIRMS = [("LONDON", "Europe/London", "GBP"), ("DENVER", "America/Denver", "USD")]


def catch_up(store: Store) -> None:
    projection_runner.run(store, registry.ALL)


def setup(store: Store) -> None:
    for firm, zone, cur in FIRMS:
        handle(store, SetCompany(firm, T0, name=f"{firm} LLP", timezone=zone, currency=cur))
        for client in ("A", "B"):
            handle(store, AddCustomer(client, f"Client {client}", zone, cur, 14, company=firm, at=T0))
    handle(store, UpdateCustomer("B", T0, company="LONDON", autopay=True))
    specs = [
        ("LONDON", "M", "A", "monthly", "250.00", date(2024, 1, 31), date(2024, 12, 15), "full"),
        ("LONDON", "Q", "B", "quarterly", "900.00", date(2024, 2, 15), date(2024, 11, 30), "prorate_days"),
        ("LONDON", "Y", "A", "annual", "1200.00", date(2024, 3, 1), date(2025, 2, 28), "prorate_days"),
        ("LONDON", "ONCE", "B", "one_time", "499.99", date(2024, 5, 10), date(2024, 6, 9), "full"),
        ("DENVER", "M", "A", "monthly", "100.00", date(2024, 3, 10), None, "full"),
        ("DENVER", "Q", "B", "quarterly", "333.33", date(2024, 1, 1), date(2024, 6, 30), "full"),
    ]
    for firm, ref, client, schedule, fee, start, end, proration in specs:
        handle(store, CreateEngagement(ref, client, f"{ref} of {firm}", "package", start, T0, firm, end, fee, None, schedule, proration))


def _issued(summary: Any) -> list[tuple[str, str]]:
    return [(d["company"], d["number"]) for d in summary.issued]


def golden_scenario(store: Store) -> dict[str, Any]:
    """Every kind of engagement event at fixed instants; returns what the ticks issued."""
    setup(store)
    issued = _issued(tick(store, datetime(2024, 4, 2, 12, tzinfo=UTC)))
    handle(store, UpdateEngagement("M", datetime(2024, 4, 3, tzinfo=UTC), "LONDON", fee="275.00", name="Monthly retainer"))
    handle(store, RenewEngagement("Q", date(2025, 3, 31), datetime(2024, 4, 3, tzinfo=UTC), "DENVER", fee="350.00"))
    handle(store, EndEngagement("M", date(2024, 9, 30), datetime(2024, 4, 3, tzinfo=UTC), "DENVER"))
    issued += _issued(tick(store, datetime(2024, 8, 1, 12, tzinfo=UTC)))
    catch_up(store)
    for i, r in enumerate(queries.list_invoices(store.read_engine, status="OVERDUE")):
        if i % 2 == 0:
            pay_invoice(store, r["number"], datetime(2024, 8, 2, tzinfo=UTC), company=r["company"])
    issued += _issued(tick(store, datetime(2025, 6, 1, 12, tzinfo=UTC)))
    return {"issued": issued}


def invoice_rows(store: Store) -> list[tuple]:
    catch_up(store)
    return sorted(
        (r["company"], r["number"], r["status"], r["issue_date"], r["due_date"], r["period_start"], r["period_end"],
         r["net"], r["tax"], r["gross"], r["paid"], repr(r["lines"]))
        for r in queries.list_invoices(store.read_engine, kind="ALL")
    )


def state(store: Store) -> dict[str, Any]:
    from projections.engagement_queries import list_engagements

    catch_up(store)
    return {"invoices": invoice_rows(store), "engagements": list_engagements(store.read_engine, with_periods=True)}


# ============================================================================================ daily ≡ once
def daily_ticks() -> list[datetime]:
    """07:00 UTC of every day from 2024-01-01 to 2025-06-01."""
    start = datetime(2024, 1, 1, 7, tzinfo=UTC)
    return [start + timedelta(days=n) for n in range((date(2025, 6, 1) - date(2024, 1, 1)).days + 1)]


def daily_check(s: dict[str, Any]) -> None:
    rows = s["invoices"]
    assert len(rows) > 30
    assert {r[2] for r in rows} >= {"OVERDUE"}
    assert any("autopay" in r[11] for r in rows)


def pay_overdue(store: Store, at: datetime) -> None:
    catch_up(store)
    for i, r in enumerate(queries.list_invoices(store.read_engine, status="OVERDUE")):
        if i % 3 == 0:
            pay_invoice(store, r["number"], at, company=r["company"])


def golden_check(stream: list[tuple[str, str, int, bytes]]) -> None:
    assert sum(1 for t, *_ in stream if t == "billing:Engagement.PeriodBilled") > 20


# ============================================================================================ racing tickers
RACE_AT = datetime(2025, 7, 1, 12, tzinfo=UTC)
N_RACE = 80


def race_setup(store: Store) -> list[tuple[str, str]]:
    """Eighty engagements of the two firms, started over 2024, open-ended or ending in 2025."""
    for firm, zone, cur in FIRMS:
        handle(store, SetCompany(firm, T0, name=firm, timezone=zone, currency=cur))
        handle(store, AddCustomer("C", "Client", zone, cur, 14, company=firm, at=T0))
    out = []
    for i in range(N_RACE):
        firm = FIRMS[i % 2][0]
        schedule = ("monthly", "quarterly", "annual", "one_time")[i % 4]
        start = date(2024, 1, 1) + timedelta(days=(i * 7) % 360)
        end = None if i % 3 == 0 and schedule != "one_time" else start + timedelta(days=200 + i)
        handle(store, CreateEngagement(f"E{i:03d}", "C", f"Engagement {i}", "package", start, T0, firm, end,
                                       f"{100 + i}.00", None, schedule, "prorate_days" if i % 2 else "full"))
        out.append((firm, f"E{i:03d}"))
    catch_up(store)
    return out


def race_check(store: Store, engagements: list[tuple[str, str]], reported: Counter) -> None:
    """Every due fee period billed exactly once, by the invoice its id derives from."""
    from domain.engagement import Engagement

    billed = Counter((e.originator_id, e.start) for e in events(store, "billing:Engagement.PeriodBilled"))
    assert all(c == 1 for c in billed.values()), "a fee period was billed twice"
    created = Counter(e.originator_id for e in events(store, "billing:Invoice.Created"))
    assert all(c == 1 for c in created.values()), "an invoice was created twice"
    loaded = store.load_many([engagement_id(ref, firm) for firm, ref in engagements])
    due = 0
    for (firm, ref) in engagements:
        eng: Engagement = loaded[engagement_id(ref, firm)]
        want = [p.start for p in eng.periods(RACE_AT.date()) if eng.due_at(p) <= RACE_AT]
        got = sorted(start for (eid, start) in billed if eid == eng.id)
        assert got == want, (firm, ref, got, want)
        due += len(want)
    assert len(created) == due > 120
    assert sum(reported.values()) <= due


# ============================================================================================ bad input (CLI)
T0_TEXT = "2024-01-01T00:00:00Z"
NEW = ["engagements", "create", "N1", "--company", "FIRM", "--customer", "CL", "--name", "New", "--at", T0_TEXT]

BAD = [
    ("customer", ["engagements", "create", "N1", "--company", "FIRM", "--customer", "NOPE", "--name", "New", "--fee", "10",
                  "--schedule", "monthly", "--start", "2024-01-01", "--at", T0_TEXT]),
    ("fee", [*NEW, "--schedule", "monthly", "--start", "2024-01-01"]),
    ("schedule", [*NEW, "--fee", "10.00", "--start", "2024-01-01"]),
    ("end_date", [*NEW, "--fee", "10.00", "--schedule", "one_time", "--start", "2024-01-01"]),
    ("end_date", [*NEW, "--fee", "10.00", "--schedule", "monthly", "--start", "2024-02-01", "--end", "2024-01-31"]),
    ("fee", [*NEW, "--fee=-5.00", "--schedule", "monthly", "--start", "2024-01-01"]),
    ("fee", [*NEW, "--fee", "1.005", "--schedule", "monthly", "--start", "2024-01-01"]),
    ("fee", [*NEW, "--pricing", "hourly", "--fee", "10.00", "--start", "2024-01-01"]),
    ("start_date", [*NEW, "--fee", "10.00", "--schedule", "monthly", "--start", "2024-02-30"]),
    ("tax_rate", [*NEW, "--fee", "10.00", "--schedule", "monthly", "--start", "2024-01-01", "--tax-rate", "16"]),
    ("engagement", ["engagements", "renew", "NOPE", "--company", "FIRM", "--end", "2025-01-01", "--at", T0_TEXT]),
    ("end_date", ["engagements", "renew", "E1", "--company", "FIRM", "--end", "2024-06-30", "--at", T0_TEXT]),
    ("end_date", ["engagements", "end", "E1", "--company", "FIRM", "--end", "2023-12-31", "--at", T0_TEXT]),
    ("engagement", ["engagements", "show", "NOPE", "--company", "FIRM"]),
    ("name", ["engagements", "create", "E1", "--company", "FIRM", "--customer", "CL", "--name", "Other", "--fee", "100.00",
              "--schedule", "monthly", "--start", "2024-01-01", "--end", "2024-12-31", "--at", T0_TEXT]),
]


def bad_seed(url: str) -> None:
    """Firm FIRM (London, GBP), client CL, and engagement E1 (monthly 100.00 GBP in 2024)."""
    with Store(resolve(url)) as s:
        handle(s, SetCompany("FIRM", T0, name="Firm", timezone="Europe/London", currency="GBP"))
        handle(s, AddCustomer("CL", "Client", "Europe/London", "GBP", 14, company="FIRM", at=T0))
        handle(s, CreateEngagement("E1", "CL", "Retainer", "package", date(2024, 1, 1), T0, "FIRM", date(2024, 12, 31), "100.00",
                                   None, "monthly"), catch_up=True)


def bad_after(url: str) -> None:
    rows = js(url, "engagements", "list", "--company", "FIRM")
    assert [(r["reference"], r["fee"], r["end_date"]) for r in rows] == [("E1", "100.00", "2024-12-31")]


SCENARIO = Scenario(
    name="package_fees",
    golden=golden_scenario,
    topics=tuple("billing:" + t for t in (
        "Engagement.Created", "Engagement.Updated", "Engagement.Renewed", "Engagement.Ended", "Engagement.PeriodBilled",
        "Invoice.Created", "Invoice.Sent", "Invoice.MarkedOverdue", "Invoice.Paid", "Customer.Updated", "Company.Created")),
    golden_check=golden_check,
    state=state,
    daily_setup=setup,
    daily_actions=lambda: [],
    daily_ticks=daily_ticks,
    daily_check=daily_check,
    after=pay_overdue,
    race_setup=race_setup,
    race_at=RACE_AT,
    race_check=race_check,
    reported_key=lambda d: (d["company"], d["number"]),
    bad_seed=bad_seed,
    bad_cases=BAD,
    bad_after=bad_after,
)
