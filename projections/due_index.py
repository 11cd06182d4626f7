"""The tick's due index: one row per (kind of work, aggregate) that has, or may have, work at some instant.

The scheduler brings this projection up to date first, then selects the rows due at or before the tick's
instant, and decides on the *aggregates* it loads for them (DESIGN.md: nothing else reads a read model to
decide a command). A stale or superfluous row therefore costs a load, never a wrong invoice.

The table is generic (issue 7): ``kind`` (the work source), ``aggregate_id``, ``due_at``, ``active``,
``natural_key`` (the tie-breaker of the tick's order), ``company`` and a JSON ``plan`` the source reads
back. Each billing behaviour brings its own handlers in a module of :mod:`projections.due` (found and
imported here), so adding one edits no existing file.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from projections.runner import Projection
from projections.tables import due_work
from projections.writer import Writer

due_index_projection = Projection(
    "due_index", [due_work], version=2,
    description="the scheduler's index of due work (periods to close, runs, overdue checks, ...)",
)


def due_row(kind: str, e: Any, *, due_at: Any, active: bool, key: str, company: str, plan: dict | None = None) -> dict[str, Any]:
    """A due-index row for the aggregate of event ``e``."""
    return {"kind": kind, "aggregate_id": str(e.originator_id), "due_at": due_at, "active": active,
            "natural_key": key, "company": company, "plan": plan or {}}


def update_due(w: Writer, kind: str, e: Any, **values: Any) -> None:
    """Update the ``kind`` row of event ``e``'s aggregate."""
    w.update(due_work, {"kind": kind, "aggregate_id": str(e.originator_id)}, values)


def drop_due(w: Writer, kind: str, e: Any) -> None:
    """Delete the ``kind`` row of event ``e``'s aggregate (no more work of that kind)."""
    w.delete(due_work, {"kind": kind, "aggregate_id": str(e.originator_id)})


import projections.due as _parts  # noqa: E402 - the parts register their handlers on the projection above

for _info in sorted(pkgutil.iter_modules(_parts.__path__), key=lambda m: m.name):
    importlib.import_module(f"{_parts.__name__}.{_info.name}")
