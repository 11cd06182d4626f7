"""domain.schedules.add_months is written out for speed: it must agree with dateutil's relativedelta."""

import random
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from domain.schedules import add_months, next_run_after, nth_run


def test_add_months_agrees_with_relativedelta_on_20000_random_dates():
    rng = random.Random(20261121)
    for _ in range(20000):
        d = date(1990, 1, 1) + timedelta(days=rng.randrange(20000))
        k = rng.randrange(0, 400)
        assert add_months(d, k) == d + relativedelta(months=k), (d, k)


def test_next_run_after_is_the_first_scheduled_date_strictly_after():
    rng = random.Random(7)
    for interval in ("MONTHLY", "QUARTERLY", "SEMI_ANNUAL", "ANNUAL"):
        for _ in range(2000):
            start = date(2000, 1, 1) + timedelta(days=rng.randrange(10000))
            after = start + timedelta(days=rng.randrange(-60, 4000))
            expected = next(nth_run(start, interval, n) for n in range(1000) if nth_run(start, interval, n) > after)
            assert next_run_after(start, interval, after) == expected, (start, interval, after)
