"""Credit-card statements (issue 9): the cycle rules with dates worked out by hand (month-end closing
days, both boundaries, due days across a year end, business-day shifts), installments, refunds, late and
waiting charges, the bank's own closing date, closing by hand, catch-up of missed periods, payments,
history, the imports (own CSV and the Birmingham format) and the HTTP API with the source system's
resource names. (Determinism, racing tickers and the CLI's bad inputs are the shared suites':
scenarios/cards.py.)"""

from __future__ import annotations

import csv
import gzip
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from commands.app import Store
from commands.bus import handle
from commands.card_import import ImportCards, ImportCharges
from commands.cards import (
    AddCard, ChargeCard, CloseStatement, DeleteStatement, InitStatements, MoveStatement, PayStatement, SetCardActive,
    SetStatementCycle,
)
from commands.companies import SetCompany
from domain.base import business_time
from domain.calendar import next_business_day
from domain.card_charges import Purchase, close_oldest, installment_parts, open_first, post_purchases
from domain.credit_card import CreditCard
from domain.credit_card_invoice import CreditCardInvoice
from domain.errors import Conflict, ImportRejected, NotFound, ValidationError
from domain.schedules import first_day_after, statement_after, statement_containing
from projections import queries
from projections.card_queries import list_statements, payment_statuses
from scheduler.tick import tick
from support import js, ok, rejected

UTC = timezone.utc
D = date
T0 = datetime(2024, 1, 2, 12, tzinfo=UTC)
HERE = Path(__file__).resolve().parent.parent


# ============================================================================================ the cycle rules
def test_closing_day_31_closes_on_each_months_last_day_computed_from_the_anchor() -> None:
    assert statement_containing(D(2024, 2, 10), 31, "INCLUSIVE") == (D(2024, 2, 1), D(2024, 2, 29))
    assert statement_after(D(2024, 2, 29), 31, "INCLUSIVE") == (D(2024, 3, 1), D(2024, 3, 31))
    assert statement_after(D(2024, 3, 31), 31, "INCLUSIVE") == (D(2024, 4, 1), D(2024, 4, 30))
    # after the short months it goes back to the 31st: never "previous end + 1 month"
    assert statement_after(D(2024, 4, 30), 31, "INCLUSIVE") == (D(2024, 5, 1), D(2024, 5, 31))
    assert statement_containing(D(2023, 2, 28), 31, "INCLUSIVE") == (D(2023, 2, 1), D(2023, 2, 28))
    assert statement_containing(D(2024, 2, 29), 30, "INCLUSIVE") == (D(2024, 1, 31), D(2024, 2, 29))


def test_a_purchase_on_the_closing_day_belongs_to_the_closing_statement_or_the_next() -> None:
    # inclusive (default): the statement that closes on the 10th holds the 10th
    assert statement_containing(D(2024, 3, 10), 10, "INCLUSIVE") == (D(2024, 2, 11), D(2024, 3, 10))
    # exclusive (Nubank, Itaú): the 10th opens the next statement; the period ends the day before
    assert statement_containing(D(2024, 3, 10), 10, "EXCLUSIVE") == (D(2024, 3, 10), D(2024, 4, 9))
    assert statement_containing(D(2024, 3, 9), 10, "EXCLUSIVE") == (D(2024, 2, 10), D(2024, 3, 9))


def test_due_day_after_the_close_runs_across_the_year_end_and_clamps() -> None:
    assert first_day_after(D(2024, 12, 28), 10) == D(2025, 1, 10)
    assert first_day_after(D(2024, 12, 10), 10) == D(2025, 1, 10)  # strictly after the close
    assert first_day_after(D(2025, 1, 31), 31) == D(2025, 2, 28)


def test_due_dates_move_to_the_next_business_day() -> None:
    assert next_business_day(D(2026, 3, 7), "NONE") == D(2026, 3, 9)  # a Saturday
    assert next_business_day(D(2026, 9, 7), "BR") == D(2026, 9, 8)  # Brazil's Independence Day, a Monday
    assert next_business_day(D(2026, 9, 7), "NONE") == D(2026, 9, 7)
    assert next_business_day(D(2026, 12, 25), "GB") == D(2026, 12, 29)  # Christmas (Fri), Sat, Sun, Boxing Day (Mon, observed)
    assert next_business_day(D(2026, 7, 3), "US") == D(2026, 7, 6)  # Independence Day observed on Friday 3rd


