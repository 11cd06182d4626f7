"""The ``billing`` CLI as real subprocesses, on SQLite and PostgreSQL.

Every command runs the installed console script against a fresh store. Business instants are fixed
(``--at``); the wall clock never enters. Bad input must exit 2 with ``error: <field>: <rule>`` on stderr,
no traceback, and nothing written (the event log's head is unchanged).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from commands.app import Store
from commands.config import resolve
from conftest import run_cli
from scenarios.consolidation import add_customer_cli as add_customer, record_args
from support import head, js, ok, rejected

T0 = "2026-01-01T00:00:00Z"
TICK_AT = "2026-02-02T12:00:00Z"
PROJECTIONS = {"customers", "individual_invoices", "consolidated_invoices", "due_index"}


# ============================================================================================ helpers
CUSTOMERS_CSV = (
    "reference,name,timezone,currency,payment_terms_days,approved,consolidation,start_day,consolidate_from\n"
    "ACME,Acme GmbH,Europe/Berlin,EUR,14,true,weekly,1,2026-01-05\n"
    "BETA,Beta Inc,America/New_York,USD,30,yes,monthly,1,2026-01-01\n"
)

INVOICES_CSV = (
    "customer,number,issued_at,amount,currency,status,attributes\n"
    "ACME,A2,2026-01-09T09:00:00Z,5.50,EUR,issued,\n"
    # 23:30 UTC on Jan 11 is 00:30 on Jan 12 in Berlin: the week of Jan 12 (W03).
    "ACME,A5,2026-01-11T23:30:00Z,2.25,EUR,issued,\n"
    "ACME,A3,2026-01-13T09:00:00Z,1.00,EUR,issued,\n"
    "BETA,B1,2026-01-15T12:00:00Z,100.00,USD,issued,\n"
    # 03:00 UTC on Feb 1 is 22:00 on Jan 31 in New York: the January period.
    "BETA,B2,2026-02-01T03:00:00Z,20.00,USD,issued,\n"
    "BETA,B3,2026-02-10T12:00:00Z,50.00,USD,issued,\n"
)


def seed(db_url: str, tmp_path: Path) -> None:
    """ACME (Berlin, EUR, weekly from Monday Jan 5, 14 days) and BETA (New York, USD, monthly from Jan 1,
    30 days), with the invoices of :data:`INVOICES_CSV`."""
    (tmp_path / "customers.csv").write_text(CUSTOMERS_CSV, encoding="utf-8")
    (tmp_path / "invoices.csv").write_text(INVOICES_CSV, encoding="utf-8")
    ok(db_url, "customers", "import", str(tmp_path / "customers.csv"), "--at", T0)
    ok(db_url, "invoices", "import", str(tmp_path / "invoices.csv"), "--at", "2026-01-05T00:00:00Z")


# ============================================================================================ customers
def test_customers_add_update_approve_consolidation_list_show(db_url):
    assert "added" in add_customer(db_url, "ACME", "Europe/Berlin", "EUR", "--payment-terms", "14")
    h = head(db_url)
    # Adding it again with the same data is a no-op; with different data an error naming the field.
    assert "unchanged" in add_customer(db_url, "ACME", "Europe/Berlin", "EUR", "--payment-terms", "14")
    assert head(db_url) == h
    rejected(db_url, "payment_terms_days", "customers", "add", "ACME", "--name", "ACME Ltd", "--timezone",
             "Europe/Berlin", "--currency", "EUR", "--payment-terms", "30", "--at", T0)

    shown = json.loads(ok(db_url, "customers", "show", "ACME"))
    assert (shown["reference"], shown["name"], shown["timezone"], shown["currency"]) == (
        "ACME", "ACME Ltd", "Europe/Berlin", "EUR")
    assert shown["payment_terms_days"] == 14 and shown["approved"] is False and shown["consolidation"] == "NONE"

    assert "updated" in ok(db_url, "customers", "update", "ACME", "--name", "Acme GmbH", "--payment-terms", "21",
                           "--at", "2026-01-02T00:00:00Z")
    rejected(db_url, "timezone", "customers", "update", "ACME", "--timezone", "Europe/Paris", "--at", "2026-01-02T00:00:00Z")
    rejected(db_url, "currency", "customers", "update", "ACME", "--currency", "USD", "--at", "2026-01-02T00:00:00Z")

    assert "approved" in ok(db_url, "customers", "approve", "ACME", "--at", "2026-01-03T00:00:00Z")
    h = head(db_url)
    assert "unchanged" in ok(db_url, "customers", "approve", "ACME", "--at", "2026-01-03T00:00:00Z")
    assert head(db_url) == h
    ok(db_url, "customers", "consolidation", "ACME", "weekly", "--start-day", "1", "--from", "2026-01-05",
       "--at", "2026-01-03T00:00:00Z")
    add_customer(db_url, "BETA", "America/New_York", "USD")
    # Without --from, consolidation starts on the local date of --at in the customer's zone
    # (03:00 UTC on Jan 4 is still Jan 3 in New York).
    ok(db_url, "customers", "consolidation", "BETA", "monthly", "--start-day", "15", "--at", "2026-01-04T03:00:00Z")

    rows = js(db_url, "customers", "list")
    assert [r["reference"] for r in rows] == ["ACME", "BETA"]
    acme, beta = rows
    assert acme["name"] == "Acme GmbH" and acme["payment_terms_days"] == 21 and acme["approved"] is True
    assert acme["consolidation"] == "WEEKLY" and acme["start_day"] == 1 and acme["consolidate_from"] == "2026-01-05"
    # Weekly from Monday Jan 5 in Berlin: the first period closes at local midnight of Jan 12 (23:00 UTC).
    assert acme["next_close_at"] == "2026-01-11T23:00:00+00:00"
    assert beta["consolidation"] == "MONTHLY" and beta["start_day"] == 15
    assert beta["consolidate_from"] == "2026-01-03" and beta["approved"] is False

    assert "not approved" in ok(db_url, "customers", "approve", "ACME", "--withdraw", "--at", "2026-01-04T00:00:00Z")
    assert json.loads(ok(db_url, "customers", "show", "ACME"))["approved"] is False
    rejected(db_url, "customer", "customers", "show", "NOPE")


# ============================================================================================ invoices, tick, consolidated
def test_record_cancel_tick_consolidated_list_show_pay_summary(db_url, tmp_path):
    seed(db_url, tmp_path)
    assert "recorded" in ok(db_url, *record_args("A1", "ACME", "10.00", "EUR", "2026-01-06T09:00:00Z",
                                                 attributes='{"flight": "UA1545"}'))
    h = head(db_url)
    # Recording the same number with the same data again is a no-op.
    assert "unchanged" in ok(db_url, *record_args("A1", "ACME", "10.00", "EUR", "2026-01-06T09:00:00Z",
                                                  attributes='{"flight": "UA1545"}'))
    assert head(db_url) == h
    # A4 is recorded and then cancelled: it leaves its open period.
    ok(db_url, *record_args("A4", "ACME", "7.25", "EUR", "2026-01-14T09:00:00Z"))
    assert "cancelled" in ok(db_url, "invoices", "cancel", "A4", "--reason", "duplicate", "--at", "2026-01-15T00:00:00Z")
    rejected(db_url, "number", "invoices", "cancel", "NOPE", "--at", "2026-01-15T00:00:00Z")

    # --dry-run runs the same code and writes nothing.
    h = head(db_url)
    dry = js(db_url, "tick", "--at", TICK_AT, "--dry-run")
    assert dry["dry_run"] is True and dry["events"] > 0
    assert head(db_url) == h
    assert js(db_url, "consolidated", "list") == []

    summary = js(db_url, "tick", "--at", TICK_AT)
    assert summary["dry_run"] is False
    assert (summary["issued"], summary["counts"], summary["events"]) == (dry["issued"], dry["counts"], dry["events"])
    assert head(db_url) >= h + summary["events"]  # (Postgres notification ids may have gaps)
    cons = summary["counts"]["consolidation"]
    # ACME: weeks W02..W05 closed (W04 and W05 empty); BETA: January closed; February stays open.
    assert (cons["periods_closed"], cons["issued"], cons["empty_periods"]) == (5, 3, 2)
    issued = {d["number"]: (d["customer"], d["total"], d["count"], d["currency"]) for d in summary["issued"]}
    assert issued == {
        "CONS-2026-W02-001": ("ACME", "15.50", 2, "EUR"),
        "CONS-2026-W03-001": ("ACME", "3.25", 2, "EUR"),
        "CONS-2026-M01-001": ("BETA", "120.00", 2, "USD"),
    }
    # Ticking the same instant again does nothing.
    again = js(db_url, "tick", "--at", TICK_AT)
    assert again["issued"] == [] and again["events"] == 0

    rows = js(db_url, "consolidated", "list")
    required = {"number", "customer", "period_start", "period_end", "issue_date", "due_date", "status",
                "currency", "count", "total"}
    for r in rows:
        assert required <= set(r), f"missing keys: {required - set(r)}"
    got = {r["number"]: tuple(r[k] for k in ("customer", "period_start", "period_end", "issue_date", "due_date",
                                              "status", "currency", "count", "total")) for r in rows}
    assert got == {
        # Due Jan 26: the tick on Feb 2 marks it overdue at once.
        "CONS-2026-W02-001": ("ACME", "2026-01-05", "2026-01-12", "2026-01-12", "2026-01-26", "OVERDUE", "EUR", 2, "15.50"),
        # Due Feb 2: overdue only from the first instant of Feb 3 in Berlin.
        "CONS-2026-W03-001": ("ACME", "2026-01-12", "2026-01-19", "2026-01-19", "2026-02-02", "PENDING", "EUR", 2, "3.25"),
        "CONS-2026-M01-001": ("BETA", "2026-01-01", "2026-02-01", "2026-02-01", "2026-03-03", "PENDING", "USD", 2, "120.00"),
    }

    shown = js(db_url, "consolidated", "show", "CONS-2026-W03-001")
    assert (shown["number"], shown["customer"], shown["total"], shown["count"]) == ("CONS-2026-W03-001", "ACME", "3.25", 2)
    assert [(line["number"], line["local_date"], line["amount"]) for line in shown["lines"]] == [
        ("A5", "2026-01-12", "2.25"),
        ("A3", "2026-01-13", "1.00"),
    ]
    rejected(db_url, "number", "consolidated", "show", "CONS-2099-W01-001", "--json")

    individual = {r["number"]: r for r in js(db_url, "invoices", "individual")}
    assert {n: (r["customer"], r["amount"], r["currency"], r["status"], r["consolidated_number"])
            for n, r in individual.items()} == {
        "A1": ("ACME", "10.00", "EUR", "ISSUED", "CONS-2026-W02-001"),
        "A2": ("ACME", "5.50", "EUR", "ISSUED", "CONS-2026-W02-001"),
        "A5": ("ACME", "2.25", "EUR", "ISSUED", "CONS-2026-W03-001"),
        "A3": ("ACME", "1.00", "EUR", "ISSUED", "CONS-2026-W03-001"),
        "A4": ("ACME", "7.25", "EUR", "CANCELLED", None),
        "B1": ("BETA", "100.00", "USD", "ISSUED", "CONS-2026-M01-001"),
        "B2": ("BETA", "20.00", "USD", "ISSUED", "CONS-2026-M01-001"),
        "B3": ("BETA", "50.00", "USD", "ISSUED", None),  # February is still open
    }
    assert individual["A1"]["attributes"] == {"flight": "UA1545"} and individual["B2"]["issued_on"] == "2026-01-31"
    # Payments: W03 settled in full (default amount: the balance), M01 partly.
    assert "PAID" in ok(db_url, "consolidated", "pay", "CONS-2026-W03-001", "--reference", "TX-1",
                        "--at", "2026-02-03T00:00:00Z")
    ok(db_url, "consolidated", "pay", "CONS-2026-M01-001", "--amount", "20.00", "--at", "2026-02-03T00:00:00Z")
    rejected(db_url, "amount", "consolidated", "pay", "CONS-2026-M01-001", "--amount", "100.01", "--at", "2026-02-03T00:00:00Z")
    rejected(db_url, "number", "consolidated", "pay", "CONS-2026-W03-001", "--at", "2026-02-03T00:00:00Z")
    paid = {r["number"]: (r["status"], r["paid"], r["balance"]) for r in js(db_url, "consolidated", "list")}
    assert paid == {
        "CONS-2026-W02-001": ("OVERDUE", "0.00", "15.50"),
        "CONS-2026-W03-001": ("PAID", "3.25", "0.00"),
        "CONS-2026-M01-001": ("PENDING", "20.00", "100.00"),
    }
    summary_rows = {r["customer"]: r for r in js(db_url, "consolidated", "summary")}
    assert summary_rows == {
        "ACME": {"customer": "ACME", "currency": "EUR", "invoices": 2, "lines": 4, "total": "18.75",
                 "paid": "3.25", "balance": "15.50", "overdue": 1},
        "BETA": {"customer": "BETA", "currency": "USD", "invoices": 1, "lines": 2, "total": "120.00",
                 "paid": "20.00", "balance": "100.00", "overdue": 0},
    }
    # Cancelling an invoice included in an issued consolidated invoice credits its line there (issue 7).
    assert "cancelled" in ok(db_url, "invoices", "cancel", "A1", "--reason", "not flown", "--at", "2026-02-04T00:00:00Z")
    (note,) = js(db_url, "invoices", "list", "--kind", "CREDIT_NOTE")
    assert (note["number"], note["references"], note["gross"], note["reason"]) == ("CN-2026-000001", "CONS-2026-W02-001", "10.00", "not flown")
    w02 = {r["number"]: r for r in js(db_url, "consolidated", "list")}["CONS-2026-W02-001"]
    assert (w02["credited"], w02["balance"]) == ("10.00", "5.50")


# ============================================================================================ projections
def test_projections_status_and_rebuild_reproduce_identical_rows(db_url, tmp_path):
    seed(db_url, tmp_path)
    ok(db_url, "tick", "--at", TICK_AT, "--json")
    ok(db_url, "consolidated", "pay", "CONS-2026-W02-001", "--at", "2026-02-03T00:00:00Z")

    st = js(db_url, "projections", "status")
    assert st["head"] == head(db_url) and st["head"] > 0
    assert PROJECTIONS <= {p["name"] for p in st["projections"]}
    for p in st["projections"]:
        assert (p["position"], p["lag"]) == (st["head"], 0), p

    def snapshot() -> list:
        return [js(db_url, "consolidated", "list"), js(db_url, "invoices", "individual"), js(db_url, "customers", "list")]

    before = snapshot()
    assert len(before[0]) == 3 and len(before[1]) == 6 and len(before[2]) == 2
    # The runner's rebuild (in this process, where the domain's topics are known) reproduces the rows ...
    import commands.customers  # noqa: F401 - registers the domain's event topics in this process
    import commands.individual_invoices  # noqa: F401
    import scheduler.tick  # noqa: F401
    from projections import registry
    from projections import runner as projection_runner

    with Store(resolve(db_url)) as s:
        projection_runner.rebuild(s, registry.ALL)
    assert snapshot() == before
    # ... and so does the command, in a fresh process.
    assert "rebuilt" in ok(db_url, "projections", "rebuild")
    st2 = js(db_url, "projections", "status")
    assert st2["head"] == st["head"] and all(p["lag"] == 0 for p in st2["projections"])
    assert snapshot() == before
    rejected(db_url, "names", "projections", "rebuild", "nope")


def test_projections_status_shows_lag_and_run_catches_up(db_url):
    """Events written without catching up (as another service would) show as lag; a fresh
    ``billing projections run`` process applies them."""
    from commands.customers import AddCustomer, add_customer as api_add_customer

    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with Store(resolve(db_url)) as s:
        api_add_customer(s, AddCustomer("LAGGY", "Laggy", "Europe/Berlin", "EUR"), at)
        h = s.head()
    st = js(db_url, "projections", "status")
    assert st["head"] == h > 0
    assert {p["name"]: p["lag"] for p in st["projections"] if p["name"] in PROJECTIONS} == {n: h for n in PROJECTIONS}
    ok(db_url, "projections", "run")
    st = js(db_url, "projections", "status")
    assert all((p["position"], p["lag"]) == (h, 0) for p in st["projections"]), st
    assert [r["reference"] for r in js(db_url, "customers", "list")] == ["LAGGY"]


# ============================================================================================ bad input
# (the cases of customers and individual invoices are the shared suite's: scenarios/consolidation.py, test_sources.py)
@pytest.mark.parametrize(
    "url, args",
    [
        ("mysql://user@localhost/db", ["projections", "status", "--json"]),
        ("mongodb://localhost/db", record_args("N9", "EURO", "1.00", "EUR")),
        ("redis://localhost:6379/0", ["tick", "--at", TICK_AT, "--json"]),
    ],
)
def test_unsupported_database_url_exits_2(sqlite_url, url, args):
    from commands.customers import AddCustomer, add_customer as api_add_customer

    with Store(resolve(sqlite_url)) as s:
        api_add_customer(s, AddCustomer("EURO", "Euro", "UTC", "EUR"), datetime(2026, 1, 1, tzinfo=timezone.utc))
    r = rejected(sqlite_url, "database_url", *args, url_option=url)
    assert r.stdout.strip() == ""


@pytest.mark.parametrize("args", [["projections", "status", "--json"], ["tick", "--at", TICK_AT, "--json"]])
def test_unreachable_postgres_one_line_error(args, tmp_path):
    r = run_cli("postgresql://postgres@127.0.0.1:5999/test", *args, cwd=tmp_path, timeout=60)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{r.stderr}"
    assert lines[0].startswith("error:") and "5999" in lines[0]
    assert r.stdout.strip() == ""
    # Nothing was created on the side (no SQLite fallback in the working directory).
    assert not (tmp_path / "billing.db").exists()


def test_unexpected_error_is_one_line_with_debug_hint(tmp_path):
    """An unexpected failure (here a stored event whose topic no class answers to) exits 1 with one line
    and a hint; with --debug, anywhere on the line, the traceback. A file that is not a database is named
    as such (a database error, not "unexpected")."""
    from eventsourcing.persistence import StoredEvent

    from domain.customer import customer_id

    url = f"sqlite:///{tmp_path / 'odd.db'}"
    with Store(resolve(url)) as s:
        s.recorder.insert_events([StoredEvent(customer_id("ACME"), 1, "billing:NoSuchThing.Created", b"{}")])
    args = ["customers", "add", "ACME", "--name", "Acme", "--timezone", "UTC", "--currency", "EUR", "--at", "2026-01-01T00:00:00Z"]
    r = run_cli(url, *args, cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: unexpected") and "--debug" in lines[0], r.stderr
    r = run_cli(url, *args, "--debug", cwd=tmp_path)
    assert r.returncode == 1 and "Traceback" in r.stderr
    bogus = tmp_path / "garbage.db"
    bogus.write_bytes(b"this is not a sqlite database" * 100)
    r = run_cli(f"sqlite:///{bogus}", "projections", "status", "--json", cwd=tmp_path)
    assert r.returncode == 1 and str(bogus) in r.stderr and "not a database" in r.stderr and "error: unexpected" not in r.stderr, r.stderr