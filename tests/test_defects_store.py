"""Regression tests of issue 6, "Money and numbers" and the store-bricking findings (items 1, 4, 21, 23).

Each test names the rule it holds. They run the real ``billing`` CLI as subprocesses against real SQLite
files and a real PostgreSQL schema; stored events are corrupted with plain SQL, as a failing disk or a
hand-edited database would.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from commands.app import Store
from commands.config import resolve
from conftest import run_cli
from commands.individual_invoices import make_record, record_invoice
from domain.base import business_time
from domain.customer import customer_id
from domain.individual_invoice import IndividualInvoice
from support import head, js, ok, rejected

T0 = "2026-01-01T00:00:00Z"
AT = "2026-01-08T00:00:00Z"


def seed(url: str) -> None:
    ok(url, "customers", "add", "ACME", "--name", "Acme", "--timezone", "Europe/Berlin", "--currency", "EUR", "--approved", "--at", T0)
    ok(url, "customers", "consolidation", "ACME", "weekly", "--start-day", "1", "--from", "2026-01-05", "--at", T0)


def record(number: str, amount: str, *extra: str, issued_at: str = "2026-01-07T10:00:00Z") -> list[str]:
    return ["invoices", "record", number, "--customer", "ACME", "--issued-at", issued_at, f"--amount={amount}",
            "--currency", "EUR", "--at", AT, *extra]


def _events_table(store: Store) -> tuple[str, str]:
    return ("billing_events", "notification_id") if store.backend == "postgres" else ("stored_events", "rowid")


def rewrite_state(url: str, notification_id: int, change) -> None:  # noqa: ANN001 - bytes -> bytes
    """Change the stored state of one event in place, with plain SQL (a corrupted or edited store)."""
    with Store(resolve(url)) as s:
        table, column = _events_table(s)
        with s.engine.begin() as conn:
            state = conn.execute(sa.text(f"SELECT state FROM {table} WHERE {column} = :n"), {"n": notification_id}).scalar()
            conn.execute(sa.text(f"UPDATE {table} SET state = :s WHERE {column} = :n"), {"s": change(bytes(state)), "n": notification_id})


def notification_of(url: str, topic: str) -> int:
    with Store(resolve(url)) as s:
        table, column = _events_table(s)
        with s.engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT MIN({column}) FROM {table} WHERE topic = :t"), {"t": topic}).scalar()


# ============================================================================================ item 1
def test_every_amount_has_one_bound_checked_before_anything_is_written(db_url, tmp_path):
    """Rule: every amount that enters, and every total computed from them, is less than 10^15 and checked
    before anything is written; the store stays usable (lists, tick, projections, rebuild)."""
    seed(db_url)
    rejected(db_url, "amount", *record("P-1", "99999999999999999999999999.99"))
    rejected(db_url, "amount", *record("P-2", "10000000000000000"))
    rejected(db_url, "amount", *record("P-3", "1" + "0" * 400))
    # two amounts within the bound whose consolidated total is not: the second is refused up front
    ok(db_url, *record("P-4", "999999999999999.99"))
    r = rejected(db_url, "amount", *record("P-5", "0.01", issued_at="2026-01-07T11:00:00Z"))
    assert "consolidated total" in r.stderr
    # the same in a file: the row is named, nothing imported
    csv_path = tmp_path / "big.csv"
    csv_path.write_text("customer,number,issued_at,amount,currency,status,attributes\n"
                        f"ACME,F-1,2026-01-07T12:00:00Z,{'9' * 35},EUR,issued,\n", encoding="utf-8")
    before = head(db_url)
    r = run_cli(db_url, "invoices", "import", str(csv_path), "--at", AT)
    assert r.returncode == 2 and "line 2: amount:" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert head(db_url) == before
    # contract prices and quantities too
    ok(db_url, "contracts", "create", "K1", "--customer", "ACME", "--name", "Rent",
       "--interval", "monthly", "--start", "2026-01-01", "--auto-finalize", "--at", T0)
    rejected(db_url, "unit_price", "contracts", "add-position", "K1", "--position", "1", "--description", "x",
             "--quantity", "1", "--unit-price", "10000000000000000", "--tax-rate", "19", "--at", AT)
    rejected(db_url, "quantity", "contracts", "add-position", "K1", "--position", "1", "--description", "x",
             "--quantity", "9" * 401, "--unit-price", "1", "--tax-rate", "19", "--at", AT)
    # the store is fine: every report, the tick, the projections and a rebuild work
    assert js(db_url, "tick", "--at", "2026-01-13T00:00:00Z")["counts"]["consolidation"]["issued"] == 1
    assert [c["total"] for c in js(db_url, "consolidated", "list")] == ["999999999999999.99"]
    assert js(db_url, "consolidated", "summary")[0]["total"] == "999999999999999.99"
    status = js(db_url, "projections", "status")
    assert all(p["lag"] == 0 and p["errors"] == [] for p in status["projections"])
    ok(db_url, "projections", "rebuild")


# ============================================================================================ items 1, 21, 23
def test_no_stored_event_takes_the_engine_down(db_url):
    """Rule: a projection can never be poisoned by a stored event. One that cannot be applied is reported
    by `projections status` (which, and why); writes, the tick and the other projections go on; a rebuild
    refuses to replace the read models (exit 1, naming the event) and leaves them as they were."""
    seed(db_url)
    ok(db_url, *record("P-1", "10.00"))
    # An event written by an engine without today's checks: an amount no read model can hold on
    # PostgreSQL, and (both backends) an event whose state no longer decodes.
    with Store(resolve(db_url)) as s:
        customer = s.get(customer_id("ACME"))
        with business_time(datetime(2026, 1, 8, 1, tzinfo=timezone.utc)):
            bad = IndividualInvoice.record("P-BAD", customer.id, "ACME", datetime(2026, 1, 7, 12, tzinfo=timezone.utc),
                                           datetime(2026, 1, 7).date(), Decimal("1E+20"), "EUR", {"note": "x"}, None)
            s.save([bad])
        # P-2 recorded through the Python API (events only: not projected yet), then its stored state broken
        record_invoice(s, make_record("P-2", "ACME", "2026-01-07T11:00:00Z", "20.00", "EUR"), datetime(2026, 1, 8, 2, tzinfo=timezone.utc))
    with Store(resolve(db_url)) as s:
        table, column = _events_table(s)
        with s.engine.connect() as conn:
            p2 = conn.execute(sa.text(f"SELECT MAX({column}) FROM {table} WHERE topic = 'billing:IndividualInvoice.Created'")).scalar()
    rewrite_state(db_url, p2, lambda state: state[: len(state) // 2])  # truncated: no longer JSON
    # every command still works; the catch-up warns and status names the events
    ok(db_url, "invoices", "individual")
    ok(db_url, *record("P-3", "30.00", "--at", "2026-01-08T03:00:00Z", issued_at="2026-01-07T13:00:00Z"))
    numbers = sorted(x["number"] for x in js(db_url, "invoices", "individual"))
    assert "P-1" in numbers and "P-3" in numbers and "P-2" not in numbers
    assert ("P-BAD" in numbers) == db_url.startswith("sqlite")  # SQLite holds any decimal as text
    tick = js(db_url, "tick", "--at", "2026-01-13T00:00:00Z")
    assert tick["counts"]["consolidation"]["issued"] == 1
    status = js(db_url, "projections", "status")
    failed = {p["name"]: p["errors"] for p in status["projections"] if p["errors"]}
    assert all(p["lag"] == 0 for p in status["projections"])
    assert "individual_invoices" in failed
    ids = {e["notification_id"] for errs in failed.values() for e in errs}
    assert p2 in ids
    if db_url.startswith("postgresql"):
        assert any("overflow" in e["error"].lower() for e in failed["individual_invoices"]), failed
    text = ok(db_url, "projections", "status")
    assert f"event #{p2}" in text
    # a rebuild cannot apply the broken event: it fails naming it, and the read models stay
    before_rows = js(db_url, "invoices", "individual")
    r = run_cli(db_url, "projections", "rebuild")
    assert r.returncode == 1 and any(f"event #{i} " in r.stderr for i in ids) and "unchanged" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert js(db_url, "invoices", "individual") == before_rows
    assert js(db_url, "consolidated", "list")[0]["number"] == "CONS-2026-W02-001"


def test_a_changed_stored_event_shows_when_the_read_models_are_rebuilt(db_url):
    """Rule: a rebuild builds beside the live read models and swaps them in only once every event is
    applied; rows that differ from what it replaces are reported, not silently taken."""
    seed(db_url)
    ok(db_url, *record("P-1", "10.00"))
    ok(db_url, *record("P-2", "20.00", issued_at="2026-01-07T11:00:00Z"))
    n = notification_of(db_url, "billing:IndividualInvoice.Created")
    rewrite_state(db_url, n, lambda state: state.replace(b'"10.00"', b'"90.00"'))
    ok(db_url, "invoices", "individual")  # live rows were projected before the change
    r = run_cli(db_url, "projections", "rebuild")
    assert r.returncode == 0, r.stderr
    assert "differ" in r.stderr and "individual_invoices: 1 row" in r.stderr, r.stderr
    amounts = {x["number"]: x["amount"] for x in js(db_url, "invoices", "individual")}
    assert amounts == {"P-1": "90.00", "P-2": "20.00"}


def test_a_store_written_by_older_read_models_is_rebuilt_when_it_opens(sqlite_url):
    """Rule: read models carry a version; a store whose tables an older engine built (no version column)
    rebuilds them on open instead of failing on a missing column."""
    seed(sqlite_url)
    ok(sqlite_url, *record("P-1", "10.00"))
    with Store(resolve(sqlite_url)) as s, s.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE projection_positions DROP COLUMN version"))
        conn.execute(sa.text("ALTER TABLE invoices DROP COLUMN reason"))
    assert [x["number"] for x in js(sqlite_url, "invoices", "individual")] == ["P-1"]
    assert js(sqlite_url, "invoices", "list") == []


# ============================================================================================ items 4, 21, 26
def test_text_and_instants_that_the_read_models_cannot_hold_are_refused(db_url, tmp_path):
    """Rules: every reference and company is printable text of at most 100 characters, names at most 200,
    free text has no NUL or other control character; instants and dates lie in 1900-01-01..2999-12-31."""
    seed(db_url)
    add = ["customers", "add", "NEW", "--timezone", "Europe/Berlin", "--currency", "EUR", "--at", T0]
    # (a NUL cannot be passed on a command line; it comes in files)
    path = tmp_path / "nul.csv"
    path.write_text("reference,name,timezone,currency,payment_terms_days,approved,consolidation,start_day,consolidate_from\n"
                    "NUL,Bad\x00Name,Europe/Berlin,EUR,30,true,none,,\n", encoding="utf-8")
    before = head(db_url)
    r = run_cli(db_url, "customers", "import", str(path), "--at", T0)
    assert r.returncode == 2 and "line 2: name:" in r.stderr and "control character" in r.stderr, r.stderr
    assert head(db_url) == before
    rejected(db_url, "name", *add, "--name", "x" * 201)
    rejected(db_url, "reference", "customers", "add", "A\nB", "--name", "n", "--timezone", "Europe/Berlin", "--currency", "EUR", "--at", T0)
    contract = ["contracts", "create", "K", "--customer", "ACME", "--interval", "monthly", "--start", "2026-01-01", "--at", T0]
    rejected(db_url, "company", *contract, "--company", "C" * 101, "--name", "n")
    rejected(db_url, "company", *contract, "--company", "a\nb", "--name", "n")
    rejected(db_url, "name", *contract, "--name", "n" * 201)
    rejected(db_url, "issued_at", *record("P-9", "1.00", issued_at="9999-12-31T23:59:59Z"))
    rejected(db_url, "at", "tick", "--at", "0001-01-01T00:00:00+14:00")
    rejected(db_url, "at", "tick", "--at", "9999-12-31T23:59:59-14:00")
    rejected(db_url, "start_date", *contract, "--name", "n", "--start", "9999-12-31")
    rejected(db_url, "attributes", *record("P-9", "1.00", "--attributes", '{"\\ud800": 1}'))
    rejected(db_url, "attributes", *record("P-9", "1.00", "--attributes", "[" * 10000 + "]" * 10000))
    rejected(db_url, "attributes", *record("P-9", "1.00", "--attributes", json.dumps({"k": "a\x00b"})))
    assert js(db_url, "projections", "status")["head"] == head(db_url)


def test_a_rebuild_leaves_no_shadow_behind(tmp_path: Path) -> None:
    """A rebuild's shadow (a file beside the SQLite database) is gone afterwards, whatever happened."""
    url = f"sqlite:///{tmp_path / 'b.db'}"
    seed(url)
    ok(url, "projections", "rebuild")
    assert sorted(p.name for p in tmp_path.iterdir() if "rebuild" in p.name) == []


