"""``billing customers import`` and ``billing invoices import`` as real subprocesses, on both backends.

An import file is validated as a whole before anything is written (a bad file is rejected listing every
bad row with its line number and field), writing is idempotent (importing a file again changes nothing),
and after a crash half-way importing the same file again completes it exactly.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from commands.app import Store
from commands.config import resolve
from conftest import BILLING, ROOT, run_cli
from support import head, js, ok

T0 = "2026-01-01T00:00:00Z"

CUSTOMER_HEADER = ["reference", "name", "timezone", "currency", "payment_terms_days", "approved", "consolidation",
                   "start_day", "consolidate_from"]
INVOICE_HEADER = ["customer", "number", "issued_at", "amount", "currency", "status", "attributes"]


# ============================================================================================ helpers
def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow(["" if v is None else v for v in r])
    return path


def counts(output: str, what: str) -> dict[str, int]:
    """Parse ``<what>: recorded 3, unchanged 1`` from an import's output."""
    line = next(line for line in output.splitlines() if line.startswith(f"{what}:"))
    out = {}
    for part in line.split(":", 1)[1].split(","):
        name, value = part.split()
        out[name] = int(value)
    return out


def rejected_import(db_url: str, kind: str, path: Path, expected: list[tuple[int, str]], at: str = "2026-01-20T00:00:00Z") -> str:
    """Import ``path``; it must be rejected as a whole: exit 2, every ``(line, field)`` of ``expected`` listed
    on stderr, no traceback, and nothing written. Returns stderr."""
    before = head(db_url)
    r = run_cli(db_url, kind, "import", str(path), "--at", at)
    assert r.returncode == 2, f"expected exit 2, got {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr
    missing = [f"line {line}: {field}:" for line, field in expected if f"line {line}: {field}:" not in r.stderr]
    assert not missing, f"stderr does not list {missing}:\n{r.stderr}"
    assert head(db_url) == before, "a rejected import wrote events"
    return r.stderr


def topic_events(db_url: str, topic: str) -> list[Any]:
    """Every stored event of ``topic``, as domain events, in notification order."""
    import commands.customers  # noqa: F401 - registers the domain's topics
    import commands.individual_invoices  # noqa: F401

    out = []
    with Store(resolve(db_url)) as s:
        start = 1
        while True:
            page = s.recorder.select_notifications(start, 2000, topics=(topic,))
            if not page:
                break
            out.extend(s.app.mapper.to_domain_event(n) for n in page)
            start = page[-1].id + 1
    return out


def import_customers(db_url: str, tmp_path: Path, rows: list[list[Any]], name: str = "customers.csv",
                     at: str = T0) -> dict[str, int]:
    path = write_csv(tmp_path / name, CUSTOMER_HEADER, rows)
    return counts(ok(db_url, "customers", "import", str(path), "--at", at), "customers")


def import_invoices(db_url: str, tmp_path: Path, rows: list[list[Any]], name: str = "invoices.csv",
                    at: str = "2026-01-20T00:00:00Z") -> dict[str, int]:
    path = write_csv(tmp_path / name, INVOICE_HEADER, rows)
    return counts(ok(db_url, "invoices", "import", str(path), "--at", at), "invoices")


GOOD_CUSTOMERS = [
    ["ACME", "Acme GmbH", "Europe/Berlin", "EUR", "14", "true", "weekly", "1", "2026-01-05"],
    ["BETA", "Beta Inc", "America/New_York", "USD", "30", "yes", "monthly", "1", "2026-01-01"],
    ["GAMMA", "Gamma KK", "Asia/Tokyo", "JPY", "", "no", "none", "", ""],
]


