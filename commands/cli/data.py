"""``billing import ...``: real data sets."""

from __future__ import annotations

import click

from commands.cli.common import at_option, catch_up, counts_line, opened, parse_at, progress_bar


@click.group("import")
def import_group() -> None:
    """Import real data sets."""


@import_group.command("nycflights13")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--period", type=click.Choice(["weekly", "monthly"]), default="weekly", show_default=True)
@at_option
@click.pass_context
def import_nycflights13(ctx: click.Context, directory: str, period: str, at_text: str | None) -> None:
    """Import the nycflights13 data set in DIRECTORY: a customer per carrier, an invoice per flight."""
    from commands.nycflights import import_flights

    at = parse_at(at_text)
    with opened(ctx) as store:
        with progress_bar("flights") as advance:
            counts = import_flights(store, directory, at, period, progress=advance, on_total=advance.set_total)  # type: ignore[attr-defined]
        catch_up(store)
    counts_line("nycflights13", counts)
