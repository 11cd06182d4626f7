"""The suites every billing behaviour gets (issue 7), parametrised over the scenarios of :mod:`scenarios`
(one per work source: consolidation, contracts, and every later one):

- determinism (DESIGN.md, "Determinism" and "Projections"): (a) the golden run into two fresh stores —
  two SQLite files; SQLite and PostgreSQL — gives identical event streams (topic, originator id, version
  and state bytes of every notification) and read models; (b) ticking every day and ticking once at the
  end issue the same documents with the same numbers, dates, totals and statuses; (c) rebuilding the
  projections (in one go and in pages of 7 events) reproduces exactly the rows the live runner wrote;
- concurrency (PostgreSQL): several tickers at once — real ``billing tick`` processes taking turns, and
  processes racing without the advisory lock — do every item exactly once, and ticking again finds
  nothing to do;
- bad input (CLI, both backends): every bad case exits 2 naming its field, prints no traceback and writes
  nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from commands.app import Store
from commands.config import resolve
from conftest import PgSchema, require_postgres
from projections import registry
from projections import runner as projection_runner
from scenarios import Scenario, scenarios
from scheduler.tick import tick
from support import assert_raced_or_took_turns, bad_input_problem, event_stream, head, run_ticks_at_once

SCENARIOS = scenarios()
ids = [s.name for s in SCENARIOS]


@pytest.fixture(params=SCENARIOS, ids=ids)
def scenario(request: pytest.FixtureRequest) -> Scenario:
    return request.param


def _open(path: Path) -> Store:
    return Store(resolve(f"sqlite:///{path}"))


def _assert_same_streams(a: list, b: list) -> None:
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b)):
        assert x == y, f"notification #{i + 1} differs:\n{x}\n{y}"


def dump_read_models(store: Store) -> dict[str, list[tuple]]:
    """Every row of every read-model table, sorted."""
    projection_runner.run(store, registry.ALL)
    out: dict[str, list[tuple]] = {}
    with store.read_engine.connect() as conn:
        for p in registry.ALL:
            for table in p.tables:
                out[table.name] = sorted((tuple(r) for r in conn.execute(sa.select(table)).all()), key=repr)
    return out


# ============================================================================================ (a) golden
def test_golden_two_sqlite_stores_produce_identical_event_streams(scenario: Scenario, tmp_path: Path) -> None:
    with _open(tmp_path / "a.db") as a, _open(tmp_path / "b.db") as b:
        assert scenario.golden(a) == scenario.golden(b)
        stream_a, stream_b = event_stream(a), event_stream(b)
        assert scenario.state(a) == scenario.state(b)
    topics = {t for t, *_ in stream_a}
    missing = [t for t in scenario.topics if t not in topics]
    assert not missing, f"the golden run never records {missing}"
    scenario.golden_check(stream_a)
    _assert_same_streams(stream_a, stream_b)


def test_golden_sqlite_and_postgres_produce_identical_event_streams(scenario: Scenario, sqlite_store: Store, pg_store: Store) -> None:
    assert scenario.golden(sqlite_store) == scenario.golden(pg_store)
    _assert_same_streams(event_stream(sqlite_store), event_stream(pg_store))
    assert scenario.state(sqlite_store) == scenario.state(pg_store)


# ============================================================================================ (b) daily ≡ once
def test_ticking_at_every_step_equals_one_tick_at_the_end(scenario: Scenario, tmp_path: Path) -> None:
    actions = sorted(scenario.daily_actions(), key=lambda a: a.at)
    ticks = scenario.daily_ticks()
    end = ticks[-1]
    with _open(tmp_path / "daily.db") as daily, _open(tmp_path / "once.db") as once:
        scenario.daily_setup(daily)
        scenario.daily_setup(once)
        i = 0
        daily_issued = []
        for t in ticks:
            while i < len(actions) and actions[i].at < t:
                actions[i].run(daily)
                i += 1
            daily_issued.extend(tick(daily, t).issued)
        assert i == len(actions), "an action lies after the last tick"
        for a in actions:
            a.run(once)
        once_issued = tick(once, end).issued

        state = scenario.state(daily)
        assert state == scenario.state(once)
        scenario.daily_check(state)
        key = scenario.reported_key
        assert sorted(map(key, daily_issued), key=repr) == sorted(map(key, once_issued), key=repr)
        # what follows (payments, ...) keeps them equal
        for store in (daily, once):
            scenario.after(store, end + timedelta(days=1))
        assert scenario.state(daily) == scenario.state(once)


# ============================================================================================ (c) rebuild ≡ live
def test_rebuilding_the_projections_reproduces_the_live_rows(scenario: Scenario, store: Store) -> None:
    scenario.golden(store)
    live = dump_read_models(store)
    assert sum(map(len, live.values())) > 0
    positions = projection_runner.positions(store)
    assert projection_runner.rebuild(store, registry.ALL) > 0
    rebuilt = dump_read_models(store)
    for name in live:
        assert rebuilt[name] == live[name], name
    assert projection_runner.positions(store) == positions
    projection_runner.rebuild(store, registry.ALL, page_size=7)
    rebuilt = dump_read_models(store)
    for name in live:
        assert rebuilt[name] == live[name], f"{name} (pages of 7)"


# ============================================================================================ racing tickers
@pytest.mark.parametrize("mode", ["api", "cli"])
def test_concurrent_ticks_do_every_item_exactly_once(scenario: Scenario, pg_url: str, mode: str) -> None:
    with Store(resolve(pg_url)) as store:
        expected = scenario.race_setup(store)

    results, failures = run_ticks_at_once(pg_url, scenario.race_at, scenario.race_tickers, mode)
    if not failures:
        assert_raced_or_took_turns(results, failures, mode)
    reported = Counter(scenario.reported_key(d) for r in results for d in r["issued"])
    twice = [k for k, c in reported.items() if c > 1]
    assert not twice, f"reported by several tickers: {twice[:10]}"
    if failures:  # a crashed ticker may have left work undone; finish it so that the invariants can be checked
        with Store(resolve(pg_url)) as store:
            tick(store, scenario.race_at)
    with Store(resolve(pg_url)) as store:
        scenario.race_check(store, expected, reported)

    again, again_failures = run_ticks_at_once(pg_url, scenario.race_at, 4, mode)
    assert all(r["issued"] == [] and r["events"] == 0 for r in again), again
    all_failures = failures + again_failures
    assert not all_failures, f"{len(all_failures)} concurrent ticker(s) failed:\n" + "\n".join(all_failures)


# ============================================================================================ bad input
@pytest.fixture(scope="module", params=[(s, b) for s in SCENARIOS for b in ("sqlite", "postgres")],
                ids=[f"{s.name}-{b}" for s in SCENARIOS for b in ("sqlite", "postgres")])
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Scenario, str]]:
    """One seeded store per scenario and backend, shared by its bad-input cases (which must not change it)."""
    scenario, backend = request.param
    schema = None
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('bad') / 'billing.db'}"
    else:
        require_postgres()
        schema = PgSchema()
        url = schema.url
    try:
        scenario.bad_seed(url)
        yield scenario, url
    finally:
        if schema is not None:
            schema.drop()


def test_bad_input_exits_2_names_the_field_and_writes_nothing(seeded: tuple[Scenario, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Every bad case of the scenario (a few at a time: they must not write, so they cannot interfere)
    exits 2 naming its field without a traceback; the event log's head does not move and the seeded book
    is unchanged."""
    from concurrent.futures import ThreadPoolExecutor

    scenario, url = seeded
    for name, value in scenario.bad_env.items():
        monkeypatch.setenv(name, value)
    before = head(url)
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda case: bad_input_problem(url, *case), scenario.bad_cases))
    after = head(url)
    failures = [o for o in outcomes if o is not None]
    if after != before:
        with Store(resolve(url)) as s:
            written = [f"{n.topic} {n.originator_id} v{n.originator_version}" for n in s.recorder.select_notifications(before + 1, 100)]
        failures.append(f"the event log head moved from {before} to {after}; written: {written}")
    assert not failures, f"{len(failures)} bad input case(s) not handled as required:\n" + "\n".join(failures)
    scenario.bad_after(url)
