"""What the CLI's areas share: options, the business instant, opening the store, catching projections up,
and rendering (tables, JSON, progress bars, pages). Heavy libraries are imported where they are used."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from commands.app import Store
    from projections.paging import Paging


class Failure(click.ClickException):
    """A user-facing error: printed on stderr as ``error: ...`` with the given exit status."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.message}", err=True)


# ============================================================================================ input
from commands.clock import now  # noqa: E402 - the wall clock, read only at the edge


def at_option(fn: Callable) -> Callable:
    return click.option(
        "--at",
        "at_text",
        metavar="INSTANT",
        help="Business instant of the command, ISO 8601 with offset (default: now).",
    )(fn)


def json_option(fn: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(fn)


def company_option(fn: Callable) -> Callable:
    """``--company CO`` (or ``$BILLING_COMPANY``; default ``default``): the tenant the command acts for."""
    return click.option("--company", envvar="BILLING_COMPANY", default="default", show_default=True,
                        metavar="CO", help="The company (tenant); also $BILLING_COMPANY.")(fn)


def list_company_options(fn: Callable) -> Callable:
    """:func:`company_option` and ``--all-companies`` (every company's rows, CLI only)."""
    fn = click.option("--all-companies", is_flag=True, help="Show every company's rows.")(fn)
    return company_option(fn)


def chosen_company(company: str, all_companies: bool) -> str | None:
    return None if all_companies else company


def page_options(fn: Callable) -> Callable:
    """``--limit N`` (default 100; 0 for no limit) and ``--offset N`` (rows to skip)."""
    fn = click.option("--offset", type=int, default=0, show_default=True, help="Rows to skip (the next page starts at limit + offset).")(fn)
    return click.option("--limit", type=int, default=100, show_default=True, help="Rows to show (0: all).")(fn)


def parse_at(text: str | None) -> datetime:
    """The command's business instant: ``--at`` (ISO 8601 with offset), or the wall clock
    (:func:`commands.clock.business_instant`: never more than a day ahead of it)."""
    from commands.clock import business_instant

    return business_instant(text, "at")


def parse_optional_date(text: str | None, field: str) -> Any:
    from domain.calendar import parse_date

    return parse_date(text, field) if text else None


def paging(limit: int, offset: int) -> Paging:
    from projections.paging import Paging

    return Paging(None if limit == 0 else limit, offset)


# ============================================================================================ the store
@contextmanager
def opened(ctx: click.Context, write: bool = True) -> Iterator[Store]:
    """Open the configured store for one command. A command that only reads (``write=False``) never
    creates a store: a mistyped path is an error naming it."""
    from commands.app import Store
    from commands.config import resolve

    store = Store(resolve(ctx.obj["database_url"]), create=write)
    try:
        yield store
    except BaseException:
        # A refused command leaves nothing behind: not even the empty store opening it created.
        if not store.discard_if_unused():
            store.close()
        raise
    store.close()


def execute(ctx: click.Context, command: Any, write: bool = True) -> Any:
    """Open the store, hand ``command`` to the bus, bring the read models up to date; returns the result."""
    from commands.bus import handle

    with opened(ctx, write=write) as store:
        result = handle(store, command)
        catch_up(store)
    return result


def catch_up(store: Store) -> None:
    """Bring every projection up to date (what you just did shows at once); say so on stderr when an
    event could not be applied (``billing projections status`` shows which and why)."""
    from projections import registry
    from projections import runner as projection_runner

    head = store.head()
    positions = projection_runner.positions(store)
    start = min((positions.get(p.name, 0) for p in registry.ALL), default=0)
    if start >= head:
        return
    before = projection_runner.error_count(store)
    if head - start > 20000:
        with progress_bar("projections", total=head - start) as advance:
            state = {"done": start}

            def on_page(pos: int, _head: int) -> None:
                advance(pos - state["done"])
                state["done"] = pos

            projection_runner.run(store, registry.ALL, on_page=on_page)
    else:
        projection_runner.run(store, registry.ALL)
    new = projection_runner.error_count(store) - before
    if new > 0:
        click.echo(f"warning: {new} event(s) could not be applied to the read models; "
                   "see `billing projections status`", err=True)


# ============================================================================================ output
_consoles: dict[str, Any] = {}


def console(stderr: bool = False) -> Any:
    """The rich console for stdout (tables keep their width when piped) or stderr."""
    key = "err" if stderr else "out"
    if key not in _consoles:
        from rich.console import Console

        if stderr:
            _consoles[key] = Console(stderr=True, highlight=False, soft_wrap=True)
        else:
            _consoles[key] = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)
    return _consoles[key]


def echo(text: str) -> None:
    """Print one plain line on stdout."""
    click.echo(text)


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def table(columns: list[str], rows: list[list[Any]], title: str | None = None) -> None:
    from rich.table import Table
    from rich.text import Text

    t = Table(title=title, show_lines=False)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        # Text, not markup: a reference like "X[/b]" is data, never a style tag.
        t.add_row(*[Text("" if v is None else str(v)) for v in r])
    console().print(t)


def report(ctx: click.Context, limit: int, offset: int, as_json: bool, query: Callable[[Any, Paging], list[dict[str, Any]]],
           columns: list[str], row: Callable[[dict[str, Any]], list[Any]], *, known: dict[str, Any] | None = None) -> None:
    """One page of a report (what every list command does): open the store read-only, bring the read
    models up to date, check that the filters name something that exists (``known``: the keyword arguments
    of :func:`projections.paging.require_known`), run ``query(read engine, page)``, say on stderr how many
    more rows there are, and print the page as JSON (``as_json``) or as a table of ``columns``, ``row(r)``
    for each row."""
    page = paging(limit, offset)
    with opened(ctx, write=False) as store:
        catch_up(store)
        if known is not None:
            from projections.paging import require_known

            require_known(store.read_engine, **known)
        rows = query(store.read_engine, page)
    page_note(page, len(rows))
    if as_json:
        emit_json(rows)
        return
    table(columns, [row(r) for r in rows])


def page_note(page: Paging, shown: int) -> None:
    """Say on stderr which rows were shown and how many more there are (``--json`` prints the page)."""
    if page.more:
        first = page.offset + 1 if shown else page.offset
        click.echo(f"rows {first}-{page.offset + shown} of {page.total}: {page.more} more (next page: --offset {page.offset + shown})", err=True)


@contextmanager
def progress_bar(label: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr; yields ``advance(n)`` (with ``advance.set_total(n)``)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    with Progress(
        TextColumn("[bold]{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console(stderr=True),
        transient=False,
    ) as progress:
        task = progress.add_task(label, total=total)

        def advance(n: int) -> None:
            progress.advance(task, n)

        def set_total(t: int) -> None:
            progress.update(task, total=t)

        advance.set_total = set_total  # type: ignore[attr-defined]
        yield advance


def counts_line(what: str, counts: dict[str, int]) -> None:
    echo(f"{what}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
