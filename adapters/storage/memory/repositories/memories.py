"""Memories in memory."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Collection, Sequence

from agentkeep.adapters.storage.memory.state import (
    Repository,
    by_time_then_id,
    conflict,
    detach,
    detach_or_none,
    page,
    present,
)
from agentkeep.domain.models import Memory, MemoryKey
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import MemoryPatch
from agentkeep.domain.values import ReadMode, utcnow


class MemoryMemories(Repository):
    async def add(self, memory: Memory) -> Memory:
        # The same order of checks as SQLite: the (name, agent, user) rule, the id, the parents.
        owner = self._named(memory.name, memory.agent_id, memory.user_id)
        if owner is not None:
            raise conflict("memory", "name")
        if memory.id in self._tables.memories:
            raise conflict("memory", "id")
        self._tables.require_agent(memory.agent_id)
        self._tables.require_user(memory.user_id)
        self._tables.require_session(memory.session_id)
        self._tables.memories[memory.id] = detach(memory)
        return memory

    async def add_many(self, memories: Sequence[Memory]) -> builtins.list[Memory]:
        before = dict(self._tables.memories)
        try:
            return [await self.add(memory) for memory in memories]
        except BaseException:
            self._tables.memories = before  # every memory or none
            raise

    async def get(self, memory_id: uuid.UUID) -> Memory | None:
        return detach_or_none(self._tables.memories.get(memory_id))

    async def existing_ids(self, memory_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        return present(self._tables.memories, memory_ids)

    async def get_by_name(self, name: str, agent_id: str, user_id: uuid.UUID | None) -> Memory | None:
        return detach_or_none(self._named(name, agent_id, user_id))

    async def names_taken(self, keys: Collection[MemoryKey]) -> set[MemoryKey]:
        wanted = set(keys)
        return {m.key for m in self._tables.memories.values() if m.key in wanted}

    async def list(
        self,
        paging: Paging,
        *,
        agent_id: str | None = None,
        user_id: uuid.UUID | None = None,
        session_id: uuid.UUID | None = None,
        read_mode: ReadMode | None = None,
        name: str | None = None,
    ) -> tuple[list[Memory], int]:
        wanted = {
            "agent_id": agent_id,
            "user_id": user_id,
            "session_id": session_id,
            "read_mode": read_mode,
            "name": name,
        }
        filters = {k: v for k, v in wanted.items() if v is not None}
        rows = [m for m in self._tables.memories.values() if all(getattr(m, k) == v for k, v in filters.items())]
        return page(rows, by_time_then_id, paging)

    async def for_run(
        self, agent_id: str, user_id: uuid.UUID | None, read_mode: ReadMode, session_id: uuid.UUID | None = None
    ) -> builtins.list[Memory]:
        applicable = [
            m
            for m in self._tables.memories.values()
            if m.agent_id == agent_id
            and m.read_mode == read_mode
            and (m.session_id is None or m.session_id == session_id)
        ]
        users = [m for m in applicable if user_id is not None and m.user_id == user_id]
        agent_wide = [m for m in applicable if m.user_id is None]
        return [detach(m) for group in (users, agent_wide) for m in sorted(group, key=by_time_then_id)]

    async def update(self, memory_id: uuid.UUID, patch: MemoryPatch) -> Memory | None:
        current = self._tables.memories.get(memory_id)
        if current is None or not patch:
            return detach_or_none(current)
        changes = patch.changes()
        if "name" in changes:
            owner = self._named(changes["name"], current.agent_id, current.user_id)
            if owner is not None and owner.id != memory_id:
                raise conflict("memory", "name")
        updated = detach(current.model_copy(update={**changes, "updated_at": utcnow()}))
        self._tables.memories[memory_id] = updated
        return detach(updated)

    async def delete(self, memory_id: uuid.UUID) -> bool:
        return self._tables.memories.pop(memory_id, None) is not None

    def _named(self, name: str, agent_id: str, user_id: uuid.UUID | None) -> Memory | None:
        # Two agent-wide memories (user_id None) of one name clash too: None == None here.
        return next(
            (
                m
                for m in self._tables.memories.values()
                if m.name == name and m.agent_id == agent_id and m.user_id == user_id
            ),
            None,
        )
