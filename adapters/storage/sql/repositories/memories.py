"""Memories in SQL: one agent's knowledge, per user or agent-wide (`user_id` null)."""

from __future__ import annotations

import builtins
import functools
import uuid
from collections.abc import Collection, Sequence

from sqlalchemy import ColumnElement, bindparam, case, or_, select

from agentkeep.adapters.storage.sql.prepared import Prepared, insert_row
from agentkeep.adapters.storage.sql.repositories import bulk
from agentkeep.adapters.storage.sql.repositories.base import BulkRepository, Listing, entity_columns, row_values
from agentkeep.adapters.storage.sql.tables import memories
from agentkeep.domain.models import Memory, MemoryKey
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import MemoryPatch
from agentkeep.domain.values import ReadMode

_ORDER = (memories.c.created_at, memories.c.id)
_ADD = Prepared(insert_row(memories, [c.name for c in entity_columns(memories, Memory)]))
_KEYS = bulk.RowsByKeys(
    select(memories.c.name, memories.c.agent_id, memories.c.user_id), memories.c.name, memories.c.agent_id
)
_IDS = bulk.RowsByKeys(select(memories.c.id), memories.c.id)
_BY_ID = Prepared(select(memories).where(memories.c.id == bindparam("id")))
_LIST = Listing(
    memories,
    _ORDER,
    agent_id=memories.c.agent_id == bindparam("agent_id"),
    user_id=memories.c.user_id == bindparam("user_id"),
    session_id=memories.c.session_id == bindparam("session_id"),
    read_mode=memories.c.read_mode == bindparam("read_mode"),
    name=memories.c.name == bindparam("name"),
)


def _owned_by(agent_wide: bool) -> ColumnElement[bool]:
    """The memories of the user `:user_id`, or the agent-wide ones."""
    return memories.c.user_id.is_(None) if agent_wide else memories.c.user_id == bindparam("user_id")


#: A memory by name, agent and owner: agent-wide (True) or the user's (False).
_BY_NAME = {
    agent_wide: Prepared(
        select(memories).where(
            memories.c.name == bindparam("name"), memories.c.agent_id == bindparam("agent_id"), _owned_by(agent_wide)
        )
    )
    for agent_wide in (True, False)
}


@functools.cache
def _for_run(agent_wide_only: bool, unbound_only: bool) -> Prepared:
    """The memories a run reads (`for_run`), one statement per shape of its owner and session."""
    agent_wide = memories.c.user_id.is_(None)
    owner = agent_wide if agent_wide_only else or_(memories.c.user_id == bindparam("user_id"), agent_wide)
    unbound = memories.c.session_id.is_(None)
    bound = unbound if unbound_only else or_(unbound, memories.c.session_id == bindparam("session_id"))
    where = (memories.c.agent_id == bindparam("agent_id"), memories.c.read_mode == bindparam("read_mode"), owner, bound)
    # The user's own memories first, then the agent-wide ones.
    return Prepared(select(memories).where(*where).order_by(case((agent_wide, 1), else_=0), *_ORDER))


class SqlMemories(BulkRepository):
    table = memories

    async def add(self, memory: Memory) -> Memory:
        await self._executor.write(_ADD, row_values(memory))
        return memory

    async def add_many(self, batch: Sequence[Memory]) -> list[Memory]:
        # One executemany; the first bad row raises (a Conflict naming `name`, or NotFound)
        # and the unit of work rolls the whole batch back.
        await self._insert_many(batch)
        return list(batch)

    async def get(self, memory_id: uuid.UUID) -> Memory | None:
        return await self._row(Memory, _BY_ID, {"id": memory_id})

    async def existing_ids(self, memory_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        return await self._keys_present(_IDS, memory_ids)

    async def get_by_name(self, name: str, agent_id: str, user_id: uuid.UUID | None) -> Memory | None:
        params = {"name": name, "agent_id": agent_id, "user_id": user_id}
        return await self._row(Memory, _BY_NAME[user_id is None], params)

    async def names_taken(self, keys: Collection[MemoryKey]) -> set[MemoryKey]:
        if not keys:
            return set()
        # The keys of the memories with one of these names and one of these agents (a few more
        # than asked for, through the unique index on name and agent): the rest is picked here.
        names, agents = {name for name, _, _ in keys}, {agent for _, agent, _ in keys}
        query, parameters = _KEYS.query(self._dialect), _KEYS.parameters(self._dialect, names, agents)
        found = {(row["name"], row["agent_id"], row["user_id"]) for row in await self._executor.rows(query, parameters)}
        return found & set(keys)

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
        return await self._page(
            Memory,
            _LIST,
            paging,
            agent_id=agent_id,
            user_id=user_id,
            session_id=session_id,
            read_mode=read_mode,
            name=name,
        )

    async def for_run(
        self, agent_id: str, user_id: uuid.UUID | None, read_mode: ReadMode, session_id: uuid.UUID | None = None
    ) -> builtins.list[Memory]:
        query = _for_run(user_id is None, session_id is None)
        params = {"agent_id": agent_id, "read_mode": read_mode, "user_id": user_id, "session_id": session_id}
        return await self._rows(Memory, query, params)

    async def update(self, memory_id: uuid.UUID, patch: MemoryPatch) -> Memory | None:
        if not patch:
            return await self.get(memory_id)
        return await self._patch(Memory, "id", memory_id, patch)

    async def delete(self, memory_id: uuid.UUID) -> bool:
        return await self._delete("id", memory_id)