# ============================================================================================ customers
def test_customers_import_good_file_then_again_changes_nothing(db_url, tmp_path):
    got = import_customers(db_url, tmp_path, GOOD_CUSTOMERS)
    assert got == {"created": 3, "updated": 0, "unchanged": 0}
    rows = {r["reference"]: r for r in js(db_url, "customers", "list")}
    assert {k: (r["name"], r["timezone"], r["currency"], r["payment_terms_days"], r["approved"], r["consolidation"],
                r["start_day"], r["consolidate_from"]) for k, r in rows.items()} == {
        "ACME": ("Acme GmbH", "Europe/Berlin", "EUR", 14, True, "WEEKLY", 1, "2026-01-05"),
        "BETA": ("Beta Inc", "America/New_York", "USD", 30, True, "MONTHLY", 1, "2026-01-01"),
        "GAMMA": ("Gamma KK", "Asia/Tokyo", "JPY", 30, False, "NONE", None, None),
    }
    before = head(db_url)
    # The same file again (even at a later instant) changes nothing.
    out = ok(db_url, "customers", "import", str(tmp_path / "customers.csv"), "--at", "2026-02-01T00:00:00Z")
    assert counts(out, "customers") == {"created": 0, "updated": 0, "unchanged": 3}
    assert "unchanged 3" in out
    assert head(db_url) == before
    # A changed row updates that customer only.
    changed = [list(r) for r in GOOD_CUSTOMERS]
    changed[2][1] = "Gamma Kabushiki Kaisha"
    assert import_customers(db_url, tmp_path, changed, "changed.csv") == {"created": 0, "updated": 1, "unchanged": 2}
    assert {r["reference"]: r["name"] for r in js(db_url, "customers", "list")}["GAMMA"] == "Gamma Kabushiki Kaisha"


def test_customers_import_empty_consolidate_from_is_the_local_date_of_at(db_url, tmp_path):
    rows = [
        ["LA", "Los Angeles", "America/Los_Angeles", "USD", "30", "true", "weekly", "1", ""],
        ["TOKYO", "Tokyo", "Asia/Tokyo", "JPY", "30", "true", "monthly", "1", ""],
        ["UTC", "Utc", "UTC", "EUR", "30", "true", "weekly", "3", ""],
    ]
    # 02:00 UTC on March 1: still Feb 28 in Los Angeles, already March 1 in Tokyo.
    import_customers(db_url, tmp_path, rows, at="2026-03-01T02:00:00Z")
    got = {r["reference"]: r["consolidate_from"] for r in js(db_url, "customers", "list")}
    assert got == {"LA": "2026-02-28", "TOKYO": "2026-03-01", "UTC": "2026-03-01"}


def test_customers_import_rejects_the_whole_file_listing_every_bad_row(db_url, tmp_path):
    import_customers(db_url, tmp_path, [GOOD_CUSTOMERS[0]], "first.csv")
    rows = [
        ["NEW1", "New One", "Europe/Paris", "EUR", "30", "true", "weekly", "1", "2026-01-05"],  # line 2: good
        ["BAD1", "Bad tz", "Mars/Olympus", "EUR", "30", "true", "none", "", ""],  # 3
        ["BAD2", "Bad currency", "Europe/Paris", "XYZ", "30", "true", "none", "", ""],  # 4
        ["BAD3", "Weekly 8", "Europe/Paris", "EUR", "30", "true", "weekly", "8", ""],  # 5
        ["BAD4", "Monthly 29", "Europe/Paris", "EUR", "30", "true", "monthly", "29", ""],  # 6
        ["BAD5", "Approved?", "Europe/Paris", "EUR", "30", "maybe", "none", "", ""],  # 7
        ["BAD6", "Terms", "Europe/Paris", "EUR", "abc", "true", "none", "", ""],  # 8
        ["BAD7", "Daily", "Europe/Paris", "EUR", "30", "true", "daily", "1", ""],  # 9
        ["BAD8", "From", "Europe/Paris", "EUR", "30", "true", "weekly", "1", "2026/01/05"],  # 10
        ["NEW1", "New One again", "Europe/Paris", "EUR", "30", "true", "weekly", "1", "2026-01-05"],  # 11: twice
        ["ACME", "Acme GmbH", "Europe/Paris", "EUR", "14", "true", "weekly", "1", "2026-01-05"],  # 12: tz changes
        ["BAD9", "Weekly without day", "Europe/Paris", "EUR", "30", "true", "weekly", "", ""],  # 13
        ["NEW2", "New Two", "UTC", "GBP", "0", "false", "monthly", "28", ""],  # line 14: good
    ]
    path = write_csv(tmp_path / "bad.csv", CUSTOMER_HEADER, rows)
    err = rejected_import(db_url, "customers", path, [
        (3, "timezone"), (4, "currency"), (5, "start_day"), (6, "start_day"), (7, "approved"),
        (8, "payment_terms_days"), (9, "consolidation"), (10, "consolidate_from"), (11, "reference"),
        (12, "timezone"), (13, "start_day"),
    ])
    for good_line in (2, 14):
        assert f"line {good_line}:" not in err
    # Nothing was written, not even the good rows.
    assert [r["reference"] for r in js(db_url, "customers", "list")] == ["ACME"]