def test_installments_put_the_remainder_cents_in_the_first_part() -> None:
    assert installment_parts(Decimal("100.00"), "BRL", 3) == [Decimal("33.34"), Decimal("33.33"), Decimal("33.33")]
    assert sum(installment_parts(Decimal("1000.01"), "BRL", 48)) == Decimal("1000.01")
    assert installment_parts(Decimal("500"), "JPY", 3) == [Decimal("168"), Decimal("166"), Decimal("166")]


# ============================================================================================ aggregates, no database
def _card(closing: int = 31, **kw: object) -> tuple[CreditCard, dict[int, CreditCardInvoice]]:
    card = CreditCard.create(reference="V", company="c", holder="Ana", last4="1234", currency="BRL", timezone="America/Sao_Paulo",
                             closing_day=closing, opened_on=D(2024, 1, 10), **kw)
    return card, {1: open_first(card, card.open[0])}


def test_a_card_closes_with_its_due_date_and_opens_the_next_with_waiting_installments() -> None:
    with business_time(T0):
        card, st = _card(due_day=7, holidays="BR")
        post_purchases(card, st, [Purchase("tv", D(2024, 1, 5), Decimal("100.00"), "shop", 3)])
        assert [c.amount for c in st[1].charges] == [Decimal("33.34")]
    closed_at = datetime(2024, 2, 1, 3, tzinfo=UTC)
    with business_time(closed_at):
        nxt = close_oldest(card, st[1], closed_at)
    assert st[1].status == "PENDING" and st[1].due_date == D(2024, 2, 7) and st[1].total_amount == Decimal("33.34")
    assert (nxt.start_date, nxt.end_date) == (D(2024, 2, 1), D(2024, 2, 29))
    assert [(c.id, c.amount, c.part) for c in nxt.charges] == [("tv/2", Decimal("33.33"), 2)]
    # refused before anything is recorded
    with business_time(closed_at), pytest.raises(ValidationError) as e:
        post_purchases(card, {2: nxt}, [Purchase("tv", D(2024, 1, 5), Decimal("99.00"), "shop", 3)])
    assert e.value.field == "charge_id"
    assert len(nxt.charges) == 1


def test_a_statement_without_charges_closes_paid_and_set_cycle_keeps_its_charges_inside() -> None:
    with business_time(T0):
        card, st = _card()
        post_purchases(card, st, [Purchase("a", D(2024, 1, 20), Decimal("10.00"), "shop")])
        with pytest.raises(ValidationError) as e:
            st[1].set_cycle(D(2024, 1, 1), D(2024, 1, 15))
        assert e.value.field == "end_date"
        with pytest.raises(ValidationError):
            card.set_cycle(D(2023, 12, 31))
    with business_time(datetime(2024, 2, 1, 3, tzinfo=UTC)):
        nxt = close_oldest(card, st[1], datetime(2024, 2, 1, 3, tzinfo=UTC))
    with business_time(datetime(2024, 3, 1, 3, tzinfo=UTC)):
        close_oldest(card, nxt, datetime(2024, 3, 1, 3, tzinfo=UTC))
    assert nxt.status == "PAID" and nxt.total_amount == Decimal("0") and nxt.purchases_count == 0


# ============================================================================================ through the bus
def _setup(store: Store, **card: object) -> None:
    handle(store, SetCompany("BANK", T0, name="Bank", timezone="America/Sao_Paulo", currency="BRL"))
    handle(store, AddCard("V", "Ana", "1234", "BRL", card.pop("closing_day", 31), T0, "BANK", **card), catch_up=True)


def _statements(store: Store) -> list[tuple]:
    return [(s["number"], s["start_date"], s["end_date"], s["status"], s["total_amount"], s["purchases_count"], s["due_date"])
            for s in list_statements(store.read_engine, "BANK", with_charges=False)]


