"""The HTTP API (issue 7): FastAPI on the same bus and queries as the CLI, served by ``billing serve``.

- Resources under ``/v1``, plural nouns, actions as ``POST /v1/<resource>/{id}/<verb>``; JSON with the
  CLI's ``--json`` field names; money as decimal strings with their ISO 4217 code; dates and instants ISO
  8601. Every write takes an optional ``at`` (its business instant; default: the server's clock).
- Lists are pages: ``limit`` (1–1000, default 100) and an opaque ``cursor``; the answer is ``{"items",
  "next_cursor", "total"}``.
- ``Authorization: Bearer <key>``: a key (``billing api-keys create``) belongs to one company and sees only
  it: another company's resource is a 404, exactly like a missing one. Admin keys may also tick, rebuild
  projections and manage keys.
- ``Idempotency-Key`` on a POST: the same key and body replay the first answer and write nothing; the same
  key with another body is refused (422) (:mod:`commands.http.idempotency`).
- Errors are RFC 9457 ``application/problem+json``, one table with the CLI's (:mod:`commands.errors`):
  validation 422, not found 404, conflict 409, unauthenticated 401, forbidden 403, database 503, anything
  else 500 with one line, never a stack trace.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pydantic import BaseModel

PROBLEM = "application/problem+json"


class Problem(BaseModel):
    """An RFC 9457 problem: ``field`` names the input at fault and ``kind`` is the error table's kind
    (validation, not_found, conflict, database, unexpected); ``errors`` lists every bad row (line, field,
    rule) of a refused CSV import."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    field: str | None = None
    kind: str | None = None
    errors: list[dict[str, Any]] | None = None


_PROBLEM_CONTENT = {PROBLEM: {"schema": Problem.model_json_schema()}}
#: The error answers every operation may give (declared in the OpenAPI document).
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": _PROBLEM_CONTENT}
    for status, text in ((401, "No, an unknown or a revoked API key"), (403, "Needs an admin key"),
                         (404, "No such resource of the key's company"), (409, "Conflicts with what is recorded"),
                         (422, "Invalid input: `field` names it, `detail` gives the rule"), (503, "Database unavailable"))
}


class ApiError(Exception):
    """An HTTP-only error (401, 403): status, title and detail."""

    def __init__(self, status: int, title: str, detail: str):
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail


@dataclass(frozen=True)
class Principal:
    """Who calls: the company a key belongs to, whether it is an admin key, and the key id."""

    company: str
    admin: bool
    key_id: str


