"""What only the backfills (migrate-agents, import-automagik) need of storage: batch reads and
writes over the runtime ports, and the unit of work that holds them.

A request never uses these; each extends its runtime port, so a backfill step may still call
`add` or `get` on a repository. The storage adapters implement both.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from agentkeep.domain.models import Agent, AgentBio, AgentProfileMetadata, Memory, MemoryKey, Message, Session, User
from agentkeep.domain.ports.agents import Agents
from agentkeep.domain.ports.bios import AgentBios
from agentkeep.domain.ports.memories import Memories
from agentkeep.domain.ports.messages import Messages
from agentkeep.domain.ports.profile_metadata import ProfileMetadata
from agentkeep.domain.ports.sessions import Sessions
from agentkeep.domain.ports.unit_of_work import UnitOfWork
from agentkeep.domain.ports.users import Users


class UsersBackfill(Users, Protocol):
    """Users read and written a batch at a time."""

    async def get_many(self, user_ids: Collection[uuid.UUID]) -> builtins.list[User]:
        """The users of these ids that exist, in no particular order."""
        ...

    async def get_many_by_email(self, emails: Collection[str]) -> builtins.list[User]:
        """The users holding any of these emails (compared lower-case)."""
        ...

    async def add_many(self, users: Sequence[User]) -> None:
        """Insert every user as given, in one statement where the database allows. Conflict on a
        taken id or email (the unit of work can then only be left)."""
        ...


class AgentsBackfill(Agents, Protocol):
    """Agents read, written and replaced a batch at a time."""

    async def get_many(self, agent_ids: Collection[str]) -> builtins.list[Agent]:
        """The agents of these ids that exist, in no particular order."""
        ...

    async def get_many_by_name(self, names: Collection[str]) -> builtins.list[Agent]:
        """The agents holding any of these names (compared lower-case)."""
        ...

    async def add_many(self, agents: Sequence[Agent]) -> None:
        """Insert every agent as given. Conflict on a taken id or name."""
        ...

    async def update_many(self, agents: Sequence[Agent]) -> None:
        """Store these values over the agents of the same ids (every field but `id` and
        `created_at`); ids that do not exist are ignored. Conflict on a taken name."""
        ...


class AgentBiosBackfill(AgentBios, Protocol):
    """Bios written a batch at a time."""

    async def agents_with_bios(self, agent_ids: Collection[str]) -> set[str]:
        """Which of these agents have at least one bio."""
        ...

    async def add_many(self, bios: Sequence[AgentBio]) -> None:
        """Insert every bio, in the given order (the later ones are newer on a tie). NotFound
        without an agent; Conflict on a taken id."""
        ...


class ProfileMetadataBackfill(ProfileMetadata, Protocol):
    """Profile metadata read and upserted a batch at a time."""

    async def get_many(self, agent_ids: Collection[str]) -> builtins.list[AgentProfileMetadata]:
        """The profile metadata of these agents, where they have some."""
        ...

    async def upsert_many(self, rows: Sequence[AgentProfileMetadata]) -> None:
        """Insert each row, or, when its agent has one already, set that row's counts and
        `updated_at` from it (its id and `created_at` stay): one `ON CONFLICT DO UPDATE`, never a
        delete and insert. NotFound without the agent."""
        ...


class SessionsBackfill(Sessions, Protocol):
    """Sessions read and written a batch at a time."""

    async def get_many(self, session_ids: Collection[uuid.UUID]) -> builtins.list[Session]:
        """The sessions of these ids that exist, in no particular order."""
        ...

    async def get_many_by_name(self, names: Collection[str]) -> builtins.list[Session]:
        """The sessions holding any of these names."""
        ...

    async def add_many(self, sessions: Sequence[Session]) -> None:
        """Insert every session as given. NotFound without a user or agent; Conflict on a taken
        id or name."""
        ...


class MessagesBackfill(Messages, Protocol):
    """Messages written a batch at a time."""

    async def add_many(self, messages: Sequence[Message]) -> None:
        """Append `messages` in the given order, in one statement where the database allows."""
        ...

    async def existing_ids(self, message_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these message ids are stored."""
        ...


class MemoriesBackfill(Memories, Protocol):
    """Memories written, and their keys looked up, a batch at a time."""

    async def add_many(self, memories: Sequence[Memory]) -> builtins.list[Memory]:
        """Insert every memory or none (the unit of work rolls back on the first error)."""
        ...

    async def existing_ids(self, memory_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these memory ids are stored."""
        ...

    async def names_taken(self, keys: Collection[MemoryKey]) -> set[MemoryKey]:
        """Which of these (name, agent id, user id or None for agent-wide) have a memory."""
        ...


class BackfillUnitOfWork(UnitOfWork, Protocol):
    """A `UnitOfWork` whose repositories also take batches: the one a backfill step runs in."""

    @property
    def users(self) -> UsersBackfill: ...

    @property
    def agents(self) -> AgentsBackfill: ...

    @property
    def bios(self) -> AgentBiosBackfill: ...

    @property
    def profile_metadata(self) -> ProfileMetadataBackfill: ...

    @property
    def sessions(self) -> SessionsBackfill: ...

    @property
    def messages(self) -> MessagesBackfill: ...

    @property
    def memories(self) -> MemoriesBackfill: ...


class BackfillStorage(Protocol):
    """A storage that hands out backfill units of work (every storage adapter does)."""

    def unit_of_work(self) -> AbstractAsyncContextManager[BackfillUnitOfWork]: ...
