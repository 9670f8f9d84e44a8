"""Runs, in memory."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Collection

from agentkeep.adapters.storage.memory.repositories.sessions import MemoryMessages, add_run, release
from agentkeep.adapters.storage.memory.state import Repository, by_time_then_id, detach, detach_or_none, page
from agentkeep.domain.models import Message, Run
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import RunPatch
from agentkeep.domain.values import ACTIVE_RUN_STATUSES, RunStatus, utcnow


class MemoryRuns(Repository):
    async def add(self, run: Run, *, user_message: Message | None = None) -> Run:
        if user_message is not None:
            await MemoryMessages(self._uow_tables).add(user_message)
        add_run(self._tables, run)
        return run

    async def get(self, run_id: uuid.UUID) -> Run | None:
        return detach_or_none(self._tables.runs.get(run_id))

    async def list(self, session_id: uuid.UUID, paging: Paging) -> tuple[builtins.list[Run], int]:
        rows = [r for r in self._tables.runs.values() if r.session_id == session_id]
        return page(rows, by_time_then_id, paging)

    async def active(self, session_id: uuid.UUID) -> Run | None:
        found = [r for r in self._tables.runs.values() if r.session_id == session_id and r.status.active]
        return detach(max(found, key=by_time_then_id)) if found else None

    async def update(
        self, run_id: uuid.UUID, patch: RunPatch, *, when: Collection[RunStatus] | None = None
    ) -> Run | None:
        current = self._tables.runs.get(run_id)
        if current is None or (when is not None and current.status not in when):
            return None
        updated = detach(current.model_copy(update={**patch.changes(), "updated_at": utcnow()}))
        self._tables.runs[run_id] = updated
        return detach(updated)

    async def finish(self, run: Run, patch: RunPatch, *, token: str, reply: Message | None = None) -> bool:
        finished = await self.update(run.id, patch, when=ACTIVE_RUN_STATUSES) is not None
        if finished and reply is not None:
            await MemoryMessages(self._uow_tables).add(reply)
        release(self._tables, run.session_id, token)
        return finished
