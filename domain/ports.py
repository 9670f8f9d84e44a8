"""Ports: what the core needs from storage. Adapters implement them; use cases depend on them only.

Every repository method runs inside the unit of work that owns it. Lists return `(items, total)`:
one page and the size of the whole filtered list. Writes that break a unique rule raise `Conflict`
naming the field; a write that points at a missing parent raises `NotFound`.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from agentkeep.domain.idempotency import Answer, IdempotencyRecord
from agentkeep.domain.models import Agent, AgentBio, AgentProfileMetadata, Memory, MemoryKey, Message, Session, User
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import (
    AgentBioPatch,
    AgentPatch,
    MemoryPatch,
    MessagePatch,
    ProfileCounts,
    SessionPatch,
    UserPatch,
)
from agentkeep.domain.values import ReadMode

T = TypeVar("T")


class Users(Protocol):
    async def add(self, user: User) -> User:
        """Insert `user` as given (its id kept). Conflict on a taken id or email."""
        ...

    async def get(self, user_id: uuid.UUID) -> User | None: ...

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

    async def get_by_email(self, email: str) -> User | None:
        """The user with this email, compared case-insensitively."""
        ...

    async def get_or_create(self, user: User) -> tuple[User, bool]:
        """The user with `user.id`, or `user` inserted; atomic (insert-on-conflict, then read).

        Returns the stored user and whether it was created. Conflict if only the email clashes.
        """
        ...

    async def get_or_create_by_email(self, user: User) -> tuple[User, bool]:
        """The user with `user.email` (which must be set), or `user` inserted; atomic."""
        ...

    async def list(self, paging: Paging, *, email: str | None = None) -> tuple[list[User], int]: ...

    async def update(self, user_id: uuid.UUID, patch: UserPatch) -> User | None:
        """Apply `patch`; None if there is no such user. Conflict on a taken email."""
        ...

    async def delete(self, user_id: uuid.UUID) -> bool:
        """Delete the user with its sessions, messages and user-scoped memories."""
        ...


class Agents(Protocol):
    async def add(self, agent: Agent) -> Agent:
        """Insert `agent` as given. Conflict on a taken id or name."""
        ...

    async def get(self, agent_id: str) -> Agent | None: ...

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


class AgentBios(Protocol):
    async def add(self, bio: AgentBio) -> AgentBio:
        """Insert `bio`. NotFound if its agent does not exist; Conflict on a taken id."""
        ...

    async def get(self, bio_id: uuid.UUID) -> AgentBio | None: ...

    async def agents_with_bios(self, agent_ids: Collection[str]) -> set[str]:
        """Which of these agents have at least one bio."""
        ...

    async def add_many(self, bios: Sequence[AgentBio]) -> None:
        """Insert every bio, in the given order (the later ones are newer on a tie). NotFound
        without an agent; Conflict on a taken id."""
        ...

    async def latest(self, agent_id: str) -> AgentBio | None:
        """The current bio: the newest, ties broken by insertion order (the last one wins)."""
        ...

    async def list(self, agent_id: str, paging: Paging) -> tuple[list[AgentBio], int]: ...

    async def update(self, bio_id: uuid.UUID, patch: AgentBioPatch) -> AgentBio | None: ...

    async def delete(self, bio_id: uuid.UUID) -> bool: ...


class ProfileMetadata(Protocol):
    async def get(self, agent_id: str) -> AgentProfileMetadata | None:
        """The profile metadata of an agent (one per agent)."""
        ...

    async def get_many(self, agent_ids: Collection[str]) -> builtins.list[AgentProfileMetadata]:
        """The profile metadata of these agents, where they have some."""
        ...

    async def upsert_many(self, rows: Sequence[AgentProfileMetadata]) -> None:
        """Insert each row, or, when its agent has one already, set that row's counts and
        `updated_at` from it (its id and `created_at` stay): one `ON CONFLICT DO UPDATE`, never a
        delete and insert. NotFound without the agent."""
        ...

    async def upsert(
        self, metadata: AgentProfileMetadata, counts: ProfileCounts | None = None
    ) -> tuple[AgentProfileMetadata, bool]:
        """Insert `metadata` (with `counts` applied over it), or, when the agent has some, set the
        counts in `counts` (all counts
        of `metadata` when `counts` is None) in one `ON CONFLICT DO UPDATE`; never a delete and
        insert. Returns the stored row and whether it was created. NotFound without the agent.
        """
        ...

    async def delete(self, agent_id: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class RunLease:
    """A session's run lease: held by `token` until `until` (see `Sessions.claim_run`)."""

    token: str
    until: datetime


