"""The agents port."""

from __future__ import annotations

from typing import Protocol

from agentkeep.domain.models import Agent, AgentBio
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import AgentPatch


class Agents(Protocol):
    """The agents, found by id or by name (names compared lower-case). A write that takes an id
    or name another agent holds raises `Conflict`; deleting one deletes all it owns."""

    async def add(self, agent: Agent) -> Agent:
        """Insert `agent` as given. Conflict on a taken id or name."""
        ...

    async def get(self, agent_id: str) -> Agent | None: ...

    async def get_by_name(self, name: str) -> Agent | None:
        """The agent with this name, compared lower-case."""
        ...

    async def resolve(self, id_or_name: str) -> Agent | None:
        """The agent whose id is `id_or_name`, else the one of that name."""
        ...

    async def resolve_with_bio(self, id_or_name: str) -> tuple[Agent, AgentBio | None] | None:
        """`resolve`, and the agent's current bio (`AgentBios.latest`) read with it, in one read."""
        ...

    async def list(self, paging: Paging, *, active_only: bool = False) -> tuple[list[Agent], int]: ...

    async def update(self, agent_id: str, patch: AgentPatch) -> Agent | None:
        """Apply `patch`; None if there is no such agent. Conflict on a taken name."""
        ...

    async def delete(self, agent_id: str) -> bool:
        """Delete the agent with its sessions, messages, memories, bios and profile metadata."""
        ...
