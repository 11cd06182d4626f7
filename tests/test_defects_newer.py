"""Regression tests of issue 6's rules on the areas built after it (engagements, timesheets, cards): each
rule was broken by one of them until a probe found it. Each test names its rule and the issue's item.

The stores are real SQLite files and a real PostgreSQL schema (``store``/``db_url`` run on both); the CLI
and HTTP tests use the real ``billing`` entry point and the real app.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from commands.app import Store
from commands.bus import handle
from commands.cards import AddCard, ChargeCard, SetRecurringCharge
from commands.companies import AddTaxRate, SetCompany
from commands.customers import AddCustomer
from commands.engagements import CreateEngagement, RenewEngagement, UpdateEngagement
from commands.timesheets import AddTimesheetEntry, CorrectTimesheetEntry, InvoiceTimesheetWeek, SetCustomerRate
from domain.errors import Conflict, ValidationError
from projections import registry
from projections import runner as projection_runner
from projections.invoice_queries import list_invoices
from scheduler.tick import tick
from support import ok, rejected

UTC = timezone.utc
T0 = datetime(2026, 1, 1, tzinfo=UTC)
HUGE = "999999999999999.00"  # within the bound (< 10^15) on its own


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


def firm(store: Store, rate: str = "25.00") -> None:
    """Company CARE (New York, USD) with client CL at ``rate`` per unit and hourly engagement TH; company
    BANK (Sao Paulo, BRL) with card OK (closing day 31) charged 5.00 in December 2025."""
    handle(store, SetCompany("CARE", T0, name="Care", timezone="America/New_York", currency="USD"))
    handle(store, AddCustomer("CL", "Client", "America/New_York", "USD", 14, company="CARE", at=T0))
    handle(store, SetCustomerRate("CL", "Aetna", rate, date(2026, 1, 1), T0, "CARE"))
    handle(store, CreateEngagement("TH", "CL", "Therapy", "hourly", date(2026, 1, 1), T0, "CARE"))
    handle(store, SetCompany("BANK", T0, name="Bank", timezone="America/Sao_Paulo", currency="BRL"))
    handle(store, AddCard("OK", "Bo", "1111", "BRL", 31, T0, "BANK"))
    handle(store, ChargeCard("OK", "o1", date(2025, 12, 10), "5.00", "shop", T0, "BANK"))


def entry(store: Store, eid: str, start: datetime, minutes: int, at: datetime) -> None:
    handle(store, AddTimesheetEntry(eid, "TH", start, start + timedelta(minutes=minutes), at, "CARE", "Dana", "90837"))


# ============================================================================================ item 1: the tick
def test_an_item_the_domain_refuses_never_stops_the_tick_for_the_others(store: Store) -> None:
    """Rule (item 1): one aggregate whose document cannot be issued (its total out of range) is reported
    and passed over; every other item of the tick is done, in a dry run too, and the next tick tries it
    again."""
    firm(store, rate=HUGE)
    entry(store, "S-1", utc(2026, 1, 6, 15), 30, utc(2026, 1, 6, 18))  # 2 units x 999999999999999.00: out of range
    for dry_run in (True, False):
        summary = tick(store, utc(2026, 1, 14), dry_run=dry_run)
        assert [(r["kind"], r["field"]) for r in summary.refused] == [("timesheet", "net")], summary.refused
        assert "out of range" in summary.refused[0]["rule"]
        assert summary.counts["card_statement"]["closed"] == 1  # the other company's statement closed
    projection_runner.run(store, registry.ALL)
    assert [d["number"] for d in list_invoices(store.read_engine, company="BANK", kind="ALL")] == ["ST-OK-0001"]
    assert list_invoices(store.read_engine, company="CARE", kind="ALL") == []
    assert tick(store, utc(2026, 1, 15)).refused[0]["kind"] == "timesheet"  # still refused, still reported
    assert projection_runner.errors(store) == []


def test_what_a_refusal_leaves_undone_depends_neither_on_batches_nor_on_dry_run(store: Store, monkeypatch) -> None:  # noqa: ANN001
    """Rule (item 1; determinism): a refused item and its aggregate's later items are passed over, its
    earlier items done. It was "the target's items in the refused batch": the outcome changed with where
    batches ended (one card's result depended on unrelated data) and a dry run (which starts again) left
    out what the real run did. Card R's November charge is posted, December's is refused (the statement
    would be out of range), R's close after it is passed over; card OK closes, with any batch size."""
    import scheduler.tick as tick_module

    firm(store)
    handle(store, AddCard("R", "Rui", "2222", "BRL", 31, T0, "BANK"))
    handle(store, SetRecurringCharge("R", "r1", T0, "BANK", day=5, amount="600000000000000.00", merchant="rent",
                                     start_date=date(2025, 11, 5)))
    at = utc(2026, 1, 2, 12)
    outcomes = []
    for batch_events, dry_run in ((400, True), (1, True), (1, False)):
        monkeypatch.setattr(tick_module, "BATCH_EVENTS", batch_events)
        before = store.head()
        s = tick(store, at, dry_run=dry_run)
        assert [(r["kind"], r["key"]) for r in s.refused] == [("card_recurring", "R:r1")], s.refused
        outcomes.append((s.counts["card_recurring"], s.counts["card_statement"], s.events))
        assert store.head() - before == (0 if dry_run else s.events)
    assert outcomes[0] == outcomes[1] == outcomes[2], outcomes
    assert outcomes[0][0] == {"posted": 1, "refused": 1} and outcomes[0][1] == {"closed": 1, "refused": 1}, outcomes


def test_a_ticker_that_lost_a_race_reports_no_false_refusal(sqlite_url: str, monkeypatch) -> None:  # noqa: ANN001
    """Rule (item 24: racing tickers; item 1: a refusal is the domain's, about the data): a ticker whose
    plan and prefetched cards predate another ticker's save loaded a card from before it and a statement
    from after it, and the domain refused the card's recurring charge ("ST-… is OVERDUE") although nothing
    needed correcting (found racing two ticks on SQLite). A refused item's batch is redone once on fresh
    state; only what the domain refuses again is reported. The other ticker is a real process, run
    between this one's batches."""
    from datetime import date as day

    import scheduler.tick as tick_module
    from commands.config import resolve
    from support import run_cli

    with Store(resolve(sqlite_url)) as s:
        handle(s, SetCompany("BANK", T0, name="Bank", timezone="Europe/London", currency="GBP"))
        for i in range(30):
            handle(s, AddCard(f"C{i:02d}", "H", "1234", "GBP", 1 + i % 28, T0, "BANK"))
            handle(s, SetRecurringCharge(f"C{i:02d}", "tv", T0, "BANK", day=5, amount="9.99", merchant="tv",
                                         start_date=day(2026, 1, 5)))
    monkeypatch.setattr(tick_module, "BATCH_EVENTS", 1)
    monkeypatch.setattr(tick_module, "PREFETCH", 16)
    other = []

    def between_batches(done: int, total: int) -> None:
        if not other:
            other.append(run_cli(sqlite_url, "tick", "--at", "2026-06-01T00:00:00Z"))

    with Store(resolve(sqlite_url)) as s:
        summary = tick(s, utc(2026, 6, 1), progress=between_batches)
    assert other[0].returncode == 0 and "warning" not in other[0].stderr, other[0].stderr
    assert summary.refused == [], summary.refused
    assert summary.counts["card_recurring"] == {"not_due": 150}, summary.counts  # the other ticker posted them all


def test_charges_waiting_for_later_statements_are_bounded_when_they_are_posted(store: Store) -> None:
    """Rule (item 1): what a card holds for statements not open yet (waiting purchases, installment parts)
    will be some statement's total, so it is checked when posted: refused then, not at the close."""
    firm(store)
    handle(store, AddCard("VISA", "Ana", "1234", "BRL", 31, T0, "BANK"))
    handle(store, ChargeCard("VISA", "w1", date(2026, 1, 10), "600000000000000.00", "shop", T0, "BANK"))  # waits for January
    before = store.head()
    with pytest.raises(ValidationError) as e:
        handle(store, ChargeCard("VISA", "w2", date(2026, 1, 11), "600000000000000.00", "shop", T0, "BANK"))
    assert e.value.field == "amount" and "statements not open yet" in e.value.rule
    with pytest.raises(ValidationError):  # an installment part for February on top of the waiting one
        handle(store, ChargeCard("VISA", "i1", date(2025, 12, 15), "900000000000000.00", "shop", T0, "BANK", installments=2))
    assert store.head() == before
    # a refund waiting for one month does not make room for purchases of another (they would have summed
    # out of range in February's statement, refused at every close, with no way to undo them)
    handle(store, AddCard("MC", "Ana", "4321", "BRL", 31, T0, "BANK"))
    handle(store, ChargeCard("MC", "m1", date(2026, 2, 10), "600000000000000.00", "shop", T0, "BANK"))
    handle(store, ChargeCard("MC", "m2", date(2026, 3, 10), "-300000000000000.00", "shop", T0, "BANK"))
    with pytest.raises(ValidationError) as e:
        handle(store, ChargeCard("MC", "m3", date(2026, 2, 11), "600000000000000.00", "shop", T0, "BANK"))
    assert "in absolute value" in e.value.rule
    # a recurring charge posted twice into one statement (Nov 5 late, Dec 5) is the tick's to refuse
    handle(store, AddCard("R", "Rui", "2222", "BRL", 31, T0, "BANK"))
    handle(store, SetRecurringCharge("R", "r1", T0, "BANK", day=5, amount="600000000000000.00", merchant="rent",
                                     start_date=date(2025, 11, 5)))
    summary = tick(store, utc(2026, 1, 2, 12))
    assert [(r["kind"], r["key"].split(":")[0], r["field"]) for r in summary.refused] == [("card_recurring", "R", "amount")], summary.refused
    assert summary.counts["card_statement"] == {"closed": 3, "refused": 1}  # OK's, VISA's and MC's; R waits for the fix


def test_a_charges_file_whose_rows_together_break_a_bound_is_rejected_naming_the_line(store: Store, tmp_path) -> None:  # noqa: ANN001
    """Rule (item 1, and "an import is taken whole or refused whole"): two charges each within the bound that
    together exceed what a card may hold for statements not open yet were refused by a bare ValidationError
    from the posting, after every row had been checked; it is an :class:`ImportRejected` naming the card's last
    line, and nothing is written (found by the import fuzz)."""
    from commands.card_import import ImportCharges
    from domain.errors import ImportRejected

    firm(store)
    handle(store, AddCard("VISA", "Ana", "1234", "BRL", 31, T0, "BANK"))
    path = tmp_path / "charges.csv"
    path.write_text("card,charge_id,date,amount,merchant\n"
                    "VISA,w1,2026-01-10,600000000000000.00,shop\nOK,o2,2025-12-11,1.00,shop\n"
                    "VISA,w2,2026-01-11,600000000000000.00,shop\n", encoding="utf-8")
    before = store.head()
    with pytest.raises(ImportRejected) as e:
        handle(store, ImportCharges(str(path), T0, "BANK"))
    assert [(line, field) for line, field, _rule in e.value.problems] == [(4, "amount")], e.value.problems
    assert "statements not open yet" in e.value.problems[0][2]
    assert store.head() == before


def test_a_package_fees_gross_is_bounded_when_the_fee_is_set(store: Store) -> None:
    """Rule (item 1): a fee whose gross (fee plus tax, half-up) would be out of range is refused by create,
    update and renew, before anything is written."""
    firm(store)
    before = store.head()
    with pytest.raises(ValidationError) as e:  # 840336134453781.52 x 1.19 = 1000000000000000.01
        handle(store, CreateEngagement("E1", "CL", "Fees", "package", date(2026, 1, 1), T0, "CARE", fee="840336134453781.52",
                                       schedule="monthly"))
    assert e.value.field == "fee" and "gross" in e.value.rule
    assert store.head() == before
    handle(store, CreateEngagement("E1", "CL", "Fees", "package", date(2026, 1, 1), T0, "CARE", fee="840336134453781.00",
                                   schedule="monthly", end_date=date(2026, 3, 31)))
    for cmd in (UpdateEngagement("E1", T0, "CARE", fee=HUGE), RenewEngagement("E1", date(2026, 6, 30), T0, "CARE", fee=HUGE)):
        with pytest.raises(ValidationError):
            handle(store, cmd)
    summary = tick(store, utc(2026, 2, 2))
    assert summary.refused == [] and summary.counts["package_fee"]["issued"] == 2
    # the fee checked at the rate given with it, also when that rate is 0 % (it fell back to 19 %)
    assert handle(store, UpdateEngagement("E1", utc(2026, 2, 3), "CARE", fee=HUGE, tax_rate="zero")) is not False


# ============================================================================================ item 21: what the read models hold
def test_the_longest_references_and_rate_names_fit_the_read_models(store: Store) -> None:
    """Rule (items 1 and 21): every text that enters fits the read models, the numbers the engine derives
    from references too (``PKG-<engagement>-<date>``, ``ST-<card>-0001``; 100 characters each) and a tax
    rate's name (100): on PostgreSQL a longer value than a column holds stops the projection."""
    firm(store)
    long_ref, long_rate = "E" * 100, "r" * 100
    handle(store, AddTaxRate("CARE", long_rate, "5", T0, date(2025, 12, 31)))
    handle(store, CreateEngagement(long_ref, "CL", "Fees", "package", date(2026, 1, 1), T0, "CARE", fee="10.00",
                                   schedule="monthly", end_date=date(2026, 1, 31), tax_rate=long_rate))
    handle(store, AddCard("C" * 100, "Ana", "1234", "BRL", 31, T0, "BANK"))
    handle(store, ChargeCard("C" * 100, "x" * 100, date(2025, 12, 10), "5.00", "m" * 200, T0, "BANK"))
    summary = tick(store, utc(2026, 1, 2, 12))
    assert summary.refused == []
    projection_runner.run(store, registry.ALL)
    assert projection_runner.errors(store) == []
    numbers = {d["number"] for d in list_invoices(store.read_engine, kind="ALL", company="CARE")}
    numbers |= {d["number"] for d in list_invoices(store.read_engine, kind="ALL", company="BANK")}
    assert f"PKG-{long_ref}-2026-01-01" in numbers and f"ST-{'C' * 100}-0001" in numbers


# ============================================================================================ items 4 and 22: parsers
@pytest.mark.parametrize("text", ["²", "-²", "٣", "𝟑", "3.0", "1e1"])
def test_installments_are_ascii_digits_or_a_usage_error(store: Store, text: str) -> None:
    """Rule (item 22): ``int()`` never sees unchecked text: installments of ``²`` were exit 1."""
    firm(store)
    with pytest.raises(ValidationError) as e:
        handle(store, ChargeCard("OK", "c9", date(2025, 12, 11), "9.00", "shop", T0, "BANK", installments=text))
    assert e.value.field == "installments"


@pytest.mark.parametrize("text", ["2025-W50-1", "2025-344", "20251210", "٢٠٢٥-١٢-١٠"])
def test_a_calendar_date_is_yyyy_mm_dd(store: Store, text: str) -> None:
    """Rule (item 13: one rule per kind of value): a date is an ISO 8601 calendar date; a week date or an
    ordinal date is refused, not read as some day."""
    firm(store)
    with pytest.raises(ValidationError) as e:
        handle(store, ChargeCard("OK", "c9", text, "9.00", "shop", T0, "BANK"))
    assert e.value.field == "date"


# ============================================================================================ item 5: time runs forward
def test_a_timesheet_command_is_never_before_the_lock_it_decides_on(store: Store) -> None:
    """Rule (item 5): a command's time is never before the last event of what it changes or decides on. A
    correction dated before its week was invoiced (it would bill a difference against an invoice issued
    later) and an entry dated before the lock that makes it late are refused, naming both instants."""
    firm(store)
    entry(store, "S-1", utc(2026, 1, 6, 15), 50, utc(2026, 1, 6, 18))
    assert handle(store, InvoiceTimesheetWeek("CL", "2026-W02", utc(2026, 1, 14, 12), "CARE")) == "INV-2026-000001"
    before = store.head()
    with pytest.raises(Conflict) as e:
        handle(store, CorrectTimesheetEntry("S-1", utc(2026, 1, 10), "CARE", minutes=70))
    assert e.value.field == "at" and "2026-01-10T00:00:00+00:00" in e.value.rule and "2026-01-14T12:00:00+00:00" in e.value.rule
    with pytest.raises(Conflict):
        entry(store, "S-8", utc(2026, 1, 7, 15), 30, utc(2026, 1, 8))
    assert store.head() == before
    entry(store, "S-8", utc(2026, 1, 7, 15), 30, utc(2026, 1, 15))  # after the lock: late, in a later week
    handle(store, CorrectTimesheetEntry("S-1", utc(2026, 1, 15), "CARE", minutes=70))


# ============================================================================================ item 10: what a list shows
def test_the_week_a_list_shows_is_accepted_and_a_week_not_begun_is_refused(store: Store) -> None:
    """Rule (item 10): whatever identifier a list shows is accepted by the commands: ``timesheets list``
    shows a week as its Monday's date, so ``--week`` takes it (or any date of the week) as well as
    ``2026-W02``. A week that has not begun at the command's time cannot be invoiced."""
    firm(store)
    entry(store, "S-1", utc(2026, 1, 6, 15), 50, utc(2026, 1, 6, 18))
    entry(store, "S-2", utc(2026, 9, 29, 15), 50, utc(2026, 1, 7))  # booked ahead
    with pytest.raises(ValidationError) as e:
        handle(store, InvoiceTimesheetWeek("CL", "2026-W40", utc(2026, 1, 28), "CARE"))
    assert e.value.field == "week" and "has begun" in e.value.rule
    for bad in ("1899-W52", "2026-W54", "2026-W2", "2026-13-01"):
        with pytest.raises(ValidationError):
            handle(store, InvoiceTimesheetWeek("CL", bad, utc(2026, 1, 28), "CARE"))
    assert handle(store, InvoiceTimesheetWeek("CL", "2026-01-05", utc(2026, 1, 14), "CARE")) == "INV-2026-000001"


# ============================================================================================ items 11, 16, 17: the CLI
def test_unknown_filters_missing_arguments_and_amount_messages_on_the_cli(sqlite_url: str) -> None:
    """Rules: an unknown reference named as a filter is exit 2 (item 16: an engagement, a company's tax
    rates, keys or settings); every list pages (item 17); a missing argument names itself and the rule;
    one message for every amount that is not greater than zero (item 11); a refusal gives its true
    reason."""
    from commands.config import resolve

    with Store(resolve(sqlite_url)) as s:
        firm(s)
    for args, field in ((["timesheets", "list", "--company", "CARE", "--engagement", "NOPE"], "engagement"),
                        (["tax-rates", "list", "--company", "NOPE"], "company"),
                        (["api-keys", "list", "--company", "NOPE"], "company"),
                        (["companies", "show", "NOPE"], "company")):
        rejected(sqlite_url, field, *args)
    r = rejected(sqlite_url, "number", "cards", "show")
    assert "error: number: is required (the argument)" in r.stderr, r.stderr
    r = rejected(sqlite_url, "charge_id", "cards", "charge", "OK", "--company", "BANK", "--date", "2025-12-01", "--amount", "1")
    assert "is required (the option --id)" in r.stderr, r.stderr
    fee = ["engagements", "create", "EF", "--company", "CARE", "--customer", "CL", "--name", "x", "--schedule", "monthly",
           "--start", "2026-01-01", "--at", "2026-01-02T00:00:00Z", "--fee"]
    messages = {rejected(sqlite_url, "fee", *fee, v).stderr.split(" is ", 1)[1] for v in ("-5", "0")}
    assert messages == {"not greater than zero\n"}, messages
    import json

    from support import run_cli

    for args in (["tax-rates", "list", "--company", "CARE"], ["companies", "list"]):  # 3 rates, 2 companies
        r = run_cli(sqlite_url, *args, "--limit", "1", "--json")
        assert r.returncode == 0 and len(json.loads(r.stdout)) == 1, (r.stdout, r.stderr)
        assert "more (next page: --offset 1)" in r.stderr, r.stderr
        second = json.loads(ok(sqlite_url, *args, "--limit", "1", "--offset", "1", "--json"))
        assert len(second) == 1 and second != json.loads(r.stdout), second
    assert json.loads(ok(sqlite_url, "api-keys", "list", "--company", "CARE", "--limit", "1", "--json")) == []
    ok(sqlite_url, "cards", "add", "M1", "--company", "BANK", "--holder", "H", "--last4", "3333", "--currency", "BRL",
       "--closing-day", "15", "--at", "2026-04-12T00:00:00Z")
    ok(sqlite_url, "cards", "init-statements", "--company", "BANK", "--card", "M1", "--months", "3", "--at", "2026-04-12T00:00:00Z")
    r = rejected(sqlite_url, "card", "cards", "init-statements", "--company", "BANK", "--card", "M1", "--months", "4",
                 "--at", "2026-04-12T02:00:00Z")
    assert "open statements already" in r.stderr and "charges or closed" not in r.stderr, r.stderr


def test_a_malformed_json_body_is_a_422_on_body(sqlite_url: str) -> None:
    """Rules: a body that is not JSON (malformed, not UTF-8, nested too deep) is a 422 naming ``body``; a
    value of another JSON type than the field's is a 422 naming the field."""
    from test_http import Api, problem

    api = Api(sqlite_url)
    try:
        for body in (b"not json", b"{bad", b"\xff\xfe{", b"[" * 100_000):
            problem(api.call("POST", "/v1/customers", content=body, headers={"Content-Type": "application/json"}), 422, "body")
        # values of another JSON type are refused, never coerced (item 3): true or 3.0 installments, a numeric amount
        api.ok("POST", "/v1/cards", json={"reference": "V", "holder": "Ana", "last4": "1234", "currency": "EUR", "closing_day": 5,
                                          "at": "2026-01-01T00:00:00Z"})
        charge = {"charge_id": "c1", "date": "2025-12-20", "amount": "10.00", "at": "2026-01-01T00:00:00Z"}
        for field, value in (("installments", True), ("installments", 3.0), ("amount", 10)):
            problem(api.call("POST", "/v1/cards/V/charges", json={**charge, field: value}), 422, field)
        api.ok("POST", "/v1/cards/V/charges", json={**charge, "installments": 3})
    finally:
        api.client.close()
        api.client.app.state.engine.store.close()  # type: ignore[attr-defined]


def test_every_http_list_is_a_page(sqlite_url: str) -> None:
    """Rule (item 17): every list, the catalogues too, is a page ``{items, next_cursor, total}`` that
    takes ``limit`` and ``cursor``."""
    from test_http import Api

    api = Api(sqlite_url)
    try:
        api.ok("POST", "/v1/customers", json={"reference": "CL", "name": "Client", "timezone": "Europe/Berlin", "currency": "EUR",
                                              "at": "2026-01-01T00:00:00Z"})
        api.ok("POST", "/v1/customers/CL/rates", json={"payer": "Aetna", "rate_per_unit": "20.00", "from": "2026-01-01",
                                                      "at": "2026-01-01T00:00:00Z"})
        for path, total in (("/v1/tax-rates", 3), ("/v1/api-keys", 2), ("/v1/customers/CL/rates", 1)):
            first = api.ok("GET", path, params={"limit": 1})
            assert len(first["items"]) == 1 and first["total"] == total, (path, first)
            if total > 1:
                second = api.ok("GET", path, params={"limit": 1, "cursor": first["next_cursor"]})
                assert second["items"] != first["items"]
    finally:
        api.client.close()
        api.client.app.state.engine.store.close()  # type: ignore[attr-defined]


def test_a_time_tracker_row_is_refused_rather_than_changed(store: Store, tmp_path) -> None:  # noqa: ANN001
    """Rule (item 3: never coerced): a wall time the zone skips (02:30 on the night clocks jump forward)
    was stored as a 0-minute entry, and a description over 1,000 characters was cut; both are refused,
    naming the line and field, and nothing is written."""
    from commands.timesheets import ImportTimesheets
    from domain.errors import ImportRejected

    firm(store)
    header = "Client,Project,Description,Start date,Start time,End date,End time\n"
    path = tmp_path / "toggl.csv"
    path.write_text(header + "TH,Chem,Lab,2026-03-08,02:30:00,2026-03-08,03:30:00\n"
                    f"TH,Chem,{'d' * 1001},2026-03-09,10:00:00,2026-03-09,11:00:00\n", encoding="utf-8")
    before = store.head()
    with pytest.raises(ImportRejected) as e:
        handle(store, ImportTimesheets(str(path), utc(2026, 3, 10), "CARE"))
    assert [(line, field) for line, field, _rule in e.value.problems] == [(2, "start"), (3, "notes")], e.value.problems
    assert "does not exist in America/New_York" in e.value.problems[0][2]
    assert store.head() == before


def test_a_harvest_day_whose_midnight_the_zone_skips_starts_when_the_day_does(store: Store, tmp_path) -> None:  # noqa: ANN001
    """Rule (item 3, refused rather than changed, is about wall times a row gives): a Harvest row gives a
    date only, so its entry starts when that day starts in the company's zone; on a day whose midnight the
    clocks skip (Santiago, 2025-09-07: 00:00 -> 01:00) that is 01:00, not a refusal of the whole file."""
    from commands.timesheets import ImportTimesheets

    handle(store, SetCompany("CL", T0, name="Chile", timezone="America/Santiago", currency="CLP"))
    handle(store, AddCustomer("U", "Uni", "America/Santiago", "CLP", 14, company="CL", at=T0))
    handle(store, SetCustomerRate("U", "self-pay", "1000", date(2025, 1, 1), T0, "CL"))
    handle(store, CreateEngagement("TH", "U", "Tutoring", "hourly", date(2025, 1, 1), T0, "CL"))
    path = tmp_path / "harvest.csv"
    path.write_text("Date,Client,Project,Task,Notes,Hours,First Name,Last Name\n"
                    "2025-09-07,TH,Chem,Lab,,1.5,Dana,Smith\n", encoding="utf-8")
    assert handle(store, ImportTimesheets(str(path), utc(2025, 9, 8), "CL")) == {"created": 1, "unchanged": 0}
    issued = tick(store, utc(2025, 9, 16, 12)).issued
    assert [(d["week"], d["units"]) for d in issued] == [("2025-W36", 6)], issued


# ============================================================================================ item 7: a pause is never billed
def test_a_purchase_dated_while_the_card_was_inactive_is_refused_after_it_is_active_again(store: Store) -> None:
    """Rule (item 7): what falls in a pause is never billed later. A purchase dated while the card was
    deactivated (posted after it is active again) is refused; a refund dated then, or a purchase dated
    before the pause or on the day of deactivation or reactivation (the card was active part of that day),
    is taken (late, on the current statement)."""
    from commands.cards import SetCardActive

    firm(store)
    handle(store, SetCardActive("OK", False, utc(2026, 6, 13, 15), "BANK"))
    handle(store, SetCardActive("OK", True, utc(2026, 9, 2, 15), "BANK"))
    at = utc(2026, 9, 3, 15)
    for day in (date(2026, 6, 14), date(2026, 7, 20), date(2026, 9, 1)):
        with pytest.raises(ValidationError) as e:
            handle(store, ChargeCard("OK", f"p-{day}", day, "5.00", "shop", at, "BANK"))
        assert e.value.field == "date" and "deactivated on 2026-06-13, active again on 2026-09-02" in e.value.rule
    for cid, day, amount in (("p2", date(2026, 6, 12), "5.00"), ("r1", date(2026, 7, 20), "-5.00"),
                             ("p3", date(2026, 9, 2), "7.00"), ("p4", date(2026, 6, 13), "3.00")):
        assert handle(store, ChargeCard("OK", cid, day, amount, "shop", at, "BANK"))["posted"] == 1


def test_a_recurring_charge_due_in_a_pause_no_tick_saw_is_skipped_and_never_blocks_the_card(store: Store) -> None:
    """Rule (item 7, and item 1: a refusal the user cannot correct must not exist): a recurring charge due
    while the card was inactive, first seen by a tick after the card is active again, was posted as a
    purchase dated in the pause, which the card refuses, so every tick passed over the card and its
    statements for good. It is recorded skipped ("inactive"); the card's statements close as usual."""
    from commands.cards import SetCardActive

    firm(store)
    handle(store, SetRecurringCharge("OK", "tv", T0, "BANK", day=5, amount="39.90", merchant="tv",
                                     start_date=date(2026, 1, 5)))
    handle(store, SetCardActive("OK", False, utc(2026, 3, 1, 15), "BANK"))
    handle(store, SetCardActive("OK", True, utc(2026, 3, 20, 15), "BANK"))
    summary = tick(store, utc(2026, 4, 6, 12))
    assert summary.refused == [], summary.refused
    assert summary.counts["card_recurring"] == {"posted": 3, "skipped_inactive": 1}, summary.counts  # Jan, Feb, Apr; not Mar 5
    assert summary.counts["card_statement"]["closed"] >= 3, summary.counts