def problem(status: int, title: str, detail: str, field: str | None = None, kind: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if field is not None:
        body["field"] = field
    if kind is not None:
        body["kind"] = kind
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


TITLES = {"validation": "Invalid request", "not_found": "Not found", "conflict": "Conflict",
          "database": "Database unavailable", "unexpected": "Internal error"}


def problem_of(error: BaseException) -> JSONResponse:
    """The problem response of any error, by the one error table (:func:`commands.errors.classify`)."""
    from commands.errors import classify

    from domain.errors import ImportRejected

    if isinstance(error, ImportRejected):  # the CSV body, not the temporary file it was read from
        n = len(error.problems)
        response = problem(422, TITLES["validation"], f"body: {n} invalid row(s), nothing was imported", "body", "validation")
        body = json.loads(response.body)
        body["errors"] = [{"line": line, "field": field, "rule": rule} for line, field, rule in error.problems[:200]]
        return JSONResponse(body, status_code=422, media_type=PROBLEM)
    outcome = classify(error)
    return problem(outcome.http_status, TITLES[outcome.kind], outcome.message, outcome.field, outcome.kind)


class Engine:
    """What the app serves from: one :class:`commands.app.Store`, and a lock that serialises the requests
    of one process on SQLite (one writer at a time there anyway)."""

    def __init__(self, database_url: str | None):
        from commands.app import Store
        from commands.config import resolve
        from commands.http.idempotency import ensure_table

        self.store = Store(resolve(database_url))
        self.lock = threading.RLock() if self.store.backend == "sqlite" else None
        ensure_table(self.store)

    def run(self, fn: Callable[[], Any]) -> Any:
        if self.lock is None:
            return fn()
        with self.lock:
            return fn()


def create_app(database_url: str | None = None) -> FastAPI:
    """The API over the store of ``database_url`` (default: ``$BILLING_DATABASE_URL``, else billing.db)."""
    from commands.http import (
        routes_admin, routes_cards, routes_contracts, routes_customers, routes_engagements, routes_invoices, routes_timesheets,
    )
    from commands.http.idempotency import IdempotencyMiddleware

    app = FastAPI(
        title="billing-engine",
        version=_version(),
        description="An event-sourced billing engine: customers, individual and consolidated invoices, contracts, "
                    "invoice documents and the clock tick. Authenticate with `Authorization: Bearer <key>`.",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.engine = Engine(database_url)
    app.add_middleware(IdempotencyMiddleware)

    @app.exception_handler(RequestValidationError)
    def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        if first.get("type") == "json_invalid":  # its loc is the character offset, not a field
            return problem(422, "Invalid request", f"body: is not valid JSON ({first.get('ctx', {}).get('error', 'malformed')})",
                           "body", "validation")
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
        field = ".".join(loc) or "body"
        return problem(422, "Invalid request", f"{field}: {first.get('msg', 'is not valid')}", field, "validation")

    @app.exception_handler(StarletteHTTPException)
    def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and "parsing the body" in str(exc.detail):  # not UTF-8, nested too deep, ...
            return problem(422, "Invalid request", "body: is not valid JSON (not UTF-8, or nested too deeply)", "body", "validation")
        return problem(exc.status_code, "Not found" if exc.status_code == 404 else "Error", str(exc.detail))

    @app.exception_handler(ApiError)
    def _api(_request: Request, exc: ApiError) -> JSONResponse:
        response = problem(exc.status, exc.title, exc.detail)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response

    def _classified(_request: Request, exc: Exception) -> JSONResponse:
        return problem_of(exc)

    # The errors of the error table are answered inside the middleware stack (so an idempotency key
    # remembers them); anything else reaches Starlette's outermost handler, also as one problem line.
    from commands.config import DatabaseUnavailable
    from domain.errors import DomainError, ImportRejected

    for cls in (DomainError, ImportRejected, DatabaseUnavailable, *_database_error_classes()):
        app.add_exception_handler(cls, _classified)
    app.add_exception_handler(Exception, _classified)

    for module in (routes_customers, routes_invoices, routes_contracts, routes_engagements, routes_timesheets, routes_cards, routes_admin):
        app.include_router(module.router, prefix="/v1", responses=PROBLEM_RESPONSES)
    return app


def _database_error_classes() -> tuple[type[Exception], ...]:
    import sqlalchemy.exc

    classes: list[type[Exception]] = [sqlalchemy.exc.SQLAlchemyError]
    try:
        import psycopg

        classes.append(psycopg.Error)
    except ImportError:  # pragma: no cover - psycopg is a dependency
        pass
    return tuple(classes)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("billing-engine")
    except PackageNotFoundError:
        return "0"


# ============================================================================================ dependencies
def engine_of(request: Request) -> Engine:
    return request.app.state.engine


def principal(request: Request) -> Principal:
    """The caller, from ``Authorization: Bearer <key>``: 401 for a missing, unknown or revoked key."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "Unauthorized", "send an API key: Authorization: Bearer <key>")
    from commands.api_keys import authenticate

    engine = engine_of(request)
    key = engine.run(lambda: authenticate(engine.store, token.strip()))
    if key is None:
        raise ApiError(401, "Unauthorized", "the API key is unknown or revoked")
    return Principal(key.company, key.admin, key.key_id)


def admin(who: Principal = Depends(principal)) -> Principal:
    if not who.admin:
        raise ApiError(403, "Forbidden", "this needs an admin key (billing api-keys create --admin)")
    return who


# ============================================================================================ helpers
def execute(engine: Engine, command: Any) -> Any:
    """Hand ``command`` to the bus and bring the read models up to date (what was done shows at once)."""
    from commands.bus import handle

    return engine.run(lambda: handle(engine.store, command, catch_up=True))


def read(engine: Engine, fn: Callable[[Any], Any]) -> Any:
    """Run the query ``fn(store)`` once the read models are up to date."""
    from projections import registry
    from projections import runner as projection_runner

    def go() -> Any:
        projection_runner.run(engine.store, registry.ALL)
        return fn(engine.store)

    return engine.run(go)


def at_of(text: str | None) -> Any:
    from commands.clock import business_instant

    return business_instant(text, "at")


def cursor_offset(cursor: str | None) -> int:
    """The offset an opaque cursor stands for (422 naming ``cursor`` for one this API did not hand out)."""
    if cursor is None:
        return 0
    from domain.errors import ValidationError

    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4)))
        offset = data["o"]
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise ValueError
        return offset
    except (ValueError, KeyError, TypeError, UnicodeError, json.JSONDecodeError):
        raise ValidationError("cursor", "is not a cursor this API handed out (take next_cursor from a page)") from None


def page(engine: Engine, limit: int, cursor: str | None, query: Callable[[Any, Any], list[dict[str, Any]]]) -> dict[str, Any]:
    """One page of ``query(store, paging)``: ``{"items", "next_cursor", "total"}``."""
    from projections.paging import Paging

    paging = Paging(limit, cursor_offset(cursor))
    items = read(engine, lambda store: query(store, paging))
    nxt = None
    if paging.more:
        nxt = base64.urlsafe_b64encode(json.dumps({"o": paging.offset + len(items)}).encode()).decode().rstrip("=")
    return {"items": items, "next_cursor": nxt, "total": paging.total}
