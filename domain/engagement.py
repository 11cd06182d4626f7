"""The Engagement aggregate and its package-fee periods (issue 8).

An engagement of a company (the firm; the tenant) with one of its customers (the client) is priced
``PACKAGE`` (a fee per period), ``HOURLY`` (timesheets) or ``MIXED`` (both). It runs from a start date to an
optional end date (inclusive local dates); **renewing** adds a *term* from the old end + 1 day to a new end,
optionally at a new fee. Package pricing has a fee (money, in the engagement's ISO 4217 currency), a
schedule and a partial-period policy:

- schedule ``MONTHLY`` (calendar months), ``QUARTERLY`` (calendar quarters), ``ANNUAL`` (calendar years),
  or ``ONE_TIME`` (the term itself, start → end: a one-time engagement needs an end date);
- a **fee period** is a calendar period intersected with a term: ``[start, end)`` in local dates, end
  exclusive, ``start`` the later of the period's and the term's first day. It is billed **in advance**:
  due at the first instant of ``start`` in the engagement's zone (the company's, snapshotted at creation);
- policy ``FULL`` (default, as the source system does): a partial period is billed at the full fee;
  ``PRORATE_DAYS``: at fee × covered days ÷ days of the calendar period, rounded half-up to the currency's
  minor unit (a full period is billed at the fee exactly);
- under ``FULL`` a calendar period that an earlier term already billed is not billed again by a renewal
  (it was billed in full); under ``PRORATE_DAYS`` the renewal bills its own days of it.

Every fee period is billed once, ever: ``PeriodBilled`` records it with its invoice, whose id derives from
(engagement, period start) (:func:`engagement_invoice_id`), so reruns, renewals, concurrent ticks and
crashes never bill it twice. Periods are billed oldest first; renewing or ending never changes a billed one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from uuid import UUID

from domain.base import BillingAggregate, derive_id
from domain.calendar import parse_date, start_of_day
from domain.errors import Conflict, ValidationError
from domain.money import EXACT, check_amount, parse_amount, round_money, validate_currency
from domain.tenancy import scoped_id
from domain.text import validate_name, validate_reference

PACKAGE, HOURLY, MIXED = "PACKAGE", "HOURLY", "MIXED"
PRICINGS = (PACKAGE, HOURLY, MIXED)
MONTHLY, QUARTERLY, ANNUAL, ONE_TIME = "MONTHLY", "QUARTERLY", "ANNUAL", "ONE_TIME"
SCHEDULES = (MONTHLY, QUARTERLY, ANNUAL, ONE_TIME)
FULL, PRORATE_DAYS = "FULL", "PRORATE_DAYS"
PRORATIONS = (FULL, PRORATE_DAYS)
_MONTHS = {MONTHLY: 1, QUARTERLY: 3, ANNUAL: 12}
#: Proration's quotient: 60 digits, rounded afterwards by :func:`domain.money.round_money` (never silently).
_QUOTIENT = Context(prec=60, traps=[InvalidOperation, DivisionByZero, Overflow])


def engagement_id(reference: str, company: str) -> UUID:
    """The derived id of engagement ``reference`` of ``company``."""
    return scoped_id("engagement", company, reference)


def engagement_invoice_id(engagement: UUID, period_start: date) -> UUID:
    """The invoice of a fee period: one per (engagement, period start), ever."""
    return derive_id("invoice", "engagement", engagement, period_start.isoformat())


def package_number(reference: str, period_start: date) -> str:
    """``PKG-<engagement reference>-<period start, ISO date>`` (issue 8)."""
    return f"PKG-{reference}-{period_start.isoformat()}"


def _choice(value: object, allowed: tuple[str, ...], field: str) -> str:
    key = str(value).strip().upper().replace("-", "_")
    if key not in allowed:
        raise ValidationError(field, f"{value!r} is not one of {', '.join(a.lower() for a in allowed)}")
    return key


def validate_pricing(value: object) -> str:
    """``package``, ``hourly`` or ``mixed`` (upper-cased); :class:`ValidationError` on ``pricing``."""
    return _choice(value, PRICINGS, "pricing")


def validate_schedule(value: object) -> str:
    """``monthly``, ``quarterly``, ``annual`` or ``one_time``; :class:`ValidationError` on ``schedule``."""
    return _choice(value, SCHEDULES, "schedule")


def validate_proration(value: object) -> str:
    """``full`` or ``prorate_days``; :class:`ValidationError` on ``proration``."""
    return _choice(value, PRORATIONS, "proration")


# ================================================================================================ periods
@dataclass(frozen=True, order=True)
class Term:
    """A term of an engagement: ``start`` to ``end`` (inclusive local dates; ``end`` None = open) at ``fee``."""

    start: date
    end: date | None
    fee: Decimal | None

    def to_event(self) -> list:
        return [self.start.isoformat(), self.end.isoformat() if self.end else None, None if self.fee is None else str(self.fee)]

    @classmethod
    def from_event(cls, data: list) -> Term:
        return cls(date.fromisoformat(data[0]), date.fromisoformat(data[1]) if data[1] else None,
                   None if data[2] is None else Decimal(data[2]))


@dataclass(frozen=True, order=True)
class FeePeriod:
    """A billable fee period: ``[start, end)`` (local dates, end exclusive) inside the calendar period
    ``[period_start, period_end)``, and the ``amount`` to bill for it (the fee, or prorated)."""

    start: date
    end: date
    period_start: date
    period_end: date
    amount: Decimal


def calendar_period(schedule: str, day: date) -> tuple[date, date]:
    """The calendar month, quarter or year containing ``day``: ``(first day, first day of the next)``."""
    months = _MONTHS[schedule]
    first_month = (day.month - 1) // months * months + 1
    start = date(day.year, first_month, 1)
    y, m = divmod(first_month - 1 + months, 12)
    return start, date(day.year + y, m + 1, 1)


def _amount(fee: Decimal, currency: str, proration: str, covered: int, days: int) -> Decimal:
    if proration == FULL or covered == days:
        return fee
    # fee × covered days ÷ days of the period, half-up to the minor unit (issue 8): the quotient is taken
    # to 60 significant digits (a fee below 10^15 leaves over 40 decimals), then rounded once, explicitly
    return round_money(_QUOTIENT.divide(EXACT.multiply(fee, Decimal(covered)), Decimal(days)), currency)


def fee_periods(terms: list[Term], schedule: str, proration: str, currency: str, until: date | None = None) -> Iterator[FeePeriod]:
    """Every fee period of ``terms`` (in order) whose start is on or before ``until`` (every one, for
    terms that end, when ``until`` is None). See the module docstring for the rules."""
    billed_calendar: set[date] = set()
    for term in terms:
        if term.fee is None:
            continue
        if schedule == ONE_TIME:
            if term.end is not None and (until is None or term.start <= until):
                yield FeePeriod(term.start, term.end + timedelta(days=1), term.start, term.end + timedelta(days=1), term.fee)
            continue
        day = term.start
        this_term: set[date] = set()
        while (term.end is None or day <= term.end) and (until is None or day <= until):
            ps, pe = calendar_period(schedule, day)
            end = pe if term.end is None else min(pe, term.end + timedelta(days=1))
            if not (proration == FULL and ps in billed_calendar):
                yield FeePeriod(day, end, ps, pe, _amount(term.fee, currency, proration, (end - day).days, (pe - ps).days))
            this_term.add(ps)
            day = pe
        billed_calendar |= this_term


# ================================================================================================ aggregate
class Engagement(BillingAggregate):
    """An engagement (see the module docstring). ``terms`` is a list of :class:`Term`; ``billed_through``
    the start of the last fee period billed (None before the first)."""

    TOPIC = "billing:Engagement"

    class Created(BillingAggregate.Created):
        TOPIC = "billing:Engagement.Created"
        reference: str
        company: str
        customer_id: UUID
        customer_reference: str
        name: str
        pricing: str
        currency: str
        timezone: str
        start_date: date
        end_date: date | None
        payment_terms_days: int
        tax_rate: str
        tax_percent: Decimal
        fee: Decimal | None
        schedule: str | None
        proration: str
        next_due_at: datetime | None

    class Updated(BillingAggregate.Event):
        """Changed fields (name, payment terms, tax rate, fee of the current term): they apply to fee
        periods not billed yet."""

        TOPIC = "billing:Engagement.Updated"
        changes: dict
        next_due_at: datetime | None

        def apply(self, e: Engagement) -> None:
            changes = dict(self.changes)
            if "fee" in changes:
                e.terms[-1] = Term(e.terms[-1].start, e.terms[-1].end, changes.pop("fee"))
            for k, v in changes.items():
                setattr(e, k, v)

    class Ended(BillingAggregate.Event):
        TOPIC = "billing:Engagement.Ended"
        end_date: date
        next_due_at: datetime | None

        def apply(self, e: Engagement) -> None:
            e.terms[-1] = Term(e.terms[-1].start, self.end_date, e.terms[-1].fee)

    class Renewed(BillingAggregate.Event):
        """A new term from the old end + 1 day to ``end_date``, at ``fee``."""

        TOPIC = "billing:Engagement.Renewed"
        start_date: date
        end_date: date
        fee: Decimal | None
        next_due_at: datetime | None

        def apply(self, e: Engagement) -> None:
            e.terms.append(Term(self.start_date, self.end_date, self.fee))

    class PeriodBilled(BillingAggregate.Event):
        """Fee period ``[start, end)`` was billed with invoice ``invoice_id`` / ``number`` (``amount`` net)."""

        TOPIC = "billing:Engagement.PeriodBilled"
        start: date
        end: date
        amount: Decimal
        invoice_id: UUID
        number: str
        next_due_at: datetime | None

        def apply(self, e: Engagement) -> None:
            e.billed_through = self.start
            e.billed += 1

    def __init__(self, reference: str, company: str, customer_id: UUID, customer_reference: str, name: str, pricing: str,
                 currency: str, timezone: str, start_date: date, end_date: date | None, payment_terms_days: int,
                 tax_rate: str, tax_percent: Decimal, fee: Decimal | None, schedule: str | None, proration: str,
                 next_due_at: datetime | None):
        self.reference = reference
        self.company = company
        self.customer_id = customer_id
        self.customer_reference = customer_reference
        self.name = name
        self.pricing = pricing
        self.currency = currency
        self.timezone = timezone
        self.payment_terms_days = payment_terms_days
        self.tax_rate = tax_rate
        self.tax_percent = tax_percent
        self.schedule = schedule
        self.proration = proration
        self.terms: list[Term] = [Term(start_date, end_date, fee)]
        self.billed_through: date | None = None
        self.billed = 0

    def describe(self) -> str:
        return f"engagement {self.reference}"

    # ------------------------------------------------------------------------------------- creation
    @classmethod
    def create(cls, *, reference: str, company: str, customer_id: UUID, customer_reference: str, name: str,
               pricing: str, currency: str, timezone: str, start_date: date, end_date: date | None = None,
               payment_terms_days: int = 30, tax_rate: str, tax_percent: Decimal, fee: str | Decimal | None = None,
               schedule: str | None = None, proration: str = FULL) -> Engagement:
        """Create an engagement. Raises :class:`ValidationError` naming the field: ``pricing``,
        ``schedule``, ``proration``, ``fee`` (a package or mixed engagement needs a fee greater than zero in
        the currency's minor unit, an hourly one has none), ``end_date`` (before the start; missing for a
        one-time engagement), ``payment_terms_days`` (0–365)."""
        validate_reference(reference)
        validate_reference(company, "company")
        validate_currency(currency)
        name = validate_name(name)
        pricing = validate_pricing(pricing)
        proration = validate_proration(proration)
        start_date = parse_date(start_date, "start_date")
        if end_date is not None:
            end_date = parse_date(end_date, "end_date")
            if end_date < start_date:
                raise ValidationError("end_date", f"{end_date} is before the start date {start_date}")
        if isinstance(payment_terms_days, bool) or not isinstance(payment_terms_days, int) or not 0 <= payment_terms_days <= 365:
            raise ValidationError("payment_terms_days", f"{payment_terms_days!r} must be a whole number of days from 0 to 365")
        amount: Decimal | None = None
        if pricing == HOURLY:
            if fee not in (None, "") or schedule not in (None, ""):
                raise ValidationError("fee" if fee not in (None, "") else "schedule", "an hourly engagement has no package fee or schedule")
            schedule = None
        else:
            if fee in (None, ""):
                raise ValidationError("fee", f"a {pricing.lower()} engagement needs a fee")
            if schedule in (None, ""):
                raise ValidationError("schedule", f"a {pricing.lower()} engagement needs a schedule: monthly, quarterly, annual or one_time")
            amount = _fee(fee, currency, tax_percent)
            schedule = validate_schedule(schedule)
            if schedule == ONE_TIME and end_date is None:
                raise ValidationError("end_date", "a one-time engagement needs an end date (its one period is start to end)")
        terms = [Term(start_date, end_date, amount)]
        return cls._create_with_id(
            cls.Created, engagement_id(reference, company), reference=reference, company=company, customer_id=customer_id,
            customer_reference=customer_reference, name=name, pricing=pricing, currency=currency, timezone=timezone,
            start_date=start_date, end_date=end_date, payment_terms_days=payment_terms_days, tax_rate=tax_rate,
            tax_percent=tax_percent, fee=amount, schedule=schedule, proration=proration,
            next_due_at=_next_due(terms, schedule, proration, currency, None, timezone),
        )

    # ------------------------------------------------------------------------------------- queries
    @property
    def start_date(self) -> date:
        return self.terms[0].start

    @property
    def end_date(self) -> date | None:
        return self.terms[-1].end

    @property
    def fee(self) -> Decimal | None:
        return self.terms[-1].fee

    def periods(self, until: date | None = None) -> Iterator[FeePeriod]:
        """Every fee period starting on or before ``until`` (see :func:`fee_periods`; endless for an
        open-ended engagement without ``until``)."""
        if self.schedule is None:
            return iter(())
        return fee_periods(self.terms, self.schedule, self.proration, self.currency, until)

    def next_period(self) -> FeePeriod | None:
        """The oldest fee period not billed yet (None if every one is)."""
        return _next_period(self.terms, self.schedule, self.proration, self.currency, self.billed_through)

    def due_at(self, period: FeePeriod) -> datetime:
        """When ``period`` is due: the first instant of its start date in the engagement's zone."""
        return start_of_day(period.start, self.timezone)

    @property
    def next_due_at(self) -> datetime | None:
        return _next_due(self.terms, self.schedule, self.proration, self.currency, self.billed_through, self.timezone)

    # ------------------------------------------------------------------------------------- commands
    def update(self, **changes: object) -> bool:
        """Change ``name``, ``payment_terms_days``, ``tax_rate``/``tax_percent`` or ``fee`` (of the current
        term; periods already billed keep theirs). Returns False if nothing changes."""
        out: dict[str, object] = {}
        for key, value in changes.items():
            if value is None:
                continue
            if key == "name":
                value = validate_name(str(value))
            elif key == "payment_terms_days":
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 365:
                    raise ValidationError("payment_terms_days", f"{value!r} must be a whole number of days from 0 to 365")
            elif key == "fee":
                if self.schedule is None:
                    raise ValidationError("fee", "an hourly engagement has no package fee")
                rate = changes.get("tax_percent")  # a new rate of 0 is a rate: not `or`
                value = _fee(value, self.currency, Decimal(self.tax_percent if rate is None else rate))
                if value == self.fee:
                    continue
            elif key not in ("tax_rate", "tax_percent"):
                raise ValidationError(key, "cannot be changed")
            if key != "fee" and getattr(self, key) == value:
                continue
            out[key] = value
        if not out:
            return False
        if "tax_percent" in out and "fee" not in out and self.fee is not None:
            _check_gross(self.fee, Decimal(out["tax_percent"]), self.currency)  # type: ignore[arg-type]
        after = list(self.terms)
        if "fee" in out:
            after[-1] = Term(after[-1].start, after[-1].end, out["fee"])  # type: ignore[arg-type]
        self.trigger_event(self.Updated, changes=out, next_due_at=_next_due(after, self.schedule, self.proration, self.currency,
                                                                           self.billed_through, self.timezone))
        return True

    def end(self, end_date: date) -> bool:
        """End the current term on ``end_date`` (inclusive). Raises :class:`ValidationError` (before the
        term's start; a one-time engagement's period is fixed once billed) or :class:`Conflict` (a fee
        period starting after it is billed already)."""
        end_date = parse_date(end_date, "end_date")
        term = self.terms[-1]
        if end_date == term.end:
            return False
        if end_date < term.start:
            raise ValidationError("end_date", f"{end_date} is before the term's start {term.start}")
        if self.billed_through is not None and self.billed_through > end_date:
            raise Conflict("end_date", f"the fee period from {self.billed_through} is billed already; end on or after it")
        if self.schedule == ONE_TIME and self.billed_through is not None and self.billed_through >= term.start:
            raise Conflict("end_date", "the one-time fee of this term is billed already")
        after = self.terms[:-1] + [Term(term.start, end_date, term.fee)]
        self.trigger_event(self.Ended, end_date=end_date,
                           next_due_at=_next_due(after, self.schedule, self.proration, self.currency, self.billed_through, self.timezone))
        return True

    def renew(self, end_date: date, fee: str | Decimal | None = None) -> None:
        """Add a term from the current end + 1 day to ``end_date`` (inclusive) at ``fee`` (default: the
        current fee). Raises :class:`Conflict` for an open-ended engagement, :class:`ValidationError` for an
        end not after the current end or a bad fee. Invoices already issued are never touched."""
        end_date = parse_date(end_date, "end_date")
        current = self.terms[-1]
        if current.end is None:
            raise Conflict("end_date", f"engagement {self.reference} has no end date; set one (end) before renewing")
        if end_date <= current.end:
            raise ValidationError("end_date", f"{end_date} is not after the current end {current.end}")
        if fee not in (None, "") and self.schedule is None:
            raise ValidationError("fee", "an hourly engagement has no package fee")
        amount = current.fee if fee in (None, "") else _fee(fee, self.currency, self.tax_percent)
        start = current.end + timedelta(days=1)
        after = self.terms + [Term(start, end_date, amount)]
        self.trigger_event(self.Renewed, start_date=start, end_date=end_date, fee=amount,
                           next_due_at=_next_due(after, self.schedule, self.proration, self.currency, self.billed_through, self.timezone))

    def record_billed(self, period: FeePeriod, invoice_id: UUID, number: str) -> None:
        """Record that ``period`` (which must be :meth:`next_period`) was billed by ``invoice_id``."""
        if period != self.next_period():
            raise Conflict("period", f"{period.start} is not the next fee period of engagement {self.reference}")
        after = period.start
        self.trigger_event(self.PeriodBilled, start=period.start, end=period.end, amount=period.amount, invoice_id=invoice_id,
                           number=number,
                           next_due_at=_next_due(self.terms, self.schedule, self.proration, self.currency, after, self.timezone))


