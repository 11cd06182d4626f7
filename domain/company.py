"""The Company aggregate: a tenant's own settings, event-sourced and effective from a business instant
(DESIGN.md, "Tenants and settings"; issue 7).

A company has a name, an IANA time zone (UTC until set), a default ISO 4217 currency (none until set), a
**tax-rate catalogue** and **number formats**. Every change takes effect from an instant that is never
before the command's own (never retroactively), so what was issued stays explained by the settings of its
day: :meth:`Company.tax_rates_on` and :meth:`Company.number_format_at` answer "as of when".

- The catalogue starts with the engine's rates (standard 19 %, reduced 7 %, zero 0 %, in force since
  :data:`domain.calendar.MIN_DATE`); ``tax-rates add`` adds a rate, or a new percentage for a name, from a
  local date in the company's zone.
- Number formats: per document kind (``invoice``, ``credit_note``, ``consolidated``) a prefix (1–12 of
  A–Z, 0–9, ``-``) and a sequence width (1–12): ``INV-2026-000001``, ``CN-2026-000001``,
  ``CONS-2026-W04-001`` by default.

A company that was never set answers with the defaults: the engine needs no company aggregate to work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from domain.base import BillingAggregate
from domain.calendar import MIN_DATE, local_date, start_of_day, validate_timezone
from domain.errors import Conflict, ValidationError
from domain.money import validate_currency
from domain.tax import CATALOGUE, TaxRate
from domain.number_formats import DEFAULT_FORMATS, FORMAT_KINDS, NumberFormat, parse_number_format  # noqa: F401
from domain.tenancy import scoped_id, validate_company
from domain.text import validate_name, validate_reference

#: Since when the settings given at registration are in force.
MIN_EFFECTIVE = start_of_day(MIN_DATE, "UTC")


def company_id(company: str) -> UUID:
    """The derived id of company ``company``."""
    return scoped_id("company", "default", company)


def _canonical(d: Decimal) -> Decimal:
    """``10.00`` → ``10``, ``8.50`` → ``8.5`` (never ``1E+1``)."""
    q = d.normalize()
    return q.quantize(Decimal(1)) if (q.as_tuple().exponent or 0) > 0 else q  # type: ignore[operator]


class Company(BillingAggregate):
    """A tenant and its settings (see the module docstring)."""

    TOPIC = "billing:Company"

    class Created(BillingAggregate.Created):
        TOPIC = "billing:Company.Created"
        reference: str
        name: str
        timezone: str
        currency: str | None

    class Updated(BillingAggregate.Event):
        """Some of name, timezone, currency changed (``changes``), in force from ``effective_at``."""

        TOPIC = "billing:Company.Updated"
        changes: dict
        effective_at: datetime

        def apply(self, c: Company) -> None:
            for key, value in self.changes.items():
                if key == "timezone":
                    c.timezones = [*c.timezones, (self.effective_at, value)]
                if key == "timesheet_units":
                    c.unit_policies = [*c.unit_policies, (self.effective_at, value)]
                setattr(c, key, value)

    class TaxRateAdded(BillingAggregate.Event):
        """Rate ``name`` is ``percent`` % from local date ``effective_from``."""

        TOPIC = "billing:Company.TaxRateAdded"
        name: str
        percent: Decimal
        effective_from: date

        def apply(self, c: Company) -> None:
            c.tax_history = [*c.tax_history, (self.effective_from, TaxRate(self.name, self.percent))]

    class NumberFormatSet(BillingAggregate.Event):
        TOPIC = "billing:Company.NumberFormatSet"
        kind: str
        prefix: str
        width: int
        effective_at: datetime

        def apply(self, c: Company) -> None:
            c.formats = [*c.formats, (self.effective_at, self.kind, NumberFormat(self.prefix, self.width))]

    def __init__(self, reference: str, name: str, timezone: str, currency: str | None):
        self.reference = reference
        self.name = name
        self.timezone = timezone
        self.currency = currency
        #: (from instant, zone): the registration zone first, then every change.
        self.timezones: list[tuple[datetime, str]] = [(MIN_EFFECTIVE, timezone)]
        self.tax_history: list[tuple[date, TaxRate]] = []
        self.formats: list[tuple[datetime, str, NumberFormat]] = []
        #: (from instant, policy): the timesheet unit policy changes (issue 8).
        self.unit_policies: list[tuple[datetime, str]] = []

    def describe(self) -> str:
        return f"company {self.reference}"

    @classmethod
    def register(cls, reference: str, name: str | None = None, timezone: str = "UTC", currency: str | None = None) -> Company:
        """Create company ``reference`` (name defaults to the reference; zone UTC). Raises
        :class:`ValidationError` for a bad reference, name, zone or currency."""
        validate_company(reference)
        validate_timezone(timezone)
        if currency is not None:
            validate_currency(currency)
        return cls._create_with_id(
            cls.Created, company_id(reference), reference=reference,
            name=validate_name(name if name is not None else reference), timezone=timezone, currency=currency,
        )

    # ------------------------------------------------------------------------------------- commands
    def update(self, at: datetime, *, name: str | None = None, timezone: str | None = None, currency: str | None = None,
               timesheet_units: str | None = None) -> bool:
        """Change name, time zone, default currency or timesheet unit policy (:mod:`domain.timesheets`)
        from instant ``at``; records only what differs."""
        from domain.timesheets import validate_unit_policy

        changes: dict[str, object] = {}
        if timesheet_units is not None and validate_unit_policy(timesheet_units) != self.unit_policy_at(at):
            changes["timesheet_units"] = validate_unit_policy(timesheet_units)
        if name is not None and validate_name(name) != self.name:
            changes["name"] = validate_name(name)
        if timezone is not None and validate_timezone(timezone) != self.timezone:
            changes["timezone"] = timezone
        if currency is not None and validate_currency(currency) != self.currency:
            changes["currency"] = currency
        if changes:
            self.trigger_event(self.Updated, changes=changes, effective_at=at)
        return bool(changes)

    def add_tax_rate(self, name: str, percent: Decimal, effective_from: date, at: datetime) -> bool:
        """Rate ``name`` at ``percent`` % (0–100, at most 4 decimals) from local date ``effective_from``,
        which must not be before the local date of ``at`` (never retroactively). Returns False if that rate
        is in force already from that date. Raises :class:`ValidationError` / :class:`Conflict`."""
        name = validate_reference(name.strip().lower() if isinstance(name, str) else name, "name")
        if not (Decimal(0) <= percent <= Decimal(100)) or (percent.as_tuple().exponent or 0) < -4:  # type: ignore[operator]
            raise ValidationError("percent", f"{percent} must be from 0 to 100 with at most 4 decimals")
        today = local_date(at, self.timezone_at(at))
        if effective_from < today:
            raise Conflict("from", f"{effective_from} is before {today}, the date of the command: tax rates never change retroactively")
        if any(d == effective_from and r.name == name and r.percent == percent for d, r in self.tax_history):
            return False
        self.trigger_event(self.TaxRateAdded, name=name, percent=_canonical(percent), effective_from=effective_from)
        return True

    def set_number_format(self, kind: str, fmt: NumberFormat, at: datetime) -> bool:
        """Number documents of ``kind`` with ``fmt`` from instant ``at`` on; False if already so."""
        if self.number_format_at(kind, at) == fmt:
            return False
        self.trigger_event(self.NumberFormatSet, kind=kind, prefix=fmt.prefix, width=fmt.width, effective_at=at)
        return True

    # ------------------------------------------------------------------------------------- as of when
    def timezone_at(self, at: datetime) -> str:
        """The company's zone in force at instant ``at``."""
        return company_timezone_at(self, at)

    def tax_rates_on(self, day: date) -> dict[str, TaxRate]:
        """The catalogue in force on local date ``day``: name → rate."""
        return tax_rates_on(self, day)

    def number_format_at(self, kind: str, at: datetime) -> NumberFormat:
        return number_format_at(self, kind, at)

    def unit_policy_at(self, at: datetime) -> str:
        """The timesheet unit policy in force at instant ``at`` (default ``CEIL_PER_ENTRY``)."""
        return unit_policy_at(self, at)


