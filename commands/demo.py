"""The main job (``make run``): a year of real flights, consolidated, on the embedded default.

1. imports the 336,776 flights of 2013 (examples/nycflights13) into a fresh SQLite file: 16 carriers as
   customers consolidating weekly from Monday, one individual invoice per flight;
2. ticks once at 2014-01-07 (catching up every week of 2013 in one run);
3. prints a summary per carrier and in total — consolidated invoices, lines, amount — and reconciles the
   total against the tariff applied to every non-cancelled flight, computed independently from the CSV,
   to the cent;
4. bills the package fees of real UK public contracts (examples/contracts-finder, company ``uk-public``;
   :mod:`commands.demo_packages`) and reconciles them with the CSV likewise;
5. bills a real Toggl time-tracking export weekly per client (examples/timesheets, company
   ``class-time``; :mod:`commands.demo_timesheets`) and reconciles units and amounts with the CSV;
6. closes the statements of 127,106 real purchase-card transactions (examples/birmingham-pcard, company
   ``birmingham``; :mod:`commands.demo_cards`) and reconciles every statement with its file's rows.

Exit status 1 if anything does not reconcile.

Run with ``python -m commands.demo [--database-url URL] [--fresh] [--period monthly]``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import click
import sqlalchemy as sa

from commands.app import Store
from commands.cli.common import console, progress_bar, table
from commands.config import resolve
from commands.nycflights import import_flights, load
from domain.money import format_amount
from projections import registry
from projections import runner as projection_runner
from projections.tables import consolidated_invoices

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(HERE, "examples", "nycflights13")
IMPORT_AT = datetime(2014, 1, 1, 5, 0, tzinfo=timezone.utc)  # 2014-01-01 00:00 in New York
TICK_AT = datetime(2014, 1, 7, 5, 0, tzinfo=timezone.utc)  # 2014-01-07 00:00 in New York


@click.command()
@click.option("--database-url", default="sqlite:///nycflights13.db", show_default=True)
@click.option("--fresh", is_flag=True, help="Delete the SQLite file first (a fresh store).")
@click.option("--period", type=click.Choice(["weekly", "monthly"]), default="weekly", show_default=True)
@click.option("--data", default=DATA, show_default=True, help="The nycflights13 directory.")
def main(database_url: str, fresh: bool, period: str, data: str) -> None:
    """Import a year of flights, tick to 2014-01-07, print the reconciled summary."""
    config = resolve(database_url)
    if fresh and config.sqlite_path:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(config.sqlite_path + suffix):
                os.remove(config.sqlite_path + suffix)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with Store(config) as store:
        console(stderr=True).print(f"store: {config.display_url}")
        t0 = time.perf_counter()
        with progress_bar("import flights") as advance:
            counts = import_flights(store, data, IMPORT_AT, period, progress=advance, on_total=advance.set_total)  # type: ignore[attr-defined]
        timings["import"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        head = store.head()
        with progress_bar("projections", total=head) as advance:
            state = {"done": min(projection_runner.positions(store).values(), default=0)}
            advance(state["done"])

            def on_page(pos: int, _h: int) -> None:
                advance(pos - state["done"])
                state["done"] = pos

            projection_runner.run(store, registry.ALL, on_page=on_page)
        timings["projections"] = time.perf_counter() - t0

        from scheduler.tick import tick

        t0 = time.perf_counter()
        with progress_bar("tick") as advance:
            summary = tick(store, TICK_AT, progress=_counting(advance))
        timings["tick"] = time.perf_counter() - t0
        rows = _summary(store)

        from commands import demo_packages

        t0 = time.perf_counter()
        with progress_bar("package fees") as advance:
            packages = demo_packages.run(store, progress=_counting(advance))
        timings["package fees"] = time.perf_counter() - t0

        from commands import demo_timesheets

        t0 = time.perf_counter()
        timesheets = demo_timesheets.run(store)
        timings["timesheets"] = time.perf_counter() - t0

        from commands import demo_cards

        t0 = time.perf_counter()
        with progress_bar("card statements") as advance:
            cards = demo_cards.run(store, progress=_counting(advance))
        timings["card statements"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - started

    expected = load(data)
    table(
        ["carrier", "consolidated invoices", "lines", "amount (USD)"],
        [[r[0], r[1], r[2], format_amount(r[3], "USD")] for r in rows]
        + [["TOTAL", sum(r[1] for r in rows), sum(r[2] for r in rows), format_amount(sum((r[3] for r in rows), Decimal(0)), "USD")]],
        title=f"nycflights13 2013, consolidated {period}, ticked at {TICK_AT.isoformat()}",
    )
    total = sum((r[3] for r in rows), Decimal(0))
    lines = sum(r[2] for r in rows)
    flown = len(expected.invoices) - expected.cancelled
    console().print(
        f"flights {len(expected.invoices)}, cancelled {expected.cancelled}, invoiced {flown}; "
        f"recorded {counts['recorded']} (new), unchanged {counts['unchanged']}"
    )
    console().print(f"tick: {summary.counts}, {summary.events} events")
    console().print(
        "timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
    )
    flights_ok = total == expected.expected_total and lines == flown
    if flights_ok:
        console().print(
            f"[bold green]reconciled[/bold green]: {format_amount(total, 'USD')} USD over {lines} lines equals the "
            f"tariff applied to every non-cancelled flight ({format_amount(expected.expected_total, 'USD')} USD, {flown} flights)"
        )
    else:
        console().print(
            f"[bold red]NOT reconciled[/bold red]: consolidated {total} over {lines} lines, "
            f"expected {expected.expected_total} over {flown} flights"
        )
    packages_ok = _print_packages(packages)
    timesheets_ok = _print_timesheets(timesheets)
    cards_ok = _print_cards(cards)
    if not (flights_ok and packages_ok and timesheets_ok and cards_ok):
        sys.exit(1)


def _counting(advance: Any) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback that moves the bar ``advance`` (of :func:`progress_bar`)."""
    state = {"done": 0}

    def on_progress(done: int, total: int) -> None:
        advance.set_total(total)
        advance(done - state["done"])
        state["done"] = done

    return on_progress