def _at(day: date, hour: int = 15) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_catch_up_of_several_missed_periods_oldest_first_with_refunds_and_late_charges(store: Store) -> None:
    _setup(store, due_after_days=10)
    handle(store, ChargeCard("V", "p1", D(2024, 1, 5), "200.00", "shop", _at(D(2024, 1, 5)), "BANK"))
    handle(store, ChargeCard("V", "r1", D(2024, 1, 6), "-50.00", "shop", _at(D(2024, 1, 6)), "BANK"))
    # posted ahead of the tick: a February purchase and a February refund of a January purchase wait
    handle(store, ChargeCard("V", "p2", D(2024, 2, 3), "80.00", "shop", _at(D(2024, 2, 3)), "BANK"))
    handle(store, ChargeCard("V", "r2", D(2024, 2, 4), "-20.00", "shop", _at(D(2024, 2, 4)), "BANK"))
    summary_ = tick(store, _at(D(2024, 4, 2), 12))
    assert summary_.counts["card_statement"]["closed"] == 3
    handle(store, ChargeCard("V", "late", D(2024, 1, 15), "7.77", "posted late", _at(D(2024, 4, 3)), "BANK"), catch_up=True)
    assert _statements(store) == [
        ("ST-V-0001", "2024-01-01", "2024-01-31", "OVERDUE", "150.00", 2, "2024-02-12"),  # Feb 10 is a Saturday
        ("ST-V-0002", "2024-02-01", "2024-02-29", "OVERDUE", "60.00", 2, "2024-03-11"),  # Mar 10 is a Sunday
        ("ST-V-0003", "2024-03-01", "2024-03-31", "PAID", "0.00", 0, "2024-04-10"),  # nothing owed
        ("ST-V-0004", "2024-04-01", "2024-04-30", "OPEN", "7.77", 1, None),
    ]
    assert list_statements(store.read_engine, "BANK", card="V", state="open", with_charges=True)[0]["charges"][0]["late"] is True
    overdue = [d["number"] for d in queries.list_invoices(store.read_engine, kind="ALL", status="OVERDUE")]
    assert overdue == ["ST-V-0001", "ST-V-0002"]


def test_the_empty_statement_is_paid_at_once_and_payments_run_pending_overdue_paid(store: Store) -> None:
    _setup(store)
    handle(store, ChargeCard("V", "p1", D(2024, 1, 5), "100.00", "shop", _at(D(2024, 1, 5)), "BANK"))
    tick(store, _at(D(2024, 2, 1), 12))
    with pytest.raises(ValidationError) as e:
        handle(store, PayStatement("ST-V-0001", _at(D(2024, 2, 2)), "BANK", "100.01"))
    assert e.value.field == "amount"
    assert handle(store, PayStatement("ST-V-0001", _at(D(2024, 2, 2)), "BANK", "40.00"))["status"] == "PENDING"
    tick(store, _at(D(2024, 2, 13), 12))  # due Feb 10 (Saturday) moved to Feb 12: overdue from Feb 13
    r = handle(store, PayStatement("ST-V-0001", _at(D(2024, 2, 14)), "BANK"), catch_up=True)
    assert r == {"number": "ST-V-0001", "status": "PAID", "balance": "0.00"}
    assert [(p["id"], p["status"], p["expected_amount"], p["paid_amount"]) for p in payment_statuses(store.read_engine, "BANK")] == [
        ("ST-V-0001", "PAID", "100.00", "100.00")]
    with pytest.raises(Conflict):
        handle(store, PayStatement("ST-V-0002", _at(D(2024, 2, 14)), "BANK"))  # open