def test_customers_import_after_a_crash_half_way_completes(db_url, tmp_path):
    rows = [[f"C{i:03d}", f"Customer {i}", "Europe/Berlin", "EUR", "30", "true", "weekly", "1", "2026-01-05"]
            for i in range(120)]
    # The first batches were written before the crash: the same rows as a file of their own.
    assert import_customers(db_url, tmp_path, rows[:60], "half.csv")["created"] == 60
    assert import_customers(db_url, tmp_path, rows, "full.csv") == {"created": 60, "updated": 0, "unchanged": 60}
    created = topic_events(db_url, "billing:Customer.Created")
    assert sorted(e.reference for e in created) == [r[0] for r in rows]
    regimes = Counter(e.originator_id for e in topic_events(db_url, "billing:Customer.ConsolidationSet"))
    assert len(regimes) == 120 and set(regimes.values()) == {1}


# ============================================================================================ invoices
def _good_invoices() -> list[list[Any]]:
    return [
        ["ACME", "A1", "2026-01-06T09:00:00Z", "10.00", "EUR", "issued", json.dumps({"flight": "UA1545", "seats": 3})],
        ["ACME", "A2", "2026-01-07T09:00:00+01:00", "5.5", "EUR", "", ""],
        ["ACME", "A3", "2026-01-13T09:00:00Z", "1.00", "EUR", "issued", "{}"],
        ["ACME", "A4", "2026-01-08T09:00:00Z", "99.99", "EUR", "cancelled", ""],
        ["BETA", "B1", "2026-01-15T12:00:00Z", "100.00", "USD", "issued", ""],
        ["BETA", "B2", "2026-02-01T03:00:00Z", "20.00", "USD", "ISSUED", ""],
        ["GAMMA", "G1", "2026-01-10T00:00:00Z", "1500", "JPY", "issued", json.dumps({"note": "yen"})],
    ]


def test_invoices_import_good_file_then_again_changes_nothing(db_url, tmp_path):
    import_customers(db_url, tmp_path, GOOD_CUSTOMERS)
    got = import_invoices(db_url, tmp_path, _good_invoices())
    # A4 (cancelled) is recorded and cancelled at once; G1 (no consolidation) stays individual.
    assert (got["recorded"], got["cancelled"], got["unchanged"]) == (7, 1, 0)
    assert got["consolidating"] == 5
    rows = {r["number"]: r for r in js(db_url, "invoices", "individual")}
    assert {n: (r["customer"], r["amount"], r["currency"], r["status"]) for n, r in rows.items()} == {
        "A1": ("ACME", "10.00", "EUR", "ISSUED"),
        "A2": ("ACME", "5.50", "EUR", "ISSUED"),
        "A3": ("ACME", "1.00", "EUR", "ISSUED"),
        "A4": ("ACME", "99.99", "EUR", "CANCELLED"),
        "B1": ("BETA", "100.00", "USD", "ISSUED"),
        "B2": ("BETA", "20.00", "USD", "ISSUED"),
        "G1": ("GAMMA", "1500", "JPY", "ISSUED"),
    }
    assert rows["A1"]["attributes"] == {"flight": "UA1545", "seats": 3}
    assert rows["A2"]["issued_at"] == "2026-01-07T08:00:00+00:00"
    before = head(db_url)
    again = import_invoices(db_url, tmp_path, _good_invoices(), "again.csv", at="2026-03-02T00:00:00Z")
    assert (again["recorded"], again["cancelled"], again["unchanged"]) == (0, 0, 7)
    assert head(db_url) == before

    tick = js(db_url, "tick", "--at", "2026-02-02T12:00:00Z")
    issued = {d["number"]: (d["total"], d["count"]) for d in tick["issued"]}
    assert issued == {"CONS-2026-W02-001": ("15.50", 2), "CONS-2026-W03-001": ("1.00", 1),
                      "CONS-2026-M01-001": ("120.00", 2)}


