"""The card-statement scenario (issue 9) for the shared suites (:mod:`scenarios`): a Brazilian issuer
(America/Sao_Paulo, BRL, national holidays) with a card closing on the 31st, exclusive boundary, due on the
7th, and one closing on the 5th, inclusive, due 10 days after; a London card closing on the 15th, due 20
days after; purchases, installments, refunds, charges posted ahead of the tick (they wait), a recurring
charge, payments; 60 cards for the racing tickers; the CLI's bad inputs of cards."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from typing import Any

import domain.credit_card  # noqa: F401 - registers the topics the suites decode
from commands.app import Store
from commands.bus import handle
from commands.cards import AddCard, ChargeCard, CloseStatement, InitStatements, PayStatement, SetRecurringCharge, SetStatementCycle
from commands.companies import SetCompany
from commands.config import resolve
from projections import queries, registry
from projections import runner as projection_runner
from projections.card_queries import list_cards, list_statements
from scenarios import Action, Scenario
from scheduler.tick import tick
from support import events, js

UTC = timezone.utc
T0 = datetime(2024, 1, 2, 12, tzinfo=UTC)
CARDS = [  # company, card, closing day, boundary, due day, due after days, holidays
    ("SP", "NU", 31, "exclusive", 7, None, "BR"),
    ("SP", "IT", 5, "inclusive", None, 10, "BR"),
    ("LDN", "BC", 15, "inclusive", None, 20, "GB"),
]
COMPANIES = {"SP": ("America/Sao_Paulo", "BRL"), "LDN": ("Europe/London", "GBP")}


def catch_up(store: Store) -> None:
    projection_runner.run(store, registry.ALL)


def setup(store: Store) -> None:
    for co, (zone, cur) in COMPANIES.items():
        handle(store, SetCompany(co, T0, name=f"Issuer {co}", timezone=zone, currency=cur))
    for co, ref, closing, boundary, due_day, due_after, hol in CARDS:
        cur = COMPANIES[co][1]
        handle(store, AddCard(ref, f"Holder {ref}", "4242", cur, closing, T0, co, due_day, due_after, boundary, hol))
    handle(store, SetRecurringCharge("NU", "streaming", T0, "SP", 5, "39.90", "streaming service"))


def _charge(co: str, card: str, cid: str, day: date, amount: str, at: datetime, parts: int = 1) -> Action:
    return Action(at, lambda s: handle(s, ChargeCard(card, cid, day, amount, f"shop {cid}", at, co, parts)))


def _actions() -> list[Action]:
    """Purchases on their day (12:00 UTC), a few posted days later within their period, installments,
    refunds; the same in a daily and a one-tick run."""
    acts: list[Action] = []
    n = 0
    for week in range(16):
        for co, card, *_ in CARDS:
            day = date(2024, 1, 3) + timedelta(days=7 * week + n % 5)
            at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=15)
            amount = f"{(n * 37) % 500 + 10}.{n % 100:02d}"
            parts = 3 if n % 7 == 0 else 1
            acts.append(_charge(co, card, f"P{n:03d}", day, amount, at, parts))
            if n % 5 == 2:
                acts.append(_charge(co, card, f"R{n:03d}", day, f"-{n % 40 + 1}.50", at + timedelta(minutes=5)))
            n += 1
    # the closing day itself under both boundaries, and the day after
    for co, card, day in (("SP", "NU", date(2024, 1, 31)), ("SP", "NU", date(2024, 2, 29)), ("SP", "IT", date(2024, 3, 5)),
                          ("LDN", "BC", date(2024, 3, 15)), ("LDN", "BC", date(2024, 3, 16))):
        at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=16)
        acts.append(_charge(co, card, f"B-{card}-{day}", day, "100.00", at))
    return sorted(acts, key=lambda a: a.at)


def golden_scenario(store: Store) -> dict[str, Any]:
    """Every kind of card event at fixed instants: weekly ticks, a late charge, the bank's own closing date,
    a close by hand, history opened on a new card, payments."""
    setup(store)
    issued: list[Any] = []
    acts = _actions()
    acts.append(_charge("SP", "IT", "LATE-1", date(2024, 1, 20), "55.55", datetime(2024, 2, 20, 12, tzinfo=UTC)))
    acts.append(Action(datetime(2024, 3, 1, 12, tzinfo=UTC),
                       lambda s: handle(s, SetStatementCycle("BC", date(2024, 3, 18), datetime(2024, 3, 1, 12, tzinfo=UTC), "LDN"))))
    acts.append(Action(datetime(2024, 4, 2, 12, tzinfo=UTC), lambda s: handle(s, CloseStatement("IT", datetime(2024, 4, 2, 12, tzinfo=UTC), "SP"))))
    acts.sort(key=lambda a: a.at)
    i = 0
    t = datetime(2024, 1, 9, 12, tzinfo=UTC)
    while t <= datetime(2024, 5, 7, 12, tzinfo=UTC):
        while i < len(acts) and acts[i].at < t:
            acts[i].run(store)
            i += 1
        issued += [(d["company"], d["number"]) for d in tick(store, t).issued]
        t += timedelta(days=7)
    new_at = datetime(2024, 5, 8, 12, tzinfo=UTC)
    handle(store, AddCard("HIST", "Holder", "1111", "GBP", 28, new_at, "LDN"))
    handle(store, InitStatements(3, new_at, "LDN", "HIST"))
    handle(store, ChargeCard("HIST", "H1", date(2024, 2, 10), "12.34", "old purchase", new_at, "LDN"))
    pay_half(store, datetime(2024, 5, 9, tzinfo=UTC))
    issued += [(d["company"], d["number"]) for d in tick(store, datetime(2024, 6, 1, tzinfo=UTC)).issued]
    return {"issued": issued}


def state(store: Store) -> dict[str, Any]:
    catch_up(store)
    statements = [{k: v for k, v in s.items()} for s in list_statements(store.read_engine, None, with_charges=True)]
    docs = sorted((r["company"], r["number"], r["status"], r["issue_date"], r["due_date"], r["gross"], r["paid"])
                  for r in queries.list_invoices(store.read_engine, kind="ALL"))
    return {"statements": statements, "documents": docs, "cards": list_cards(store.read_engine, None)}


def daily_ticks() -> list[datetime]:
    """03:30 UTC of every day from Jan 2 to May 10, 2024 (local midnight has passed in both zones)."""
    start = datetime(2024, 1, 2, 3, 30, tzinfo=UTC)
    return [start + timedelta(days=n) for n in range(130)]


def daily_check(s: dict[str, Any]) -> None:
    closed = [x for x in s["statements"] if x["is_closed"]]
    assert len(closed) >= 11
    assert {x["status"] for x in closed} >= {"OVERDUE", "PENDING"}
    charges = [c for x in s["statements"] for c in x["charges"]]
    assert any(c["installment"] == "3/3" for c in charges) and any(c["amount"].startswith("-") for c in charges)
    assert any(c["charge_id"].startswith("streaming/") for c in charges)


def pay_half(store: Store, at: datetime) -> None:
    catch_up(store)
    for r in list_statements(store.read_engine, None, state="closed")[::2]:
        if r["status"] in ("PENDING", "OVERDUE"):
            handle(store, PayStatement(r["number"], at, r["company"]))


def golden_check(stream: list[tuple[str, str, int, bytes]]) -> None:
    assert sum(1 for t, *_ in stream if t == "billing:CreditCard.PeriodClosed") >= 12
    import re

    assert any(re.search(rb'"late":\s*[1-9]', st) for t, _i, _v, st in stream if t == "billing:CreditCardInvoice.ChargesPosted"), \
        "no late charge was posted"


# ============================================================================================ racing tickers
RACE_AT = datetime(2024, 7, 1, 12, tzinfo=UTC)
N_RACE = 60


def race_setup(store: Store) -> int:
    """Sixty cards of the two issuers with a charge each, closing on days 1-28: four or five statements
    each are due by the tick."""
    for co, (zone, cur) in COMPANIES.items():
        handle(store, SetCompany(co, T0, name=co, timezone=zone, currency=cur))
    for i in range(N_RACE):
        co = ("SP", "LDN")[i % 2]
        handle(store, AddCard(f"K{i:03d}", "Holder", "4242", COMPANIES[co][1], i % 28 + 1, T0, co))
        handle(store, ChargeCard(f"K{i:03d}", "C1", date(2024, 1, 2), f"{i + 1}.00", "shop", T0, co))
    catch_up(store)
    return N_RACE


def race_check(store: Store, cards: int, reported: Counter) -> None:
    """Every statement closed once, in sequence; the next one opened once; totals kept."""
    closed = Counter((e.originator_id, e.seq) for e in events(store, "billing:CreditCard.PeriodClosed"))
    assert all(c == 1 for c in closed.values()), "a statement was closed twice"
    issued = Counter(e.originator_id for e in events(store, "billing:CreditCardInvoice.InvoiceIssued"))
    assert all(c == 1 for c in issued.values()), "a statement was issued twice"
    created = Counter(e.originator_id for e in events(store, "billing:CreditCardInvoice.Created"))
    assert all(c == 1 for c in created.values())
    per_card: dict[Any, list[int]] = {}
    for cid, seq in closed:
        per_card.setdefault(cid, []).append(seq)
    assert len(per_card) == cards and all(sorted(v) == list(range(1, len(v) + 1)) and len(v) >= 5 for v in per_card.values())
    assert sum(reported.values()) <= len(closed)


# ============================================================================================ bad input (CLI)
A = ["--at", "2024-01-10T12:00:00Z"]
CH = ["cards", "charge", "V1", "--company", "BANK", *A]
BAD = [
    ("closing_day", ["cards", "add", "V2", "--company", "BANK", "--holder", "H", "--last4", "1234", "--currency", "BRL", "--closing-day", "0", *A]),
    ("closing_day", ["cards", "add", "V2", "--company", "BANK", "--holder", "H", "--last4", "1234", "--currency", "BRL", "--closing-day", "32", *A]),
    ("closing_day", ["cards", "add", "V2", "--company", "BANK", "--holder", "H", "--last4", "1234", "--currency", "BRL", *A]),
    ("due_day", ["cards", "add", "V2", "--company", "BANK", "--holder", "H", "--last4", "1234", "--currency", "BRL", "--closing-day", "5",
                 "--due-day", "40", *A]),
    ("last4", ["cards", "add", "V2", "--company", "BANK", "--holder", "H", "--last4", "12a4", "--currency", "BRL", "--closing-day", "5", *A]),
    ("holder", ["cards", "add", "V1", "--company", "BANK", "--holder", "Other", "--last4", "1234", "--currency", "BRL",
                "--closing-day", "31", *A]),
    ("card", ["cards", "charge", "NOPE", "--company", "BANK", "--id", "x", "--date", "2024-01-05", "--amount", "1.00", *A]),
    ("amount", [*CH, "--id", "x", "--date", "2024-01-05", "--amount", ""]),
    ("date", [*CH, "--id", "x", "--date", "2024-01-32", "--amount", "1.00"]),
    ("date", [*CH, "--id", "x", "--amount", "1.00"]),
    ("amount", [*CH, "--id", "x", "--date", "2024-01-05"]),
    ("currency", [*CH, "--id", "x", "--date", "2024-01-05", "--amount", "1.00", "--currency", "USD"]),
    ("amount", [*CH, "--id", "x", "--date", "2024-01-05", "--amount", "1.005"]),
    ("installments", [*CH, "--id", "x", "--date", "2024-01-05", "--amount", "10.00", "--installments", "0"]),
    ("installments", [*CH, "--id", "x", "--date", "2024-01-05", "--amount", "10.00", "--installments", "49"]),
    ("charge_id", [*CH, "--id", "C1", "--date", "2024-01-05", "--amount", "99.00"]),
    ("end_date", ["cards", "set-cycle", "V1", "--company", "BANK", "--end", "2023-12-01", *A]),
    ("statement", ["cards", "show", "ST-V1-0009", "--company", "BANK"]),
    ("statement", ["cards", "delete-statement", "ST-V1-0001", "--company", "BANK", *A]),
    ("status", ["cards", "pay", "ST-V1-0001", "--company", "BANK", *A]),
    ("card", ["cards", "statements", "--card", "NOPE", "--company", "BANK"]),
]


def bad_seed(url: str) -> None:
    """Issuer BANK (America/Sao_Paulo, BRL) with card V1 (closing day 31) and charge C1."""
    at = datetime(2024, 1, 10, 12, tzinfo=UTC)
    with Store(resolve(url)) as s:
        handle(s, SetCompany("BANK", at, name="Bank", timezone="America/Sao_Paulo", currency="BRL"))
        handle(s, AddCard("V1", "Holder", "1234", "BRL", 31, at, "BANK"))
        handle(s, ChargeCard("V1", "C1", date(2024, 1, 5), "10.00", "shop", at, "BANK"), catch_up=True)


def bad_after(url: str) -> None:
    rows = js(url, "cards", "statements", "--company", "BANK")
    assert [(r["number"], r["end_date"], r["total_amount"], r["purchases_count"]) for r in rows] == [("ST-V1-0001", "2024-01-31", "10.00", 1)]


SCENARIO = Scenario(
    name="cards",
    golden=golden_scenario,
    topics=tuple("billing:" + t for t in (
        "CreditCard.Created", "CreditCard.ChargesRecorded", "CreditCard.PeriodClosed", "CreditCard.StatementCycleSet",
        "CreditCard.StatementsOpened", "CreditCard.RecurringChargeSet", "CreditCard.RecurringChargePosted",
        "CreditCardInvoice.Created", "CreditCardInvoice.ChargesPosted", "CreditCardInvoice.InvoiceIssued",
        "CreditCardInvoice.StatementCycleSet", "CreditCardInvoice.MarkedOverdue", "CreditCardInvoice.PaymentRecorded",
        "CreditCardInvoice.Paid")),
    golden_check=golden_check,
    state=state,
    daily_setup=setup,
    daily_actions=_actions,
    daily_ticks=daily_ticks,
    daily_check=daily_check,
    after=pay_half,
    race_setup=race_setup,
    race_at=RACE_AT,
    race_check=race_check,
    reported_key=lambda d: (d["company"], d["number"]),
    bad_seed=bad_seed,
    bad_cases=BAD,
    bad_after=bad_after,
)