def _print_cards(c: dict) -> bool:
    """Print the card-statement summary; True if every closed statement equals its file's rows."""
    cur = c["summary"]["currencies"][0] if c["summary"]["currencies"] else {}
    table(["statement files", "cards", "statements closed", "charges", "refunds", "charges (GBP)", "refunds (GBP)", "closed total (GBP)"],
          [[c["files"], c["cards"], cur.get("closed", 0), cur.get("charges", 0), cur.get("refunds", 0), cur.get("charges_total"),
            cur.get("refunds_total"), cur.get("closed_total")]],
          title="Birmingham purchase-card statements (Europe/London), one card per masked number and directorate")
    total = sum((v[0] for v in c["expected"].values()), Decimal(0))
    rows = sum(v[1] for v in c["expected"].values())
    ok = (c["got"] == c["expected"] and c["per_file"] == c["index_totals"] and rows == c["rows"]
          and cur.get("closed") == len(c["expected"]) and cur.get("refunds") == c["refund_rows"])
    if ok:
        console().print(
            f"[bold green]reconciled[/bold green]: {len(c['got'])} closed statements, each equal to its card's rows in its file "
            f"({rows} rows, {format_amount(total, 'GBP')} GBP; every file's total equals the index's gross_total_gbp)"
        )
    else:
        wrong = sorted(k for k in set(c["got"]) | set(c["expected"]) if c["got"].get(k) != c["expected"].get(k))
        console().print(f"[bold red]NOT reconciled[/bold red]: {len(wrong)} statements differ, e.g. "
                        f"{[(k, c['got'].get(k), c['expected'].get(k)) for k in wrong[:3]]}")
    return ok


def _print_timesheets(t: dict) -> bool:
    """Print the timesheet summary per client; True if it reconciles with the CSV."""
    from commands.demo_timesheets import RATES

    rows = [[client, format_amount(RATES[client], "USD"), b["entries"], b["units"], b["invoices"], format_amount(b["amount"], "USD")]
            for client, b in t["billed"].items()]
    table(["client", "rate per unit (USD)", "entries", "units", "weekly invoices", "amount (USD)"], rows,
          title=f"Toggl timesheets, weekly per client (America/Denver), ticked at {t['tick_at'].isoformat()}")
    if t["billed"] == t["expected"]:
        console().print(
            f"[bold green]reconciled[/bold green]: {sum(b['units'] for b in t['billed'].values())} units of 15 minutes on "
            f"{sum(b['invoices'] for b in t['billed'].values())} weekly invoices equal the count from the CSV's durations"
        )
        return True
    console().print(f"[bold red]NOT reconciled[/bold red]: timesheets billed {t['billed']}, expected {t['expected']}")
    return False


def _print_packages(p: dict) -> bool:
    """Print the package-fee summary; True if it reconciles with the CSV."""
    table(
        ["engagements", "clients", "skipped (no positive value)", "invoices", "net (GBP)", "gross (GBP)"],
        [[p["engagements"], p["clients"], p["skipped"], p["invoices"], format_amount(p["net"], "GBP"), format_amount(p["gross"], "GBP")]],
        title=f"Contracts Finder package fees, monthly, ticked at {p['tick_at'].isoformat()}",
    )
    ok = (p["invoices"], p["net"], p["gross"]) == (p["expected_invoices"], p["expected_net"], p["expected_gross"]) and p["numbers_unique"]
    if ok:
        console().print(
            f"[bold green]reconciled[/bold green]: {p['invoices']} package-fee invoices, {format_amount(p['net'], 'GBP')} GBP net, "
            f"{format_amount(p['gross'], 'GBP')} GBP gross equal fee x months touched per contract, computed from the CSV"
        )
    else:
        console().print(
            f"[bold red]NOT reconciled[/bold red]: package fees {p['invoices']} invoices {p['net']} net {p['gross']} gross, "
            f"expected {p['expected_invoices']} / {p['expected_net']} / {p['expected_gross']}"
        )
    return ok


def _summary(store: Store) -> list[tuple[str, int, int, Decimal]]:
    t = consolidated_invoices
    acc: dict[str, list] = {}
    with store.read_engine.connect() as conn:
        for r in conn.execute(sa.select(t.c.customer_reference, t.c.count, t.c.total).where(t.c.number.is_not(None))):
            a = acc.setdefault(r.customer_reference, [0, 0, Decimal(0)])
            a[0] += 1
            a[1] += r.count
            a[2] += r.total
    return [(k, v[0], v[1], v[2]) for k, v in sorted(acc.items())]


if __name__ == "__main__":
    main()
