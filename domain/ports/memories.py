"""The memories port."""

from __future__ import annotations

import builtins
import uuid
from typing import Protocol

from agentkeep.domain.models import Memory
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import MemoryPatch
from agentkeep.domain.values import ReadMode


class Memories(Protocol):
    """Named memories of an agent, agent-wide or one user's (and maybe bound to one session):
    one of a name per (agent, user), where two agent-wide ones of one name clash (`Conflict`)."""

    async def add(self, memory: Memory) -> Memory:
        """Insert `memory`. NotFound without its agent, user or session; Conflict on a taken
        (name, agent, user), where two agent-wide memories of one name clash."""
        ...

    async def get(self, memory_id: uuid.UUID) -> Memory | None: ...

    async def get_by_name(self, name: str, agent_id: str, user_id: uuid.UUID | None) -> Memory | None: ...

    async def list(
        self,
        paging: Paging,
        *,
        agent_id: str | None = None,
        user_id: uuid.UUID | None = None,
        session_id: uuid.UUID | None = None,
        read_mode: ReadMode | None = None,
        name: str | None = None,
    ) -> tuple[list[Memory], int]: ...

    async def for_run(
        self, agent_id: str, user_id: uuid.UUID | None, read_mode: ReadMode, session_id: uuid.UUID | None = None
    ) -> builtins.list[Memory]:
        """The memories of `read_mode` that apply to a run: the user's first, then the agent-wide
        ones, each group oldest first; a memory bound to a session applies only to that session."""
        ...

    async def update(self, memory_id: uuid.UUID, patch: MemoryPatch) -> Memory | None: ...

    async def delete(self, memory_id: uuid.UUID) -> bool: ...
