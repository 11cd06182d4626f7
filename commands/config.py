"""The composition root's configuration: one setting picks the database.

``BILLING_DATABASE_URL`` (or ``--database-url``) is either

- ``sqlite:///billing.db`` (relative to the working directory), ``sqlite:////abs/path.db``, or a plain file
  path: the embedded default, ``billing.db`` in the working directory when nothing is set; or
- ``postgresql://user[:password]@host[:port]/database[?schema=name]`` for production.

It is translated here into the ``eventsourcing`` environment (``PERSISTENCE_MODULE``, ``POSTGRES_*``,
``SQLITE_DBNAME``) and into a SQLAlchemy URL (``postgresql+psycopg://`` or ``sqlite:///``): events and read
models live in the same database, and there is no second place to configure (DESIGN.md, "The event store").
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from domain.errors import ValidationError

ENV_VAR = "BILLING_DATABASE_URL"
DEFAULT_SQLITE_FILE = "billing.db"

#: Seconds a writer waits for the event table's lock before giving up (psycopg retries a few times),
#: and seconds to wait for a connection: writers never hang forever (DESIGN.md).
POSTGRES_LOCK_TIMEOUT_S = 30
POSTGRES_CONNECT_TIMEOUT_S = 3


class DatabaseUnavailable(Exception):
    """The configured database cannot be reached or does not exist (a clear one-line message)."""


@dataclass(frozen=True)
class StoreConfig:
    """Where events and read models live.

    ``backend`` is ``"sqlite"`` or ``"postgres"``; ``display_url`` hides any password; ``es_env`` is the
    ``eventsourcing`` environment; ``sqlalchemy_url`` the read models' engine URL.
    """

    backend: str
    display_url: str
    es_env: dict[str, str]
    sqlalchemy_url: URL
    sqlite_path: str | None = None
    schema: str | None = None
    pg_params: dict[str, str] = field(default_factory=dict)


def resolve(database_url: str | None = None) -> StoreConfig:
    """Resolve the database URL: the argument, else ``$BILLING_DATABASE_URL``, else ``sqlite:///billing.db``.

    Raises :class:`ValidationError` (field ``database_url``) for a URL of another kind or a malformed one.
    """
    raw = database_url or os.environ.get(ENV_VAR) or f"sqlite:///{DEFAULT_SQLITE_FILE}"
    if "://" not in raw:
        return _sqlite(raw)
    try:
        url = make_url(raw)
    except ArgumentError:
        raise ValidationError("database_url", f"{raw!r} is not a database URL") from None
    driver = url.drivername.split("+")[0]
    if driver == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ValidationError("database_url", "a SQLite URL needs a file path: sqlite:///billing.db")
        return _sqlite(url.database)
    if driver in ("postgresql", "postgres"):
        return _postgres(url)
    raise ValidationError(
        "database_url", f"{url.drivername!r} is not supported: use sqlite:///FILE or postgresql://user@host:port/db"
    )


def _sqlite(path: str) -> StoreConfig:
    path = os.path.abspath(path)
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise ValidationError("database_url", f"directory {directory} does not exist")
    return StoreConfig(
        backend="sqlite",
        display_url=f"sqlite:///{path}",
        es_env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "30",
        },
        sqlalchemy_url=URL.create("sqlite", database=path),
        sqlite_path=path,
    )


def _postgres(url: URL) -> StoreConfig:
    if not url.database:
        raise ValidationError("database_url", "a PostgreSQL URL needs a database: postgresql://user@host:5432/db")
    if not url.username:
        raise ValidationError("database_url", "a PostgreSQL URL needs a user: postgresql://user@host:5432/db")
    query = dict(url.query)
    schema = query.pop("schema", None)
    if isinstance(schema, tuple):
        schema = schema[-1]
    if query:
        raise ValidationError("database_url", f"unknown URL parameter(s): {', '.join(sorted(query))} (only schema=)")
    if schema is not None and (not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema)):
        raise ValidationError("database_url", f"schema {schema!r} must be 1-63 lowercase letters, digits and _, not starting with a digit")
    host = url.host or "127.0.0.1"
    port = str(url.port or 5432)
    es_env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": url.database,
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": port,
        "POSTGRES_USER": url.username,
        "POSTGRES_PASSWORD": url.password or "",
        "POSTGRES_CONNECT_TIMEOUT": str(POSTGRES_CONNECT_TIMEOUT_S),
        "POSTGRES_LOCK_TIMEOUT": str(POSTGRES_LOCK_TIMEOUT_S),
        "POSTGRES_POOL_SIZE": "2",
        "POSTGRES_MAX_OVERFLOW": "4",
        "POSTGRES_ENABLE_DB_FUNCTIONS": "no",
        "APPLICATION_RECORDER_TOPIC": "commands.pgrecorder:BinaryInsertApplicationRecorder",
    }
    if schema:
        es_env["POSTGRES_SCHEMA"] = schema
    sa_query = {"options": f"-csearch_path={schema}"} if schema else {}
    sa_url = URL.create(
        "postgresql+psycopg",
        username=url.username,
        password=url.password,
        host=host,
        port=int(port),
        database=url.database,
        query=sa_query,
    )
    display = f"postgresql://{url.username}@{host}:{port}/{url.database}" + (f"?schema={schema}" if schema else "")
    return StoreConfig(
        backend="postgres",
        display_url=display,
        es_env=es_env,
        sqlalchemy_url=sa_url,
        schema=schema,
        pg_params={
            "dbname": url.database,
            "host": host,
            "port": port,
            "user": url.username,
            "password": url.password or "",
        },
    )