def test_invoices_import_rejects_the_whole_file_listing_every_bad_row(db_url, tmp_path):
    import_customers(db_url, tmp_path, GOOD_CUSTOMERS)
    import_invoices(db_url, tmp_path, [["ACME", "OLD1", "2026-01-06T09:00:00Z", "10.00", "EUR", "issued", ""]], "old.csv")
    rows = [
        ["ACME", "N1", "2026-01-06T10:00:00Z", "1.00", "EUR", "issued", ""],  # line 2: good
        ["NOBODY", "N2", "2026-01-06T10:00:00Z", "1.00", "EUR", "issued", ""],  # 3: unknown customer
        ["ACME", "N3", "2026-01-06T10:00:00Z", "-1.00", "EUR", "issued", ""],  # 4: negative
        ["ACME", "N4", "2026-01-06T10:00:00Z", "12,50", "EUR", "issued", ""],  # 5: decimal comma
        ["ACME", "N5", "2026-01-06T10:00:00Z", "abc", "EUR", "issued", ""],  # 6: not a number
        ["BETA", "N6", "2026-01-06T10:00:00Z", "12.345", "USD", "issued", ""],  # 7: too many decimals
        ["GAMMA", "N7", "2026-01-06T10:00:00Z", "1.5", "JPY", "issued", ""],  # 8: JPY has no decimals
        ["ACME", "N8", "2026-01-06T10:00:00Z", "1.00", "USD", "issued", ""],  # 9: not the customer's currency
        ["ACME", "N9", "2026-01-06T10:00:00", "1.00", "EUR", "issued", ""],  # 10: no offset
        ["ACME", "N10", "2026-01-06T10:00:00Z", "1.00", "EUR", "void", ""],  # 11: bad status
        ["ACME", "N11", "2026-01-06T10:00:00Z", "1.00", "EUR", "issued", "{not json"],  # 12
        ["ACME", "N12", "2026-01-06T10:00:00Z", "1.00", "EUR", "issued", "[1, 2]"],  # 13
        ["ACME", "OLD1", "2026-01-06T09:00:00Z", "10.01", "EUR", "issued", ""],  # 14: existing, other amount
        ["ACME", "N1", "2026-01-06T10:00:00Z", "2.00", "EUR", "issued", ""],  # 15: N1 again, other amount
        ["ACME", "N13", "2026-01-06T10:00:00Z", "1.00", "XYZ", "issued", ""],  # 16: unknown currency
        ["ACME", "N14", "2026-01-06T10:00:00Z", "3.00", "EUR", "issued", ""],  # line 17: good
    ]
    path = write_csv(tmp_path / "bad.csv", INVOICE_HEADER, rows)
    err = rejected_import(db_url, "invoices", path, [
        (3, "customer"), (4, "amount"), (5, "amount"), (6, "amount"), (7, "amount"), (8, "amount"),
        (9, "currency"), (10, "issued_at"), (11, "status"), (12, "attributes"), (13, "attributes"),
        (14, "amount"), (15, "number"), (16, "currency"),
    ])
    for good_line in (2, 17):
        assert f"line {good_line}:" not in err
    assert [r["number"] for r in js(db_url, "invoices", "individual")] == ["OLD1"]