def test_the_banks_date_wins_and_later_periods_follow_the_anchor(store: Store) -> None:
    _setup(store, closing_day=10, boundary="exclusive")
    handle(store, ChargeCard("V", "p1", D(2024, 1, 9), "10.00", "shop", _at(D(2024, 1, 9)), "BANK"))
    handle(store, SetStatementCycle("V", D(2024, 1, 12), _at(D(2024, 1, 9)), "BANK"))
    handle(store, ChargeCard("V", "p2", D(2024, 1, 11), "5.00", "shop", _at(D(2024, 1, 11)), "BANK"))
    tick(store, _at(D(2024, 2, 15), 12))
    rows = _statements(store)
    assert [r[1:3] for r in rows] == [("2023-12-10", "2024-01-12"), ("2024-01-13", "2024-02-09"), ("2024-02-10", "2024-03-09")]
    assert rows[0][4:6] == ("15.00", 2)
    with pytest.raises(ValidationError) as e:
        handle(store, SetStatementCycle("V", D(2024, 2, 9), _at(D(2024, 2, 15)), "BANK"))
    assert e.value.field == "end_date"


def test_closing_by_hand_ends_today_and_opens_the_next(store: Store) -> None:
    _setup(store)
    handle(store, ChargeCard("V", "p1", D(2024, 1, 5), "10.00", "shop", _at(D(2024, 1, 5)), "BANK"))
    assert handle(store, CloseStatement("V", _at(D(2024, 1, 20)), "BANK"), catch_up=True) == "ST-V-0001"
    assert [r[1:4] for r in _statements(store)] == [("2024-01-01", "2024-01-20", "PENDING"), ("2024-01-21", "2024-02-29", "OPEN")]


def test_history_opened_for_the_last_months_is_idempotent_and_empty_old_statements_can_be_deleted(store: Store) -> None:
    _setup(store, closing_day=28)
    at = _at(D(2024, 1, 20))
    assert handle(store, InitStatements(3, at, "BANK", "V")) == {"cards": 1, "opened": 3, "unchanged": 0}
    assert handle(store, InitStatements(3, at, "BANK", "V")) == {"cards": 0, "opened": 0, "unchanged": 1}
    handle(store, ChargeCard("V", "h1", D(2023, 11, 10), "12.00", "old", at, "BANK"), catch_up=True)
    assert [(r[0], r[1], r[2], r[5]) for r in _statements(store)] == [
        ("ST-V-0001", "2023-09-29", "2023-10-28", 0), ("ST-V-0002", "2023-10-29", "2023-11-28", 1),
        ("ST-V-0003", "2023-11-29", "2023-12-28", 0), ("ST-V-0004", "2023-12-29", "2024-01-28", 0)]
    with pytest.raises(Conflict):
        handle(store, DeleteStatement("ST-V-0002", at, "BANK"))  # not the oldest; has a charge
    handle(store, DeleteStatement("ST-V-0001", at, "BANK"), catch_up=True)
    assert [r[0] for r in _statements(store)] == ["ST-V-0002", "ST-V-0003", "ST-V-0004"]
    with pytest.raises(NotFound):
        handle(store, MoveStatement("ST-V-0001", D(2023, 10, 1), D(2023, 10, 2), at, "BANK"))
    tick(store, _at(D(2024, 1, 30), 12))
    assert [r[3] for r in _statements(store)] == ["OVERDUE", "PAID", "PAID", "OPEN"]  # due Dec 8 (Fri)


def test_a_deactivated_card_takes_no_charges_and_opens_no_next_statement(store: Store) -> None:
    _setup(store)
    handle(store, SetCardActive("V", False, _at(D(2024, 1, 10)), "BANK"))
    with pytest.raises(Conflict):
        handle(store, ChargeCard("V", "p1", D(2024, 1, 5), "10.00", "shop", _at(D(2024, 1, 10)), "BANK"))
    tick(store, _at(D(2024, 3, 1), 12))
    handle(store, SetCardActive("V", True, _at(D(2024, 3, 2)), "BANK"), catch_up=True)
    assert [r[1:4] for r in _statements(store)] == [("2024-01-01", "2024-01-31", "PAID"), ("2024-03-01", "2024-03-31", "OPEN")]