def _fee(fee: object, currency: str, tax_percent: Decimal) -> Decimal:
    """The fee ``fee`` of ``currency``: greater than zero, and its gross (the fee plus its tax at
    ``tax_percent``, rounded half-up to the minor unit as on the invoice) within the engine's bound
    (:func:`domain.money.check_amount`), so the fee's invoices can be issued. :class:`ValidationError` on
    ``fee``."""
    amount = parse_amount(str(fee), currency, "fee", allow_negative=True)
    if amount <= 0:
        raise ValidationError("fee", f"{fee} is not greater than zero")
    _check_gross(amount, tax_percent, currency)
    return amount


def _check_gross(fee: Decimal, tax_percent: Decimal, currency: str) -> None:
    tax = round_money(EXACT.multiply(fee, Decimal(tax_percent)) / 100, currency)
    check_amount(EXACT.add(fee, tax), currency, "fee", f"the gross of a fee of {fee} {currency} at {tax_percent} % tax,")


def _next_period(terms: list[Term], schedule: str | None, proration: str, currency: str, billed_through: date | None) -> FeePeriod | None:
    if schedule is None:
        return None
    # a generator: for an open-ended term it stops at the first period after what was billed
    for p in fee_periods(terms, schedule, proration, currency):
        if billed_through is None or p.start > billed_through:
            return p
    return None


def _next_due(terms: list[Term], schedule: str | None, proration: str, currency: str, billed_through: date | None,
              timezone: str) -> datetime | None:
    p = _next_period(terms, schedule, proration, currency, billed_through)
    return None if p is None else start_of_day(p.start, timezone)