def test_invoices_import_of_an_existing_number_with_other_data_rejects_the_file(db_url, tmp_path):
    import_customers(db_url, tmp_path, GOOD_CUSTOMERS)
    import_invoices(db_url, tmp_path, _good_invoices()[:2], "first.csv")
    rows = [
        ["ACME", "A9", "2026-01-09T09:00:00Z", "3.00", "EUR", "issued", ""],  # 2: new, good
        _good_invoices()[0][:6] + [json.dumps({"flight": "UA1546", "seats": 3})],  # 3: A1, other attributes
        ["ACME", "A10", "2026-01-09T10:00:00Z", "4.00", "EUR", "issued", ""],  # 4: new, good
        ["BETA", "A2", "2026-01-07T09:00:00+01:00", "5.50", "USD", "issued", ""],  # 5: A2, other customer
        ["ACME", "A1", "2026-01-06T09:00:01Z", "10.00", "EUR", "issued",  # 6: A1, other instant
         json.dumps({"flight": "UA1545", "seats": 3})],
    ]
    path = write_csv(tmp_path / "conflict.csv", INVOICE_HEADER, rows)
    err = rejected_import(db_url, "invoices", path, [(3, "attributes"), (5, "customer")])
    assert "line 2:" not in err and "line 4:" not in err
    # Line 6 gives A1 a second time in the file, with other data than line 3: named by its number or its
    # issue instant, either way on its line.
    assert "line 6: number:" in err or "line 6: issued_at:" in err, err
    assert sorted(r["number"] for r in js(db_url, "invoices", "individual")) == ["A1", "A2"]


def test_invoices_import_cancelled_status_records_then_cancels(db_url, tmp_path):
    import_customers(db_url, tmp_path, GOOD_CUSTOMERS)
    got = import_invoices(db_url, tmp_path, [
        ["ACME", "X1", "2026-01-06T09:00:00Z", "4.00", "EUR", "cancelled", ""],
        ["ACME", "X2", "2026-01-06T10:00:00Z", "6.00", "EUR", "issued", ""],
        ["ACME", "X3", "2026-01-06T11:00:00Z", "8.00", "EUR", "issued", ""],
    ])
    assert (got["recorded"], got["cancelled"]) == (3, 1)
    # X1 was recorded and cancelled: both events are stored.
    recorded = [e for e in topic_events(db_url, "billing:IndividualInvoice.Created") if e.number == "X1"]
    assert len(recorded) == 1
    cancelled = topic_events(db_url, "billing:IndividualInvoice.Cancelled")
    assert [e.originator_id for e in cancelled] == [recorded[0].originator_id]

    # A later file gives X3 as cancelled: it is cancelled (and leaves its open period).
    got = import_invoices(db_url, tmp_path, [
        ["ACME", "X2", "2026-01-06T10:00:00Z", "6.00", "EUR", "issued", ""],
        ["ACME", "X3", "2026-01-06T11:00:00Z", "8.00", "EUR", "cancelled", ""],
    ], "later.csv")
    assert (got["recorded"], got["cancelled"], got["unchanged"]) == (0, 1, 1)
    status = {r["number"]: r["status"] for r in js(db_url, "invoices", "individual")}
    assert status == {"X1": "CANCELLED", "X2": "ISSUED", "X3": "CANCELLED"}
    # A cancelled invoice cannot be imported as issued again.
    path = write_csv(tmp_path / "revive.csv", INVOICE_HEADER,
                     [["ACME", "X2", "2026-01-06T10:00:00Z", "6.00", "EUR", "issued", ""],
                      ["ACME", "X3", "2026-01-06T11:00:00Z", "8.00", "EUR", "issued", ""]])
    rejected_import(db_url, "invoices", path, [(3, "status")])

    tick = js(db_url, "tick", "--at", "2026-01-20T12:00:00Z")
    assert [(d["number"], d["total"], d["count"]) for d in tick["issued"]] == [("CONS-2026-W02-001", "6.00", 1)]
    shown = js(db_url, "consolidated", "show", "CONS-2026-W02-001")
    assert [line["number"] for line in shown["lines"]] == ["X2"]