# ============================================================================================ imports and the CLI
def test_imports_are_all_or_nothing_and_idempotent(store: Store, tmp_path: Path) -> None:
    handle(store, SetCompany("BANK", T0, name="Bank", timezone="America/Sao_Paulo", currency="BRL"))
    cards = tmp_path / "cards.csv"
    cards.write_text("reference,holder,last4,currency,closing_day,due_day,due_after_days,boundary,holidays\n"
                     "A,Ana,1111,BRL,31,7,,exclusive,BR\nB,Bia,2222,BRL,32,,,,\nC,Cid,333,BRL,5,,,,\n")
    with pytest.raises(ImportRejected) as e:
        handle(store, ImportCards(str(cards), T0, "BANK"))
    assert [(line, f) for line, f, _r in e.value.problems] == [(3, "closing_day"), (4, "last4")]
    assert store.head() == 1
    cards.write_text("reference,holder,last4,currency,closing_day,due_day,due_after_days,boundary,holidays\nA,Ana,1111,BRL,31,7,,exclusive,BR\n")
    assert handle(store, ImportCards(str(cards), T0, "BANK")) == {"created": 1, "unchanged": 0}
    assert handle(store, ImportCards(str(cards), T0, "BANK")) == {"created": 0, "unchanged": 1}
    charges = tmp_path / "charges.csv"
    charges.write_text("card,charge_id,date,amount,merchant,installments\nA,c1,2024-01-05,100.00,shop,3\nA,c2,2024-01-06,,shop,\n"
                       "NOPE,c3,2024-01-06,1.00,shop,\n")
    head = store.head()
    with pytest.raises(ImportRejected) as e:
        handle(store, ImportCharges(str(charges), T0, "BANK"))
    assert [(line, f) for line, f, _r in e.value.problems] == [(3, "amount"), (4, "card")]
    assert store.head() == head
    charges.write_text("card,charge_id,date,amount,merchant,installments\nA,c1,2024-01-05,100.00,shop,3\n")
    assert handle(store, ImportCharges(str(charges), T0, "BANK"))["posted"] == 1
    assert handle(store, ImportCharges(str(charges), T0, "BANK"))["unchanged"] == 1


