"""The wall clock, read only at the edges (CLI, HTTP, scheduler loop): a command's business instant."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

#: How far ahead of the wall clock a command's business instant may be (a typo in the year would otherwise
#: date an aggregate's history in the future, and every later command would be refused by the time rule).
FUTURE_MARGIN = timedelta(days=1)


def now() -> datetime:
    """The wall clock (UTC), read only at the edge."""
    return datetime.now(timezone.utc)  # edge


def business_instant(text: str | None, field: str = "at") -> datetime:
    """The business instant given as ISO 8601 with offset, or the wall clock when none is given.

    Raises :class:`ValidationError` naming ``field`` for a malformed instant, or one more than a day after
    the wall clock unless ``$BILLING_ALLOW_FUTURE_AT`` is set (replaying a scenario written ahead of time)."""
    from domain.calendar import parse_instant
    from domain.errors import ValidationError

    if text is None:
        return now()
    at = parse_instant(text, field)
    limit = now() + FUTURE_MARGIN
    if at > limit and not os.environ.get("BILLING_ALLOW_FUTURE_AT"):
        raise ValidationError(field, f"{at.isoformat()} is more than a day after now ({now().isoformat(timespec='seconds')}): "
                                     "business time may not run ahead of the clock (set BILLING_ALLOW_FUTURE_AT=1 to replay)")
    return at
