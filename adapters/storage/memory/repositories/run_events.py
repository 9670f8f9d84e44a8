"""Run events, in memory."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence

from agentkeep.adapters.storage.memory.state import Repository, conflict, detach
from agentkeep.domain.errors import NotFound
from agentkeep.domain.events import RunEvent


class MemoryRunEvents(Repository):
    async def add_many(self, events: Sequence[RunEvent]) -> None:
        keys = [(e.run_id, e.seq) for e in events]
        if len(set(keys)) < len(keys) or any(key in self._tables.run_events for key in keys):
            raise conflict("run event", "seq")
        for event in events:
            if event.run_id not in self._tables.runs:
                raise NotFound(f"no run {event.run_id}", key="run_id")
        for key, event in zip(keys, events, strict=True):
            self._tables.run_events[key] = detach(event)

    async def after(self, run_id: uuid.UUID, seq: int, limit: int = 1000) -> builtins.list[RunEvent]:
        found = sorted(
            (e for (r, s), e in self._tables.run_events.items() if r == run_id and s > seq), key=lambda e: e.seq
        )
        return [detach(e) for e in found[:limit]]

    async def last(self, run_id: uuid.UUID) -> RunEvent | None:
        found = [e for (r, _), e in self._tables.run_events.items() if r == run_id]
        return detach(max(found, key=lambda e: e.seq)) if found else None