def test_birmingham_rows_through_the_cli_reconcile_per_card(tmp_path: Path, sqlite_url: str) -> None:
    """The first 300 rows of the first Birmingham file, imported in its own format by ``billing cards
    import-charges``: the statement of each card holds exactly that card's rows."""
    from commands.card_import import birmingham_card

    with gzip.open(HERE / "examples" / "birmingham-pcard" / "all_statements.csv.gz", "rt", newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = [r for _i, r in zip(range(300), reader)]
        header = reader.fieldnames
    path = tmp_path / "pcard.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=header)
        w.writeheader()
        w.writerows(rows)
    want: dict[str, list] = {}
    for r in rows:
        s = want.setdefault(birmingham_card(r["card"], r["directorate"]), [Decimal(0), 0])
        s[0] += Decimal(r["amount"])
        s[1] += 1
    at = "--at=2014-05-02T00:00:00+01:00"
    ok(sqlite_url, "companies", "set", "BCC", "--timezone", "Europe/London", "--currency", "GBP", at)
    cards = tmp_path / "cards.csv"
    cards.write_text("reference,holder,last4,currency,closing_day,due_day,due_after_days,boundary,holidays\n"
                     + "".join(f"{ref},{ref},{ref[:4]},GBP,3,,,,GB\n" for ref in sorted(want)))
    ok(sqlite_url, "cards", "import", str(cards), "--company", "BCC", at)
    ok(sqlite_url, "cards", "set-cycle", "--all", "--company", "BCC", "--end", "2014-05-02", at)
    ok(sqlite_url, "cards", "import-charges", str(path), "--company", "BCC", at)
    ok(sqlite_url, "tick", "--at", "2014-05-03T00:00:00+01:00")
    got = {s["card"]: [Decimal(s["total_amount"]), s["purchases_count"]]
           for s in js(sqlite_url, "cards", "statements", "--company", "BCC", "--closed", "--limit", "0")}
    assert got == want
    rejected(sqlite_url, "card", "cards", "set-cycle", "--company", "BCC", "--end", "2014-06-01", at)
    summary_ = js(sqlite_url, "cards", "summary", "--company", "BCC")["currencies"][0]
    assert summary_["closed"] == len(want) and summary_["charges"] + summary_["refunds"] == 300


# ============================================================================================ HTTP
def test_the_source_systems_resources_over_http(db_url: str) -> None:
    from test_http import Api, problem

    api = Api(db_url)
    try:
        at = "2024-01-10T12:00:00Z"
        api.ok("POST", "/v1/cards", json={"reference": "V", "holder": "Ana", "last4": "1234", "currency": "BRL", "closing_day": 31,
                                          "due_day": 7, "holidays": "BR", "at": at}, status=201)
        api.ok("POST", "/v1/cards/V/charges", json={"charge_id": "p1", "date": "2024-01-05", "amount": "100.00", "installments": 3,
                                                    "at": at})
        problem(api.call("POST", "/v1/cards/V/charges", json={"charge_id": "x", "date": "2024-01-05", "at": at}), 422, "amount")
        problem(api.call("GET", "/v1/credit-card-invoices/ST-V-0001/", key="other"), 404, "statement")
        problem(api.call("DELETE", "/v1/credit-card-invoices/ST-V-0001/"), 409, "statement")
        shown = api.ok("GET", "/v1/credit-card-invoices/ST-V-0001/")
        assert (shown["start_date"], shown["end_date"], shown["billing_period_days"], shown["total_amount"]) == (
            "2024-01-01", "2024-01-31", 31, "33.34")
        moved = api.ok("PUT", "/v1/credit-card-invoices/ST-V-0001/", json={"start_date": "2024-01-01", "end_date": "2024-01-25", "at": at})
        assert moved["end_date"] == "2024-01-25"
        api.ok("POST", "/v1/tick", json={"at": "2024-02-27T12:00:00Z"})
        assert [s["id"] for s in api.ok("GET", "/v1/credit-card-invoices/closed/")["items"]] == ["ST-V-0001"]
        assert [s["id"] for s in api.ok("GET", "/v1/credit-card-invoices/open/")["items"]] == ["ST-V-0002"]
        assert api.ok("GET", "/v1/credit-card-invoices/by_credit_card/?credit_card_id=V")["total"] == 2
        problem(api.call("GET", "/v1/credit-card-invoices/by_credit_card/?credit_card_id=NOPE"), 404, "card")
        closed = api.ok("POST", "/v1/credit-card-invoices/ST-V-0002/close_invoice/", json={"at": "2024-02-27T12:00:00Z"})
        assert (closed["end_date"], closed["is_closed"], closed["total_amount"]) == ("2024-02-27", True, "33.33")
        api.ok("POST", "/v1/credit-card-invoices/ST-V-0001/payments", json={"amount": "33.34", "at": "2024-02-27T13:00:00Z"})
        statuses = api.ok("GET", "/v1/payment-statuses/")["items"]
        assert [(p["id"], p["payment_type"], p["status"]) for p in statuses] == [
            ("ST-V-0001", "credit_card", "PAID"), ("ST-V-0002", "credit_card", "PENDING")]
        s = api.ok("GET", "/v1/credit-card-invoices/summary/")["currencies"][0]
        assert (s["closed"], s["open"], s["closed_total"]) == (2, 1, "66.67")
        assert api.ok("GET", "/v1/credit-card-invoices/", key="other")["total"] == 0
    finally:
        api.client.close()
        api.client.app.state.engine.store.close()  # type: ignore[attr-defined]


# ============================================================================================ review findings (each failed before its fix)
def test_a_card_with_installment_parts_still_to_post_cannot_be_deactivated(store: Store) -> None:
    _setup(store)
    handle(store, ChargeCard("V", "tv", D(2024, 1, 5), "100.00", "shop", _at(D(2024, 1, 5)), "BANK", 3))
    with pytest.raises(Conflict) as e:
        handle(store, SetCardActive("V", False, _at(D(2024, 1, 10)), "BANK"))
    assert e.value.field == "card"
    tick(store, _at(D(2024, 4, 2), 12))
    handle(store, SetCardActive("V", False, _at(D(2024, 4, 2)), "BANK"), catch_up=True)
    assert sum(Decimal(r[4]) for r in _statements(store)) == Decimal("100.00")


def test_history_for_many_cards_is_saved_in_bounded_batches(store: Store) -> None:
    handle(store, SetCompany("BANK", T0, name="Bank", timezone="America/Sao_Paulo", currency="BRL"))
    for i in range(30):
        handle(store, AddCard(f"K{i:02d}", "Holder", "1234", "BRL", i % 28 + 1, T0, "BANK"))
    done = handle(store, InitStatements(36, T0, "BANK"), catch_up=True)
    assert done == {"cards": 30, "opened": 30 * 36, "unchanged": 0}
    assert len(list_statements(store.read_engine, "BANK", card="K00")) == 37


def test_moving_the_end_over_a_waiting_purchase_takes_it_in_and_put_keeps_periods_contiguous(store: Store) -> None:
    _setup(store)
    handle(store, ChargeCard("V", "early", D(2024, 2, 3), "9.99", "shop", _at(D(2024, 2, 3)), "BANK"))  # waits
    handle(store, SetStatementCycle("V", D(2024, 2, 5), _at(D(2024, 2, 3)), "BANK"))
    tick(store, _at(D(2024, 2, 7), 12))
    first = list_statements(store.read_engine, "BANK", card="V", with_charges=True)[0]
    assert (first["end_date"], first["total_amount"], [(c["charge_id"], c["late"]) for c in first["charges"]]) == (
        "2024-02-05", "9.99", [("early", False)])
    with pytest.raises(ValidationError) as e:  # would overlap the closed statement
        handle(store, MoveStatement("ST-V-0002", D(2024, 1, 15), D(2024, 2, 29), _at(D(2024, 2, 7)), "BANK"))
    assert e.value.field == "start_date"
    handle(store, MoveStatement("ST-V-0002", D(2024, 2, 6), D(2024, 3, 2), _at(D(2024, 2, 7)), "BANK"), catch_up=True)
    assert [r[1:3] for r in _statements(store)] == [("2024-01-01", "2024-02-05"), ("2024-02-06", "2024-03-02")]


def test_set_cycle_for_every_card_writes_nothing_when_one_card_refuses(store: Store) -> None:
    _setup(store)
    handle(store, AddCard("W", "Bia", "5678", "BRL", 10, T0, "BANK"))
    handle(store, ChargeCard("W", "late-in-period", D(2024, 1, 9), "1.00", "shop", T0, "BANK"), catch_up=True)
    head = store.head()
    with pytest.raises(ValidationError) as e:  # W's statement holds a charge of Jan 9
        handle(store, SetStatementCycle(None, D(2024, 1, 5), _at(D(2024, 1, 3)), "BANK"))
    assert e.value.field == "end_date" and store.head() == head


def test_a_recurring_charge_is_skipped_while_the_card_is_inactive_and_never_billed_later(store: Store) -> None:
    from commands.cards import SetRecurringCharge

    _setup(store)
    handle(store, SetRecurringCharge("V", "gym", T0, "BANK", 15, "50.00", "gym"))
    with pytest.raises(ValidationError):
        handle(store, SetRecurringCharge("V", "a/b", T0, "BANK", 15, "50.00", "gym"))
    with pytest.raises(ValidationError):
        handle(store, ChargeCard("V", "x/2", D(2024, 1, 5), "1.00", "shop", T0, "BANK"))
    tick(store, _at(D(2024, 1, 20), 12))
    handle(store, SetCardActive("V", False, _at(D(2024, 1, 20)), "BANK"))
    tick(store, _at(D(2024, 3, 20), 12))
    handle(store, SetCardActive("V", True, _at(D(2024, 3, 20)), "BANK"))
    tick(store, _at(D(2024, 4, 20), 12))
    charges = [c["charge_id"] for s in list_statements(store.read_engine, "BANK", with_charges=True) for c in s["charges"]]
    assert charges == ["gym/2024-01-15", "gym/2024-04-15"]