def test_invoices_import_of_a_one_row_file_names_the_line(db_url, tmp_path):
    """A file is a file even with a single row: its rejection names the line like any other."""
    import_customers(db_url, tmp_path, GOOD_CUSTOMERS)
    path = write_csv(tmp_path / "one.csv", INVOICE_HEADER,
                     [["NOBODY", "N1", "2026-01-06T10:00:00Z", "1.00", "EUR", "issued", ""]])
    rejected_import(db_url, "invoices", path, [(2, "customer")])


# ============================================================================================ crash half-way
CRASH_CUSTOMERS = [
    ["K1", "K One", "Europe/Berlin", "EUR", "14", "true", "weekly", "1", "2026-01-05"],
    ["K2", "K Two", "America/Chicago", "USD", "30", "true", "weekly", "7", "2026-01-04"],
    ["K3", "K Three", "Asia/Kolkata", "EUR", "7", "true", "monthly", "15", "2026-01-15"],
]


def _many_invoices(n: int) -> list[list[Any]]:
    rows = []
    start = datetime(2026, 1, 15, tzinfo=timezone.utc)
    for i in range(n):
        ref, cur = [("K1", "EUR"), ("K2", "USD"), ("K3", "EUR")][i % 3]
        at = start + timedelta(minutes=37 * i)  # about 130 days for 5,000 invoices
        amount = Decimal(100 + (i * 7919) % 99900) / 100
        rows.append([ref, f"INV-{i:05d}", at.isoformat().replace("+00:00", "Z"), f"{amount:.2f}", cur, "issued",
                     json.dumps({"seq": i})])
    return rows


def _check_complete(db_url: str, rows: list[list[Any]]) -> None:
    """Every number recorded exactly once, gathered exactly once, and the tick's totals add up."""
    numbers = [r[1] for r in rows]
    created = Counter(e.number for e in topic_events(db_url, "billing:IndividualInvoice.Created"))
    assert sorted(created) == sorted(numbers) and set(created.values()) == {1}
    lines = Counter(e.number for e in topic_events(db_url, "billing:ConsolidatedInvoice.LineAdded"))
    assert sorted(lines) == sorted(numbers) and set(lines.values()) == {1}
    assert topic_events(db_url, "billing:ConsolidatedInvoice.LineRemoved") == []
    individual = js(db_url, "invoices", "individual", "--limit", "0")
    assert sorted(r["number"] for r in individual) == sorted(numbers)
    tick = js(db_url, "tick", "--at", "2026-08-01T00:00:00Z")
    expected: dict[str, Decimal] = Counter()
    for r in rows:
        expected[r[0]] += Decimal(r[3])
    issued: dict[str, Decimal] = Counter()
    n_lines = 0
    for d in tick["issued"]:
        issued[d["customer"]] += Decimal(d["total"])
        n_lines += d["count"]
    assert n_lines == len(rows)
    assert dict(issued) == dict(expected)
    assert sum(Decimal(r["total"]) for r in js(db_url, "consolidated", "list")) == sum(expected.values())


def test_invoices_import_after_a_crash_half_way_completes_exactly(db_url, tmp_path):
    import_customers(db_url, tmp_path, CRASH_CUSTOMERS)
    rows = _many_invoices(900)
    # The crash left the first 500 rows written: the same rows as a file of their own.
    first = import_invoices(db_url, tmp_path, rows[:500], "first.csv")
    assert first["recorded"] == 500
    full = import_invoices(db_url, tmp_path, rows, "full.csv")
    assert (full["recorded"], full["unchanged"], full["cancelled"]) == (400, 500, 0)
    _check_complete(db_url, rows)


