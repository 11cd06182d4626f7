"""``billing serve`` and ``billing api-keys ...``: the HTTP API and the keys that open it (issue 7)."""

from __future__ import annotations

import click

from commands.cli.common import at_option, catch_up, company_option, echo, execute, json_option, opened, page_options, parse_at, report


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="TCP port (0: any free one).")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Processes (PostgreSQL only; an SQLite file has one writer, so one process).")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json, docs at /docs) over the store of --database-url."""
    import os

    import uvicorn

    from commands.config import DEFAULT_SQLITE_FILE, ENV_VAR, resolve
    from domain.errors import ValidationError

    url = ctx.obj.get("database_url") or os.environ.get(ENV_VAR) or f"sqlite:///{DEFAULT_SQLITE_FILE}"
    if workers > 1 and resolve(url).backend == "sqlite":
        raise ValidationError("workers", "must be 1 on SQLite (one writer per file); use PostgreSQL for more")
    with opened(ctx) as store:  # creates the store and its read models before the first request
        catch_up(store)
    os.environ[ENV_VAR] = url  # what create_app (in each worker) opens
    uvicorn.run("commands.http.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False)


@click.group("api-keys")
def api_keys() -> None:
    """API keys for the HTTP API: each opens one company; admin keys may also tick and manage keys."""


@api_keys.command("create")
@company_option
@click.option("--admin", is_flag=True, help="May also tick, rebuild projections, change the company and manage keys.")
@click.option("--label", default="", help="What the key is for (up to 100 characters).")
@at_option
@click.pass_context
def api_keys_create(ctx: click.Context, company: str, admin: bool, label: str, at_text: str | None) -> None:
    """Create a key of the company and print it (it is shown only once: only its hash is stored)."""
    from commands.api_keys import new_key

    at = parse_at(at_text)
    with opened(ctx) as store:
        key = new_key(store, company, at, admin, label)
    echo(key)


@api_keys.command("list")
@company_option
@page_options
@json_option
@click.pass_context
def api_keys_list(ctx: click.Context, company: str, limit: int, offset: int, as_json: bool) -> None:
    """List the company's keys (ids, never secrets)."""
    from projections.company_queries import list_api_keys
    from projections.paging import sliced

    report(ctx, limit, offset, as_json, lambda engine, page: sliced(list_api_keys(engine, company), page),
           ["key id", "admin", "label", "created", "revoked"],
           lambda r: [r["key_id"], r["admin"], r["label"], r["created_at"], r["revoked_at"] or ""], known={"company": company})


@api_keys.command("revoke")
@click.argument("key_id")
@company_option
@at_option
@click.pass_context
def api_keys_revoke(ctx: click.Context, key_id: str, company: str, at_text: str | None) -> None:
    """Revoke key KEY_ID (the 12 hex digits after ``bk_``): it opens nothing from now on."""
    from commands.api_keys import RevokeApiKey

    changed = execute(ctx, RevokeApiKey(key_id, parse_at(at_text), company))
    echo(f"key {key_id} {'revoked' if changed else 'was already revoked'}")
