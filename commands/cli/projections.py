"""``billing projections status|run|rebuild``: the read models."""

from __future__ import annotations

import click

from commands.cli.common import Failure, catch_up, echo, emit_json, json_option, opened, progress_bar, table


@click.group()
def projections() -> None:
    """Read models: status, run, rebuild."""


@projections.command("status")
@json_option
@click.pass_context
def projections_status(ctx: click.Context, as_json: bool) -> None:
    """Show the event log's head, each projection's position and lag, and every event a projection could
    not apply (which, and why)."""
    from projections import queries, registry

    with opened(ctx, write=False) as store:
        head = store.head()
        rows = queries.projection_status(store.read_engine, head, [p.name for p in registry.ALL])
    if as_json:
        emit_json({"head": head, "projections": rows})
        return
    echo(f"event log head: {head}")
    table(["projection", "position", "lag", "errors"], [[r["name"], r["position"], r["lag"], len(r["errors"])] for r in rows])
    failed = [(r["name"], e) for r in rows for e in r["errors"]]
    if failed:
        echo(f"{len(failed)} event(s) could not be applied (the projections passed over them):")
        for name, e in failed:
            echo(f"  {name}: event #{e['notification_id']} {e['topic']} ({e['originator_id']} v{e['originator_version']}): {e['error']}")


@projections.command("run")
@click.option("--follow", is_flag=True, help="Keep running, polling the event log.")
@click.option("--interval", type=float, default=1.0, show_default=True, help="Seconds between polls with --follow.")
@click.pass_context
def projections_run(ctx: click.Context, follow: bool, interval: float) -> None:
    """Bring every projection up to date (and with --follow, keep it so)."""
    from projections import registry
    from projections import runner as projection_runner

    with opened(ctx, write=False) as store:
        catch_up(store)
        if follow:
            try:
                projection_runner.follow(store, registry.ALL, interval)
            except KeyboardInterrupt:
                pass
        echo(f"projections at {store.head()}")


@projections.command("rebuild")
@click.argument("names", nargs=-1)
@click.pass_context
def projections_rebuild(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Rebuild projections NAMES (default: all) from the start of the event log, beside the live read
    models, and swap them in once every event is applied. If an event cannot be applied, nothing is
    replaced (exit 1, naming the event). Rows that differ from the replaced read models are reported."""
    from domain.errors import ValidationError
    from projections import registry
    from projections.rebuild import rebuild_beside
    from projections.runner import ProjectionFailed

    try:
        chosen = [registry.by_name(n) for n in dict.fromkeys(names)] if names else registry.ALL
    except KeyError as e:
        raise ValidationError("names", str(e.args[0])) from None
    with opened(ctx, write=False) as store:
        catch_up(store)
        head = store.head()
        with progress_bar("rebuild", total=head) as advance:
            state = {"done": 0}

            def on_page(pos: int, _head: int) -> None:
                advance(pos - state["done"])
                state["done"] = pos

            try:
                report = rebuild_beside(store, chosen, on_page=on_page)
            except ProjectionFailed as e:
                raise Failure(f"rebuild failed, the read models are unchanged: {e}", exit_code=1) from None
    echo(f"rebuilt {', '.join(p.name for p in chosen)} up to {report.head}")
    if report.differences:
        click.echo("warning: the rebuilt read models differ from the ones they replaced (a stored event changed "
                   "since it was projected?):", err=True)
        for t, n in report.differences.items():
            click.echo(f"  {t}: {n} row(s), e.g. {'; '.join(report.examples[t])}", err=True)
