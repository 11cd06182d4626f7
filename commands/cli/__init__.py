"""The ``billing`` command line: the edge where the wall clock and user input enter.

One module per area (:mod:`commands.cli.customers`, ``.invoices``, ``.documents``, ``.consolidated``,
``.contracts``, ``.tick``, ``.projections``, ``.data``, ``.serve``) and the shared options, rendering and store opening
(:mod:`commands.cli.common`). Areas are imported only when their command runs, and heavy libraries only
where they are used, so ``billing --help`` starts in a fraction of a second (issue 6, item 18).

Exit status (one table for every entry point, :mod:`commands.errors`): 0 on success; 2 for usage,
validation, not-found and conflict errors (``error: <field>: <rule>`` on stderr, nothing written); 1 for an
unavailable database or anything unexpected (one line; ``--debug``, accepted anywhere on the line, shows
the traceback).
"""

from __future__ import annotations

import sys
import traceback
from importlib import import_module
import click

#: name → (module:attribute, one-line help). The help is repeated here so that ``billing --help`` imports
#: no area.
AREAS: dict[str, tuple[str, str]] = {
    "api-keys": ("commands.cli.serve:api_keys", "API keys for the HTTP API, one company each."),
    "cards": ("commands.cli.cards:cards", "Credit cards: statements per billing period that close and open the next."),
    "companies": ("commands.cli.companies:companies", "Companies (tenants): name, zone, currency, number formats."),
    "tax-rates": ("commands.cli.companies:tax_rates", "A company's tax-rate catalogue, effective from a date."),
    "consolidated": ("commands.cli.consolidated:consolidated", "Consolidated invoices: one per customer and billing period."),
    "contracts": ("commands.cli.contracts:contracts", "Recurring contracts: positions billed every month, quarter, half-year or year."),
    "engagements": ("commands.cli.engagements:engagements", "Engagements: package fees per month, quarter, year or once."),
    "customers": ("commands.cli.customers:customers", "Customers: who is billed, in which zone and currency, and how invoices consolidate."),
    "import": ("commands.cli.data:import_group", "Import real data sets."),
    "invoices": ("commands.cli.invoices:invoices", "Individual invoices recorded from elsewhere, and the engine's own invoice documents."),
    "projections": ("commands.cli.projections:projections", "Read models: status, run, rebuild."),
    "scheduler": ("commands.cli.tick:scheduler", "The long-running scheduler."),
    "serve": ("commands.cli.serve:serve", "Serve the HTTP API (OpenAPI at /openapi.json)."),
    "timesheets": ("commands.cli.timesheets:timesheets", "Timesheet entries billed weekly per client in 15-minute units."),
    "tick": ("commands.cli.tick:tick_cmd", "Issue everything due at an instant (idempotent, catches up)."),
}


#: Set by ``--debug`` wherever it stands (an option of every command, and of the root).
_DEBUG = {"on": False}


def _debug_flag(_ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        _DEBUG["on"] = True
    return value


def _with_debug(command: click.Command) -> click.Command:
    """Give ``command`` (and every subcommand) the ``--debug`` option, so it is accepted anywhere."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _with_debug(sub)
    if not any("--debug" in p.opts for p in command.params if isinstance(p, click.Option)):
        command.params.append(click.Option(["--debug"], is_flag=True, expose_value=False, callback=_debug_flag,
                                           help="Show tracebacks of unexpected errors."))
    return command


class LazyGroup(click.Group):
    """A group whose subcommands are imported when they are used (see :data:`AREAS`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(AREAS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in AREAS:
            return None
        module, attribute = AREAS[name][0].split(":")
        return _with_debug(getattr(import_module(module), attribute))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, AREAS[name][1]) for name in self.list_commands(ctx)])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--database-url",
    envvar="BILLING_DATABASE_URL",
    metavar="URL",
    help="sqlite:///FILE (default sqlite:///billing.db) or postgresql://user@host:port/db[?schema=S]. "
    "Also $BILLING_DATABASE_URL.",
)
@click.option("--debug", is_flag=True, callback=_debug_flag, help="Show tracebacks of unexpected errors (accepted anywhere on the line).")
@click.version_option(package_name="billing-engine", prog_name="billing", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None, debug: bool) -> None:
    """An event-sourced billing engine: every invoice is explained by an immutable event history, and
    issuing is a deterministic function of that history and a clock (`billing tick`)."""
    ctx.ensure_object(dict)
    ctx.obj["database_url"] = database_url
    ctx.obj["debug"] = debug


def _usage_error(e: click.UsageError) -> str:
    param = getattr(e, "param", None)
    where = f" (see billing {e.ctx.command_path.split(' ', 1)[1]} --help)" if e.ctx and " " in e.ctx.command_path else ""
    if isinstance(e, click.MissingParameter) and param is not None and param.name:
        kind = "argument" if isinstance(param, click.Argument) else "option " + (param.opts[0] if param.opts else param.name)
        return f"error: {param.name}: is required (the {kind}){where}"
    if param is not None and param.name:
        return f"error: {param.name}: {e.message or e.format_message()}{where}"
    return f"error: usage: {e.message}{where}"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0; 2 usage, validation, not found, conflict; 1 database or
    unexpected)."""
    args = list(sys.argv[1:] if argv is None else argv)
    _DEBUG["on"] = False
    try:
        cli.main(args=args, prog_name="billing", standalone_mode=False, obj={})
        return 0
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.UsageError as e:
        click.echo(_usage_error(e), err=True)
        return 2
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 - the one place that turns an error into an exit status
        from commands.errors import classify

        outcome = classify(e)
        debug = _DEBUG["on"]
        if debug and outcome.kind in ("unexpected", "database"):
            traceback.print_exc()
        hint = " (rerun with --debug for the traceback)" if outcome.kind == "unexpected" and not debug else ""
        click.echo(f"error: {outcome.message}{hint}", err=True)
        return outcome.exit_code