def test_a_rebuild_of_a_store_with_a_63_character_schema_keeps_the_store() -> None:
    """Rule (item 23: a rebuild never loses what it replaces): the shadow schema was ``<schema>_rebuild_<pid>``
    cut to 63 characters, i.e. the store's own schema when its name has 63 characters (the most the engine
    accepts), and the rebuild's clean-up dropped it, events and all. The shadow is named apart."""
    from conftest import PgSchema, require_postgres

    require_postgres()
    schema = PgSchema()
    schema.name = (schema.name + "x" * 63)[:63]
    schema.url = f"{schema.url.split('?')[0]}?schema={schema.name}"
    try:
        seed(schema.url)
        ok(schema.url, *record("P-1", "10.00"))
        n = head(schema.url)
        ok(schema.url, "projections", "rebuild")
        assert head(schema.url) == n
        assert [i["number"] for i in js(schema.url, "invoices", "individual")] == ["P-1"]
    finally:
        schema.drop()


def test_a_killed_rebuilds_shadow_is_removed_by_the_next_rebuild(tmp_path: Path) -> None:
    """A rebuild killed with -9 leaves its shadow (``<db>.rebuild-<pid>`` beside SQLite) behind; the next
    rebuild removes the shadows of processes no longer running and keeps a running one's."""
    import os
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'b.db'}"
    seed(url)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    for name in (f"b.db.rebuild-{dead.pid}", f"b.db.rebuild-{dead.pid}-journal", f"b.db.rebuild-{os.getpid()}"):
        (tmp_path / name).write_bytes(b"left by a killed rebuild")
    ok(url, "projections", "rebuild")
    assert sorted(p.name for p in tmp_path.iterdir() if "rebuild" in p.name) == [f"b.db.rebuild-{os.getpid()}"]


