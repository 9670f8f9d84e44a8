"""The agent profile metadata port."""

from __future__ import annotations

from typing import Protocol

from agentkeep.domain.models import AgentProfileMetadata
from agentkeep.domain.patches import ProfileCounts


class ProfileMetadata(Protocol):
    """An agent's profile counts: at most one row per agent, written by upsert (never a delete
    and insert). Metadata of a missing agent raises `NotFound`."""

    async def get(self, agent_id: str) -> AgentProfileMetadata | None:
        """The profile metadata of an agent (one per agent)."""
        ...

    async def upsert(
        self, metadata: AgentProfileMetadata, counts: ProfileCounts | None = None
    ) -> tuple[AgentProfileMetadata, bool]:
        """Insert `metadata` (with `counts` applied over it), or, when the agent has some, set the
        counts in `counts` (all counts of `metadata` when `counts` is None) in one
        `ON CONFLICT DO UPDATE`; never a delete and insert. Returns the stored row and whether it
        was created. NotFound without the agent.
        """
        ...

    async def delete(self, agent_id: str) -> bool: ...