class Sessions(Protocol):
    async def add(
        self,
        session: Session,
        *,
        lease: RunLease | None = None,
        owner: User | None = None,
        first_message: Message | None = None,
    ) -> Session:
        """Insert `session`, holding `lease` when given (a run that makes its session takes the
        lease in the same statement); with `owner`, its new user, inserted first; with
        `first_message`, appended to it. A first run makes all three: in one statement where the
        database allows. NotFound without its user or agent; Conflict on a taken id, name or
        email (the owner's, the session's or the message's)."""
        ...

    async def get(self, session_id: uuid.UUID) -> Session | None: ...

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

    async def get_by_name(self, name: str) -> Session | None: ...

    async def get_or_create_by_name(self, session: Session, *, lease: RunLease | None = None) -> tuple[Session, bool]:
        """The session named `session.name` (which must be set), or `session` inserted (holding
        `lease` when given); atomic."""
        ...

    async def list(
        self, paging: Paging, *, user_id: uuid.UUID | None = None, agent_id: str | None = None
    ) -> tuple[list[Session], int]: ...

    async def update(self, session_id: uuid.UUID, patch: SessionPatch) -> Session | None: ...

    async def finish(self, session_id: uuid.UUID, at: datetime) -> Session | None:
        """Mark the session finished at `at`; idempotent: the first `finished_at` stays."""
        ...

    async def delete(self, session_id: uuid.UUID) -> bool:
        """Delete the session and its messages; memories bound to it become unbound."""
        ...

    async def claim_run(self, session_id: uuid.UUID, token: str, now: datetime, until: datetime) -> bool:
        """Take the session's run lease for `token` until `until`, if nobody holds it or the
        holder's lease ended before `now`. One conditional UPDATE, so it holds across processes."""
        ...

    async def claim_run_by_name(self, name: str, token: str, now: datetime, until: datetime) -> Session | None:
        """`claim_run` on the session of that name, returning it: None when there is none, or
        another run holds it (the same conditional UPDATE, so one statement instead of two)."""
        ...

    async def release_run(self, session_id: uuid.UUID, token: str) -> None:
        """Give the lease back, if `token` still holds it."""
        ...


class Messages(Protocol):
    async def add(self, message: Message) -> Message:
        """Append `message` to its session (after every message written before it)."""
        ...

    async def add_many(self, messages: Sequence[Message]) -> None:
        """Append `messages` in the given order, in one statement where the database allows."""
        ...

    async def add_reply(self, message: Message, token: str) -> None:
        """Append a run's reply and give back the run lease that `token` holds on its session
        (`Sessions.release_run`), in one statement where the database allows."""
        ...

    async def get(self, message_id: uuid.UUID) -> Message | None: ...

    async def existing_ids(self, message_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these message ids are stored."""
        ...

    async def list(
        self, session_id: uuid.UUID, paging: Paging, *, hide_tools: bool = False
    ) -> tuple[list[Message], int]:
        """A page of the session's messages in their stable order; `hide_tools` leaves out
        `role=tool` messages (the entrypoint drops the tool fields)."""
        ...

    async def last(self, session_id: uuid.UUID, limit: int) -> builtins.list[Message]:
        """The last `limit` messages of the session, oldest first, read through an index."""
        ...

    async def update(self, message_id: uuid.UUID, patch: MessagePatch) -> Message | None: ...

    async def delete(self, message_id: uuid.UUID) -> bool: ...


class Memories(Protocol):
    async def add(self, memory: Memory) -> Memory:
        """Insert `memory`. NotFound without its agent, user or session; Conflict on a taken
        (name, agent, user), where two agent-wide memories of one name clash."""
        ...

    async def add_many(self, memories: Sequence[Memory]) -> list[Memory]:
        """Insert every memory or none (the unit of work rolls back on the first error)."""
        ...

    async def get(self, memory_id: uuid.UUID) -> Memory | None: ...

    async def existing_ids(self, memory_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these memory ids are stored."""
        ...

    async def get_by_name(self, name: str, agent_id: str, user_id: uuid.UUID | None) -> Memory | None: ...

    async def names_taken(self, keys: Collection[MemoryKey]) -> set[MemoryKey]:
        """Which of these (name, agent id, user id or None for agent-wide) have a memory."""
        ...

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


class IdempotencyKeys(Protocol):
    """The records of `Idempotency-Key`s (`domain.idempotency`), one per (route, key): rows in the
    database, so that a claim holds across every process that shares it."""

    async def claim(self, record: IdempotencyRecord, now: datetime) -> IdempotencyRecord | None:
        """Insert `record` (a claim: `token` set, no answer), or put it in place of a record of
        its (route, key) that expired by `now`: None then. Otherwise the live record that holds
        the key, unchanged. One insert-on-conflict, so of concurrent claims exactly one wins."""
        ...

    async def get(self, route: str, key: str) -> IdempotencyRecord | None:
        """The record of this key, expired or not."""
        ...

    async def complete(self, route: str, key: str, token: str, answer: Answer, expires_at: datetime) -> bool:
        """Store the answer of the claim `token` holds (the token goes), kept until `expires_at`.
        False when `token` no longer holds the key (its claim expired and another took it)."""
        ...

    async def release(self, route: str, key: str, token: str) -> None:
        """Forget the claim `token` holds, if it still holds it: the key is new again."""
        ...

    async def purge_expired(self, now: datetime, limit: int = 100) -> int:
        """Delete up to `limit` records that expired by `now` (skipping any another transaction
        holds, so it never waits); how many it deleted."""
        ...


class UnitOfWork(Protocol):
    """One transaction over every repository. Use it as `async with storage.unit_of_work() as uow`;
    it rolls back on leaving unless `commit()` was called. No I/O but the database's belongs inside.
    Once a repository has raised, the unit of work can only be left (PostgreSQL aborts the
    transaction at the first failed statement): to try again, start a new one.
    """

    users: Users
    agents: Agents
    bios: AgentBios
    profiles: ProfileMetadata
    sessions: Sessions
    messages: Messages
    memories: Memories
    idempotency_keys: IdempotencyKeys

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class Storage(Protocol):
    """A storage adapter: hands out units of work, and closes its connections when done."""

    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]: ...

    async def run(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run `work` in one unit of work and commit when it returns (roll back when it raises)."""
        ...

    async def add_reply(self, message: Message, token: str) -> None:
        """`Messages.add_reply` in a unit of work of its own, all or nothing. A database that
        does it in one statement runs that statement alone, with no transaction around it (a
        statement is atomic by itself): two round trips fewer at the end of every run."""
        ...

    async def close(self) -> None: ...