def test_a_store_dropped_while_a_command_runs_is_a_one_line_database_error(pg_url: str) -> None:
    """Rule (item 25): the schema or tables dropped under a running command (a real error from the server,
    as a tick gets it) is the documented one-line database error, exit 1, without SQL; an error that is a
    bug is "unexpected" but never shows SQL either."""
    from commands.errors import classify

    seed(pg_url)
    with Store(resolve(pg_url)) as store:
        with store.engine.connect() as conn:
            conn.execute(sa.text("DROP TABLE projection_positions CASCADE"))
            conn.commit()
            errors = []
            for statement in ("SELECT name FROM projection_positions", "SELEC 1"):
                try:
                    conn.execute(sa.text(statement))
                except sa.exc.SQLAlchemyError as e:
                    errors.append(classify(e))
                conn.rollback()
    gone, bug = errors
    assert (gone.kind, gone.exit_code, gone.http_status) == ("database", 1, 503), gone
    assert gone.message.startswith('the database is unavailable: relation "projection_positions" does not exist'), gone
    assert "dropped" in gone.message
    assert bug.kind == "unexpected", bug
    for o in errors:
        assert "\n" not in o.message and "[SQL:" not in o.message and "sqlalche.me" not in o.message, o.message


def test_an_aggregate_whose_stored_event_cannot_be_read_is_passed_over_by_the_tick(db_url: str) -> None:
    """Rule (item 1: no stored event takes the engine down; item 23: a corrupted event): one card whose
    stored event no longer decodes stopped every company's tick (exit 1, "unexpected
    MapperDeserialisationError", nothing billed, at every tick). Its items are refused, each named with
    the event, and everything else is done: the other card's statements close, the other company bills."""
    from datetime import date

    from commands.bus import handle
    from commands.cards import AddCard, ChargeCard
    from commands.companies import SetCompany
    from commands.customers import AddCustomer
    from commands.engagements import CreateEngagement

    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with Store(resolve(db_url)) as s:
        handle(s, SetCompany("BANK", t0, name="Bank", timezone="Europe/London", currency="GBP"))
        for ref in ("C1", "C2"):
            handle(s, AddCard(ref, "H", "1234", "GBP", 31, t0, "BANK"))
            handle(s, ChargeCard(ref, "x", date(2026, 1, 3), "5.00", "shop", t0, "BANK"))
        handle(s, SetCompany("FIRM", t0, name="Firm", timezone="Europe/London", currency="GBP"))
        handle(s, AddCustomer("CL", "Client", "Europe/London", "GBP", 14, company="FIRM", at=t0))
        handle(s, CreateEngagement("E1", "CL", "Retainer", "package", date(2026, 1, 1), t0, "FIRM", fee="100.00",
                                   schedule="monthly"))
    ok(db_url, "projections", "run")  # the read models know card C1 (its work is due): then its event is corrupted
    rewrite_state(db_url, notification_of(db_url, "billing:CreditCard.Created"), lambda b: bytes([b[0] ^ 1]) + b[1:])
    r = run_cli(db_url, "tick", "--at", "2026-03-01T00:00:00Z")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert warnings and all("C1" in w and "event: aggregate" in w and "cannot be read" in w for w in warnings), r.stderr
    numbers = sorted(d["number"] for d in js(db_url, "invoices", "list", "--company", "BANK", "--kind", "ALL"))
    assert numbers == ["ST-C2-0001", "ST-C2-0002"], numbers
    assert len(js(db_url, "invoices", "list", "--company", "FIRM")) == 3  # January to March, in advance
