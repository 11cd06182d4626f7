"""Regression tests of issue 6: the time rules, the invoice lifecycle and the reports and commands found
wanting by trying the engine as a new user would (items 2, 3, 5-20, 22, 25). Each test names its rule.

The store is set up through the Python API (the same commands the CLI calls) and then used through the
real ``billing`` CLI in subprocesses.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

import psycopg
import pytest

from commands.app import Store
from commands.config import resolve
from commands.contracts import CreateContract, create_contract
from commands.customers import AddCustomer, add_customer, set_consolidation
from conftest import BILLING, PG_URL, ROOT, require_postgres, run_cli
from domain.contract import make_position
from scheduler.tick import tick
from support import head, js, ok, rejected

UTC = timezone.utc
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def noon(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 12, tzinfo=UTC)


def contracts_store(url: str) -> None:
    """CUST (Berlin, EUR, 14 days) with RENT (auto-finalized, 2 positions, auto-send) and DRAFTS (drafts),
    both monthly from 2026-01-01, ticked to 2026-05-01: RENT has INV-2026-000001..5, DRAFTS five drafts."""
    with Store(resolve(url)) as s:
        add_customer(s, AddCustomer("CUST", "Cust Ltd", "Europe/Berlin", "EUR", 14, True), T0)
        set_consolidation(s, "CUST", "weekly", 1, date(2026, 1, 5), T0)
        create_contract(s, CreateContract("RENT", "default", "CUST", "Rent", "monthly", date(2026, 1, 1), auto_finalize=True,
                                          auto_send=True, positions=(make_position(1, "Office", "1", "100.00", "19", "EUR"),
                                                                     make_position(2, "Parking", "1", "31.50", "19", "EUR"))), T0)
        create_contract(s, CreateContract("DRAFTS", "default", "CUST", "Consulting", "monthly", date(2026, 1, 1),
                                          positions=(make_position(1, "Advice", "1", "50.00", "19", "EUR"),)), T0)
        tick(s, noon(2026, 5, 1))


# ============================================================================================ items 2, 11
def test_a_contract_line_is_credited_at_most_once(db_url):
    """Rule: per line, what is credited never exceeds what was invoiced; duplicates in --positions are a
    usage error; a credit note is neither paid nor voided, and every non-positive payment gets one message."""
    contracts_store(db_url)
    at = "2026-05-02T10:00:00Z"
    out = ok(db_url, "invoices", "credit", "INV-2026-000003", "--positions", "2", "--reason", "no parking", "--at", at)
    assert "CN-2026-000001" in out and "37.49" in out
    r = rejected(db_url, "positions", "invoices", "credit", "INV-2026-000003", "--positions", "2", "--at", at)
    assert "CN-2026-000001" in r.stderr
    rejected(db_url, "positions", "invoices", "credit", "INV-2026-000004", "--positions", "1,1", "--at", at)
    rejected(db_url, "positions", "invoices", "credit", "INV-2026-000004", "--positions", "7", "--at", at)
    # "everything" credits what is left, and the notes add up to the invoice to the cent
    ok(db_url, "invoices", "credit", "INV-2026-000003", "--at", at)
    inv = js(db_url, "invoices", "show", "INV-2026-000003")
    assert (inv["status"], inv["credited"], inv["gross"]) == ("CREDITED", inv["gross"], "156.49")
    notes = js(db_url, "invoices", "list", "--kind", "CREDIT_NOTE")
    assert [n["reason"] for n in notes] == ["no parking", ""]
    rejected(db_url, "status", "invoices", "credit", "INV-2026-000003", "--at", at)
    # messages that agree with each other
    r = rejected(db_url, "number", "invoices", "pay", "CN-2026-000001", "--at", at)
    assert "credit note" in r.stderr and "ISSUED" not in r.stderr
    neg = rejected(db_url, "amount", "invoices", "pay", "INV-2026-000004", "--amount", "-5", "--at", at)
    zero = rejected(db_url, "amount", "invoices", "pay", "INV-2026-000004", "--amount", "0", "--at", at)
    assert "greater than zero" in neg.stderr and "greater than zero" in zero.stderr


# ============================================================================================ items 5, 6, 8, 10
def test_business_time_never_runs_back_and_finalized_drafts_are_dated_the_day_they_are_issued(db_url):
    """Rules: a command's business time is never before the last event of any aggregate it changes
    (Conflict naming both instants); a finalized draft is dated the day it is issued, due from then, its
    run date kept as the service period; numbers and issue dates never run in opposite directions; the run
    history shows the finalized number; the draft identifier a list shows is accepted by the commands."""
    contracts_store(db_url)
    r = rejected(db_url, "at", "invoices", "pay", "INV-2026-000004", "--amount", "10", "--at", "2025-01-01T00:00:00Z")
    assert "2025-01-01T00:00:00+00:00" in r.stderr and "2026-" in r.stderr
    listed = ok(db_url, "invoices", "list", "--status", "DRAFT")
    drafts = [d for d in js(db_url, "invoices", "list", "--status", "DRAFT")]
    assert len(drafts) == 5 and all(f"(draft {d['id'][:8]})" in listed for d in drafts)
    numbers = []
    for d in sorted(drafts, key=lambda d: d["period_start"]):
        numbers.append(ok(db_url, "invoices", "finalize", d["id"][:8], "--at", "2026-05-02T09:00:00Z").split(":")[0])
    assert numbers == [f"INV-2026-{n:06d}" for n in range(6, 11)]
    issued = js(db_url, "invoices", "list", "--status", "ISSUED", "--limit", "0")
    by_number = {i["number"]: i for i in issued}
    for n in numbers:
        assert (by_number[n]["issue_date"], by_number[n]["due_date"]) == ("2026-05-02", "2026-05-16")
    assert sorted(by_number[n]["period_start"] for n in numbers) == ["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01", "2026-05-01"]
    everything = sorted(js(db_url, "invoices", "list", "--kind", "INVOICE", "--limit", "0"), key=lambda i: i["number"])
    dates = [i["issue_date"] for i in everything]
    assert dates == sorted(dates), "numbers and issue dates run in opposite directions"
    runs = js(db_url, "contracts", "runs", "DRAFTS")
    assert [r["invoice_number"] for r in runs] == numbers
    # a finalize dated before the last number of its series is refused
    with Store(resolve(db_url)) as s:
        tick(s, noon(2026, 6, 1))
    late = [d for d in js(db_url, "invoices", "list", "--status", "DRAFT")][0]
    rejected(db_url, "at", "invoices", "finalize", late["id"], "--at", "2026-05-15T00:00:00Z")


def test_consolidated_payment_before_the_invoice_was_issued_is_refused(db_url):
    """Rule: the time rule on every aggregate, consolidated invoices included."""
    contracts_store(db_url)
    ok(db_url, "invoices", "record", "A-1", "--customer", "CUST", "--issued-at", "2026-05-05T10:00:00Z",
       "--amount", "20.00", "--currency", "EUR", "--at", "2026-05-05T10:00:00Z")
    ok(db_url, "tick", "--at", "2026-05-12T00:00:00Z")
    r = rejected(db_url, "at", "consolidated", "pay", "CONS-2026-W19-001", "--amount", "20.00", "--at", "2026-05-10T00:00:00Z")
    assert "2026-05-10T00:00:00+00:00" in r.stderr


# ============================================================================================ items 3, 9, 12, 13, 22
def test_values_out_of_range_are_errors_never_coerced(db_url, tmp_path):
    """Rules: an out-of-range value is an error, never coerced (--start-day 0); mark-sent only takes an
    invoice of the outbox that is not void; a CSV column may appear once; an instant has an offset (a bare
    date is refused with a hint); text in number fields is a validation error naming the field."""
    contracts_store(db_url)
    rejected(db_url, "start_day", "customers", "consolidation", "CUST", "weekly", "--start-day", "0", "--at", "2026-05-02T00:00:00Z")
    rejected(db_url, "start_day", "customers", "consolidation", "CUST", "monthly", "--start-day", "29", "--at", "2026-05-02T00:00:00Z")
    ok(db_url, "invoices", "void", "INV-2026-000005", "--at", "2026-05-02T00:00:00Z")
    rejected(db_url, "status", "invoices", "mark-sent", "INV-2026-000005", "--at", "2026-05-02T01:00:00Z")
    with Store(resolve(db_url)) as s:
        create_contract(s, CreateContract("QUIET", "default", "CUST", "No outbox", "monthly", date(2026, 5, 1), auto_finalize=True,
                                          positions=(make_position(1, "Thing", "1", "1.00", "19", "EUR"),)), noon(2026, 5, 1))
        tick(s, noon(2026, 5, 2))
    quiet = js(db_url, "invoices", "list", "--customer", "CUST", "--limit", "0")
    number = [i["number"] for i in quiet if i["source"] == "contract:QUIET"][0]
    rejected(db_url, "number", "invoices", "mark-sent", number, "--at", "2026-05-02T13:00:00Z")
    rejected(db_url, "issued_at", "invoices", "record", "B-1", "--customer", "CUST", "--issued-at", "2026-01-06",
             "--amount", "1.00", "--currency", "EUR", "--at", "2026-05-02T13:00:00Z")
    header = "customer,number,issued_at,amount,amount,currency,status,attributes\n"
    (tmp_path / "dup.csv").write_text(header + "CUST,C-1,2026-05-02T10:00:00Z,1.00,2.00,EUR,issued,\n", encoding="utf-8")
    bad_rows = {
        "customers.csv": ("reference,name,timezone,currency,payment_terms_days,approved,consolidation,start_day,consolidate_from\n"
                          "X1,X,Europe/Berlin,EUR,²,true,none,,\nX2,X,Europe/Berlin,EUR,30,true,weekly,--5,\n"
                          "X3,X,Europe/Berlin,EUR,30,true,weekly,1,9999-12-31\n", ["line 2: payment_terms_days", "line 3: start_day", "line 4: consolidate_from"]),
        "contracts.csv": ("reference,company,customer,name,interval,start_date,end_date,next_run_date,currency,payment_terms_days,"
                          "auto_finalize,auto_send,position,description,quantity,unit_price,tax_rate,discountable,attributes\n"
                          "K9,,CUST,K,monthly,2026-05-01,,,,,false,false,²,D,1,1.00,19,,\n"
                          f"K8,,CUST,K,monthly,2026-05-01,,,,,false,false,1,D,{'9' * 401},1.00,19,,\n",
                          ["line 2: position", "line 3: quantity"]),
    }
    before = head(db_url)
    r = run_cli(db_url, "invoices", "import", str(tmp_path / "dup.csv"), "--at", "2026-05-02T13:00:00Z")
    assert r.returncode == 2 and "line 1: amount: column is given 2 times" in r.stderr, r.stderr
    for name, (text, expected) in bad_rows.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        r = run_cli(db_url, name.split(".")[0], "import", str(tmp_path / name), "--at", "2026-05-02T13:00:00Z")
        assert r.returncode == 2 and "Traceback" not in r.stderr and "unexpected" not in r.stderr, r.stderr
        for line in expected:
            assert f"{line}:" in r.stderr, r.stderr
    assert head(db_url) == before


# ============================================================================================ items 14-17, 19
def test_reports_and_commands_do_what_they_say(db_url, tmp_path):
    """Rules: show commands take --json; reads never create a store; an unknown reference given as a filter
    is an error; lists are paginated (--limit, default 100, --offset, and a line saying how many more);
    --debug is accepted anywhere; --version answers."""
    contracts_store(db_url)
    for args in (["customers", "show", "CUST"], ["contracts", "show", "RENT"], ["invoices", "show", "INV-2026-000001"]):
        assert js(db_url, *args)
    rejected(db_url, "customer", "consolidated", "list", "--customer", "NOPE")
    rejected(db_url, "contract", "contracts", "runs", "NOPE")
    rejected(db_url, "company", "tick", "--company", "NOPE", "--at", "2026-05-02T00:00:00Z")
    rejected(db_url, "customer", "invoices", "list", "--customer", "NOPE")
    r = run_cli(db_url, "invoices", "list", "--limit", "2")
    assert r.returncode == 0 and "rows 1-2 of 10: 8 more (next page: --offset 2)" in r.stderr, r.stderr
    page2 = js(db_url, "invoices", "list", "--limit", "2", "--offset", "2")
    everything = js(db_url, "invoices", "list", "--limit", "0")
    assert [i["id"] for i in page2] == [i["id"] for i in everything[2:4]] and len(everything) == 10
    r = run_cli(db_url, "invoices", "list", "--bogus", "--debug")
    assert r.returncode == 2 and "error: usage:" in r.stderr
    r = run_cli(db_url, "customers", "list", "--debug")
    assert r.returncode == 0
    r = run_cli(db_url, "--version")
    assert r.returncode == 0 and r.stdout.startswith("billing ")
    # reads on a mistyped path name it and create nothing
    missing = tmp_path / "typo.db"
    for args in (["customers", "list"], ["projections", "status"], ["invoices", "show", "INV-2026-000001"]):
        r = run_cli(f"sqlite:///{missing}", *args)
        assert r.returncode == 2 and str(missing) in r.stderr and "error: database_url:" in r.stderr, r.stderr
    assert not missing.exists()


def test_a_read_only_database_location_is_named_with_its_cause(tmp_path):
    """Rule: an unusable SQLite location gets a message naming the path and the cause."""
    if os.geteuid() == 0:
        # root writes anywhere: a file in place of the directory is what root cannot get past
        blocker = tmp_path / "not-a-dir"
        blocker.write_text("x")
        r = run_cli(f"sqlite:///{blocker}/billing.db", "customers", "add", "A", "--name", "A", "--timezone", "UTC",
                    "--currency", "EUR", "--at", "2026-01-01T00:00:00Z")
        assert r.returncode == 2 and str(blocker) in r.stderr and "Traceback" not in r.stderr, r.stderr
        r = run_cli(f"sqlite:///{tmp_path}", "customers", "list")
        assert r.returncode == 1 and "is a directory" in r.stderr and str(tmp_path) in r.stderr, r.stderr
        return
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    r = run_cli(f"sqlite:///{ro}/billing.db", "customers", "add", "A", "--name", "A", "--timezone", "UTC",
                "--currency", "EUR", "--at", "2026-01-01T00:00:00Z")
    assert r.returncode == 1 and str(ro) in r.stderr and "not writable" in r.stderr, r.stderr


# ============================================================================================ item 25
def test_losing_the_database_mid_tick_is_one_line_and_quick():
    """Rule: a database lost mid-tick is the documented one-line database error (exit 1), given up on in
    seconds, not a SQL dump labelled "unexpected" after half a minute."""
    require_postgres()
    name = "billing_lost_" + uuid.uuid4().hex[:8]
    params = resolve(PG_URL).pg_params
    with psycopg.connect(autocommit=True, **params) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql://{params['user']}@{params['host']}:{params['port']}/{name}"
    try:
        with Store(resolve(url)) as s:
            add_customer(s, AddCustomer("CUST", "Cust", "Europe/Berlin", "EUR"), T0)
            for i in range(1500):
                create_contract(s, CreateContract(f"K{i:05d}", "default", "CUST", "n", "monthly", date(2024, 1, 1),
                                                  auto_finalize=True, positions=(make_position(1, "x", "1", "1.00", "19", "EUR"),)), T0)
        env = dict(os.environ, BILLING_DATABASE_URL=url)
        proc = subprocess.Popen([BILLING, "tick", "--at", "2026-12-01T00:00:00Z"], env=env, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with psycopg.connect(autocommit=True, dbname=name, **{k: v for k, v in params.items() if k != "dbname"}) as conn:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                if conn.execute("SELECT count(*) FROM billing_events WHERE topic = 'billing:Contract.RunRecorded'").fetchone()[0]:
                    break
                time.sleep(0.05)
        assert proc.poll() is None, "the tick ended before the database could be dropped"
        with psycopg.connect(autocommit=True, **params) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        dropped = time.monotonic()
        _out, err = proc.communicate(timeout=120)
        waited = time.monotonic() - dropped
        assert proc.returncode == 1, err
        lines = [ln for ln in err.splitlines() if ln.strip() and not ln.lstrip().startswith("tick")]
        assert len(lines) == 1 and lines[0].startswith("error: the database is unavailable:"), err
        assert "unexpected" not in err and "[SQL" not in err and "Traceback" not in err
        assert waited < 15, f"gave up {waited:.1f} s after the database was dropped"
    finally:
        with psycopg.connect(autocommit=True, **params) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("args", [["--help"], ["customers", "--help"]])
def test_help_needs_no_store_and_no_database_library(args, tmp_path):
    """Rule (item 18): help is served without opening a store or importing the database libraries."""
    code = ("import sys; from commands.cli import main; rc = main(sys.argv[1:]); "
            "heavy = [m for m in ('sqlalchemy', 'psycopg', 'eventsourcing', 'rich') if m in sys.modules]; "
            "print('HEAVY', heavy, file=sys.stderr); sys.exit(rc)")
    r = subprocess.run([os.path.join(os.path.dirname(BILLING), "python"), "-c", code, *args], capture_output=True, text=True,
                       cwd=tmp_path, env=dict(os.environ, BILLING_DATABASE_URL=f"sqlite:///{tmp_path}/x.db"))
    assert r.returncode == 0 and "Usage:" in r.stdout
    assert "HEAVY []" in r.stderr, r.stderr
    assert not (tmp_path / "x.db").exists()