def unit_policy_at(company: Company | None, at: datetime) -> str:
    """The timesheet unit policy of ``company`` in force at ``at`` (``CEIL_PER_ENTRY`` unless set)."""
    found = "CEIL_PER_ENTRY"
    for effective_at, policy in getattr(company, "unit_policies", []) if company is not None else []:
        if effective_at <= at:
            found = policy
    return found


# The same answers for a company that was never set (None): the engine's defaults.
def company_timezone_at(company: Company | None, at: datetime) -> str:
    """The zone of ``company`` in force at ``at`` (the registration zone before any change; UTC for a
    company never set)."""
    if company is None:
        return "UTC"
    zone = company.timezones[0][1]
    for since, tz in company.timezones:
        if since <= at:
            zone = tz
    return zone


def tax_rates_on(company: Company | None, day: date) -> dict[str, TaxRate]:
    rates = {name: rate for name, rate in CATALOGUE.items()}
    if company is not None:
        for since, rate in sorted(company.tax_history, key=lambda x: x[0]):
            if since <= day:
                rates[rate.name] = rate
    return rates


def number_format_at(company: Company | None, kind: str, at: datetime) -> NumberFormat:
    fmt = DEFAULT_FORMATS[kind]
    if company is not None:
        for since, k, f in company.formats:
            if k == kind and since <= at:
                fmt = f
    return fmt


def tax_rate_on(company: Company | None, given: str | int | Decimal, day: date) -> TaxRate:
    """The rate named ``given``, or with percentage ``given`` when exactly one rate has it, in
    ``company``'s catalogue on local date ``day``. Raises :class:`ValidationError` (field ``tax_rate``)
    listing the rates in force."""
    rates = tax_rates_on(company, day)
    text = str(given).strip().rstrip("%").strip().lower()
    if text in rates:
        return rates[text]
    try:
        pct = Decimal(text) if len(text) <= 20 else None
    except ArithmeticError:
        pct = None
    if pct is not None and pct.is_finite():
        matching = [r for r in rates.values() if r.percent == pct]
        if len(matching) == 1:
            return matching[0]
        if len(matching) > 1:
            names = ", ".join(sorted(r.name for r in matching))
            raise ValidationError("tax_rate", f"{given!r} is ambiguous: rates {names} are {pct} %; give the rate's name")
    known = ", ".join(f"{r.name} {r.percent} %" for r in sorted(rates.values(), key=lambda r: (-r.percent, r.name)))
    raise ValidationError("tax_rate", f"{given!r} is not a tax rate in force on {day} ({known})")