def test_invoices_import_killed_mid_way_then_imported_again_completes_exactly(db_url, tmp_path):
    import_customers(db_url, tmp_path, CRASH_CUSTOMERS)
    rows = _many_invoices(5000)
    path = write_csv(tmp_path / "big.csv", INVOICE_HEADER, rows)
    env = dict(os.environ, BILLING_DATABASE_URL=db_url, COLUMNS="200")
    with Store(resolve(db_url)) as watcher:
        before = watcher.head()
        proc = subprocess.Popen([BILLING, "invoices", "import", str(path), "--at", "2026-08-01T00:00:00Z"],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                if watcher.head() > before:  # it has written its first chunks: crash now
                    break
                time.sleep(0.005)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, f"the import ended by itself ({proc.returncode}) before it was killed"
    written = head(db_url) - before
    assert 0 < written, "the import was killed before it wrote anything"
    recorded = len(topic_events(db_url, "billing:IndividualInvoice.Created"))
    assert 0 < recorded < len(rows), f"expected a partial import, {recorded} of {len(rows)} invoices were recorded"

    out = ok(db_url, "invoices", "import", str(path), "--at", "2026-08-01T00:00:00Z")
    got = counts(out, "invoices")
    assert (got["recorded"], got["unchanged"]) == (len(rows) - recorded, recorded)
    _check_complete(db_url, rows)


# ============================================================================================ every import's header
def _import_kinds() -> dict[str, tuple[list[str], Any, bool]]:
    """Every import: (its columns, a function (store, path, at) importing a file, whether other columns
    are allowed: a foreign export's columns we do not read)."""
    from commands.bus import handle
    from commands.card_import import BIRMINGHAM_COLUMNS, CARD_COLUMNS, CHARGE_COLUMNS, ImportCards, ImportCharges
    from commands.contract_import import CONTRACT_COLUMNS, ImportContracts
    from commands.customer_import import CUSTOMER_COLUMNS, ImportCustomers
    from commands.engagements import ENGAGEMENT_COLUMNS, ImportEngagements
    from commands.individual_invoices import INVOICE_COLUMNS, import_invoices
    from commands.timesheet_formats import FORMATS
    from commands.timesheets import OWN_COLUMNS, ImportTimesheets

    def cmd(kind: Any) -> Any:
        return lambda store, path, at: handle(store, kind(path, at))

    return {
        "customers": (CUSTOMER_COLUMNS, cmd(ImportCustomers), False),
        "invoices": (INVOICE_COLUMNS, lambda store, path, at: import_invoices(store, path, at), False),
        "contracts": (CONTRACT_COLUMNS, cmd(ImportContracts), False),
        "engagements": (ENGAGEMENT_COLUMNS, cmd(ImportEngagements), False),
        "timesheets": (OWN_COLUMNS, cmd(ImportTimesheets), False),
        "timesheets-toggl": (FORMATS["toggl"], cmd(ImportTimesheets), True),
        "timesheets-harvest": (FORMATS["harvest"], cmd(ImportTimesheets), True),
        "cards": (CARD_COLUMNS, cmd(ImportCards), False),
        "charges": (CHARGE_COLUMNS, cmd(ImportCharges), False),
        "charges-birmingham": (BIRMINGHAM_COLUMNS, cmd(ImportCharges), False),
    }


@pytest.mark.parametrize("kind", sorted(_import_kinds()))
def test_every_import_refuses_a_column_given_twice_or_unknown_and_a_row_of_the_wrong_width(sqlite_store: Store, tmp_path: Path,
                                                                                           kind: str) -> None:
    """Rule (issue 6, item 12): a duplicated column is an error in every import (never "the last value
    wins"), an unknown one too except in a foreign export (Toggl, Harvest), and a row with more or fewer
    fields than the header is a bad row; nothing is written."""
    from domain.errors import ImportRejected

    columns, run, others = _import_kinds()[kind]
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    before = sqlite_store.head()
    cases = [(columns + [columns[-1]], [], (1, columns[-1], "column is given 2 times; each column appears once")),
             (columns, [["x"] * (len(columns) + 1)], (2, "row", f"has {len(columns) + 1} fields, the header has {len(columns)}"))]
    if not others:
        cases.append((columns + ["bogus"], [], (1, "bogus", f"unknown column (expected {', '.join(columns)}")))
    for header, rows, (line, field, rule) in cases:
        path = write_csv(tmp_path / f"{kind}.csv", header, rows)
        with pytest.raises(ImportRejected) as e:
            run(sqlite_store, str(path), at)
        assert any(p[:2] == (line, field) and p[2].startswith(rule) for p in e.value.problems), (header, e.value.problems)
        assert sqlite_store.head() == before
