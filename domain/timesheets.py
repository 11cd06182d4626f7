"""Weekly timesheet invoicing (issue 8): timesheet entries, the client-week that gathers them, units.

- A **timesheet entry** (:class:`TimesheetEntry`; id from company and its external entry id) is a session on
  an hourly or mixed engagement: start and end instants (end after start, at most 24 hours), staff, service
  code, notes. Recording the same entry id again with the same data changes nothing; with other data it is
  refused.
- The **billing week** is the ISO 8601 week ``[Monday 00:00, next Monday 00:00)`` in the company's zone (the
  source system's "Monday 12:00 AM to Monday 11:59 PM" spans eight days and overlaps the next week; that is
  fixed here on purpose). An entry belongs to the week of its start's local date.
- A :class:`TimesheetWeek` (id from company, client and the week's Monday) gathers its client's entries of
  that week (``EntryAdded``), like a consolidated invoice gathers its lines. It is due **Tuesday 07:00
  local** after the week ends (:func:`week_due_at`; DST-correct through ``zoneinfo``). Issuing it records
  ``TimesheetLocked`` naming its invoice, in the same save as the invoice; a locked week takes no more
  entries and its entries cannot be deleted (Conflict naming the invoice). An entry recorded for a locked
  week is **late**: it lands in the client's first week after it that is not locked, marked late with its
  own date.
- **Units** of 15 minutes (:func:`units_per_line`), by the company's policy: ``CEIL_PER_ENTRY`` (default,
  the source system's rule: ``ceil(seconds / 900)`` per entry), ``CEIL_PER_CLIENT_DAY`` (a client's seconds
  per local day summed, then rounded up), ``CMS_8_MINUTE`` (the US CMS 8-minute rule for timed 15-minute
  codes: a client's timed minutes per day; fewer than 8 → 0 units, 8–22 → 1, 23–37 → 2, and so on). For the
  per-day policies a day's units are spread over its entries by largest remainder of their seconds (ties:
  the earlier entry), so lines stay one per entry and add up to the day's units exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID

from domain.base import BillingAggregate, derive_id
from domain.calendar import MAX_DATE, MIN_DATE, local_date, parse_date, zone
from domain.errors import Conflict, ValidationError
from domain.tenancy import scoped_id
from domain.text import validate_reference, validate_text

CEIL_PER_ENTRY, CEIL_PER_CLIENT_DAY, CMS_8_MINUTE = "CEIL_PER_ENTRY", "CEIL_PER_CLIENT_DAY", "CMS_8_MINUTE"
UNIT_POLICIES = (CEIL_PER_ENTRY, CEIL_PER_CLIENT_DAY, CMS_8_MINUTE)
UNIT_SECONDS = 900
MAX_SECONDS = 24 * 3600


def validate_unit_policy(value: object) -> str:
    """``ceil_per_entry`` (also ``ceil``), ``ceil_per_client_day`` or ``cms_8_minute``, upper-cased."""
    key = str(value).strip().upper().replace("-", "_")
    key = CEIL_PER_ENTRY if key == "CEIL" else key
    if key not in UNIT_POLICIES:
        raise ValidationError("timesheet_units", f"{value!r} is not one of ceil_per_entry, ceil_per_client_day, cms_8_minute")
    return key


def entry_id(company: str, external_id: str) -> UUID:
    return scoped_id("timesheet-entry", company, external_id)


def week_start(day: date) -> date:
    """The Monday of ``day``'s ISO 8601 week."""
    return day - timedelta(days=day.isoweekday() - 1)


def week_label(monday: date) -> str:
    y, w, _ = monday.isocalendar()
    return f"{y}-W{w:02d}"


def week_id(company: str, customer: str, monday: date) -> UUID:
    return scoped_id("timesheet-week", company, customer, monday.isoformat())


def week_invoice_id(week: UUID) -> UUID:
    """The invoice of a client-week: one per week, ever."""
    return derive_id("invoice", "timesheet-week", week)


def week_due_at(monday: date, tz: str) -> datetime:
    """Tuesday 07:00 local after the week ``[monday, monday + 7)``, as an aware instant."""
    tuesday = monday + timedelta(days=8)
    return datetime.combine(tuesday, time(7, 0), tzinfo=zone(tz))


