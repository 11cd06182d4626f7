"""The CreditCard aggregate and its statement cycle (issue 9).

A card belongs to a company (the owner; the tenant) and has a reference, a holder name, its last four
digits, an ISO 4217 currency, an active flag, the company's IANA zone (snapshotted when it is added) and
its **cycle rules**:

- **closing day** 1–31, clamped to the month's last day (:func:`domain.schedules.closing_date`): every
  statement end is computed from this anchor, never by adding a month to the previous end;
- **boundary** ``INCLUSIVE`` (default: a purchase on the closing day belongs to the statement that closes
  that day; the statement's ``end_date`` is the closing date) or ``EXCLUSIVE`` (it belongs to the next, as
  Nubank and Itaú do; ``end_date`` is the day before the closing date). Either way a statement closes at the
  local start of the day after its ``end_date``;
- **due rule**: ``due_day`` D (the first day D strictly after the closing date, clamped like the closing
  day) or ``due_after_days`` N (``end_date`` + N days, the source system's rule with N = 10; the default);
- **business-day calendar** ``BR``, ``US``, ``GB`` or ``NONE``: a due date on a weekend or a national
  holiday moves to the next business day (:func:`domain.calendar.next_business_day`).

The card keeps the list of its **open statements** (``[seq, start, end]``, oldest first): normally one;
more only after ``init-statements`` opened past periods to import history into. A **charge** lands in the
open statement whose period contains its date; one dated before every open statement (in a period already
closed) lands in the current (newest) one, marked ``late``; one dated after the current statement's end (the
tick has not closed it yet) **waits** on the card and lands in the statement that holds its date when that
one opens, or when the bank moves the open statement's end over its date. A purchase in ``N`` installments puts one part in each of N
consecutive statements, the remainder cent(s) in the first part (:func:`installment_parts`); parts for
statements not open yet wait on the card and are posted when their statement opens. Charge ids are the
external keys, unique per card: the same id with the same data again is a no-op, with other data an error.
**Recurring charges** (the source system's ``fixed`` payments) are posted by the tick on their day of the
month (clamped), from a first date on.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from domain.base import BillingAggregate
from domain.calendar import next_business_day, start_of_day, validate_calendar
from domain.card_charges import Purchase, split_charge
from domain.card_recurring import RecurringChargePosted, RecurringChargeSet, RecurringCharges
from domain.card_rules import _whole, validate_boundary, validate_closing_day, validate_due_rule, validate_last4
from domain.credit_card_invoice import Charge
from domain.errors import Conflict, ValidationError
from domain.money import validate_currency
from domain.schedules import INCLUSIVE, closing_date, first_day_after, statement_after, statement_containing
from domain.tenancy import scoped_id
from domain.text import validate_name, validate_reference



def card_id(reference: str, company: str) -> UUID:
    """The derived id of card ``reference`` of ``company``."""
    return scoped_id("credit_card", company, reference)


# ================================================================================================ aggregate
class CreditCard(RecurringCharges, BillingAggregate):
    """A credit card and its cycle (see the module docstring). ``open`` is the list of open statements
    ``[seq, start, end]`` oldest first; ``charges`` maps a charge id to ``(fingerprint, seq)``; ``pending``
    holds installment parts for statements not open yet (``[seq, charge list]``)."""

    TOPIC = "billing:CreditCard"

    class Created(BillingAggregate.Created):
        TOPIC = "billing:CreditCard.Created"
        reference: str
        company: str
        holder: str
        last4: str
        currency: str
        timezone: str
        closing_day: int
        due_day: int | None
        due_after_days: int | None
        boundary: str
        holidays: str
        first: list

    class Updated(BillingAggregate.Event):
        """Changed holder or rules; they apply to statements not closed yet."""

        TOPIC = "billing:CreditCard.Updated"
        changes: dict

        def apply(self, c: CreditCard) -> None:
            for k, v in self.changes.items():
                setattr(c, k, v)

    class ActiveSet(BillingAggregate.Event):
        """Deactivated (no charges; the open statement closes at its end and no next one opens) or
        activated again (``opened``: the statement opened for the current period, if none was open)."""

        TOPIC = "billing:CreditCard.ActiveSet"
        active: bool
        opened: list | None
        cycle: dict
        #: The local date it took effect (absent from events recorded before pauses were kept).
        day: str | None = None

        def apply(self, c: CreditCard) -> None:
            if self.day is not None:
                if not self.active:
                    c.inactive_from = self.day
                elif c.inactive_from is not None:
                    c.pauses = [*c.pauses, [c.inactive_from, self.day]]
                    c.inactive_from = None
            c.active = self.active
            c.open = [list(x) for x in self.cycle["open"]]
            if self.opened:
                c.next_seq = self.opened[0] + 1

    class StatementsOpened(BillingAggregate.Event):
        """``init-statements``: the first statement moved to ``first`` and the ``opened`` ones after it."""

        TOPIC = "billing:CreditCard.StatementsOpened"
        first: list
        opened: list
        cycle: dict

        def apply(self, c: CreditCard) -> None:
            c.open = [list(x) for x in self.cycle["open"]]
            c.next_seq = c.open[-1][0] + 1

    class ChargesRecorded(BillingAggregate.Event):
        """Charges posted (``[id, fingerprint, seq]`` each; seq 0: waiting), installment parts left
        ``pending`` for statements not open yet, and purchases ``waiting`` for the statement that will hold
        their date (:meth:`Purchase.to_event` lists)."""

        TOPIC = "billing:CreditCard.ChargesRecorded"
        charges: list
        pending: list
        waiting: list

        def apply(self, c: CreditCard) -> None:
            c.charges = {**c.charges, **{i: (f, s) for i, f, s in self.charges}}
            if self.pending:
                c.pending = [*c.pending, *self.pending]
            if self.waiting:
                c.waiting = [*c.waiting, *self.waiting]

    class StatementCycleSet(BillingAggregate.Event):
        """The open statement ``seq`` now runs ``start_date`` to ``end_date``; the purchases that were
        waiting with a date now inside it (``released``, their ids) land in it (later installment parts
        wait for the statements after it)."""

        TOPIC = "billing:CreditCard.StatementCycleSet"
        seq: int
        start_date: date
        end_date: date
        cycle: dict
        released: list

        def apply(self, c: CreditCard) -> None:
            c.open = [list(x) for x in self.cycle["open"]]
            c._released = []
            if self.released:
                gone = set(self.released)
                c._release(self.seq, self.start_date, [w for w in c.waiting if w[0] in gone])
                c.waiting = [w for w in c.waiting if w[0] not in gone]

    class PeriodClosed(BillingAggregate.Event):
        """Statement ``seq`` (``start``–``end``) closed with ``total`` over ``count`` charges, due
        ``due_date``; ``next`` is the statement opened after it (None: a later one is open already, or the
        card is inactive)."""

        TOPIC = "billing:CreditCard.PeriodClosed"
        seq: int
        start: date
        end: date
        total: Decimal
        count: int
        due_date: date
        next: list | None
        cycle: dict

        def apply(self, c: CreditCard) -> None:
            c.open = [list(x) for x in self.cycle["open"]]
            c.last_end = self.end
            c._released = []
            if self.next:
                seq, start = self.next[0], date.fromisoformat(self.next[1])
                c.next_seq = seq + 1
                # the installment parts and the purchases waiting for this period land in it now
                c._released = [x for x in c.pending if x[0] == seq]
                c.pending = [x for x in c.pending if x[0] != seq]
                c._release(seq, start, [w for w in c.waiting if w[1] <= self.next[2]])
                c.waiting = [w for w in c.waiting if w[1] > self.next[2]]
            c.closed += 1

    class StatementDeleted(BillingAggregate.Event):
        TOPIC = "billing:CreditCard.StatementDeleted"
        seq: int
        cycle: dict

        def apply(self, c: CreditCard) -> None:
            c.open = [list(x) for x in self.cycle["open"]]

    RecurringChargeSet = RecurringChargeSet
    RecurringChargePosted = RecurringChargePosted

    def __init__(self, reference: str, company: str, holder: str, last4: str, currency: str, timezone: str, closing_day: int,
                 due_day: int | None, due_after_days: int | None, boundary: str, holidays: str, first: list):
        self.reference = reference
        self.company = company
        self.holder = holder
        self.last4 = last4
        self.currency = currency
        self.timezone = timezone
        self.closing_day = closing_day
        self.due_day = due_day
        self.due_after_days = due_after_days
        self.boundary = boundary
        self.holidays = holidays
        self.active = True
        #: Local dates ``[deactivated on, active again on]`` of past pauses (:meth:`pause_of`), and the
        #: deactivation day of the current one.
        self.pauses: list[list[str]] = []
        self.inactive_from: str | None = None
        self.open: list[list] = [list(first)]
        self.next_seq = first[0] + 1
        self.charges: dict[str, tuple[str, int]] = {}
        self.pending: list[list] = []
        self.waiting: list[list] = []
        self.recurring: dict[str, dict] = {}
        self.closed = 0
        #: The end date of the last statement closed (None before the first close).
        self.last_end: date | None = None
        self._released: list[list] = []
        self._pending_day = 0

    def describe(self) -> str:
        return f"card {self.reference}"

    # ------------------------------------------------------------------------------------- creation
    @classmethod
    def create(cls, *, reference: str, company: str, holder: str, last4: str, currency: str, timezone: str,
               closing_day: object, opened_on: date, due_day: object = None, due_after_days: object = None,
               boundary: object = None, holidays: object = None) -> CreditCard:
        """Add a card; its first statement is the anchored period containing ``opened_on`` (the local date
        it is added). Raises :class:`ValidationError` naming the field (see the validators)."""
        validate_reference(reference)
        validate_reference(company, "company")
        closing = validate_closing_day(closing_day)
        dd, da = validate_due_rule(due_day, due_after_days)
        b = validate_boundary(boundary)
        start, end = statement_containing(opened_on, closing, b)
        return cls._create_with_id(
            cls.Created, card_id(reference, company), reference=reference, company=company,
            holder=validate_name(holder, "holder"), last4=validate_last4(last4), currency=validate_currency(currency),
            timezone=timezone, closing_day=closing, due_day=dd, due_after_days=da, boundary=b,
            holidays=validate_calendar(holidays), first=[1, start.isoformat(), end.isoformat()],
        )

    # ------------------------------------------------------------------------------------- the cycle
    def open_statements(self) -> list[tuple[int, date, date]]:
        """The open statements ``(seq, start, end)``, oldest first."""
        return [(s, date.fromisoformat(a), date.fromisoformat(b)) for s, a, b in self.open]

    def closes_at(self, end: date) -> datetime:
        """When a statement ending on ``end`` closes: the local start of the next day."""
        return start_of_day(end + timedelta(days=1), self.timezone)

    @property
    def next_close_at(self) -> datetime | None:
        """When the oldest open statement closes (None: none is open)."""
        return self.closes_at(date.fromisoformat(self.open[0][2])) if self.open else None

    def due_date(self, end: date) -> date:
        """The due date of a statement ending on ``end`` (see the module docstring), shifted to a business
        day of the card's calendar."""
        if self.due_day is not None:
            close = end if self.boundary == INCLUSIVE else end + timedelta(days=1)
            due = first_day_after(close, self.due_day)
        else:
            due = end + timedelta(days=self.due_after_days or 0)
        return next_business_day(due, self.holidays)

    def next_period(self, end: date) -> tuple[date, date]:
        """The period after a statement that ended on ``end``."""
        return statement_after(end, self.closing_day, self.boundary)

    def record_close(self, seq: int, total: Decimal, count: int) -> tuple[list | None, date]:
        """Record that the oldest open statement ``seq`` closed; returns ``(next statement [seq, start,
        end] or None, its due date)``. The next one opens only if ``seq`` was the current statement and the
        card is active."""
        s, start, end = self.open_statements()[0]
        if s != seq:
            raise Conflict("statement", f"statement {seq} is not the oldest open statement of card {self.reference}")
        nxt = None
        if len(self.open) == 1 and self.active:
            a, b = self.next_period(end)
            nxt = [self.next_seq, a.isoformat(), b.isoformat()]
        due = self.due_date(end)
        after = [x for x in self.open if x[0] != seq] + ([nxt] if nxt else [])
        self.trigger_event(self.PeriodClosed, seq=seq, start=start, end=end, total=total, count=count, due_date=due, next=nxt,
                           cycle=self._cycle(after))
        return nxt, due

    def pending_for(self, seq: int) -> list[Charge]:
        """The installment parts waiting for statement ``seq``."""
        return [Charge.from_event(c) for s, charges in self.pending if s == seq for c in charges]

    def _release(self, seq: int, start: date, purchases: list[list]) -> None:
        """Waiting ``purchases`` land in statement ``seq`` (starting ``start``): their first parts join
        :attr:`_released`, later installment parts wait by seq."""
        for w in purchases:
            p = Purchase.from_event(w)
            for k, charge in enumerate(split_charge(p.id, p.date, p.amount, self.currency, p.merchant, p.parts, p.attributes,
                                                    p.date < start)):
                if k == 0:
                    self._released = [*self._released, [seq, [charge.to_event()]]]
                else:
                    self.pending = [*self.pending, [seq + k, [charge.to_event()]]]

    def pending_for_opened(self, seq: int) -> list[Charge]:
        """The charges for statement ``seq`` that the last :meth:`record_close` or cycle change released:
        installment parts that waited for it and purchases that waited for its period."""
        return [Charge.from_event(c) for s, charges in self._released if s == seq for c in charges]

    # ------------------------------------------------------------------------------------- charges
    def pause_of(self, day: date) -> tuple[str, str] | None:
        """``(deactivated on, active again on)`` (local ISO dates; the second ``"…"`` while the card is still
        inactive) of the pause that ``day`` (the card's local date) falls in, or None. A pause holds the days
        strictly between the two: on the day of deactivation and the day of reactivation the card was active
        for part of the day, so what is dated then is taken (issue 6, item 7, applied to cards)."""
        d = day.isoformat()
        for a, b in self.pauses:
            if a < d < b:
                return a, b
        if self.inactive_from is not None and self.inactive_from < d:
            return self.inactive_from, "…"
        return None

    def place(self, charge_date: date, amount: Decimal | None = None) -> tuple[int, bool]:
        """The open statement a charge dated ``charge_date`` lands in (0: none yet, the charge waits for
        the statement that will hold its date), and whether it is late. Raises :class:`Conflict` for an
        inactive card, :class:`ValidationError` (``date``) for a purchase (``amount`` > 0; a refund may
        come any time) dated while the card was inactive: a pause is never billed later (issue 6, item 7)."""
        if not self.active:
            raise Conflict("card", f"card {self.reference} is deactivated; it takes no charges")
        if amount is not None and amount > 0 and (pause := self.pause_of(charge_date)) is not None:
            a, b = pause
            raise ValidationError("date", f"{charge_date} is in a pause of card {self.reference} (deactivated on {a}, "
                                          f"active again on {b}); it took no purchases then")
        opened = self.open_statements()
        if not opened:
            raise Conflict("card", f"card {self.reference} has no open statement")
        for seq, start, end in opened:
            if start <= charge_date <= end:
                return seq, False
        first, current = opened[0], opened[-1]
        if charge_date < first[1]:
            return current[0], True
        return 0, False

    def known_charge(self, charge_id: str, digest: str) -> bool:
        """True if ``charge_id`` was posted with the same data; :class:`ValidationError` (field
        ``charge_id``) if with other data."""
        got = self.charges.get(charge_id)
        if got is None:
            return False
        if got[0] != digest:
            raise ValidationError("charge_id", f"{charge_id!r} is posted already on card {self.reference} with other data "
                                               "(date, amount, merchant or installments); a charge id names one purchase")
        return True

    def record_charges(self, posted: Iterable[tuple[str, str, int]], pending: list[list], waiting: list[list]) -> None:
        """Record posted charges ``(id, fingerprint, seq)``, ``pending`` installment parts and ``waiting``
        purchases."""
        posted = [list(p) for p in posted]
        if posted or pending or waiting:
            self.trigger_event(self.ChargesRecorded, charges=posted, pending=pending, waiting=waiting)

    # ------------------------------------------------------------------------------------- commands
    def update(self, **changes: object) -> bool:
        """Change ``holder``, ``last4``, ``closing_day``, ``due_day``/``due_after_days``, ``boundary`` or
        ``holidays`` (for statements not closed yet; periods already open keep their dates). Returns False
        if nothing changes."""
        out: dict[str, object] = {}
        if "due_day" in changes or "due_after_days" in changes:
            dd, da = changes.pop("due_day", None), changes.pop("due_after_days", None)
            if dd is not None or da is not None:
                changes["due_day"], changes["due_after_days"] = validate_due_rule(dd, da)
        for key, value in changes.items():
            if value is None and key not in ("due_day", "due_after_days"):
                continue
            value = {"holder": lambda v: validate_name(v, "holder"), "last4": validate_last4, "closing_day": validate_closing_day,
                     "boundary": validate_boundary, "holidays": validate_calendar,
                     "due_day": lambda v: v, "due_after_days": lambda v: v}[key](value)
            if getattr(self, key) != value:
                out[key] = value
        if not out:
            return False
        self.trigger_event(self.Updated, changes=out)
        return True

    def set_active(self, active: bool, today: date) -> list | None:
        """Deactivate, or activate again (opening the period containing ``today`` if no statement is
        open); returns the statement opened, if one was. False → False is a no-op (None)."""
        if active == self.active:
            return None
        if not active and (self.waiting or self.pending):
            n = len(self.waiting) + sum(len(x[1]) for x in self.pending)
            raise Conflict("card", f"card {self.reference} has {n} charges or installment parts waiting for its next statements; "
                                   "a card is deactivated once they are posted")
        opened = None
        if active and not self.open:
            a, b = statement_containing(today, self.closing_day, self.boundary)
            opened = [self.next_seq, a.isoformat(), b.isoformat()]
        self.trigger_event(self.ActiveSet, active=active, opened=opened, cycle=self._cycle(self.open + ([opened] if opened else []), active),
                           day=today.isoformat())
        return opened

    def set_cycle(self, end: date) -> tuple[int, date, date, list[Charge]] | None:
        """Move the current open statement's end to ``end`` (its start stays); purchases waiting with a
        date up to ``end`` land in it. Returns ``(seq, start, end, charges to post on that statement)`` or
        None if unchanged. Raises :class:`ValidationError` (field
        ``end_date``) for an end before the statement's start."""
        seq, start, old = self.open_statements()[-1]
        if end < start:
            raise ValidationError("end_date", f"{end} is before the open statement's start {start}; "
                                              "a statement ends on or after its first day")
        if end == old:
            return None
        return seq, start, end, self._cycle_set(seq, start, end)

    def move_statement(self, seq: int, start: date, end: date) -> list[Charge]:
        """Move open statement ``seq`` to ``[start, end]`` (HTTP PUT). The periods of a card follow each
        other without gap or overlap, so the start can move only on a card's first statement (otherwise it
        is the day after the statement before), and the end only on the current one (otherwise it is the
        day before the next). Returns the waiting charges that now land in it (the caller posts them).
        Raises :class:`ValidationError` (``start_date``/``end_date``) for an end
        before the start or a broken sequence, :class:`Conflict` if ``seq`` is not open."""
        opened = self.open_statements()
        idx = next((i for i, s in enumerate(opened) if s[0] == seq), None)
        if idx is None:
            raise Conflict("statement", f"statement {seq} of card {self.reference} is not open")
        if end < start:
            raise ValidationError("end_date", f"{end} is before the start {start}")
        before = opened[idx - 1][2] if idx > 0 else self.last_end
        if before is not None and start != before + timedelta(days=1):
            raise ValidationError("start_date", f"{start} must be {before + timedelta(days=1)}, the day after the statement "
                                                f"before ends ({before}): a card's periods have no gap or overlap")
        if idx + 1 < len(opened) and end != opened[idx + 1][1] - timedelta(days=1):
            raise ValidationError("end_date", f"{end} must be {opened[idx + 1][1] - timedelta(days=1)}, the day before the "
                                              "next open statement starts; move the current statement's end instead")
        return self._cycle_set(seq, start, end) if (start, end) != opened[idx][1:] else []

    def _cycle(self, open_after: list, active: bool | None = None) -> dict:
        """What the tick plans closes from, after an event: zone, closing day, boundary, active flag and
        the open statements (carried by every event that changes them, so the due index needs no read)."""
        return {"timezone": self.timezone, "closing_day": self.closing_day, "boundary": self.boundary,
                "active": self.active if active is None else active, "open": [list(x) for x in open_after]}

    def _cycle_set(self, seq: int, start: date, end: date) -> list[Charge]:
        after = [[s, start.isoformat(), end.isoformat()] if s == seq else [s, a, b] for s, a, b in self.open]
        released = [w[0] for w in self.waiting if w[1] <= end.isoformat()] if seq == self.open[-1][0] else []
        self.trigger_event(self.StatementCycleSet, seq=seq, start_date=start, end_date=end, cycle=self._cycle(after),
                           released=released)
        return self.pending_for_opened(seq)

    def init_statements(self, today: date, months: int) -> list[list] | None:
        """Open the statements covering the last ``months`` months (the source system's
        ``create_initial_invoices``): the first statement moves back to the anchored period containing
        ``today`` − ``months`` months and the periods after it up to the current one open. Only while
        nothing was closed or charged; idempotent (None if the first statement starts there already).
        Returns the statements opened after the first."""
        months = _whole(months, "months", 1, 36, "months of history")
        y, m = divmod(today.year * 12 + today.month - 1 - months, 12)
        back = closing_date(y, m + 1, today.day)
        first_start, first_end = statement_containing(back, self.closing_day, self.boundary)
        current = self.open_statements()
        if current[0][1] <= first_start:
            return None
        why = (f"{self.closed} closed statement(s)" if self.closed else f"{len(self.charges)} charge(s)" if self.charges
               else f"{len(current)} open statements already (from {current[0][1]}; init-statements opens the history once)"
               if len(current) > 1 else None)
        if why:
            raise Conflict("card", f"card {self.reference} has {why}; init-statements only opens the history of a new card")
        periods = [(first_start, first_end)]
        while periods[-1][1] < current[0][2]:
            periods.append(self.next_period(periods[-1][1]))
        first = [1, periods[0][0].isoformat(), periods[0][1].isoformat()]
        opened = [[i + 1, a.isoformat(), b.isoformat()] for i, (a, b) in enumerate(periods) if i > 0]
        self.trigger_event(self.StatementsOpened, first=first, opened=opened, cycle=self._cycle([first, *opened]))
        return opened

    def delete_statement(self, seq: int) -> None:
        """Forget open statement ``seq`` (the aggregate deletes itself): only the oldest open one, and only
        while a later one is open (the sequence of periods keeps no hole)."""
        opened = self.open_statements()
        if len(opened) < 2 or opened[0][0] != seq:
            raise Conflict("statement", f"only the oldest of several open statements of card {self.reference} can be deleted "
                                        "(a card always has its current statement)")
        self.trigger_event(self.StatementDeleted, seq=seq, cycle=self._cycle([x for x in self.open if x[0] != seq]))
