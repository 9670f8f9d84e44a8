"""Agents, their persona bios and their profile metadata, in memory."""

from __future__ import annotations

import uuid

from adapters.storage.memory.state import (
    Repository,
    Sequenced,
    by_time_then_id,
    by_time_then_seq,
    conflict,
    detach,
    detach_or_none,
    page,
    sequenced_page,
)
from domain.ids import is_agent_id, parse_agent_id
from domain.models import Agent, AgentBio, AgentProfileMetadata
from domain.paging import Paging
from domain.patches import AgentBioPatch, AgentPatch, ProfileCounts
from domain.values import utcnow

_COUNTS = ("followers_count", "follows_count", "posts_count")


class MemoryAgents(Repository):
    async def add(self, agent: Agent) -> Agent:
        # The same order of checks as SQLite: the name rule, then the id.
        if self._named(agent.name) is not None:
            raise conflict("agent", "name")
        if agent.id in self._t.agents:
            raise conflict("agent", "id")
        self._t.agents[agent.id] = detach(agent)
        return agent

    async def get(self, agent_id: str) -> Agent | None:
        return detach_or_none(self._t.agents.get(agent_id))

    async def get_by_name(self, name: str) -> Agent | None:
        return detach_or_none(self._named(name))

    async def resolve(self, id_or_name: str) -> Agent | None:
        if is_agent_id(id_or_name):
            found = self._t.agents.get(parse_agent_id(id_or_name))
            if found is not None:
                return detach(found)
        return await self.get_by_name(id_or_name)

    async def list(self, paging: Paging, *, active_only: bool = False) -> tuple[list[Agent], int]:
        rows = [a for a in self._t.agents.values() if a.active or not active_only]
        return page(rows, by_time_then_id, paging)

    async def update(self, agent_id: str, patch: AgentPatch) -> Agent | None:
        current = self._t.agents.get(agent_id)
        if current is None or not patch:
            return detach_or_none(current)
        changes = patch.changes()
        if "name" in changes:
            owner = self._named(changes["name"])
            if owner is not None and owner.id != agent_id:
                raise conflict("agent", "name")
        updated = detach(current.model_copy(update={**changes, "updated_at": utcnow()}))
        self._t.agents[agent_id] = updated
        return detach(updated)

    async def delete(self, agent_id: str) -> bool:
        return self._t.delete_agent(agent_id)

    def _named(self, name: str) -> Agent | None:
        lowered = name.lower()
        return next((a for a in self._t.agents.values() if a.name == lowered), None)


class MemoryAgentBios(Repository):
    async def add(self, bio: AgentBio) -> AgentBio:
        if bio.id in self._t.bios:
            raise conflict("bio", "id")
        self._t.require_agent(bio.agent_id)
        self._t.bios[bio.id] = Sequenced(self._t.next_seq(), detach(bio))
        return bio

    async def get(self, bio_id: uuid.UUID) -> AgentBio | None:
        row = self._t.bios.get(bio_id)
        return None if row is None else detach(row.item)

    async def latest(self, agent_id: str) -> AgentBio | None:
        rows = [b for b in self._t.bios.values() if b.item.agent_id == agent_id]
        return detach(max(rows, key=by_time_then_seq).item) if rows else None

    async def list(self, agent_id: str, paging: Paging) -> tuple[list[AgentBio], int]:
        rows = [b for b in self._t.bios.values() if b.item.agent_id == agent_id]
        return sequenced_page(rows, paging)

    async def update(self, bio_id: uuid.UUID, patch: AgentBioPatch) -> AgentBio | None:
        row = self._t.bios.get(bio_id)
        if row is None or not patch:
            return None if row is None else detach(row.item)
        updated = detach(row.item.model_copy(update={**patch.changes(), "updated_at": utcnow()}))
        self._t.bios[bio_id] = Sequenced(row.seq, updated)
        return detach(updated)

    async def delete(self, bio_id: uuid.UUID) -> bool:
        return self._t.bios.pop(bio_id, None) is not None


class MemoryProfileMetadata(Repository):
    async def get(self, agent_id: str) -> AgentProfileMetadata | None:
        return detach_or_none(self._t.profiles.get(agent_id))

    async def upsert(
        self, metadata: AgentProfileMetadata, counts: ProfileCounts | None = None
    ) -> tuple[AgentProfileMetadata, bool]:
        changes = counts.changes() if counts is not None else {c: getattr(metadata, c) for c in _COUNTS}
        current = self._t.profiles.get(metadata.agent_id)
        if current is not None:
            # ON CONFLICT (agent_id) DO UPDATE: only the counts change; the row keeps its id.
            updated = current.model_copy(update={**changes, "updated_at": utcnow()})
            self._t.profiles[metadata.agent_id] = updated
            return detach(updated), False
        if any(p.id == metadata.id for p in self._t.profiles.values()):
            raise conflict("profile metadata", "id")
        self._t.require_agent(metadata.agent_id)
        # A new row is `metadata` with the counts of `counts`, as the SQL INSERT writes it.
        inserted = detach(metadata.model_copy(update=changes))
        self._t.profiles[metadata.agent_id] = inserted
        return detach(inserted), True

    async def delete(self, agent_id: str) -> bool:
        return self._t.profiles.pop(agent_id, None) is not None
