"""What the contracts scenario of the shared suites issues (the suites themselves, determinism included,
are parametrised over every source in test_sources.py)."""

from __future__ import annotations

from commands.app import Store
from projections import queries
from scenarios.contracts import catch_up, golden_scenario, run_rows


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
