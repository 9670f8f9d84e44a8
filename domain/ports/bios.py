"""The agent bios port."""

from __future__ import annotations

import uuid
from typing import Protocol

from agentkeep.domain.models import AgentBio
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import AgentBioPatch


class AgentBios(Protocol):
    """An agent's persona bios, newest last; the newest is the agent's current bio. A bio of a
    missing agent raises `NotFound`."""

    async def add(self, bio: AgentBio) -> AgentBio:
        """Insert `bio`. NotFound if its agent does not exist; Conflict on a taken id."""
        ...

    async def get(self, bio_id: uuid.UUID) -> AgentBio | None: ...

    async def latest(self, agent_id: str) -> AgentBio | None:
        """The current bio: the newest, ties broken by insertion order (the last one wins)."""
        ...

    async def list(self, agent_id: str, paging: Paging) -> tuple[list[AgentBio], int]: ...

    async def update(self, bio_id: uuid.UUID, patch: AgentBioPatch) -> AgentBio | None: ...

    async def delete(self, bio_id: uuid.UUID) -> bool: ...
