"""Fuzzing (hypothesis) the parsers and the imports (issue 6, "Done when").

Rules: any text given to a parser either parses into a value within the engine's documented bounds or
raises a :class:`DomainError` naming the field (never another exception); any import file is either
imported or rejected as a whole (:class:`ImportRejected`) with nothing written; and what is accepted always
fits the read models (no projection error, on SQLite and PostgreSQL). Every import is fuzzed: customers,
invoices, contracts, engagements, timesheets (own format and Toggl), cards and charges (own format and
Birmingham). Bounded: a few hundred examples per parser, 40 files per import and backend.
"""

from __future__ import annotations

import csv
import itertools
import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.app import Store
from commands.bus import handle
from commands.card_import import BIRMINGHAM_COLUMNS, CARD_COLUMNS, CHARGE_COLUMNS, ImportCards, ImportCharges
from commands.cards import AddCard
from commands.companies import SetCompany
from commands.customers import AddCustomer
from commands.engagements import ENGAGEMENT_COLUMNS, CreateEngagement, ImportEngagements
from commands.timesheet_formats import FORMATS
from commands.timesheets import OWN_COLUMNS, ImportTimesheets, SetCustomerRate
from commands.config import resolve
from commands.contract_import import CONTRACT_COLUMNS, import_contracts
from commands.csvfiles import parse_int
from commands.customer_import import CUSTOMER_COLUMNS, import_customers
from commands.individual_invoices import INVOICE_COLUMNS, import_invoices
from domain.attributes import validate_attributes
from domain.card_rules import validate_closing_day, validate_due_rule, validate_installments
from domain.calendar import MAX_DATE, MIN_DATE, parse_date, parse_instant
from domain.errors import DomainError, ImportRejected
from domain.money import AMOUNT_LIMIT, parse_amount
from domain.tax import tax_rate
from domain.text import validate_name, validate_reference, validate_text
from domain.timesheets import parse_week
from projections import registry
from projections import runner as projection_runner

COMPANY = "FZ"
ANY_CHAR = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=())
ANY_TEXT = st.text(ANY_CHAR, max_size=40)
NUMBERISH = st.one_of(
    st.from_regex(r"\A[-+]?[0-9]{0,40}(\.[0-9]{0,12})?\Z"),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["1e3", "1,5", "NaN", "-0", "٣", "²", "0x10", "--5", " 7 ", "9" * 401]),
)
INSTANTISH = st.one_of(
    st.datetimes(timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])).map(
        lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat()),
    st.dates().map(str),
    st.sampled_from(["2026-01-06T10:00:00Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-13-01T00:00:00Z"]),
)
MESSY = st.one_of(ANY_TEXT, NUMBERISH, INSTANTISH)


def _domain_or_value(fn, *args):  # noqa: ANN001, ANN202
    try:
        return fn(*args)
    except DomainError:
        return None


@settings(max_examples=300, deadline=None)
@given(st.one_of(NUMBERISH, ANY_TEXT), st.sampled_from(["EUR", "JPY", "BHD"]))
def test_amounts_parse_within_the_bound_or_name_the_field(text, currency):
    value = _domain_or_value(parse_amount, text, currency, "amount")
    if value is not None:
        assert isinstance(value, Decimal) and abs(value) < AMOUNT_LIMIT
        assert value == value.quantize(Decimal(1).scaleb(-{"EUR": 2, "JPY": 0, "BHD": 3}[currency]))


@settings(max_examples=300, deadline=None)
@given(st.one_of(INSTANTISH, ANY_TEXT))
def test_instants_and_dates_parse_within_the_supported_range_or_name_the_field(text):
    value = _domain_or_value(parse_instant, text, "at")
    if value is not None:
        assert value.tzinfo is not None and MIN_DATE <= value.date() <= MAX_DATE
    day = _domain_or_value(parse_date, text, "from")
    if day is not None:
        assert MIN_DATE <= day <= MAX_DATE


@settings(max_examples=300, deadline=None)
@given(MESSY)
def test_every_other_parser_returns_a_value_or_names_the_field(text):
    for fn in (lambda t: parse_int(t, "n"), validate_attributes, validate_reference, validate_name,
               lambda t: validate_text(t, "note"), tax_rate, validate_installments, validate_closing_day, parse_week,
               lambda t: validate_due_rule(t, None), lambda t: validate_due_rule(None, t)):
        _domain_or_value(fn, text)
    nested = _domain_or_value(validate_attributes, json.dumps({"k": text}))
    assert nested is None or isinstance(nested, dict)


# ============================================================================================ imports
_clock = itertools.count()


def _at() -> datetime:
    """Each import a second after the previous one (a command's time never runs back)."""
    return datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=next(_clock))


