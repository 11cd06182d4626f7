"""What the consolidation scenario of the shared suites issues (the suites themselves, determinism
included, are parametrised over every source in test_sources.py)."""

from __future__ import annotations

from decimal import Decimal

from commands.app import Store
from projections import queries
from scenarios.consolidation import golden_scenario


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
