"""``billing contracts ...``, ``billing tick`` and ``billing invoices ...`` (the engine's own invoice documents)
as real subprocesses, on SQLite and PostgreSQL (issue 3).

Business instants are fixed (``--at``). Bad input must exit 2 with ``error: <field>: ...`` on stderr, no
traceback, and nothing written (the event log's head is unchanged).
"""

from __future__ import annotations

import csv
import json
import subprocess
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from commands.app import Store
from commands.config import resolve
from commands.contracts import CreateContract, create_contract
from commands.customers import AddCustomer, add_customer
from conftest import run_cli
from support import js, ok
from support import head as fast_head
from domain.contract import make_position

T0 = "2026-01-01T00:00:00Z"
T0_DT = datetime(2026, 1, 1, tzinfo=timezone.utc)
INVOICE_KEYS = {"number", "kind", "status", "company", "customer", "source", "issue_date", "due_date", "currency",
                "net", "tax", "gross", "lines"}


# ============================================================================================ helpers
@pytest.fixture(autouse=True)
def _tenant(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests bill as company ACME (issue 7: customers and contracts belong to a company):
    ``BILLING_COMPANY`` names it for every command that does not give ``--company``."""
    monkeypatch.setenv("BILLING_COMPANY", "ACME")


def head(db_url: str) -> int:
    """The event log's head, as ``billing projections status --json`` reports it."""
    return int(js(db_url, "projections", "status")["head"])


def shown(db_url: str, *args: str):
    """Commands that always print JSON (``contracts show``, ``invoices show``)."""
    text = ok(db_url, *args)
    return json.loads(text)


def rejected(db_url: str, field: str, *args: str, head_of=fast_head) -> subprocess.CompletedProcess:
    """Bad input: exit 2, ``error: <field>:`` on stderr, no traceback, nothing written."""
    before = head_of(db_url)
    r = run_cli(db_url, *args)
    assert r.returncode == 2, f"billing {' '.join(args)}: expected exit 2, got {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr
    assert f"error: {field}:" in r.stderr or f": {field}:" in r.stderr, f"stderr does not name {field!r}:\n{r.stderr}"
    assert head_of(db_url) == before, f"billing {' '.join(args)} was rejected but wrote events"
    return r


CUSTOMERS_CSV = (
    "reference,name,timezone,currency,payment_terms_days,approved,consolidation,start_day,consolidate_from\n"
    "CUST,Cust GmbH,Europe/Berlin,EUR,14,false,none,,\n"
    "USCUST,US Inc,America/New_York,USD,30,false,none,,\n"
)

HEADER = ["reference", "company", "customer", "name", "interval", "start_date", "end_date", "next_run_date", "currency",
          "payment_terms_days", "auto_finalize", "auto_send", "position", "description", "quantity", "unit_price",
          "tax_rate", "discountable", "attributes"]

GOOD_ROWS = [
    ["RENT-1", "ACME", "CUST", "Office rent", "monthly", "2026-01-01", "", "", "EUR", "14", "true", "true",
     "1", "Office rent", "1", "1000.00", "19", "true", '{"unit": "A1"}'],
    ["RENT-1", "ACME", "CUST", "Office rent", "monthly", "2026-01-01", "", "", "EUR", "14", "true", "true",
     "2", "Cleaning", "2", "40.00", "7", "false", ""],
    ["DRAFT-1", "ACME", "CUST", "Consulting", "quarterly", "2026-01-15", "2026-12-31", "", "", "", "false", "false",
     "1", "Consulting retainer", "10", "95.00", "standard", "", ""],
    ["BETA-1", "BETA", "USCUST", "Hosting", "monthly", "2026-01-31", "", "", "USD", "30", "true", "false",
     "1", "Hosting", "1", "99.99", "0", "true", ""],
]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> str:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def seed(db_url: str, tmp_path: Path) -> None:
    """Customers CUST (Berlin, EUR, 14 days) and USCUST (New York, USD, 30 days); contracts RENT-1 (ACME,
    monthly, auto-finalize and auto-send, 2 positions), DRAFT-1 (ACME, quarterly, drafts), BETA-1 (BETA,
    monthly from Jan 31, USD)."""
    (tmp_path / "customers.csv").write_text(CUSTOMERS_CSV, encoding="utf-8")
    ok(db_url, "customers", "import", str(tmp_path / "customers.csv"), "--at", T0)
    ok(db_url, "customers", "import", str(tmp_path / "customers.csv"), "--company", "BETA", "--at", T0)
    out = ok(db_url, "contracts", "import", write_csv(tmp_path / "contracts.csv", GOOD_ROWS), "--at", T0)
    assert "created 3" in out


# ============================================================================================ contracts
def test_contracts_create_add_position_list_show(db_url):
    ok(db_url, "customers", "add", "CUST", "--name", "Cust GmbH", "--timezone", "Europe/Berlin", "--currency", "EUR",
       "--payment-terms", "14", "--at", T0)
    out = ok(db_url, "contracts", "create", "RENT-1", "--company", "ACME", "--customer", "CUST", "--name", "Office rent",
             "--interval", "monthly", "--start", "2026-01-01", "--end", "2026-12-31", "--auto-finalize", "--auto-send",
             "--at", T0)
    assert "created" in out
    h = fast_head(db_url)
    # creating it again with the same data changes nothing
    assert "already exists" in ok(db_url, "contracts", "create", "RENT-1", "--company", "ACME", "--customer", "CUST",
                                  "--name", "Office rent", "--interval", "monthly", "--start", "2026-01-01",
                                  "--end", "2026-12-31", "--auto-finalize", "--auto-send", "--at", T0)
    assert fast_head(db_url) == h
    # with other data it is refused, naming the field
    rejected(db_url, "start_date", "contracts", "create", "RENT-1", "--company", "ACME", "--customer", "CUST",
             "--name", "Office rent", "--interval", "monthly", "--start", "2026-02-01",
             "--end", "2026-12-31", "--auto-finalize", "--auto-send", "--at", T0)
    ok(db_url, "contracts", "add-position", "RENT-1", "--position", "1", "--description", "Office rent", "--quantity", "1",
       "--unit-price", "1000.00", "--tax-rate", "19", "--attributes", '{"unit": "A1"}', "--at", T0)
    ok(db_url, "contracts", "add-position", "RENT-1", "--position", "2", "--description", "Cleaning", "--quantity", "1.5",
       "--unit-price", "40", "--tax-rate", "reduced", "--not-discountable", "--at", T0)

    rows = js(db_url, "contracts", "list", "--all-companies")
    assert [r["reference"] for r in rows] == ["RENT-1"]
    c = rows[0]
    assert (c["company"], c["customer"], c["name"], c["currency"], c["interval"]) == ("ACME", "CUST", "Office rent", "EUR", "MONTHLY")
    assert (c["start_date"], c["end_date"], c["next_run_date"], c["last_run_date"]) == ("2026-01-01", "2026-12-31", "2026-01-01", None)
    assert (c["active"], c["payment_terms_days"], c["auto_finalize"], c["auto_send"]) == (True, 14, True, True)
    assert [(p["position"], p["description"], p["quantity"], p["unit_price"], p["tax_rate"], p["tax_percent"], p["discountable"], p["attributes"])
            for p in c["positions"]] == [
        (1, "Office rent", "1", "1000.00", "standard", "19", True, {"unit": "A1"}),
        (2, "Cleaning", "1.5", "40.00", "reduced", "7", False, {}),
    ]
    assert shown(db_url, "contracts", "show", "RENT-1") == c


def test_the_cli_shows_contracts_and_invoices_written_by_another_process(db_url):
    """A service writes through the Python API (or another `billing` process ticks); a fresh `billing`
    process must catch its read models up on those contract and invoice events and show them."""
    from scheduler.tick import tick

    with Store(resolve(db_url)) as s:
        for company in ("ACME", "BETA"):
            add_customer(s, AddCustomer("CUST", "Cust GmbH", "Europe/Berlin", "EUR", 14, company=company), T0_DT)
        create_contract(s, CreateContract("C1", "ACME", "CUST", "Rent", "monthly", date(2026, 1, 1), auto_finalize=True,
                                          positions=(make_position(1, "Rent", "1", "100.00", "19", "EUR"),)), T0_DT)
        tick(s, datetime(2026, 2, 1, 12, tzinfo=timezone.utc), catch_up_after=False)  # read models left behind
    assert [r["reference"] for r in js(db_url, "contracts", "list", "--all-companies")] == ["C1"]
    assert [r["number"] for r in js(db_url, "invoices", "list", "--all-companies")] == ["INV-2026-000001", "INV-2026-000002"]
    assert [r["status"] for r in js(db_url, "contracts", "runs", "C1")] == ["SUCCESS", "SUCCESS"]


# ============================================================================================ tick and invoices
def test_tick_runs_contracts_and_invoice_documents_live_their_lifecycle(db_url, tmp_path):
    seed(db_url, tmp_path)
    summary = js(db_url, "tick", "--at", "2026-02-01T12:00:00Z")
    assert summary["counts"]["contract"] == {"issued": 3, "drafted": 1}
    # due order: RENT-1 Jan 1 (Berlin), DRAFT-1 Jan 15, BETA-1 Jan 31 (New York), RENT-1 Feb 1
    assert [(d["contract"], d["run_date"], d["number"]) for d in summary["issued"]] == [
        ("RENT-1", "2026-01-01", "INV-2026-000001"),
        ("DRAFT-1", "2026-01-15", None),
        ("BETA-1", "2026-01-31", "INV-2026-000001"),
        ("RENT-1", "2026-02-01", "INV-2026-000002"),
    ]

    rows = js(db_url, "invoices", "list", "--all-companies")
    assert len(rows) == 4
    for r in rows:
        assert INVOICE_KEYS <= set(r), f"missing keys: {INVOICE_KEYS - set(r)}"
    got = {(r["company"], r["number"]): r for r in rows}
    rent = got[("ACME", "INV-2026-000001")]
    assert (rent["kind"], rent["status"], rent["customer"], rent["source"], rent["currency"]) == (
        "INVOICE", "OVERDUE", "CUST", "contract:RENT-1", "EUR")
    assert (rent["issue_date"], rent["due_date"], rent["net"], rent["tax"], rent["gross"]) == (
        "2026-01-01", "2026-01-15", "1080.00", "195.60", "1275.60")
    assert [(ln["position"], ln["quantity"], ln["unit_price"], ln["net"], ln["tax_rate"]) for ln in rent["lines"]] == [
        (1, "1", "1000.00", "1000.00", "standard"), (2, "2", "40.00", "80.00", "reduced")]
    beta = got[("BETA", "INV-2026-000001")]
    assert (beta["status"], beta["currency"], beta["issue_date"], beta["due_date"], beta["gross"]) == (
        "ISSUED", "USD", "2026-01-31", "2026-03-02", "99.99")
    draft = got[("ACME", None)]
    assert (draft["status"], draft["source"], draft["issue_date"], draft["gross"]) == ("DRAFT", "contract:DRAFT-1", "2026-01-15", "1130.50")

    # filters
    assert [r["company"] for r in js(db_url, "invoices", "list", "--company", "BETA")] == ["BETA"]
    assert [r["customer"] for r in js(db_url, "invoices", "list", "--all-companies", "--customer", "USCUST")] == ["USCUST"]
    assert [r["source"] for r in js(db_url, "invoices", "list", "--status", "draft")] == ["contract:DRAFT-1"]
    assert sorted(r["issue_date"] for r in js(db_url, "invoices", "list", "--all-companies", "--from", "2026-01-10", "--to", "2026-01-31")) == [
        "2026-01-15", "2026-01-31"]

    # contracts runs: the audit trail
    trail = js(db_url, "contracts", "runs", "--all-companies")
    assert [(r["contract"], r["run_date"], r["status"], r["invoice_number"]) for r in trail] == [
        ("BETA-1", "2026-01-31", "SUCCESS", "INV-2026-000001"),
        ("DRAFT-1", "2026-01-15", "SUCCESS", None),
        ("RENT-1", "2026-01-01", "SUCCESS", "INV-2026-000001"),
        ("RENT-1", "2026-02-01", "SUCCESS", "INV-2026-000002"),
    ]

    # show: numbers are per company; the command's company ($BILLING_COMPANY here) decides
    assert shown(db_url, "invoices", "show", "INV-2026-000001")["gross"] == "1275.60"
    assert shown(db_url, "invoices", "show", "INV-2026-000001", "--company", "BETA")["source"] == "contract:BETA-1"

    # finalize the draft: the next number of ACME's series
    assert "INV-2026-000003" in ok(db_url, "invoices", "finalize", draft["id"], "--at", "2026-02-02T09:00:00Z")

    # pay partly, then the rest; overpaying is refused
    ok(db_url, "invoices", "pay", "INV-2026-000002", "--company", "ACME", "--amount", "275.60", "--at", "2026-02-03T09:00:00Z")
    rejected(db_url, "amount", "invoices", "pay", "INV-2026-000002", "--company", "ACME", "--amount", "1000.01",
             "--at", "2026-02-03T09:00:00Z")
    ok(db_url, "invoices", "pay", "INV-2026-000002", "--company", "ACME", "--amount", "1000.00", "--at", "2026-02-04T09:00:00Z")

    # credit note of one position: its own series, referencing the original
    out = ok(db_url, "invoices", "credit", "INV-2026-000001", "--company", "ACME", "--positions", "2", "--reason", "no cleaning",
             "--at", "2026-02-05T09:00:00Z")
    assert "CN-2026-000001" in out
    cn = shown(db_url, "invoices", "show", "CN-2026-000001")
    assert (cn["kind"], cn["references"], cn["net"], cn["tax"], cn["gross"], cn["issue_date"]) == (
        "CREDIT_NOTE", "INV-2026-000001", "80.00", "5.60", "85.60", "2026-02-05")

    # void the finalized draft (issued, unpaid)
    ok(db_url, "invoices", "void", "INV-2026-000003", "--company", "ACME", "--reason", "duplicate", "--at", "2026-02-06T09:00:00Z")
    final = {(r["company"], r["number"]): r for r in js(db_url, "invoices", "list", "--company", "ACME")}
    assert {k[1]: (v["kind"], v["status"], v["paid"], v["credited"], v["balance"]) for k, v in final.items()} == {
        "INV-2026-000001": ("INVOICE", "OVERDUE", "0.00", "85.60", "1190.00"),
        "INV-2026-000002": ("INVOICE", "PAID", "1275.60", "0.00", "0.00"),
        "INV-2026-000003": ("INVOICE", "VOID", "0.00", "0.00", "1130.50"),
        "CN-2026-000001": ("CREDIT_NOTE", "ISSUED", "0.00", "0.00", "85.60"),
    }

    # the outbox holds RENT-1's issued invoices (auto-send) until they are marked sent
    assert [(o["number"], o["company"], o["customer"]) for o in js(db_url, "invoices", "outbox")] == [
        ("INV-2026-000001", "ACME", "CUST"), ("INV-2026-000002", "ACME", "CUST")]
    ok(db_url, "invoices", "mark-sent", "INV-2026-000001", "--company", "ACME", "--channel", "email", "--at", "2026-02-07T09:00:00Z")
    assert [o["number"] for o in js(db_url, "invoices", "outbox")] == ["INV-2026-000002"]


def test_tick_dry_run_company_filter_and_idempotency(db_url, tmp_path):
    seed(db_url, tmp_path)
    at = "2026-03-01T12:00:00Z"
    h = fast_head(db_url)
    dry = js(db_url, "tick", "--at", at, "--dry-run")
    assert dry["dry_run"] is True and dry["events"] > 0
    assert fast_head(db_url) == h
    assert js(db_url, "invoices", "list", "--all-companies") == []

    beta = js(db_url, "tick", "--at", at, "--company", "BETA")
    assert {d["company"] for d in beta["issued"]} == {"BETA"}
    assert [d["run_date"] for d in beta["issued"]] == ["2026-01-31", "2026-02-28"]
    assert {r["company"] for r in js(db_url, "invoices", "list", "--all-companies")} == {"BETA"}

    real = js(db_url, "tick", "--at", at)
    assert [d for d in dry["issued"] if d["company"] == "ACME"] == real["issued"]
    h = fast_head(db_url)
    again = js(db_url, "tick", "--at", at)
    assert (again["issued"], again["events"]) == ([], 0)
    assert fast_head(db_url) == h
    runs = js(db_url, "contracts", "runs", "--all-companies")
    assert len(runs) == 6
    assert [(r["contract"], r["run_date"]) for r in runs if r["contract"] != "RENT-1"] == [
        ("BETA-1", "2026-01-31"), ("BETA-1", "2026-02-28"), ("DRAFT-1", "2026-01-15")]
    assert len({(r["contract"], r["run_date"]) for r in runs}) == 6

    # after RENT-1 ran on Jan 1 and Feb 1 and Mar 1, an import may not end it before its last run
    ended = [list(r) for r in GOOD_ROWS]
    for r in ended:
        if r[0] == "RENT-1":
            r[6] = "2026-01-15"
    r = rejected(db_url, "end_date", "contracts", "import", write_csv(tmp_path / "ended.csv", ended), "--at", at)
    assert "line 2: end_date:" in r.stderr, r.stderr


# ============================================================================================ import
def test_contracts_import_then_again_changes_nothing(db_url, tmp_path):
    seed(db_url, tmp_path)
    rows = {r["reference"]: r for r in js(db_url, "contracts", "list", "--all-companies")}
    assert sorted(rows) == ["BETA-1", "DRAFT-1", "RENT-1"]
    rent, draft, beta = rows["RENT-1"], rows["DRAFT-1"], rows["BETA-1"]
    assert (rent["company"], rent["auto_finalize"], rent["auto_send"], rent["payment_terms_days"]) == ("ACME", True, True, 14)
    assert [(p["position"], p["quantity"], p["unit_price"], p["tax_rate"], p["discountable"], p["attributes"]) for p in rent["positions"]] == [
        (1, "1", "1000.00", "standard", True, {"unit": "A1"}), (2, "2", "40.00", "reduced", False, {})]
    # empty currency and terms: the customer's
    assert (draft["interval"], draft["end_date"], draft["currency"], draft["payment_terms_days"], draft["auto_finalize"]) == (
        "QUARTERLY", "2026-12-31", "EUR", 14, False)
    assert (beta["currency"], beta["next_run_date"], beta["customer"]) == ("USD", "2026-01-31", "USCUST")

    h = head(db_url)
    out = ok(db_url, "contracts", "import", str(tmp_path / "contracts.csv"), "--at", "2026-01-02T00:00:00Z")
    assert "unchanged 3" in out
    assert head(db_url) == h

    # a changed file brings the contracts up to date: a price change, a removed position
    changed = [list(r) for r in GOOD_ROWS if not (r[0] == "RENT-1" and r[12] == "2")]
    changed[0][15] = "1100.00"
    out = ok(db_url, "contracts", "import", write_csv(tmp_path / "changed.csv", changed), "--at", "2026-01-03T00:00:00Z")
    assert "updated 1" in out and "unchanged 2" in out
    rent = shown(db_url, "contracts", "show", "RENT-1")
    assert [(p["position"], p["unit_price"]) for p in rent["positions"]] == [(1, "1100.00")]

    # rows that disagree on a contract's fields, or change what cannot change, reject the file
    rows = [list(r) for r in GOOD_ROWS]
    rows[1][3] = "Another name"     # line 3 disagrees with line 2 on the name of RENT-1
    rows[3][8] = "EUR"              # line 5: BETA-1 exists in USD; its currency cannot change
    r = rejected(db_url, "name", "contracts", "import", write_csv(tmp_path / "bad.csv", rows), "--at", T0)
    assert "line 3: name:" in r.stderr and "line 5: currency:" in r.stderr, r.stderr


def test_contracts_import_with_bad_rows_is_rejected_whole_listing_every_bad_line(db_url, tmp_path):
    (tmp_path / "customers.csv").write_text(CUSTOMERS_CSV, encoding="utf-8")
    ok(db_url, "customers", "import", str(tmp_path / "customers.csv"), "--at", T0)
    base = ["ACME", "CUST", "Name", "monthly", "2026-01-01", "", "", "EUR", "14", "true", "false"]
    good_pos = ["1", "Rent", "1", "100.00", "19", "true", ""]
    rows = [
        ["GOOD-1", *base, *good_pos],                                                              # line 2: fine
        ["GOOD-1", *base, "2", "Extra", "-1", "10.00", "19", "true", ""],                          # 3: quantity
        ["B-END", "ACME", "CUST", "Name", "monthly", "2026-02-01", "2026-01-31", "", "EUR", "14", "true", "false", *good_pos],  # 4: end_date
        ["B-CUST", "ACME", "NOBODY", *base[2:], *good_pos],                                        # 5: customer
        ["B-TAX", *base, *good_pos],                                                               # 6: fine row ...
        ["B-TAX", *base, "2", "Extra", "1", "10.00", "16", "true", ""],                            # 7: tax_rate
        ["B-TAX", *base, "1", "Again", "1", "10.00", "19", "true", ""],                            # 8: position (twice)
        ["B-CUR", "ACME", "CUST", "Name", "monthly", "2026-01-01", "", "", "XYZ", "14", "true", "false", *good_pos],  # 9: currency
        ["B-PRICE", *base, "1", "Rent", "1", "10.001", "19", "true", ""],                          # 10: unit_price
        ["B-QTY", *base, "1", "Rent", "1.23456", "10.00", "19", "true", ""],                       # 11: quantity
        ["B-NEXT", "ACME", "CUST", "Name", "monthly", "2026-02-01", "", "2026-01-01", "EUR", "14", "true", "false", *good_pos],  # 12: next_run_date
        ["B-INT", "ACME", "CUST", "Name", "weekly", "2026-01-01", "", "", "EUR", "14", "true", "false", *good_pos],  # 13: interval
        ["B-DATE", "ACME", "CUST", "Name", "monthly", "2026-02-30", "", "", "EUR", "14", "true", "false", *good_pos],  # 14: start_date
    ]
    path = write_csv(tmp_path / "bad.csv", rows)
    r = rejected(db_url, "quantity", "contracts", "import", path, "--at", T0)
    expected = {3: "quantity", 4: "end_date", 5: "customer", 7: "tax_rate", 8: "position", 9: "currency",
                10: "unit_price", 11: "quantity", 12: "next_run_date", 13: "interval", 14: "start_date"}
    for line, field in expected.items():
        assert f"line {line}: {field}:" in r.stderr, f"line {line} ({field}) not listed:\n{r.stderr}"
    assert "line 2:" not in r.stderr and "line 6:" not in r.stderr
    assert js(db_url, "contracts", "list", "--all-companies") == []


# (the bad-input cases of contracts are the shared suite's: scenarios/contracts.py, test_sources.py)
