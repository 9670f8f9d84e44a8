"""The legacy sources (read only) that migrate-agents and import-automagik stream their rows from
(SPEC §2 "Legacy sources", §4, §7); the rows are `domain.legacy`'s."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from agentkeep.domain.legacy import LegacyAgent, LegacyMemory, LegacyMessage, LegacyProfile, LegacySession, LegacyUser


class ProfileSource(Protocol):
    """`bluesky_profiles` and `agent_bios` of a social-agent simulation database."""

    async def count(self) -> int:
        """How many `bluesky_profiles` rows there are (for a progress bar)."""
        ...

    def batches(self, size: int) -> AsyncIterator[list[LegacyProfile]]:
        """Every profile once, in a stable order, `size` rows at a time."""
        ...

    async def close(self) -> None: ...


class AutomagikSource(Protocol):
    """An automagik-agents database. Each table streams in its own stable order: users and agents
    by id, sessions and memories by id, messages by (session, created_at, id): a session's messages
    arrive in conversation order."""

    async def counts(self) -> dict[str, int]:
        """Rows per table: `users`, `agents`, `sessions`, `messages`, `memories`."""
        ...

    def users(self, size: int) -> AsyncIterator[list[LegacyUser]]: ...

    def agents(self, size: int) -> AsyncIterator[list[LegacyAgent]]: ...

    def sessions(self, size: int) -> AsyncIterator[list[LegacySession]]: ...

    def messages(self, size: int) -> AsyncIterator[list[LegacyMessage]]: ...

    def memories(self, size: int) -> AsyncIterator[list[LegacyMemory]]: ...

    async def close(self) -> None: ...
