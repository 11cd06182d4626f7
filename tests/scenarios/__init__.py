"""One scenario per billing behaviour (work source), for the shared suites of ``tests/test_sources.py``
(issue 7: the determinism, concurrency and bad-input suites are one suite parametrised over the sources).

A behaviour joins the suites by adding a module here that defines ``SCENARIO`` (a :class:`Scenario`) and
listing it in :data:`MODULES`. What each field is for:

- the **golden** run (determinism (a)): ``golden(store)`` runs every kind of event of the behaviour at
  fixed instants and returns what it issued; two fresh stores (two SQLite files; SQLite and PostgreSQL) must
  give identical event streams and the same ``state``; ``topics`` must all occur in the stream;
- **daily ≡ once** (determinism (b)): ``daily_setup`` then the ``daily_actions`` (each at its business
  instant) interleaved with a tick at every instant of ``daily_ticks``, against the same setup and actions
  followed by one tick at the last instant: the same ``state``; ``daily_check(state)`` asserts that the run
  exercised what it should; ``after(store, at)`` (payments, ...) then keeps them equal;
- **rebuild ≡ live** (determinism (c)): after the golden run a rebuild reproduces every read-model row;
- **racing tickers** (concurrency, PostgreSQL): ``race_setup(store)`` writes a book with many items due at
  ``race_at``; several tickers at once, then ``race_check(store, expected, reported)`` where ``reported``
  counts ``reported_key(document)`` over every ticker's summary (each at most once);
- **bad input** (CLI, both backends): ``bad_seed(url)`` writes a small book, every ``(field, args)`` of
  ``bad_cases`` must exit 2 naming the field and write nothing, and ``bad_after(url)`` checks the book is
  as seeded; ``bad_env`` is added to the environment of those commands.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: The scenario modules, one per billing behaviour.
MODULES = ["scenarios.consolidation", "scenarios.contracts", "scenarios.package_fees", "scenarios.timesheets", "scenarios.cards"]


@dataclass(frozen=True)
class Action:
    """A command of a scenario, run at its business instant ``at``."""

    at: datetime
    run: Callable[[Any], Any]


@dataclass(frozen=True)
class Scenario:
    """See the module docstring."""

    name: str
    golden: Callable[[Any], Any]
    topics: tuple[str, ...]
    state: Callable[[Any], Any]
    daily_setup: Callable[[Any], None]
    daily_actions: Callable[[], list[Action]]
    daily_ticks: Callable[[], list[datetime]]
    daily_check: Callable[[Any], None]
    after: Callable[[Any, datetime], None]
    race_setup: Callable[[Any], Any]
    race_at: datetime
    race_check: Callable[[Any, Any, Counter], None]
    reported_key: Callable[[dict[str, Any]], Any]
    bad_seed: Callable[[str], None]
    bad_cases: list[tuple[str, list[str]]]
    bad_after: Callable[[str], None]
    golden_check: Callable[[list[tuple[str, str, int, bytes]]], None] = lambda stream: None
    bad_env: dict[str, str] = field(default_factory=dict)
    race_tickers: int = 4


def scenarios() -> list[Scenario]:
    """Every behaviour's scenario, in :data:`MODULES` order."""
    return [importlib.import_module(m).SCENARIO for m in MODULES]
