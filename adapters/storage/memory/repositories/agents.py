"""Agents, their persona bios and their profile metadata, in memory."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from agentkeep.adapters.storage.memory.state import (
    Repository,
    Sequenced,
    by_time_then_id,
    by_time_then_seq,
    conflict,
    detach,
    detach_or_none,
    page,
    pick,
    sequenced_page,
)
from agentkeep.domain.ids import is_agent_id, parse_agent_id
from agentkeep.domain.models import Agent, AgentBio, AgentProfileMetadata
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import AgentBioPatch, AgentPatch, ProfileCounts
from agentkeep.domain.values import utcnow

_COUNTS = ("followers_count", "follows_count", "posts_count")


class MemoryAgents(Repository):
    async def add(self, agent: Agent) -> Agent:
        # The same order of checks as SQLite: the name rule, then the id.
        self._check_name(agent.name)
        if agent.id in self._tables.agents:
            raise conflict("agent", "id")
        self._tables.agents[agent.id] = detach(agent)
        return agent

    async def get(self, agent_id: str) -> Agent | None:
        return detach_or_none(self._tables.agents.get(agent_id))

    async def get_many(self, agent_ids: Collection[str]) -> builtins.list[Agent]:
        return pick(self._tables.agents, agent_ids)

    async def get_many_by_name(self, names: Collection[str]) -> builtins.list[Agent]:
        wanted = {n.lower() for n in names}
        if not wanted:
            return []
        return [detach(a) for a in self._tables.agents.values() if a.name in wanted]

    async def add_many(self, agents: Sequence[Agent]) -> None:
        # Row by row, as the SQL executemany checks each row against the ones before it; a
        # Conflict leaves rows in this unit of work's copy, dropped when it is left.
        for agent in agents:
            await self.add(agent)

    async def update_many(self, agents: Sequence[Agent]) -> None:
        for agent in agents:
            current = self._tables.agents.get(agent.id)
            if current is None:
                continue  # an UPDATE of a missing id changes nothing
            self._check_name(agent.name, agent.id)
            self._tables.agents[agent.id] = detach(agent.model_copy(update={"created_at": current.created_at}))

    async def get_by_name(self, name: str) -> Agent | None:
        return detach_or_none(self._named(name))

    async def resolve(self, id_or_name: str) -> Agent | None:
        if is_agent_id(id_or_name):
            found = self._tables.agents.get(parse_agent_id(id_or_name))
            if found is not None:
                return detach(found)
        return await self.get_by_name(id_or_name)

    async def resolve_with_bio(self, id_or_name: str) -> tuple[Agent, AgentBio | None] | None:
        agent = await self.resolve(id_or_name)
        if agent is None:
            return None
        return agent, await MemoryAgentBios(self._uow_tables).latest(agent.id)

    async def list(self, paging: Paging, *, active_only: bool = False) -> tuple[list[Agent], int]:
        rows = [a for a in self._tables.agents.values() if a.active or not active_only]
        return page(rows, by_time_then_id, paging)

    async def update(self, agent_id: str, patch: AgentPatch) -> Agent | None:
        current = self._tables.agents.get(agent_id)
        if current is None or not patch:
            return detach_or_none(current)
        changes = patch.changes()
        if "name" in changes:
            self._check_name(changes["name"], agent_id)
        updated = detach(current.model_copy(update={**changes, "updated_at": utcnow()}))
        self._tables.agents[agent_id] = updated
        return detach(updated)

    async def delete(self, agent_id: str) -> bool:
        return self._tables.delete_agent(agent_id)

    def _named(self, name: str) -> Agent | None:
        lowered = name.lower()
        return next((a for a in self._tables.agents.values() if a.name == lowered), None)

    def _check_name(self, name: str, agent_id: str | None = None) -> None:
        """Conflict if another agent than `agent_id` (any agent, when None) has `name`."""
        owner = self._named(name)
        if owner is not None and owner.id != agent_id:
            raise conflict("agent", "name")


class MemoryAgentBios(Repository):
    async def add(self, bio: AgentBio) -> AgentBio:
        if bio.id in self._tables.bios:
            raise conflict("bio", "id")
        self._tables.require_agent(bio.agent_id)
        self._tables.bios[bio.id] = Sequenced(self._tables.next_seq(), detach(bio))
        return bio

    async def agents_with_bios(self, agent_ids: Collection[str]) -> set[str]:
        wanted = set(agent_ids)
        if not wanted:
            return set()
        return {b.item.agent_id for b in self._tables.bios.values() if b.item.agent_id in wanted}

    async def add_many(self, bios: Sequence[AgentBio]) -> None:
        # In order, each with the next insertion key: the later is newer on a `created_at` tie.
        for bio in bios:
            await self.add(bio)

    async def get(self, bio_id: uuid.UUID) -> AgentBio | None:
        row = self._tables.bios.get(bio_id)
        return None if row is None else detach(row.item)

    async def latest(self, agent_id: str) -> AgentBio | None:
        rows = [b for b in self._tables.bios.values() if b.item.agent_id == agent_id]
        return detach(max(rows, key=by_time_then_seq).item) if rows else None

    async def list(self, agent_id: str, paging: Paging) -> tuple[list[AgentBio], int]:
        rows = [b for b in self._tables.bios.values() if b.item.agent_id == agent_id]
        return sequenced_page(rows, paging)

    async def update(self, bio_id: uuid.UUID, patch: AgentBioPatch) -> AgentBio | None:
        row = self._tables.bios.get(bio_id)
        if row is None or not patch:
            return None if row is None else detach(row.item)
        updated = detach(row.item.model_copy(update={**patch.changes(), "updated_at": utcnow()}))
        self._tables.bios[bio_id] = Sequenced(row.seq, updated)
        return detach(updated)

    async def delete(self, bio_id: uuid.UUID) -> bool:
        return self._tables.bios.pop(bio_id, None) is not None


class MemoryProfileMetadata(Repository):
    async def get(self, agent_id: str) -> AgentProfileMetadata | None:
        return detach_or_none(self._tables.profile_metadata.get(agent_id))

    async def get_many(self, agent_ids: Collection[str]) -> builtins.list[AgentProfileMetadata]:
        return pick(self._tables.profile_metadata, agent_ids)

    async def upsert_many(self, rows: Sequence[AgentProfileMetadata]) -> None:
        for row in rows:
            # Row by row, as the SQL executemany of one INSERT ... ON CONFLICT runs.
            self._upsert(row, {**{c: getattr(row, c) for c in _COUNTS}, "updated_at": row.updated_at})

    async def upsert(
        self, metadata: AgentProfileMetadata, counts: ProfileCounts | None = None
    ) -> tuple[AgentProfileMetadata, bool]:
        changes = counts.changes() if counts is not None else {c: getattr(metadata, c) for c in _COUNTS}
        stored, created = self._upsert(metadata, changes, stamp=utcnow())
        return detach(stored), created

    def _upsert(
        self, metadata: AgentProfileMetadata, changes: dict[str, Any], stamp: datetime | None = None
    ) -> tuple[AgentProfileMetadata, bool]:
        """INSERT `metadata` with `changes` over it, or ON CONFLICT (agent_id) DO UPDATE SET
        `changes` (and `updated_at` = `stamp`, when given): the stored row keeps its id."""
        current = self._tables.profile_metadata.get(metadata.agent_id)
        if current is not None:
            stamped = changes if stamp is None else {**changes, "updated_at": stamp}
            updated = current.model_copy(update=stamped)
            self._tables.profile_metadata[metadata.agent_id] = updated
            return updated, False
        if any(p.id == metadata.id for p in self._tables.profile_metadata.values()):
            raise conflict("profile metadata", "id")
        self._tables.require_agent(metadata.agent_id)
        # A new row is `metadata` with `changes` over it, as the SQL INSERT writes it.
        inserted = detach(metadata.model_copy(update=changes))
        self._tables.profile_metadata[metadata.agent_id] = inserted
        return inserted, True

    async def delete(self, agent_id: str) -> bool:
        return self._tables.profile_metadata.pop(agent_id, None) is not None
