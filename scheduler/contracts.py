"""Work source: contract runs (issue 3)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from scheduler.tick import TickContext, WorkItem

RANK = 1


class ContractSource:
    kind = "contract"

    def items(self, ctx: TickContext, rows: list[Any], company: str | None) -> list[WorkItem]:
        return []

    def prefetch(self, ctx: TickContext, item: WorkItem) -> list[UUID]:
        return [item.target]

    def process(self, ctx: TickContext, item: WorkItem) -> None:
        raise NotImplementedError
