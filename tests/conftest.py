"""Shared fixtures: real stores on both backends, and the CLI as a subprocess.

PostgreSQL tests use ``$BILLING_TEST_POSTGRES_URL`` (default ``postgresql://postgres@127.0.0.1:5432/test``),
each in a fresh schema dropped afterwards. Without a server they are skipped with a clear message — except
when ``CI`` is set, where an unreachable server fails the run (CI must run them).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from commands.app import Store
from commands.config import resolve

PG_URL = os.environ.get("BILLING_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parent.parent
BILLING = str(Path(sys.executable).parent / "billing")

_pg_state: dict[str, object] = {}


def _pg_params() -> dict[str, str]:
    cfg = resolve(PG_URL)
    return cfg.pg_params


def postgres_available() -> tuple[bool, str]:
    """(reachable, reason) for the test PostgreSQL server, checked once per session."""
    if "ok" not in _pg_state:
        try:
            with psycopg.connect(connect_timeout=3, **_pg_params()):
                pass
            _pg_state["ok"], _pg_state["why"] = True, ""
        except psycopg.OperationalError as e:
            _pg_state["ok"] = False
            _pg_state["why"] = " ".join(str(e).split())
    return bool(_pg_state["ok"]), str(_pg_state["why"])


def require_postgres() -> None:
    ok, why = postgres_available()
    if ok:
        return
    message = f"PostgreSQL not reachable at {PG_URL} ({why})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}: CI must run the PostgreSQL tests", pytrace=False)
    pytest.skip(f"{message}; set BILLING_TEST_POSTGRES_URL or start a server to run these tests")


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CI"):
        ok, why = postgres_available()
        if not ok:
            raise pytest.UsageError(f"CI is set but PostgreSQL is not reachable at {PG_URL}: {why}")


def pytest_report_header(config: pytest.Config) -> str:
    ok, why = postgres_available()
    return f"postgresql: {PG_URL} " + ("reachable" if ok else f"NOT reachable ({why}): PostgreSQL tests skip")


class PgSchema:
    """A fresh schema in the test database; ``url`` selects it."""

    def __init__(self) -> None:
        self.name = "t_" + uuid.uuid4().hex[:12]
        base = PG_URL.split("?")[0]
        self.url = f"{base}?schema={self.name}"

    def drop(self) -> None:
        with psycopg.connect(autocommit=True, **_pg_params()) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.name)))


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A database URL of a fresh PostgreSQL schema (skips, or fails in CI, without a server)."""
    require_postgres()
    schema = PgSchema()
    try:
        yield schema.url
    finally:
        schema.drop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A database URL of a fresh SQLite file."""
    return f"sqlite:///{tmp_path / 'billing.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store's URL, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'billing.db'}"
        return
    require_postgres()
    schema = PgSchema()
    try:
        yield schema.url
    finally:
        schema.drop()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """An open :class:`Store` on a fresh database, once per backend."""
    s = Store(resolve(db_url))
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    s = Store(resolve(sqlite_url))
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    s = Store(resolve(pg_url))
    try:
        yield s
    finally:
        s.close()


def run_cli(db_url: str, *args: str, cwd: str | Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the installed ``billing`` console script as a subprocess against ``db_url``."""
    env = dict(os.environ)
    env["BILLING_DATABASE_URL"] = db_url
    env["COLUMNS"] = "200"
    return subprocess.run(
        [BILLING, *args], capture_output=True, text=True, env=env, cwd=cwd or ROOT, timeout=timeout
    )


@pytest.fixture
def cli():
    """``cli(db_url, *args)`` runs the real CLI in a subprocess."""
    return run_cli
