"""The main job's package fees (issue 8): real UK public contracts as engagements billed monthly.

From ``examples/contracts-finder/engagements.csv`` (Contracts Finder, OGL v3): the latest release of each
``ocid`` becomes one engagement of company ``uk-public`` (Europe/London, GBP) with its buyer as the client;
monthly schedule, fee = value ÷ number of calendar months the contract touches, rounded half-up to pennies;
partial months billed in full (policy ``full``); VAT at the UK standard rate of 20 % (added to the company's
catalogue as ``standard-uk``). Rows without a positive value are skipped and counted. One tick at the day
after the last end date bills every month of every contract; the total billed is reconciled against a sum
computed independently from the CSV (fee × months per contract; VAT per invoice rounded half-up).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(HERE, "examples", "contracts-finder", "engagements.csv")
COMPANY = "uk-public"
ZONE = "Europe/London"
SETUP_AT = datetime(2019, 12, 1, tzinfo=timezone.utc)
VAT = Decimal(20)
PENNY = Decimal("0.01")


def months_touched(start: date, end: date) -> int:
    """Calendar months from ``start``'s to ``end``'s, both included."""
    return (end.year - start.year) * 12 + end.month - start.month + 1


def read_contracts(path: str = DATA) -> tuple[list[dict[str, Any]], int]:
    """The latest release of each ocid with a positive value, as plain dicts (ocid, buyer, title, value,
    start, end, months, fee), sorted by ocid; and how many latest releases were skipped for their value."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["latest_for_ocid"] == "yes"]
    out, skipped = [], 0
    for r in sorted(rows, key=lambda r: r["ocid"]):
        value = Decimal(r["value"]) if r["value"].strip() else Decimal(0)
        if value <= 0:
            skipped += 1
            continue
        start, end = date.fromisoformat(r["start_date"]), date.fromisoformat(r["end_date"])
        months = months_touched(start, end)
        fee = (value / months).quantize(PENNY, rounding=ROUND_HALF_UP)
        out.append({"ocid": r["ocid"], "buyer": r["buyer"].strip(), "title": r["title"].strip(), "value": value, "start": start,
                    "end": end, "months": months, "fee": fee})
    return out, skipped


def expected_totals(contracts: list[dict[str, Any]]) -> tuple[int, Decimal, Decimal]:
    """Invoices, net and gross as computed from the CSV alone: one invoice per month touched at the fee,
    VAT 20 % of the fee rounded half-up per invoice."""
    invoices = sum(c["months"] for c in contracts)
    net = sum((c["fee"] * c["months"] for c in contracts), Decimal(0))
    vat = sum(((c["fee"] * VAT / 100).quantize(PENNY, rounding=ROUND_HALF_UP) * c["months"] for c in contracts), Decimal(0))
    return invoices, net, net + vat


def _customer_reference(buyer: str) -> str:
    return buyer[:100].strip()


def run(store: Any, path: str = DATA, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Set up the company, its clients and engagements (idempotent), tick once after the last end date,
    and return the billed and the expected totals."""
    from commands.bus import handle
    from commands.companies import AddTaxRate, SetCompany
    from commands.customers import AddCustomer
    from commands.engagements import CreateEngagement
    from projections import registry
    from projections import runner as projection_runner
    from projections.invoice_queries import list_invoices
    from scheduler.tick import tick

    contracts, skipped = read_contracts(path)
    handle(store, SetCompany(COMPANY, SETUP_AT, name="UK public buyers (Contracts Finder)", timezone=ZONE, currency="GBP"))
    handle(store, AddTaxRate(COMPANY, "standard-uk", VAT, SETUP_AT, SETUP_AT.date()))
    for buyer in sorted({c["buyer"] for c in contracts}):
        handle(store, AddCustomer(_customer_reference(buyer), buyer[:200], ZONE, "GBP", 30, company=COMPANY, at=SETUP_AT))
    for c in contracts:
        handle(store, CreateEngagement(c["ocid"], _customer_reference(c["buyer"]), c["title"][:200] or c["ocid"], "package", c["start"],
                                       SETUP_AT, COMPANY, c["end"], str(c["fee"]), "GBP", "monthly", "full", "standard-uk"))
    last_end = max(c["end"] for c in contracts)
    at = datetime.combine(last_end + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=1)
    summary = tick(store, at, company=COMPANY, kind="package_fee", progress=progress, list_documents=False)
    projection_runner.run(store, registry.ALL)
    docs = [d for d in list_invoices(store.read_engine, company=COMPANY, kind="ALL") if d["source"].startswith("engagement:")]
    invoices, net, gross = expected_totals(contracts)
    return {
        "engagements": len(contracts), "skipped": skipped, "clients": len({c["buyer"] for c in contracts}), "tick_at": at,
        "issued_now": summary.counts.get("package_fee", {}).get("issued", 0),
        "invoices": len(docs), "net": sum((Decimal(d["net"]) for d in docs), Decimal(0)),
        "gross": sum((Decimal(d["gross"]) for d in docs), Decimal(0)),
        "expected_invoices": invoices, "expected_net": net, "expected_gross": gross,
        "numbers_unique": len({d["number"] for d in docs}) == len(docs),
    }