def units_for_seconds(seconds: int, policy: str) -> int:
    """Units of ``seconds`` of one entry (CEIL_PER_ENTRY) or of one client-day (the other policies)."""
    if policy == CMS_8_MINUTE:
        return 0 if seconds < 480 else (seconds - 480) // UNIT_SECONDS + 1
    return -(-seconds // UNIT_SECONDS)


def units_per_line(lines: Sequence[tuple[date, int]], policy: str) -> list[int]:
    """The units of each line, given each line's ``(local date, seconds)`` (see the module docstring)."""
    if policy == CEIL_PER_ENTRY:
        return [units_for_seconds(s, policy) for _d, s in lines]
    out = [0] * len(lines)
    days: dict[date, list[int]] = {}
    for i, (d, _s) in enumerate(lines):
        days.setdefault(d, []).append(i)
    for d in sorted(days):
        idx = days[d]
        total = sum(lines[i][1] for i in idx)
        units = units_for_seconds(total, policy)
        if total == 0:
            continue
        # largest remainder: exact shares units × s / total, floors first, then the largest fractions
        shares = [(units * lines[i][1]) for i in idx]
        floors = [s // total for s in shares]
        left = units - sum(floors)
        order = sorted(range(len(idx)), key=lambda k: (-(shares[k] % total), k))
        for k in order[:left]:
            floors[k] += 1
        for k, i in enumerate(idx):
            out[i] = floors[k]
    return out


def parse_period(start: datetime, end: datetime) -> int:
    """Seconds from ``start`` to ``end`` (aware instants): 0 to 24 hours. :class:`ValidationError` on
    ``end`` otherwise."""
    seconds = (end - start).total_seconds()
    if seconds < 0:
        raise ValidationError("end", f"{end.isoformat()} is before the start {start.isoformat()}")
    if seconds > MAX_SECONDS:
        raise ValidationError("end", f"the entry lasts {seconds / 3600:.2f} hours; an entry lasts at most 24 hours")
    if seconds != int(seconds):
        raise ValidationError("end", "give instants to the second")
    return int(seconds)


class TimesheetEntry(BillingAggregate):
    """One timesheet entry (see the module docstring); ``week`` is the id of the week it landed in."""

    TOPIC = "billing:TimesheetEntry"

    class Created(BillingAggregate.Created):
        TOPIC = "billing:TimesheetEntry.Created"
        company: str
        external_id: str
        engagement: str
        customer_reference: str
        start: datetime
        end: datetime
        staff: str
        service_code: str
        notes: str
        local_date: date
        seconds: int
        week: UUID
        week_start: date
        late: bool

    class Corrected(BillingAggregate.Event):
        """The session's times were corrected (``week``: where the entry is now gathered, or for an invoiced
        entry the week whose invoice bills the difference)."""

        TOPIC = "billing:TimesheetEntry.Corrected"
        start: datetime
        end: datetime
        seconds: int
        local_date: date
        week: UUID
        week_start: date

        def apply(self, e: TimesheetEntry) -> None:
            e.start, e.end, e.seconds, e.local_date = self.start, self.end, self.seconds, self.local_date
            e.week, e.week_start = self.week, self.week_start

    class Deleted(BillingAggregate.Event):
        TOPIC = "billing:TimesheetEntry.Deleted"

        def apply(self, e: TimesheetEntry) -> None:
            e.deleted = True

    def __init__(self, company: str, external_id: str, engagement: str, customer_reference: str, start: datetime, end: datetime,
                 staff: str, service_code: str, notes: str, local_date: date, seconds: int, week: UUID, week_start: date,
                 late: bool):
        self.company = company
        self.external_id = external_id
        self.engagement = engagement
        self.customer_reference = customer_reference
        self.start = start
        self.end = end
        self.staff = staff
        self.service_code = service_code
        self.notes = notes
        self.local_date = local_date
        self.seconds = seconds
        self.week = week
        self.week_start = week_start
        self.late = late
        self.deleted = False

    def describe(self) -> str:
        return f"timesheet entry {self.external_id}"

    def same_data(self, start: datetime, end: datetime, engagement: str, staff: str, service_code: str, notes: str) -> bool:
        return (self.start, self.end, self.engagement, self.staff, self.service_code, self.notes) == (start, end, engagement, staff, service_code, notes)

    @classmethod
    def record(cls, *, company: str, external_id: str, engagement: str, customer_reference: str, start: datetime,
               end: datetime, staff: str, service_code: str, notes: str, tz: str, week: UUID, week_monday: date,
               late: bool) -> TimesheetEntry:
        """A new entry (validated: ``entry_id``, ``end``, ``staff``, ``service_code``, ``notes``)."""
        validate_reference(external_id, "entry_id")
        seconds = parse_period(start, end)
        return cls._create_with_id(
            cls.Created, entry_id(company, external_id), company=company, external_id=external_id, engagement=engagement,
            customer_reference=customer_reference, start=start, end=end, staff=validate_text(staff, "staff", 100),
            service_code=validate_text(service_code, "service_code", 50), notes=validate_text(notes, "notes", 1000),
            local_date=local_date(start, tz), seconds=seconds, week=week, week_start=week_monday, late=late,
        )


class TimesheetWeek(BillingAggregate):
    """A client's billing week (see the module docstring): ``entries`` maps entry id → its line data."""

    TOPIC = "billing:TimesheetWeek"

    class Created(BillingAggregate.Created):
        TOPIC = "billing:TimesheetWeek.Created"
        company: str
        customer_reference: str
        customer_id: UUID
        week_start: date
        timezone: str
        due_at: datetime

    class EntryAdded(BillingAggregate.Event):
        TOPIC = "billing:TimesheetWeek.EntryAdded"
        entry: UUID
        external_id: str
        engagement: str
        local_date: date
        seconds: int
        staff: str
        service_code: str
        late: bool

        def apply(self, w: TimesheetWeek) -> None:
            w.entries[self.entry] = {"external_id": self.external_id, "engagement": self.engagement, "local_date": self.local_date,
                                     "seconds": self.seconds, "staff": self.staff, "service_code": self.service_code,
                                     "late": self.late}

    class CorrectionAdded(BillingAggregate.Event):
        """A correction of an entry invoiced before (on ``corrects``): ``units`` (negative: a credit) billed
        on this week's invoice."""

        TOPIC = "billing:TimesheetWeek.CorrectionAdded"
        entry: UUID
        external_id: str
        engagement: str
        local_date: date
        units: int
        previous_seconds: int
        seconds: int
        staff: str
        service_code: str
        corrects: str

        def apply(self, w: TimesheetWeek) -> None:
            w.corrections.append({"entry": self.entry, "external_id": self.external_id, "engagement": self.engagement,
                                  "local_date": self.local_date, "units": self.units, "previous_seconds": self.previous_seconds,
                                  "seconds": self.seconds, "staff": self.staff, "service_code": self.service_code,
                                  "corrects": self.corrects})

    class EntryRemoved(BillingAggregate.Event):
        TOPIC = "billing:TimesheetWeek.EntryRemoved"
        entry: UUID

        def apply(self, w: TimesheetWeek) -> None:
            w.entries.pop(self.entry, None)

    class TimesheetLocked(BillingAggregate.Event):
        """The week was invoiced (``invoice_id`` / ``number``; None for a week left without entries)."""

        TOPIC = "billing:TimesheetWeek.TimesheetLocked"
        invoice_id: UUID | None
        number: str | None
        entries: list

        def apply(self, w: TimesheetWeek) -> None:
            w.locked = True
            w.number = self.number

    def __init__(self, company: str, customer_reference: str, customer_id: UUID, week_start: date, timezone: str, due_at: datetime):
        self.company = company
        self.customer_reference = customer_reference
        self.customer_id = customer_id
        self.week_start = week_start
        self.timezone = timezone
        self.due_at = due_at
        self.entries: dict[UUID, dict] = {}
        #: Corrections of entries invoiced on earlier weeks, in order.
        self.corrections: list[dict] = []
        self.locked = False
        self.number: str | None = None

    def describe(self) -> str:
        return f"timesheet week {week_label(self.week_start)} of {self.customer_reference}"

    @classmethod
    def open(cls, company: str, customer_reference: str, customer_id: UUID, monday: date, tz: str) -> TimesheetWeek:
        return cls._create_with_id(cls.Created, week_id(company, customer_reference, monday), company=company,
                                   customer_reference=customer_reference, customer_id=customer_id, week_start=monday,
                                   timezone=tz, due_at=week_due_at(monday, tz))

    def add(self, entry: TimesheetEntry) -> None:
        if self.locked:
            raise Conflict("week", f"{self.describe()} is invoiced ({self.number}) and locked")
        self.trigger_event(self.EntryAdded, entry=entry.id, external_id=entry.external_id, engagement=entry.engagement,
                           local_date=entry.local_date, seconds=entry.seconds, staff=entry.staff,
                           service_code=entry.service_code, late=entry.late)

    def add_correction(self, entry: TimesheetEntry, units: int, previous_seconds: int, corrects: str) -> None:
        if self.locked:
            raise Conflict("week", f"{self.describe()} is invoiced ({self.number}) and locked")
        self.trigger_event(self.CorrectionAdded, entry=entry.id, external_id=entry.external_id, engagement=entry.engagement,
                           local_date=entry.local_date, units=units, previous_seconds=previous_seconds, seconds=entry.seconds,
                           staff=entry.staff, service_code=entry.service_code, corrects=corrects)

    def correction_units(self, entry: UUID, old_seconds: int, new_seconds: int, policy: str) -> int:
        """The units to bill (negative: credit) when invoiced entry ``entry`` of this locked week goes from
        ``old_seconds`` to ``new_seconds``: the difference of its units (``CEIL_PER_ENTRY``) or of its day's
        units (the per-day policies; the day's other entries as invoiced)."""
        if policy == CEIL_PER_ENTRY:
            return units_for_seconds(new_seconds, policy) - units_for_seconds(old_seconds, policy)
        day = self.entries[entry]["local_date"]
        others = sum(e["seconds"] for k, e in self.entries.items() if k != entry and e["local_date"] == day)
        return units_for_seconds(others + new_seconds, policy) - units_for_seconds(others + old_seconds, policy)

    def remove(self, entry: TimesheetEntry) -> None:
        if self.locked:
            raise Conflict("entry_id", f"entry {entry.external_id} is on invoice {self.number} ({self.describe()} is locked)")
        self.trigger_event(self.EntryRemoved, entry=entry.id)

    def sorted_entries(self) -> list[tuple[UUID, dict]]:
        """The entries by local date, then external id."""
        return sorted(self.entries.items(), key=lambda kv: (kv[1]["local_date"], kv[1]["external_id"]))

    def lock(self, invoice_id: UUID | None, number: str | None) -> None:
        if self.locked:
            raise Conflict("week", f"{self.describe()} is locked already")
        self.trigger_event(self.TimesheetLocked, invoice_id=invoice_id, number=number,
                           entries=[str(k) for k, _v in self.sorted_entries()])


def rate_amount(units: int, rate: Decimal) -> Decimal:
    """``units × rate``: exact (the rate has the currency's decimals, so the product does too)."""
    return rate * units


def build_week_invoice(week: TimesheetWeek, customer: Any, engagements: dict[str, Any], policy: str, issue_date: date,
                       number: str, sequence: int) -> Any:
    """The invoice of ``week`` (issued, with ``number``), one line per entry by local date: quantity =
    units under ``policy``, unit price = the client's rate per unit on the entry's date, net = units × rate
    (exact), the tax rate of the entry's engagement (``engagements``: reference → aggregate); the line's
    attributes snapshot date, staff, service code, minutes, units, rate, payer, entry, policy and lateness.
    Corrections of entries invoiced before follow as lines of their own (units may be negative: a credit).
    Due ``issue_date`` + the customer's payment terms; if the total is negative the document is a credit
    note of them instead (``number`` must then be a credit note's: see :func:`is_credit`). Used by the tick
    and by manual invoicing alike."""
    from domain.invoice import Invoice
    from domain.lines import InvoiceLine, invoice_totals

    entries = week.sorted_entries()
    units = units_per_line([(e["local_date"], e["seconds"]) for _id, e in entries], policy)
    lines: list[Any] = []
    for n, ((_eid, e), u) in enumerate(zip(entries, units), start=1):
        payer, rate = customer.rate_on(e["local_date"])
        engagement = engagements[e["engagement"]]
        attributes = {"date": e["local_date"].isoformat(), "staff": e["staff"], "service_code": e["service_code"],
                      "minutes": str((Decimal(e["seconds"]) / 60).quantize(Decimal("0.01"))), "units": u,
                      "rate_per_unit": str(rate), "payer": payer, "entry_id": e["external_id"], "engagement": e["engagement"],
                      "unit_policy": policy.lower()}
        if e["late"]:
            attributes["late"] = True
        lines.append(InvoiceLine(position=n, description=f"{e['local_date']} {e['service_code'] or 'session'} {e['staff']}".strip(),
                                 quantity=Decimal(u), unit_price=rate, net=rate_amount(u, rate), tax_rate=engagement.tax_rate,
                                 tax_percent=engagement.tax_percent, attributes=attributes))
    for c in week.corrections:
        payer, rate = customer.rate_on(c["local_date"])
        engagement = engagements[c["engagement"]]
        attributes = {"date": c["local_date"].isoformat(), "staff": c["staff"], "service_code": c["service_code"],
                      "correction_of": c["corrects"], "entry_id": c["external_id"], "engagement": c["engagement"],
                      "minutes_before": str((Decimal(c["previous_seconds"]) / 60).quantize(Decimal("0.01"))),
                      "minutes": str((Decimal(c["seconds"]) / 60).quantize(Decimal("0.01"))), "units": c["units"],
                      "rate_per_unit": str(rate), "payer": payer}
        lines.append(InvoiceLine(position=len(lines) + 1, description=f"{c['local_date']} correction of {c['corrects']} ({c['external_id']})",
                                 quantity=Decimal(c["units"]), unit_price=rate, net=rate_amount(c["units"], rate),
                                 tax_rate=engagement.tax_rate, tax_percent=engagement.tax_percent, attributes=attributes))
    totals = invoice_totals(lines, customer.currency).check()
    if totals.gross < 0:
        # a negative total: the document is a credit note of the corrections (amounts shown positive)
        from dataclasses import replace

        from domain.document import CREDIT_NOTE

        lines = [replace(ln, quantity=-ln.quantity, net=-ln.net) for ln in lines]
        return Invoice.create(
            week_invoice_id(week.id), kind=CREDIT_NOTE, company=week.company, customer_id=week.customer_id,
            customer_reference=week.customer_reference, source=f"timesheets:{week_label(week.week_start)}", currency=customer.currency,
            timezone=week.timezone, lines=lines, totals=invoice_totals(lines, customer.currency).check(), issue_date=issue_date,
            payment_terms_days=0, period_start=week.week_start, period_end=week.week_start + timedelta(days=7),
            references=week.corrections[0]["corrects"], number=number, sequence=sequence, reason="timesheet corrections",
        )
    return Invoice.create(
        week_invoice_id(week.id), company=week.company, customer_id=week.customer_id, customer_reference=week.customer_reference,
        source=f"timesheets:{week_label(week.week_start)}", currency=customer.currency, timezone=week.timezone, lines=lines,
        totals=totals, issue_date=issue_date, payment_terms_days=customer.payment_terms_days, period_start=week.week_start,
        period_end=week.week_start + timedelta(days=7), number=number, sequence=sequence,
    )


def is_credit(week: TimesheetWeek, customer: Any, policy: str) -> bool:
    """True if ``week``'s document will be a credit note (its total is negative): numbered from the CN series."""
    entries = week.sorted_entries()
    units = units_per_line([(e["local_date"], e["seconds"]) for _id, e in entries], policy)
    total = sum((rate_amount(u, customer.rate_on(e["local_date"])[1]) for (_id, e), u in zip(entries, units)), Decimal(0))
    total += sum((rate_amount(c["units"], customer.rate_on(c["local_date"])[1]) for c in week.corrections), Decimal(0))
    return total < 0


def parse_week(text: str, field: str = "week") -> date:
    """The Monday of ISO 8601 week ``text`` (``2025-W01``), or of the week holding calendar date ``text``
    (``2025-01-02``; lists show a week as its Monday's date), in 1900-2999; :class:`ValidationError`
    naming ``field`` for anything else."""
    s = str(text).strip().upper()
    try:
        if "-W" in s:
            year, w = s.split("-W")
            if not (year.isdigit() and w.isdigit() and len(year) == 4 and len(w) == 2):
                raise ValueError
            monday = date.fromisocalendar(int(year), int(w), 1)
        else:
            monday = week_start(parse_date(s, field))
    except (ValueError, OverflowError, ValidationError):
        raise ValidationError(field, f"{text!r} is not an ISO 8601 week like 2025-W01 (or a date in it, like 2024-12-30)") from None
    if not MIN_DATE <= monday <= MAX_DATE - timedelta(days=6):
        raise ValidationError(field, f"{text!r} is outside the supported range (weeks of 1900 to 2999)")
    return monday
