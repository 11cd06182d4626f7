"""The application layer's way in: commands, their handlers, the unit of work and the bus (DESIGN.md,
"Application layer"; issue 7).

- A **command** is a frozen dataclass with its business instant ``at`` (aware) and its ``company`` (the
  tenant). Every write of the engine is one (:mod:`commands.messages` lists them).
- A **handler** takes the command and a :class:`UnitOfWork`, loads aggregates, calls them, and returns a
  result; :func:`handler` registers it in :data:`COMMAND_HANDLERS`, one per command type.
- The **unit of work** loads aggregates (each once), remembers what it touched, sets the business clock,
  and saves everything in one transaction at the end. If another writer saved first (``IntegrityError``),
  :func:`handle` runs the handler again from scratch on fresh state, with :func:`retrying` — the engine's
  one retry loop, with backoff — and the handler finds what the other writer did.
- :func:`handle` is what the CLI, the HTTP API, the imports and the tests call. With ``catch_up`` it brings
  the read models up to date once the command is saved (what you just did shows at once).

Bulk commands (imports, the tick) batch their own saves through :attr:`UnitOfWork.store` and the same
:func:`retrying`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from uuid import UUID

from domain.base import business_time
from domain.errors import NotFound

T = TypeVar("T")

#: How often a command is run again after another writer saved first.
MAX_ATTEMPTS = 40

#: command type → handler(command, unit of work) → result
COMMAND_HANDLERS: dict[type, Callable[[Any, UnitOfWork], Any]] = {}


def handler(command_type: type) -> Callable[[Callable[[Any, UnitOfWork], T]], Callable[[Any, UnitOfWork], T]]:
    """Register the decorated function as the handler of ``command_type`` (one per type)."""

    def register(fn: Callable[[Any, UnitOfWork], T]) -> Callable[[Any, UnitOfWork], T]:
        if command_type in COMMAND_HANDLERS:
            raise RuntimeError(f"{command_type.__name__} has a handler already: {COMMAND_HANDLERS[command_type]}")
        COMMAND_HANDLERS[command_type] = fn
        return fn

    return register


def backoff(attempt: int) -> None:
    """Wait before retry ``attempt`` (0-based): 5 ms doubling up to 1 s, spread by the process id so that
    processes that collided do not collide again in lock-step (writers that always reload at once starve
    one of them). Timing only: nothing written depends on it."""
    spread = 1 + (os.getpid() % 89) / 89
    time.sleep(min(1.0, 0.005 * 2**attempt) * spread)


def retrying(
    fn: Callable[[], T],
    *,
    retry_on: tuple[type[BaseException], ...] | None = None,
    before_retry: Callable[[BaseException], None] | None = None,
    attempts: int = MAX_ATTEMPTS,
) -> T:
    """Run ``fn`` again whenever it loses a race (``IntegrityError``: another writer appended the same
    aggregate version first; or any of ``retry_on``), after ``before_retry(error)`` and :func:`backoff`.
    Gives up after ``attempts`` and re-raises. The engine's one retry loop."""
    from eventsourcing.persistence import IntegrityError

    errors = (IntegrityError, *(retry_on or ()))
    for attempt in range(attempts):
        try:
            return fn()
        except errors as e:
            if attempt == attempts - 1:
                raise
            if before_retry is not None:
                before_retry(e)
            backoff(attempt)
    raise AssertionError("unreachable")


class UnitOfWork:
    """The aggregates one command loads and changes, saved together by :meth:`commit`."""

    def __init__(self, store: Any, at: Any):
        self.store = store
        self.at = at
        self._seen: dict[UUID, Any] = {}

    def get(self, aggregate_id: UUID) -> Any | None:
        """The aggregate ``aggregate_id`` (loaded once per unit of work), or None."""
        if aggregate_id not in self._seen:
            self._seen[aggregate_id] = self.store.get(aggregate_id)
        return self._seen[aggregate_id]

    def get_many(self, ids: Iterable[UUID]) -> dict[UUID, Any]:
        """The aggregates among ``ids`` that exist, loaded in bulk."""
        want = [i for i in dict.fromkeys(ids) if i not in self._seen]
        if want:
            loaded = self.store.load_many(want)
            for i in want:
                self._seen[i] = loaded.get(i)
        return {i: self._seen[i] for i in ids if self._seen.get(i) is not None}

    def require(self, aggregate_id: UUID, field: str, what: str, kind: type | None = None) -> Any:
        """The aggregate ``aggregate_id``; :class:`NotFound` naming ``field`` if it does not exist (or is
        not a ``kind``)."""
        found = self.get(aggregate_id)
        if found is None or (kind is not None and not isinstance(found, kind)):
            raise NotFound(field, f"no {what}")
        return found

    def add(self, aggregate: Any) -> Any:
        """Register an aggregate the command created."""
        self._seen[aggregate.id] = aggregate
        return aggregate

    def touched(self) -> list[Any]:
        """The aggregates with pending events, in the order they were loaded or added."""
        return [a for a in self._seen.values() if a is not None and a.pending_events]

    def commit(self) -> int:
        """Save every pending event of the unit of work in one transaction; returns how many."""
        return self.store.save(self.touched())


def handle(store: Any, command: Any, *, catch_up: bool = False) -> Any:
    """Run ``command`` through its handler at its business instant, save what it changed atomically
    (retrying from scratch when another writer won a race), and return the handler's result. With
    ``catch_up``, bring the read models up to date afterwards.

    Raises :class:`domain.errors.DomainError` subclasses for bad input and broken rules (nothing saved),
    ``KeyError`` for a command without a handler.
    """
    from commands import messages  # noqa: F401 - registers every handler

    run = COMMAND_HANDLERS[type(command)]
    at = command.at

    def attempt() -> Any:
        uow = UnitOfWork(store, at)
        with business_time(at):
            result = run(command, uow)
            uow.commit()
        return result

    result = retrying(attempt)
    if catch_up:
        from projections import registry
        from projections import runner as projection_runner

        projection_runner.run(store, registry.ALL)
    return result
