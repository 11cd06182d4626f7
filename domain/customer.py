"""The Customer aggregate: who is billed, in which zone and currency, and how its invoices consolidate.

Consolidation (issue 2) is a sequence of *regimes*. A regime has a mode (WEEKLY or MONTHLY), a start day
and an effective local date ``effective_from``: its first period is the one containing that date, and it
covers the individual invoices issued on or after it (earlier ones stay individual). A regime runs until
it is disabled (``ends_at`` = the disabling instant) or replaced by a new one (``ends_at`` = the first
instant of the new one's ``effective_from``); its last period is then truncated at ``ends_at`` and closes
at that instant.

The customer keeps a *cursor*: the first period not yet closed. The tick closes periods strictly in order,
oldest first, and records ``PeriodClosed`` here together with the consolidated invoice in one save, so a
racing ticker fails on the event store's unique version instead of issuing twice.

Routing an individual invoice (:meth:`Customer.route`): the period of the regime covering its issue instant
that contains its local date; if that period is already closed (a late arrival) the first open period,
whatever it is; if none is open or no regime covers it, the invoice stays individual.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from domain.base import BillingAggregate, derive_id
from domain.calendar import local_date, start_of_day, validate_timezone
from domain.errors import Conflict, ValidationError
from domain.money import parse_amount, validate_currency
from domain.periods import BillingPeriod, period_containing, period_starting, validate_mode_and_start_day
from domain.tenancy import DEFAULT_COMPANY, scoped_id, validate_company
from domain.text import validate_name, validate_reference

DEFAULT_PAYMENT_TERMS_DAYS = 30


def customer_id(reference: str, company: str = DEFAULT_COMPANY) -> UUID:
    """The derived id of customer ``reference`` of ``company`` (:func:`domain.tenancy.scoped_id`)."""
    return scoped_id("customer", company, reference)


def validate_payment_terms(days: int) -> int:
    """Payment terms: whole days from issue to due date, 0–365."""
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 365:
        raise ValidationError("payment_terms_days", f"{days!r} must be a whole number of days from 0 to 365")
    return days


@dataclass(frozen=True)
class Regime:
    """One consolidation regime of a customer (see the module docstring)."""

    seq: int
    mode: str
    start_day: int
    effective_from: date
    ends_at: datetime | None

    def first_period(self) -> BillingPeriod:
        return period_containing(self.effective_from, self.mode, self.start_day)

    def covers(self, issued_at: datetime, tz: str) -> bool:
        """True if an invoice issued at ``issued_at`` falls under this regime."""
        return local_date(issued_at, tz) >= self.effective_from and (
            self.ends_at is None or issued_at < self.ends_at
        )

    def close_at(self, period: BillingPeriod, tz: str) -> datetime:
        """The instant ``period`` becomes closable: its end's first instant, or ``ends_at`` if earlier."""
        natural = start_of_day(period.end, tz)
        return natural if self.ends_at is None or natural <= self.ends_at else self.ends_at

    def has_period_after(self, period: BillingPeriod, tz: str) -> bool:
        """True if the regime has a period following ``period`` (it has not ended by then)."""
        return self.ends_at is None or start_of_day(period.end, tz) < self.ends_at


@dataclass(frozen=True)
class PeriodRef:
    """A consolidation period of a customer: which regime, which natural period, and its aggregate id."""

    customer_id: UUID
    regime: int
    period: BillingPeriod

    @property
    def consolidated_invoice_id(self) -> UUID:
        return derive_id("consolidated", self.customer_id, self.regime, self.period.start.isoformat())


