"""The main job's timesheets (issue 8): a real Toggl Track export billed weekly per client.

From ``examples/timesheets/toggl-class-time-2023-2024.csv`` (MIT): company ``class-time``
(America/Denver, USD); one client per Toggl ``Client`` (``(none)`` for entries without one), each with an
hourly engagement of the same reference and a rate per 15-minute unit chosen here (:data:`RATES`); the
file imported with ``billing timesheets import`` (Toggl detected by its header); one tick after the last
week. Units (``ceil(seconds / 900)`` per entry), invoices (one per client and ISO week with entries) and
amounts are reconciled against counts made independently from the CSV's ``Duration`` column.
"""

from __future__ import annotations

import csv
import os
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(HERE, "examples", "timesheets", "toggl-class-time-2023-2024.csv")
COMPANY = "class-time"
ZONE = "America/Denver"
SETUP_AT = datetime(2023, 1, 1, 7, tzinfo=timezone.utc)
IMPORT_AT = datetime(2024, 5, 10, tzinfo=timezone.utc)
TICK_AT = datetime(2024, 6, 1, tzinfo=timezone.utc)
#: Rate per 15-minute unit, USD, per client (chosen for the demo: the export has no rates).
RATES = {"S2023": Decimal("12.50"), "F2023": Decimal("13.00"), "S2024": Decimal("13.75"), "(none)": Decimal("10.00")}


def expected(path: str = DATA) -> dict[str, Any]:
    """Entries, units, weekly invoices and amount per client, from the CSV alone (``Duration`` HH:MM:SS;
    the week is the ISO week of the start date)."""
    out: dict[str, dict[str, Any]] = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            client = row["Client"].strip() or "(none)"
            h, m, s = (int(x) for x in row["Duration"].split(":"))
            units = -(-(h * 3600 + m * 60 + s) // 900)
            c = out.setdefault(client, {"entries": 0, "units": 0, "weeks": set()})
            c["entries"] += 1
            c["units"] += units
            c["weeks"].add(date.fromisoformat(row["Start date"]).isocalendar()[:2])
    return {k: {"entries": v["entries"], "units": v["units"], "invoices": len(v["weeks"]), "amount": v["units"] * RATES[k]}
            for k, v in sorted(out.items())}


def run(store: Any, path: str = DATA) -> dict[str, Any]:
    """Set up, import, tick; return per client what was billed and what the CSV says."""
    from commands.bus import handle
    from commands.companies import SetCompany
    from commands.customers import AddCustomer
    from commands.engagements import CreateEngagement
    from commands.timesheets import ImportTimesheets, SetCustomerRate
    from projections import registry
    from projections import runner as projection_runner
    from projections.invoice_queries import list_invoices
    from scheduler.tick import tick

    handle(store, SetCompany(COMPANY, SETUP_AT, name="Class time tutoring", timezone=ZONE, currency="USD"))
    for client, rate in RATES.items():
        handle(store, AddCustomer(client, f"Client {client}", ZONE, "USD", 14, company=COMPANY, at=SETUP_AT))
        handle(store, SetCustomerRate(client, "self-pay", str(rate), date(2023, 1, 1), SETUP_AT, COMPANY))
        handle(store, CreateEngagement(client, client, f"Tutoring {client}", "hourly", date(2023, 1, 1), SETUP_AT, COMPANY))
    counts = handle(store, ImportTimesheets(path, IMPORT_AT, COMPANY))
    summary = tick(store, TICK_AT, company=COMPANY, kind="timesheet", list_documents=False)
    projection_runner.run(store, registry.ALL)
    billed: dict[str, dict[str, Any]] = {}
    for d in list_invoices(store.read_engine, company=COMPANY):
        b = billed.setdefault(d["customer"], {"entries": 0, "units": 0, "invoices": 0, "amount": Decimal(0)})
        b["invoices"] += 1
        b["entries"] += len(d["lines"])
        b["units"] += sum(int(Decimal(ln["quantity"])) for ln in d["lines"])
        b["amount"] += Decimal(d["gross"])
    return {"imported": counts, "issued_now": summary.counts.get("timesheet", {}).get("issued", 0), "billed": dict(sorted(billed.items())),
            "expected": expected(path), "tick_at": TICK_AT}
