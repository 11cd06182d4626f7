"""The engine's one eventsourcing ``Application`` (DESIGN.md, "The event store").

Kept apart from :mod:`commands.app` so that a command that only reads up-to-date read models never
imports the library or the domain (start-up time, issue 6 item 18).
"""

from __future__ import annotations

from datetime import date

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Transcoding
from eventsourcing.utils import Environment, EnvType

from domain import aggregates as _aggregates  # noqa: F401 - registers the stored topics


class DateAsISO(Transcoding):
    """Transcodes ``datetime.date`` as its ISO 8601 string (``"2026-01-31"``)."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class BillingApplication(Application):
    """The engine's one eventsourcing application (``name = "billing"``; Postgres table ``billing_events``,
    SQLite table ``stored_events``). Configured only by the environment the composition root passes in."""

    name = "billing"

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        # Only the composition root configures the store: ignore os.environ (no second place to configure).
        return Environment(name, dict(env or {}))

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
