"""``billing tick`` and ``billing scheduler run``."""

from __future__ import annotations

import json

import click

from commands.cli.common import catch_up, console, echo, emit_json, json_option, now, opened, parse_at, progress_bar


@click.command("tick")
@click.option("--at", "at_text", metavar="INSTANT", help="The tick's instant, ISO 8601 with offset (default: now).")
@click.option("--dry-run", is_flag=True, help="Run the same code, write nothing, report what would be issued.")
@click.option("--company", metavar="CO", help="Only this company's work (default: every company's).")
@click.option("--kind", metavar="KIND", help="Only this kind of work: consolidation, contract, overdue, ...")
@json_option
@click.pass_context
def tick_cmd(ctx: click.Context, at_text: str | None, dry_run: bool, company: str | None, kind: str | None, as_json: bool) -> None:
    """Issue everything due at INSTANT: close ended consolidation periods and issue their invoices, run due
    contracts, mark unpaid invoices overdue. Idempotent; catches up any number of missed periods."""
    from commands.bus import handle
    from commands.ticking import Tick
    from projections.paging import require_known

    at = parse_at(at_text)
    with opened(ctx, write=not dry_run) as store:
        catch_up(store)
        require_known(store.read_engine, company=company)
        if as_json or not console(stderr=True).is_terminal:
            summary = handle(store, Tick(at, dry_run, company, kind))
        else:
            with progress_bar("tick") as advance:
                state = {"done": 0}

                def on_progress(done: int, total: int) -> None:
                    advance.set_total(total)  # type: ignore[attr-defined]
                    advance(done - state["done"])
                    state["done"] = done

                summary = handle(store, Tick(at, dry_run, company, kind, on_progress))
    if summary.later_than is not None:
        passed = sum(c.get("later_history", 0) for c in summary.counts.values())
        click.echo(f"warning: {passed} item(s) passed over: what they change has events up to "
                   f"{summary.later_than.isoformat()}, after the tick's instant; a tick at a later instant does them", err=True)
    for r in summary.refused:
        click.echo(f"warning: {r['kind']} {r['key']} refused, left for a later tick once corrected: {r['field']}: {r['rule']} "
                   "(everything else was done)", err=True)
    if as_json:
        emit_json(summary.as_dict())
        return
    verb = "would issue" if dry_run else "issued"
    echo(f"tick at {at.isoformat()}{' (dry run: nothing written)' if dry_run else ''}")
    for kind, counts in sorted(summary.counts.items()):
        echo(f"  {kind}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    echo(f"  {verb} {len(summary.issued)} document(s); {summary.events} event(s)")


def _finite(param: click.Parameter, value: float) -> float:
    import math

    if not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number of seconds", param=param)
    return value


@click.group()
def scheduler() -> None:
    """The long-running scheduler."""


@scheduler.command("run")
@click.option("--interval", type=click.FloatRange(0.1, 86400), default=60.0, show_default=True, callback=lambda c, p, v: _finite(p, v),
              help="Seconds between ticks (0.1 to 86400).")
@click.option("--iterations", type=click.IntRange(1), help="Stop after this many ticks (default: run until interrupted).")
@click.pass_context
def scheduler_run(ctx: click.Context, interval: float, iterations: int | None) -> None:
    """Tick at the wall clock every INTERVAL seconds. Several may run at once: correctness comes from the
    event store, not from a lock. A tick that finds the database unavailable is reported on stderr and the
    loop goes on."""
    from commands.errors import database_message
    from scheduler.loop import run_loop

    def on_error(e: BaseException) -> None:
        click.echo(f"error: {database_message(e)} (the scheduler goes on)", err=True)

    with opened(ctx) as store:
        try:
            run_loop(store, now, interval, iterations, lambda s: echo(json.dumps(s.as_dict(), default=str)), on_error=on_error)
        except KeyboardInterrupt:
            pass