class Customer(BillingAggregate):
    """A billed party: reference (external key), name, IANA zone, ISO 4217 currency, payment terms,
    approval, and consolidation settings (see the module docstring)."""

    TOPIC = "billing:Customer"

    class Created(BillingAggregate.Created):
        TOPIC = "billing:Customer.Created"
        class_version = 2
        company: str
        reference: str
        name: str
        timezone: str
        currency: str
        payment_terms_days: int
        approved: bool
        summary_attributes: list

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["company"] = DEFAULT_COMPANY

    class Updated(BillingAggregate.Event):
        """Some of name, payment_terms_days, summary_attributes changed (``changes`` holds the new values)."""

        TOPIC = "billing:Customer.Updated"
        changes: dict

        def apply(self, customer: Customer) -> None:
            for key, value in self.changes.items():
                setattr(customer, key, value)

    class RateSet(BillingAggregate.Event):
        """From local date ``effective_from`` on, the client's insurance payer is ``payer`` at
        ``rate_per_unit`` (one unit = 15 minutes) in the customer's currency (issue 8)."""

        TOPIC = "billing:Customer.RateSet"
        company: str
        customer_reference: str
        payer: str
        rate_per_unit: Decimal
        effective_from: date

        def apply(self, customer: Customer) -> None:
            customer.rates = sorted([*[r for r in customer.rates if r[0] != self.effective_from],
                                     (self.effective_from, self.payer, self.rate_per_unit)])

    class Approved(BillingAggregate.Event):
        TOPIC = "billing:Customer.Approved"
        next_close_at: datetime | None

        def apply(self, customer: Customer) -> None:
            customer.approved = True

    class ApprovalWithdrawn(BillingAggregate.Event):
        TOPIC = "billing:Customer.ApprovalWithdrawn"

        def apply(self, customer: Customer) -> None:
            customer.approved = False

    class ConsolidationSet(BillingAggregate.Event):
        """A new regime starts at ``effective_from``; the running one, if any, ends at ``previous_ends_at``."""

        TOPIC = "billing:Customer.ConsolidationSet"
        regime: int
        mode: str
        start_day: int
        effective_from: date
        previous_ends_at: datetime | None
        next_close_at: datetime | None

        def apply(self, customer: Customer) -> None:
            if self.previous_ends_at is not None:
                customer._end_last_regime(self.previous_ends_at)
            regime = Regime(self.regime, self.mode, self.start_day, self.effective_from, None)
            customer.regimes = [*customer.regimes, regime]
            if customer.cursor is None:
                customer.cursor = (regime.seq, regime.first_period().start)

    class ConsolidationDisabled(BillingAggregate.Event):
        """The running regime ends at ``ends_at``; what it gathered is consolidated by the next tick."""

        TOPIC = "billing:Customer.ConsolidationDisabled"
        regime: int
        ends_at: datetime
        next_close_at: datetime | None

        def apply(self, customer: Customer) -> None:
            customer._end_last_regime(self.ends_at)

    class PeriodClosed(BillingAggregate.Event):
        """The cursor period closed at ``closed_at``; ``consolidated_invoice_id`` names the invoice issued
        for it, or is None when nothing was to be consolidated."""

        TOPIC = "billing:Customer.PeriodClosed"
        regime: int
        period_start: date
        period_end: date
        closed_at: datetime
        consolidated_invoice_id: UUID | None
        next_close_at: datetime | None

        def apply(self, customer: Customer) -> None:
            customer._advance_cursor()

    def __init__(
        self,
        company: str,
        reference: str,
        name: str,
        timezone: str,
        currency: str,
        payment_terms_days: int,
        approved: bool,
        summary_attributes: list,
    ):
        self.company = company
        self.reference = reference
        self.name = name
        self.timezone = timezone
        self.currency = currency
        self.payment_terms_days = payment_terms_days
        self.approved = approved
        self.summary_attributes = list(summary_attributes)
        #: Whether the client pays by direct debit / card on file (issue 8): package-fee invoices say so.
        self.autopay = False
        #: (effective from, payer, rate per 15-minute unit), by date (issue 8).
        self.rates: list[tuple[date, str, Decimal]] = []
        self.regimes: list[Regime] = []
        self.cursor: tuple[int, date] | None = None

    def describe(self) -> str:
        return f"customer {self.reference}" + ("" if self.company == DEFAULT_COMPANY else f" of {self.company}")

    # ----------------------------------------------------------------------------------------- creation
    @classmethod
    def register(
        cls,
        reference: str,
        name: str,
        timezone: str,
        currency: str,
        payment_terms_days: int = DEFAULT_PAYMENT_TERMS_DAYS,
        approved: bool = False,
        summary_attributes: list[str] | tuple[str, ...] = (),
        company: str = DEFAULT_COMPANY,
    ) -> Customer:
        """Register a new customer; validates every field first.

        Raises :class:`ValidationError` for an empty reference or name, an unknown IANA zone or ISO 4217
        currency, or payment terms outside 0–365 days.
        """
        validate_company(company)
        validate_reference(reference)
        name = validate_name(name)
        validate_timezone(timezone)
        validate_currency(currency)
        validate_payment_terms(payment_terms_days)
        attrs = validate_summary_attributes(summary_attributes)
        return cls._create_with_id(
            cls.Created,
            customer_id(reference, company),
            company=company,
            reference=reference,
            name=name,
            timezone=timezone,
            currency=currency,
            payment_terms_days=payment_terms_days,
            approved=bool(approved),
            summary_attributes=attrs,
        )

    # ----------------------------------------------------------------------------------------- commands
    def update(
        self,
        *,
        name: str | None = None,
        timezone: str | None = None,
        currency: str | None = None,
        payment_terms_days: int | None = None,
        summary_attributes: list[str] | None = None,
        autopay: bool | None = None,
    ) -> bool:
        """Change name, payment terms, summary attributes or autopay; record only what differs. Returns True if
        anything changed.

        The time zone and currency are fixed at registration: periods, routed invoices and issued amounts
        depend on them. Giving a different one raises :class:`Conflict`; giving the same is accepted.
        """
        if timezone is not None and timezone != self.timezone:
            validate_timezone(timezone)
            raise Conflict("timezone", f"cannot change from {self.timezone} to {timezone}: periods and invoices of customer {self.reference} depend on it")
        if currency is not None and currency != self.currency:
            validate_currency(currency)
            raise Conflict("currency", f"cannot change from {self.currency} to {currency}: invoices of customer {self.reference} are in {self.currency}")
        changes: dict[str, object] = {}
        if name is not None and validate_name(name) != self.name:
            changes["name"] = validate_name(name)
        if payment_terms_days is not None and validate_payment_terms(payment_terms_days) != self.payment_terms_days:
            changes["payment_terms_days"] = payment_terms_days
        if summary_attributes is not None:
            attrs = validate_summary_attributes(summary_attributes)
            if attrs != self.summary_attributes:
                changes["summary_attributes"] = attrs
        if autopay is not None and bool(autopay) != self.autopay:
            changes["autopay"] = bool(autopay)
        if changes:
            self.trigger_event(self.Updated, changes=changes)
        return bool(changes)

    def set_rate(self, payer: str, rate_per_unit: object, effective_from: date) -> bool:
        """The payer and rate per 15-minute unit from local date ``effective_from`` on (a later date's rate
        takes over from then; the same date's is replaced). False if that rate is in force from that date
        already. Raises :class:`ValidationError` naming ``payer`` or ``rate_per_unit`` (negative, or more
        decimals than the currency has)."""
        payer = validate_name(payer, "payer")
        rate = parse_amount(str(rate_per_unit), self.currency, "rate_per_unit")
        if (effective_from, payer, rate) in self.rates:
            return False
        self.trigger_event(self.RateSet, company=self.company, customer_reference=self.reference, payer=payer, rate_per_unit=rate, effective_from=effective_from)
        return True

    def rate_on(self, day: date) -> tuple[str, Decimal] | None:
        """The ``(payer, rate per unit)`` in force on local date ``day``, or None."""
        found = None
        for frm, payer, rate in self.rates:
            if frm <= day:
                found = (payer, rate)
        return found

    def approve(self) -> bool:
        """Approve the customer for consolidation; no-op (returns False) if it already is."""
        if self.approved:
            return False
        self.trigger_event(self.Approved, next_close_at=self.next_close_at())
        return True

    def withdraw_approval(self) -> bool:
        """Withdraw approval: the tick stops closing its periods (they keep gathering). No-op if not approved."""
        if not self.approved:
            return False
        self.trigger_event(self.ApprovalWithdrawn)
        return True

    def set_consolidation(self, mode: str, start_day: int, effective_from: date) -> bool:
        """Consolidate invoices issued from local date ``effective_from`` on, per ``mode`` period.

        Returns False (no event) if the running regime already has these settings. If another regime is
        running, it ends at the first instant of ``effective_from``, which must then be after the start of
        its first open period (what it gathered must still belong to a period that closes).

        Raises :class:`ValidationError` for a bad mode or start day, :class:`Conflict` for an effective date
        that would rewrite closed periods.
        """
        mode, start_day = validate_mode_and_start_day(mode, start_day)
        running = self.running_regime()
        if running is not None and (running.mode, running.start_day) == (mode, start_day) and running.effective_from <= effective_from:
            return False
        previous_ends_at = None
        if running is not None:
            assert self.cursor is not None
            if effective_from <= self.cursor[1] and self.cursor[0] == running.seq:
                raise Conflict(
                    "effective_from",
                    f"{effective_from} must be after {self.cursor[1]}, the start of the first open period of the current consolidation",
                )
            previous_ends_at = start_of_day(effective_from, self.timezone)
        elif self.regimes and self.regimes[-1].ends_at is not None:
            last_end = local_date(self.regimes[-1].ends_at, self.timezone)
            if effective_from < last_end:
                raise Conflict(
                    "effective_from",
                    f"{effective_from} is before {last_end}, when the previous consolidation ended",
                )
        seq = len(self.regimes) + 1
        self.trigger_event(
            self.ConsolidationSet,
            regime=seq,
            mode=mode,
            start_day=start_day,
            effective_from=effective_from,
            previous_ends_at=previous_ends_at,
            next_close_at=self._next_close_at_after_set(seq, mode, start_day, effective_from, previous_ends_at),
        )
        return True

    def disable_consolidation(self, at: datetime) -> bool:
        """End the running regime at instant ``at``: invoices issued from then on stay individual, and what
        is pending is consolidated at the next tick. No-op (returns False) if none is running.

        Raises :class:`Conflict` for an instant before the start of the first open period when earlier
        periods of the regime are closed (they are invoiced and never change). Ending a regime before its
        first period begins leaves that period empty."""
        running = self.running_regime()
        if running is None:
            return False
        ref = self.cursor_period()
        if (
            ref is not None
            and ref.regime == running.seq
            and ref.period.start != running.first_period().start
            and at < start_of_day(ref.period.start, self.timezone)
        ):
            raise Conflict(
                "at",
                f"consolidation cannot end at {at.isoformat()}: its periods before {ref.period.start} are closed and invoiced",
            )
        self.trigger_event(
            self.ConsolidationDisabled,
            regime=running.seq,
            ends_at=at,
            next_close_at=self._next_close_at_after_end(at),
        )
        return True

    def close_cursor_period(self, closed_at: datetime, consolidated_invoice_id: UUID | None) -> None:
        """Record that the cursor period closed (by the tick); advances the cursor."""
        ref = self.cursor_period()
        assert ref is not None and closed_at == self.close_at(ref)
        end = self.effective_end(ref)
        self.trigger_event(
            self.PeriodClosed,
            regime=ref.regime,
            period_start=ref.period.start,
            period_end=end,
            closed_at=closed_at,
            consolidated_invoice_id=consolidated_invoice_id,
            next_close_at=self._next_close_at_after_close(),
        )

    # ----------------------------------------------------------------------------------------- queries
    def running_regime(self) -> Regime | None:
        """The regime without an end, if any."""
        if self.regimes and self.regimes[-1].ends_at is None:
            return self.regimes[-1]
        return None

    def regime(self, seq: int) -> Regime:
        return self.regimes[seq - 1]

    def cursor_period(self) -> PeriodRef | None:
        """The first period not yet closed, or None."""
        if self.cursor is None:
            return None
        seq, start = self.cursor
        regime = self.regime(seq)
        return PeriodRef(self.id, seq, period_starting(start, regime.mode))

    def close_at(self, ref: PeriodRef) -> datetime:
        """The instant period ``ref`` becomes closable."""
        return self.regime(ref.regime).close_at(ref.period, self.timezone)

    def effective_end(self, ref: PeriodRef) -> date:
        """The exclusive end date of ``ref`` as closed: its natural end, or the day after the local date of
        a truncating ``ends_at`` (the day of it, if ``ends_at`` is a day's first instant)."""
        closes = self.close_at(ref)
        day = local_date(closes, self.timezone)
        if closes != start_of_day(day, self.timezone):
            day += timedelta(days=1)
        # A regime ended before its first period began leaves that period empty: [start, start).
        return max(ref.period.start, min(day, ref.period.end))

    def next_close_at(self) -> datetime | None:
        """When the cursor period becomes closable, or None if no period is open."""
        ref = self.cursor_period()
        return None if ref is None else self.close_at(ref)

    def closable_periods(self, at: datetime) -> list[tuple[PeriodRef, datetime]]:
        """The periods the tick must close at instant ``at``, oldest first, with their closing instants:
        every period from the cursor on whose closing instant is at or before ``at``. Nothing if the
        customer is not approved."""
        if not self.approved:
            return []
        out: list[tuple[PeriodRef, datetime]] = []
        saved = self.cursor
        try:
            while (ref := self.cursor_period()) is not None and (closes := self.close_at(ref)) <= at:
                out.append((ref, closes))
                self._advance_cursor()
        finally:
            self.cursor = saved
        return out

    def route(self, issued_at: datetime) -> PeriodRef | None:
        """The open period an invoice issued at ``issued_at`` is gathered into, or None (individual).

        See the module docstring for the rule; late arrivals roll into the first open period.
        """
        if self.cursor is None:
            return None
        day = local_date(issued_at, self.timezone)
        for regime in reversed(self.regimes):
            if day >= regime.effective_from and (regime.ends_at is None or issued_at < regime.ends_at):  # covers()
                break
        else:
            return None
        period = period_containing(day, regime.mode, regime.start_day)
        cursor_seq, cursor_start = self.cursor
        if regime.seq < cursor_seq or (regime.seq == cursor_seq and period.start < cursor_start):
            return self.cursor_period()
        return PeriodRef(self.id, regime.seq, period)

    # ----------------------------------------------------------------------------------------- internals
    def _end_last_regime(self, ends_at: datetime) -> None:
        last = self.regimes[-1]
        self.regimes = [*self.regimes[:-1], Regime(last.seq, last.mode, last.start_day, last.effective_from, ends_at)]

    def _advance_cursor(self) -> None:
        assert self.cursor is not None
        seq, start = self.cursor
        regime = self.regime(seq)
        period = period_starting(start, regime.mode)
        if regime.has_period_after(period, self.timezone):
            self.cursor = (seq, period.end)
        elif seq < len(self.regimes):
            self.cursor = (seq + 1, self.regime(seq + 1).first_period().start)
        else:
            self.cursor = None

    def _next_close_at_after_set(
        self, seq: int, mode: str, start_day: int, effective_from: date, previous_ends_at: datetime | None
    ) -> datetime | None:
        if self.cursor is not None and previous_ends_at is not None:
            return self._next_close_at_after_end(previous_ends_at)
        if self.cursor is not None:
            return self.next_close_at()
        regime = Regime(seq, mode, start_day, effective_from, None)
        return regime.close_at(regime.first_period(), self.timezone)

    def _next_close_at_after_end(self, ends_at: datetime) -> datetime | None:
        ref = self.cursor_period()
        if ref is None:
            return None
        regime = self.regime(ref.regime)
        ended = Regime(regime.seq, regime.mode, regime.start_day, regime.effective_from, regime.ends_at or ends_at)
        return ended.close_at(ref.period, self.timezone)

    def _next_close_at_after_close(self) -> datetime | None:
        # Evaluated before the PeriodClosed event applies: simulate the advance on a copy of the cursor.
        saved = self.cursor
        try:
            self._advance_cursor()
            return self.next_close_at()
        finally:
            self.cursor = saved


def validate_summary_attributes(attrs: list[str] | tuple[str, ...]) -> list[str]:
    """Attribute names whose distinct values a consolidated invoice summarises (``["dest", "aircraft"]``).

    Returned sorted and deduplicated (set order must never reach event data)."""
    out = []
    for a in attrs:
        if not isinstance(a, str) or not a.strip() or not a.strip().replace("_", "").isascii() or not a.strip().replace("_", "").isalnum():
            raise ValidationError("summary_attributes", f"{a!r} is not an attribute name (ASCII letters, digits, _)")
        if len(a.strip()) > 64:
            raise ValidationError("summary_attributes", f"{a.strip()[:20]!r}... is longer than 64 characters")
        out.append(a.strip())
    if len(set(out)) > 20:
        raise ValidationError("summary_attributes", "at most 20 attributes can be summarised")
    return sorted(set(out))
