"""The Contract aggregate: recurring invoices from contract positions (issue 3).

A contract of a company (the issuer, the tenant) bills a customer the same positions every interval
(MONTHLY, QUARTERLY, SEMI_ANNUAL, ANNUAL). Run dates are ``start + n × interval`` (:mod:`domain.schedules`);
the first run is ``next_run_date`` (default: the start date). Rules:

- end date ≥ start date; next run date ≥ start date;
- *active* means the active flag is set and the run date is not after the end date;
- position numbers are unique per contract; quantity ≥ 0 with at most 4 decimals; net unit price ≥ 0 in
  the currency's minor unit; a catalogue tax rate (:mod:`domain.tax`).

Each run the tick performs is recorded on the contract (``RunRecorded``): SUCCESS with the invoice it
created, SKIPPED with a reason (no positions), or FAILED with the message of what went wrong — a failed
contract is *parked* (the tick leaves it alone) until it is changed. Every event that changes when the
contract is next due carries ``next_due_at`` (the first instant of the next run date in the customer's zone,
or None), which the due index copies.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from domain.base import BillingAggregate
from domain.calendar import start_of_day
from domain.errors import Conflict, ValidationError
from domain.attributes import validate_attributes
from domain.money import QUANTITY_LIMIT, parse_amount, parse_decimal, validate_currency
from domain.schedules import next_run_after, validate_interval
from domain.tax import TaxRate, tax_rate
from domain.tenancy import DEFAULT_COMPANY, scoped_id
from domain.text import MAX_DESCRIPTION, validate_name, validate_reference, validate_text

#: Highest position number of a contract.
MAX_POSITION = 9999

SUCCESS = "SUCCESS"
SKIPPED = "SKIPPED"
FAILED = "FAILED"


def contract_id(reference: str, company: str = DEFAULT_COMPANY) -> UUID:
    """The derived id of contract ``reference`` of ``company`` (:func:`domain.tenancy.scoped_id`)."""
    return scoped_id("contract", company, reference)


def make_position(
    number: int,
    description: str,
    quantity: str | Decimal,
    unit_price: str | Decimal,
    tax: str | int | Decimal | TaxRate,
    currency: str,
    discountable: bool = True,
    attributes: dict | None = None,
) -> dict:
    """Validate a position (contract line) into its event form.

    Raises :class:`ValidationError` naming ``position``, ``description``, ``quantity`` (negative, more than 4
    decimals), ``unit_price`` (negative, more decimals than the currency) or ``tax_rate`` (unknown).
    """
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= MAX_POSITION:
        raise ValidationError("position", f"{number!r} must be a whole number from 1 to {MAX_POSITION}")
    description = validate_text(description, "description", MAX_DESCRIPTION)
    if not description:
        raise ValidationError("description", "must not be empty")
    qty = parse_decimal(quantity, "quantity")
    if qty < 0:
        raise ValidationError("quantity", f"{quantity} is negative; quantities must be zero or more")
    if qty >= QUANTITY_LIMIT:
        raise ValidationError("quantity", f"{quantity} is out of range: quantities must be less than 1000000000 (10^9)")
    exponent = qty.as_tuple().exponent
    assert isinstance(exponent, int)
    if exponent < -4 and qty != qty.quantize(Decimal("0.0001")):
        raise ValidationError("quantity", f"{quantity} has more than 4 decimals")
    price = parse_amount(unit_price, currency, "unit_price")
    rate = tax if isinstance(tax, TaxRate) else tax_rate(tax)
    attrs = validate_attributes(attributes)
    return {
        "position": number,
        "description": description,
        "quantity": canonical_quantity(qty),
        "unit_price": price,
        "tax_rate": rate.name,
        "tax_percent": rate.percent,
        "discountable": bool(discountable),
        "attributes": attrs,
    }


def canonical_quantity(qty: Decimal) -> Decimal:
    """A quantity with at most 4 decimals and no trailing zeros (``1.5000`` → ``1.5``, ``100`` stays)."""
    q = qty.quantize(Decimal("0.0001")).normalize()
    exponent = q.as_tuple().exponent
    assert isinstance(exponent, int)
    return q.quantize(Decimal(1)) if exponent > 0 else q


class Contract(BillingAggregate):
    """A recurring contract (see the module docstring). ``positions`` maps position number → position."""

    TOPIC = "billing:Contract"

    class Created(BillingAggregate.Created):
        TOPIC = "billing:Contract.Created"
        reference: str
        company: str
        customer_id: UUID
        customer_reference: str
        name: str
        currency: str
        timezone: str
        interval: str
        start_date: date
        end_date: date | None
        next_run_date: date
        payment_terms_days: int
        auto_finalize: bool
        auto_send: bool
        positions: list
        next_due_at: datetime | None

    class Updated(BillingAggregate.Event):
        TOPIC = "billing:Contract.Updated"
        changes: dict
        next_due_at: datetime | None

        def apply(self, c: Contract) -> None:
            for k, v in self.changes.items():
                setattr(c, k, v)
            c.parked = None

    class PositionAdded(BillingAggregate.Event):
        TOPIC = "billing:Contract.PositionAdded"
        position: dict
        next_due_at: datetime | None

        def apply(self, c: Contract) -> None:
            c.positions = {**c.positions, self.position["position"]: self.position}
            c.parked = None

    class PositionChanged(BillingAggregate.Event):
        TOPIC = "billing:Contract.PositionChanged"
        position: dict
        next_due_at: datetime | None

        def apply(self, c: Contract) -> None:
            c.positions = {**c.positions, self.position["position"]: self.position}
            c.parked = None

    class PositionRemoved(BillingAggregate.Event):
        TOPIC = "billing:Contract.PositionRemoved"
        position: int
        next_due_at: datetime | None

        def apply(self, c: Contract) -> None:
            c.positions = {k: v for k, v in c.positions.items() if k != self.position}
            c.parked = None

    class Deactivated(BillingAggregate.Event):
        TOPIC = "billing:Contract.Deactivated"
        reason: str
        next_due_at: datetime | None

        def apply(self, c: Contract) -> None:
            c.active = False
            c.deactivated_at = self.timestamp

    class Reactivated(BillingAggregate.Event):
        TOPIC = "billing:Contract.Reactivated"
        next_due_at: datetime | None

        def apply(self, c: Contract) -> None:
            if not c.active and c.deactivated_at is not None:
                c.pauses = [*c.pauses, (c.deactivated_at, self.timestamp)]
            c.active = True
            c.parked = None

    class Ended(BillingAggregate.Event):
        """The contract ends on ``end_date`` (the last run date it may have)."""

        TOPIC = "billing:Contract.Ended"
        end_date: date
        next_due_at: datetime | None

        def apply(self, c: Contract) -> None:
            c.end_date = self.end_date
            c.parked = None

    class RunRecorded(BillingAggregate.Event):
        """A run of the tick: SUCCESS (``invoice_id``), SKIPPED or FAILED (``message``)."""

        TOPIC = "billing:Contract.RunRecorded"
        run_date: date
        status: str
        invoice_id: UUID | None
        invoice_number: str | None
        message: str
        next_run_date: date
        next_due_at: datetime | None

        def apply(self, c: Contract) -> None:
            if self.status == FAILED:
                c.parked = self.message
            else:
                c.last_run_date = self.run_date
                c.next_run_date = self.next_run_date
                c.runs += 1

    def __init__(
        self,
        reference: str,
        company: str,
        customer_id: UUID,
        customer_reference: str,
        name: str,
        currency: str,
        timezone: str,
        interval: str,
        start_date: date,
        end_date: date | None,
        next_run_date: date,
        payment_terms_days: int,
        auto_finalize: bool,
        auto_send: bool,
        positions: list,
        next_due_at: datetime | None,
    ):
        self.reference = reference
        self.company = company
        self.customer_id = customer_id
        self.customer_reference = customer_reference
        self.name = name
        self.currency = currency
        self.timezone = timezone
        self.interval = interval
        self.start_date = start_date
        self.end_date = end_date
        self.next_run_date = next_run_date
        self.last_run_date: date | None = None
        self.payment_terms_days = payment_terms_days
        self.auto_finalize = auto_finalize
        self.auto_send = auto_send
        self.positions: dict[int, dict] = {p["position"]: p for p in positions}
        self.active = True
        #: When the contract was last deactivated, and every pause ``[deactivated, reactivated)``: runs due
        #: inside a pause are recorded SKIPPED and never billed (issue 6, item 7).
        self.deactivated_at: datetime | None = None
        self.pauses: list[tuple[datetime, datetime]] = []
        self.parked: str | None = None
        self.runs = 0

    def describe(self) -> str:
        return f"contract {self.reference}"

    # ------------------------------------------------------------------------------------- creation
    @classmethod
    def create(
        cls,
        *,
        reference: str,
        company: str,
        customer_id: UUID,
        customer_reference: str,
        name: str,
        currency: str,
        timezone: str,
        interval: str,
        start_date: date,
        end_date: date | None = None,
        next_run_date: date | None = None,
        payment_terms_days: int = 30,
        auto_finalize: bool = False,
        auto_send: bool = False,
        positions: list[dict] = (),
    ) -> Contract:
        """Create a contract (validated: see the module docstring). Raises :class:`ValidationError`."""
        validate_reference(reference)
        validate_currency(currency)
        interval = validate_interval(interval)
        name = validate_name(name)
        validate_reference(company, "company")
        nxt = next_run_date or start_date
        _check_dates(start_date, end_date, nxt)
        if isinstance(payment_terms_days, bool) or not isinstance(payment_terms_days, int) or not 0 <= payment_terms_days <= 365:
            raise ValidationError("payment_terms_days", f"{payment_terms_days!r} must be a whole number of days from 0 to 365")
        for p in positions:
            parse_amount(p["unit_price"], currency, "unit_price")
        numbers = [p["position"] for p in positions]
        if len(numbers) != len(set(numbers)):
            dup = sorted({n for n in numbers if numbers.count(n) > 1})
            raise ValidationError("position", f"position number(s) {', '.join(map(str, dup))} given twice")
        ordered = sorted(positions, key=lambda p: p["position"])
        return cls._create_with_id(
            cls.Created,
            contract_id(reference, company),
            reference=reference,
            company=company,
            customer_id=customer_id,
            customer_reference=customer_reference,
            name=name,
            currency=currency,
            timezone=timezone,
            interval=interval,
            start_date=start_date,
            end_date=end_date,
            next_run_date=nxt,
            payment_terms_days=payment_terms_days,
            auto_finalize=bool(auto_finalize),
            auto_send=bool(auto_send),
            positions=ordered,
            next_due_at=_due(True, None, nxt, end_date, timezone),
        )

    # ------------------------------------------------------------------------------------- queries
    @property
    def is_active(self) -> bool:
        """The flag is set and the next run date is not after the end date."""
        return self.active and (self.end_date is None or self.next_run_date <= self.end_date)

    def sorted_positions(self) -> list[dict]:
        return [self.positions[k] for k in sorted(self.positions)]

    def next_due_at(self) -> datetime | None:
        return _due(self.active, self.parked, self.next_run_date, self.end_date, self.timezone)

    def due_run_dates(self, until: date) -> list[date]:
        """Every run date due on or before local date ``until``, oldest first (catch-up after downtime);
        nothing while inactive or parked."""
        if not self.active or self.parked is not None:
            return []
        out = []
        d = self.next_run_date
        while d <= until and (self.end_date is None or d <= self.end_date):
            out.append(d)
            d = next_run_after(self.start_date, self.interval, d)
        return out

    def pause_containing(self, due_at: datetime) -> tuple[datetime, datetime] | None:
        """The pause ``[deactivated, reactivated)`` in which a run due at instant ``due_at`` fell, if any."""
        for pause in self.pauses:
            if pause[0] <= due_at < pause[1]:
                return pause
        return None

    def following_run(self, run_date: date) -> date:
        """The run date after ``run_date``."""
        return next_run_after(self.start_date, self.interval, run_date)

    # ------------------------------------------------------------------------------------- commands
    def update(self, **changes: object) -> bool:
        """Change name, payment_terms_days, auto_finalize, auto_send, next_run_date, end_date, or (before the
        first run) interval and start_date. Records only what differs; returns whether anything did."""
        allowed = {"name", "payment_terms_days", "auto_finalize", "auto_send", "next_run_date", "end_date", "interval", "start_date"}
        diff = {}
        for k, v in changes.items():
            if k not in allowed:
                raise ValidationError(k, "cannot be changed")
            if v is None and k != "end_date":
                continue
            if k == "interval":
                v = validate_interval(str(v))
            if getattr(self, k) != v:
                diff[k] = v
        if ("interval" in diff or "start_date" in diff) and self.runs:
            raise Conflict("interval", f"contract {self.reference} has run already; its schedule can no longer change (end it and create a new one)")
        if "name" in diff:
            diff["name"] = validate_name(diff["name"])
            if diff["name"] == self.name:
                del diff["name"]
        if "payment_terms_days" in diff:
            t = diff["payment_terms_days"]
            if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t <= 365:
                raise ValidationError("payment_terms_days", f"{t!r} must be a whole number of days from 0 to 365")
        start = diff.get("start_date", self.start_date)
        end = diff.get("end_date", self.end_date)
        nxt = diff.get("next_run_date", self.next_run_date)
        if "start_date" in diff and "next_run_date" not in diff and not self.runs:
            nxt = diff["next_run_date"] = start
        _check_dates(start, end, nxt)  # type: ignore[arg-type]
        if self.last_run_date is not None and nxt <= self.last_run_date:  # type: ignore[operator]
            raise ValidationError("next_run_date", f"{nxt} is not after the last run {self.last_run_date}")
        if self.last_run_date is not None and end is not None and end < self.last_run_date:  # type: ignore[operator]
            raise ValidationError("end_date", f"{end} is before the last run {self.last_run_date}")
        if not diff:
            return False
        self.trigger_event(self.Updated, changes=diff, next_due_at=_due(self.active, None, nxt, end, self.timezone))
        return True

    def add_position(self, position: dict) -> None:
        """Add a position; raises :class:`ValidationError` if its number is taken. (An invoice whose totals
        would leave the amount bound is refused when the tick builds it: the run FAILS and parks the
        contract until it is changed; nothing is written to the invoices.)"""
        if position["position"] in self.positions:
            raise ValidationError("position", f"{position['position']} already exists on contract {self.reference}")
        self.trigger_event(self.PositionAdded, position=position, next_due_at=self._due_unparked())

    def change_position(self, position: dict) -> bool:
        """Replace position ``position['position']``; raises :class:`domain.errors.NotFound`-like
        :class:`ValidationError` if there is none. Returns False if identical."""
        n = position["position"]
        if n not in self.positions:
            raise ValidationError("position", f"{n} is not a position of contract {self.reference}")
        if self.positions[n] == position:
            return False
        self.trigger_event(self.PositionChanged, position=position, next_due_at=self._due_unparked())
        return True

    def remove_position(self, number: int) -> None:
        if number not in self.positions:
            raise ValidationError("position", f"{number} is not a position of contract {self.reference}")
        self.trigger_event(self.PositionRemoved, position=number, next_due_at=self._due_unparked())

    def deactivate(self, reason: str = "") -> bool:
        """Deactivate the contract (runs due while inactive are never billed); False if it was not active."""
        reason = validate_text(reason, "reason")
        if not self.active:
            return False
        self.trigger_event(self.Deactivated, reason=reason, next_due_at=None)
        return True

    def reactivate(self) -> bool:
        if self.active and self.parked is None:
            return False
        self.trigger_event(self.Reactivated, next_due_at=_due(True, None, self.next_run_date, self.end_date, self.timezone))
        return True

    def end(self, end_date: date) -> None:
        """End the contract on ``end_date`` (its last possible run date); must be ≥ start and not before
        the last run."""
        _check_dates(self.start_date, end_date, self.start_date)
        if self.last_run_date is not None and end_date < self.last_run_date:
            raise ValidationError("end_date", f"{end_date} is before the last run {self.last_run_date}")
        self.trigger_event(
            self.Ended, end_date=end_date, next_due_at=_due(self.active, None, self.next_run_date, end_date, self.timezone)
        )

    def record_run(self, run_date: date, status: str, invoice_id: UUID | None = None, invoice_number: str | None = None, message: str = "") -> None:
        """Record a run of ``run_date`` (the contract's next run date)."""
        assert run_date == self.next_run_date
        if status == FAILED:
            nxt, due = self.next_run_date, None
        else:
            nxt = self.following_run(run_date)
            due = _due(self.active, None, nxt, self.end_date, self.timezone)
        self.trigger_event(
            self.RunRecorded,
            run_date=run_date,
            status=status,
            invoice_id=invoice_id,
            invoice_number=invoice_number,
            message=message,
            next_run_date=nxt,
            next_due_at=due,
        )

    def _due_unparked(self) -> datetime | None:
        return _due(self.active, None, self.next_run_date, self.end_date, self.timezone)


def _check_dates(start: date, end: date | None, nxt: date) -> None:
    if end is not None and end < start:
        raise ValidationError("end_date", f"{end} is before start_date {start}")
    if nxt < start:
        raise ValidationError("next_run_date", f"{nxt} is before start_date {start}")


def _due(active: bool, parked: str | None, nxt: date, end: date | None, tz: str) -> datetime | None:
    if not active or parked is not None or (end is not None and nxt > end):
        return None
    return start_of_day(nxt, tz)