def _cell(good: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(good, good, MESSY, st.just(""))


def _row(*good: st.SearchStrategy) -> st.SearchStrategy:
    """The rows (1–4) of a CSV file of the columns whose good values ``good`` draws: half of the files have good
    rows only (so that accepted files are fuzzed too, whatever the seed: Hypothesis derandomizes under CI), the
    others rows that are all good, one cell messy or empty, or every cell good, messy or empty at random."""
    fine = st.tuples(*good)
    one_bad = st.tuples(fine, st.integers(0, len(good) - 1), st.one_of(MESSY, st.just(""))).map(
        lambda t: t[0][:t[1]] + (t[2],) + t[0][t[1] + 1:])
    mixed = st.one_of(fine, fine, one_bad, st.tuples(*map(_cell, good)))
    return st.one_of(st.lists(fine, min_size=1, max_size=4), st.lists(mixed, min_size=1, max_size=4))


CUSTOMER_ROW = _row(
    st.sampled_from(["ACME", "BETA", "NEW-1"]), st.sampled_from(["Acme", "Beta"]),
    st.sampled_from(["Europe/Berlin", "Europe/Berlin", "Asia/Tokyo"]), st.sampled_from(["EUR", "EUR", "JPY"]),
    st.sampled_from(["14", "30"]), st.sampled_from(["true", "no"]),
    st.sampled_from(["weekly", "monthly", "none"]), st.sampled_from(["1", "1", "7", "28"]),
    st.sampled_from(["2026-01-05", ""]),
)
INVOICE_ROW = _row(
    st.sampled_from(["ACME", "ACME", "NOPE"]), st.from_regex(r"\AN-[0-9]{1,3}\Z"),
    st.sampled_from(["2026-01-06T10:00:00Z", "2026-02-03T23:59:00+01:00"]),
    st.sampled_from(["1.00", "999999999999999.99", "0"]), st.just("EUR"),
    st.sampled_from(["issued", "cancelled"]), st.sampled_from(['{"k": "v"}', '{"n": 1.5}', ""]),
)
CONTRACT_ROW = _row(
    st.sampled_from(["K1", "K2"]), st.sampled_from(["", "default"]), st.just("ACME"), st.just("Rent"),
    st.sampled_from(["monthly", "annual"]), st.just("2026-01-01"), st.sampled_from(["", "2026-12-31"]),
    st.just(""), st.just(""), st.sampled_from(["", "14"]), st.sampled_from(["true", "false"]),
    st.just("false"), st.sampled_from(["1", "2"]), st.just("Office"),
    st.sampled_from(["1", "2.5"]), st.sampled_from(["100.00", "99999999999.99"]),
    st.sampled_from(["19", "standard"]), st.just(""), st.sampled_from(["", '{"floor": 3}']),
)
ENGAGEMENT_ROW = _row(
    st.from_regex(r"\AE[0-9]{1,3}\Z"), st.sampled_from(["CL", "CL", "NOPE"]), st.just("Fees"),
    st.sampled_from(["package", "package", "mixed", "hourly"]), st.sampled_from(["10.00", "10.00", "999999999999999.99", ""]),
    st.sampled_from(["", "GBP"]), st.sampled_from(["monthly", "quarterly", "annual", "one_time"]),
    st.just("2026-01-01"), st.sampled_from(["", "2026-12-31"]), st.sampled_from(["", "full", "prorate_days"]),
    st.sampled_from(["", "zero", "standard"]), st.sampled_from(["", "7"]),
)
TIMESHEET_ROW = _row(
    st.from_regex(r"\AT[0-9]{1,3}\Z"), st.sampled_from(["TH", "TH", "NOPE"]), st.just("2025-12-01T10:00:00Z"),
    st.sampled_from(["2025-12-01T10:30:00Z", "2025-12-01T10:30:00Z", "2025-12-01T09:00:00Z"]), st.just("Dana"),
    st.just("90837"), st.sampled_from(["", "notes"]),
)
TOGGL_ROW = _row(
    st.sampled_from(["TH", "TH", "NOPE"]), st.just("Chemistry"), st.sampled_from(["Lab", "Survey"]),
    st.just("2025-12-02"), st.sampled_from(["10:00:00", "11:00:00"]), st.just("2025-12-02"),
    st.sampled_from(["11:30:00", "11:30:00", "09:00:00"]),
)
CARD_ROW = _row(
    st.from_regex(r"\AC[0-9]{2,3}\Z"), st.just("Ana"), st.sampled_from(["1111", "2222"]),
    st.sampled_from(["GBP", "EUR"]), st.sampled_from(["1", "31"]), st.sampled_from(["", "7"]),
    st.just(""), st.sampled_from(["", "inclusive", "exclusive"]), st.sampled_from(["", "GB", "NONE"]),
)
CHARGE_ROW = _row(
    st.sampled_from(["C1", "C1", "NOPE"]), st.from_regex(r"\Ac[0-9]{1,2}\Z"), st.sampled_from(["2026-01-05", "2025-12-01"]),
    st.sampled_from(["10.00", "10.00", "-5.00", "999999999999999.99"]), st.just("shop"),
    st.sampled_from(["", "", "1", "3", "48"]),
)
BIRMINGHAM_ROW = _row(
    st.just("jan2026.xls"), st.sampled_from(["************1234", "************1234", "************9999"]), st.just("Adults"),
    st.sampled_from(["2026-01-05", "2025-12-01"]), st.just("shop"), st.sampled_from(["52.32", "-5.00", "1e3"]),
    st.just("GBP"), st.sampled_from(["", "60.00"]), st.sampled_from(["", "GBP"]), *[st.just("")] * 7,
    st.from_regex(r"\A[0-9]{1,3}\Z"),
)


def _cmd(kind):  # noqa: ANN001, ANN202
    """An import command of the fuzzed company as a function (store, path, at)."""
    return lambda store, path, at: handle(store, kind(path, at, COMPANY))


#: kind: (header, file rows strategy, import function (store, path, at))
IMPORTS = {
    "customers": (CUSTOMER_COLUMNS, CUSTOMER_ROW, import_customers),
    "invoices": (INVOICE_COLUMNS, INVOICE_ROW, import_invoices),
    "contracts": (CONTRACT_COLUMNS, CONTRACT_ROW, import_contracts),
    "engagements": (ENGAGEMENT_COLUMNS, ENGAGEMENT_ROW, _cmd(ImportEngagements)),
    "timesheets": (OWN_COLUMNS, TIMESHEET_ROW, _cmd(ImportTimesheets)),
    "timesheets-toggl": (FORMATS["toggl"], TOGGL_ROW, _cmd(ImportTimesheets)),
    "cards": (CARD_COLUMNS, CARD_ROW, _cmd(ImportCards)),
    "charges": (CHARGE_COLUMNS + ["installments"], CHARGE_ROW, _cmd(ImportCharges)),
    "charges-birmingham": (BIRMINGHAM_COLUMNS, BIRMINGHAM_ROW, _cmd(ImportCharges)),
}


def _write(path: Path, header: list[str], rows: list[tuple]) -> None:
    with open(path, "w", newline="", encoding="utf-8", errors="surrogatepass") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def seed(store: Store) -> None:
    """Company FZ (London, GBP) with client CL (a rate per unit), hourly engagement TH, and cards C1 and
    "1234 Adults" (a Birmingham card), for the newer imports to refer to."""
    at = _at()
    handle(store, SetCompany(COMPANY, at, name="Fuzz", timezone="Europe/London", currency="GBP"))
    handle(store, AddCustomer("CL", "Client", "Europe/London", "GBP", 14, company=COMPANY, at=at))
    handle(store, SetCustomerRate("CL", "self-pay", "25.00", date(2024, 1, 1), at, COMPANY))
    handle(store, CreateEngagement("TH", "CL", "Tutoring", "hourly", date(2024, 1, 1), at, COMPANY))
    for ref, last4 in (("C1", "5678"), ("1234 Adults", "1234")):
        handle(store, AddCard(ref, "Holder", last4, "GBP", 3, at, COMPANY))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def fuzz_store(request, tmp_path_factory):  # noqa: ANN001, ANN201
    from conftest import PgSchema, require_postgres

    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
    else:
        require_postgres()
        schema = PgSchema()
        url = schema.url
    store = Store(resolve(url))
    try:
        import_customers_path = tmp_path_factory.mktemp("seed") / "c.csv"
        _write(import_customers_path, CUSTOMER_COLUMNS, [("ACME", "Acme", "Europe/Berlin", "EUR", "14", "true", "weekly", "1", "2026-01-05")])
        import_customers(store, str(import_customers_path), _at())
        seed(store)
        yield store, tmp_path_factory.mktemp("files")
    finally:
        store.close()
        if schema is not None:
            schema.drop()


@pytest.mark.parametrize("kind", sorted(IMPORTS))
def test_an_import_is_taken_whole_or_refused_whole_and_what_it_takes_fits_the_read_models(fuzz_store, kind):
    store, folder = fuzz_store
    header, files, fn = IMPORTS[kind]

    @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
    @given(files)
    def run(rows):  # noqa: ANN001, ANN202
        path = folder / f"{kind}.csv"
        try:
            _write(path, header, rows)
        except UnicodeEncodeError:
            return
        before = store.head()
        try:
            fn(store, str(path), _at())
        except ImportRejected:
            assert store.head() == before, "a rejected import wrote events"
            return
        projection_runner.run(store, registry.ALL)
        assert projection_runner.errors(store) == [], "an accepted import does not fit the read models"
        accepted.append(rows)

    accepted: list = []
    run()
    assert accepted, "no generated file was good enough to import: the fuzzing tested rejections only"
