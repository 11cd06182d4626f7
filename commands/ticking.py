"""The tick as a command (issue 7): what the CLI, the HTTP API and the scheduler loop send to the bus."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from commands.bus import UnitOfWork, handler


@dataclass(frozen=True)
class Tick:
    """Issue everything due at ``at`` (see :func:`scheduler.tick.tick`); ``company`` and ``kind`` limit it
    to one tenant or one work source. Returns a :class:`scheduler.tick.TickSummary`."""

    at: datetime
    dry_run: bool = False
    company: str | None = None
    kind: str | None = None
    progress: Callable[[int, int], None] | None = field(default=None, compare=False)


@handler(Tick)
def _tick(cmd: Tick, uow: UnitOfWork):  # noqa: ANN202 - a TickSummary
    from scheduler.tick import tick

    return tick(uow.store, cmd.at, dry_run=cmd.dry_run, company=cmd.company, kind=cmd.kind, progress=cmd.progress)
