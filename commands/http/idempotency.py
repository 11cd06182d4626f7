"""Idempotency keys for POST requests (issue 7; Stripe's rule).

A POST with an ``Idempotency-Key`` header (1–200 printable characters) is remembered per company, with its
method, path and the SHA-256 of its body. Sent again with the same method, path and body, it gets the first
answer (status and body, with ``Idempotent-Replayed: true``) and nothing runs again; with another body or
path it is refused (422). While the first is still running, a second one is refused (409). Answers of 5xx
are not remembered (the request may be sent again). The keys live in the database, in the plain table
``idempotency_keys`` (infrastructure of the HTTP edge: not an event, not a read model).
"""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response

from projections.tables import UTCDateTime

metadata = sa.MetaData()

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("company", sa.String(100), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("path", sa.String(500), nullable=False),
    sa.Column("body_sha256", sa.String(64), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),  # 0 while the first request runs
    sa.Column("content_type", sa.String(100)),
    sa.Column("body", sa.LargeBinary),
    sa.Column("created_at", UTCDateTime, nullable=False),
)


def ensure_table(store: Any) -> None:
    with store.engine.begin() as conn:
        metadata.create_all(conn)


class IdempotencyMiddleware(BaseHTTPMiddleware):
    """See the module docstring."""

    async def dispatch(self, request: Request, call_next: Any) -> Response:
        key = request.headers.get("idempotency-key")
        if request.method != "POST" or key is None:
            return await call_next(request)
        from commands.http.app import problem

        if not key.strip() or len(key) > 200 or not key.isprintable():
            return problem(422, "Invalid request", "Idempotency-Key: must be 1-200 printable characters", "Idempotency-Key", "validation")
        engine = request.app.state.engine
        company = await run_in_threadpool(_company_of, engine, request.headers.get("authorization", ""))
        if company is None:
            return await call_next(request)  # the route answers 401
        body = await request.body()
        digest = hashlib.sha256(body).hexdigest()
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        verdict = await run_in_threadpool(_claim, engine, company, key, request.method, path, digest)
        if verdict == "mismatch":
            return problem(422, "Invalid request", "Idempotency-Key: was used before with another request (method, path or body)",
                           "Idempotency-Key", "validation")
        if verdict == "running":
            return problem(409, "Conflict", "Idempotency-Key: the first request with this key is still running", "Idempotency-Key", "conflict")
        if isinstance(verdict, tuple):
            status, content_type, stored = verdict
            return Response(stored, status_code=status, media_type=content_type, headers={"Idempotent-Replayed": "true"})
        try:
            response = await call_next(request)
        except BaseException:
            await run_in_threadpool(_remember, engine, company, key, 500, None, b"")  # forgotten: may be sent again
            raise
        chunks = [chunk async for chunk in response.body_iterator]
        content = b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)
        await run_in_threadpool(_remember, engine, company, key, response.status_code, response.headers.get("content-type"), content)
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        return Response(content, status_code=response.status_code, headers=headers)


def _company_of(engine: Any, authorization: str) -> str | None:
    from commands.api_keys import authenticate

    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    key = engine.run(lambda: authenticate(engine.store, token.strip()))
    return None if key is None else key.company


def _claim(engine: Any, company: str, key: str, method: str, path: str, digest: str) -> Any:
    """``"new"`` (claimed: run it), ``"running"``, ``"mismatch"``, or the stored ``(status, type, body)``."""
    from commands.clock import now

    t = idempotency_keys

    def go() -> Any:
        with engine.store.engine.begin() as conn:
            row = conn.execute(sa.select(t).where(t.c.company == company, t.c.key == key)).first()
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(t.insert().values(company=company, key=key, method=method, path=path, body_sha256=digest,
                                                       status=0, content_type=None, body=None, created_at=now()))
                    return "new"
                except sa.exc.IntegrityError:
                    return "running"
        if (row.method, row.path, row.body_sha256) != (method, path, digest):
            return "mismatch"
        if row.status == 0:
            return "running"
        return (row.status, row.content_type, row.body)

    return engine.run(go)


def _remember(engine: Any, company: str, key: str, status: int, content_type: str | None, body: bytes) -> None:
    t = idempotency_keys

    def go() -> None:
        with engine.store.engine.begin() as conn:
            where = sa.and_(t.c.company == company, t.c.key == key)
            if status >= 500:
                conn.execute(t.delete().where(where))  # not remembered: it may be sent again
            else:
                conn.execute(t.update().where(where).values(status=status, content_type=content_type, body=body))

    engine.run(go)
