"""The tables of the in-memory adapter and the rules that span them (unique keys, cascades, order).

Rows are immutable entities in dicts keyed by id. A unit of work works on a shallow copy of the
tables and commit swaps it in; entities are copied deeply at the boundary (their JSON fields are
mutable dicts), so a caller never changes a stored row by changing a value it was given.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Hashable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from agentkeep.domain.errors import Conflict, NotFound
from agentkeep.domain.events import RunEvent
from agentkeep.domain.idempotency import IdempotencyRecord
from agentkeep.domain.models import Agent, AgentBio, AgentProfileMetadata, Memory, Message, Run, Session, User
from agentkeep.domain.paging import Paging

E = TypeVar("E", bound=BaseModel)
K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Sequenced(Generic[E]):
    """A row with its insertion key (the `seq` column of the SQL tables): ties of `created_at`
    are broken by it, so rows written in the same microsecond never swap places."""

    seq: int
    item: E


@dataclass(frozen=True, slots=True)
class Lease:
    """Who may run on a session (`token`), and until when."""

    token: str
    until: datetime


@dataclass(slots=True)
class Tables:
    """Every table; `last_seq` is the insertion counter of bios and messages."""

    users: dict[uuid.UUID, User] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)
    bios: dict[uuid.UUID, Sequenced[AgentBio]] = field(default_factory=dict)
    profile_metadata: dict[str, AgentProfileMetadata] = field(default_factory=dict)  # by agent id (1:1)
    sessions: dict[uuid.UUID, Session] = field(default_factory=dict)
    messages: dict[uuid.UUID, Sequenced[Message]] = field(default_factory=dict)
    memories: dict[uuid.UUID, Memory] = field(default_factory=dict)
    # The run lease of a session (the storage-only `run_token`, `run_until` columns in SQL).
    leases: dict[uuid.UUID, Lease] = field(default_factory=dict)
    idempotency_keys: dict[tuple[str, str], IdempotencyRecord] = field(default_factory=dict)  # by (route, key)
    runs: dict[uuid.UUID, Run] = field(default_factory=dict)
    run_events: dict[tuple[uuid.UUID, int], RunEvent] = field(default_factory=dict)  # by (run, seq)
    last_seq: int = 0

    def copy(self) -> Tables:
        """A copy whose dicts can change without touching these (the entities are shared)."""
        return replace(
            self,
            users=dict(self.users),
            agents=dict(self.agents),
            bios=dict(self.bios),
            profile_metadata=dict(self.profile_metadata),
            sessions=dict(self.sessions),
            messages=dict(self.messages),
            memories=dict(self.memories),
            leases=dict(self.leases),
            idempotency_keys=dict(self.idempotency_keys),
            runs=dict(self.runs),
            run_events=dict(self.run_events),
        )

    def next_seq(self) -> int:
        self.last_seq += 1
        return self.last_seq

    # Cascades, as the foreign keys of the SQL schema do them (SPEC §2 "Deletes").

    def delete_user(self, user_id: uuid.UUID) -> bool:
        if self.users.pop(user_id, None) is None:
            return False
        for session in [s for s in self.sessions.values() if s.user_id == user_id]:
            self.delete_session(session.id)
        _drop(self.messages, lambda m: m.item.user_id == user_id)
        _drop(self.memories, lambda m: m.user_id == user_id)
        return True

    def delete_agent(self, agent_id: str) -> bool:
        if self.agents.pop(agent_id, None) is None:
            return False
        for session in [s for s in self.sessions.values() if s.agent_id == agent_id]:
            self.delete_session(session.id)
        _drop(self.messages, lambda m: m.item.agent_id == agent_id)
        _drop(self.memories, lambda m: m.agent_id == agent_id)
        _drop(self.bios, lambda b: b.item.agent_id == agent_id)
        self.profile_metadata.pop(agent_id, None)
        return True

    def delete_session(self, session_id: uuid.UUID) -> bool:
        if self.sessions.pop(session_id, None) is None:
            return False
        self.leases.pop(session_id, None)
        _drop(self.messages, lambda m: m.item.session_id == session_id)
        doomed = {run_id for run_id, run in self.runs.items() if run.session_id == session_id}
        _drop(self.runs, lambda r: r.id in doomed)
        _drop(self.run_events, lambda e: e.run_id in doomed)
        _drop(self.idempotency_keys, lambda k: k.run_id in doomed)
        for memory in [m for m in self.memories.values() if m.session_id == session_id]:
            # ON DELETE SET NULL: the row changes, its updated_at does not.
            self.memories[memory.id] = memory.model_copy(update={"session_id": None})
        return True

    # Parents: a write that points at a missing row is NotFound, naming the field.

    def require_user(self, user_id: uuid.UUID | None, key: str = "user_id") -> None:
        if user_id is not None and user_id not in self.users:
            raise NotFound(f"no user {user_id}", key=key)

    def require_agent(self, agent_id: str | None, key: str = "agent_id") -> None:
        if agent_id is not None and agent_id not in self.agents:
            raise NotFound(f"no agent {agent_id}", key=key)

    def require_session(self, session_id: uuid.UUID | None, key: str = "session_id") -> None:
        if session_id is not None and session_id not in self.sessions:
            raise NotFound(f"no session {session_id}", key=key)


class UnitOfWorkTables:
    """The tables one unit of work sees; the repositories read and write through it."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables


class Repository:
    """Base of the memory repositories: access to the unit of work's tables."""

    def __init__(self, uow_tables: UnitOfWorkTables) -> None:
        self._uow_tables = uow_tables

    @property
    def _tables(self) -> Tables:
        return self._uow_tables.tables


def conflict(noun: str, key: str) -> Conflict:
    """The Conflict a duplicate raises, worded as the SQL adapter words it."""
    return Conflict.duplicate(noun, key)


def detach(entity: E) -> E:
    """A copy that shares no mutable JSON with `entity` (what goes in, and what comes out)."""
    return entity.model_copy(deep=True)


def detach_or_none(entity: E | None) -> E | None:
    return None if entity is None else detach(entity)


def pick(table: dict[K, E], keys: Collection[K]) -> list[E]:
    """The stored rows of these keys, each once, detached (what an IN list reads)."""
    return [detach(table[key]) for key in dict.fromkeys(keys) if key in table]


def present(table: dict[K, Any], keys: Collection[K]) -> set[K]:
    """Which of these keys are stored."""
    return {key for key in keys if key in table}


def ordered_page(rows: Iterable[T], key: Callable[[T], Any], paging: Paging) -> tuple[list[T], int]:
    """One page of `rows` ordered by `key` (`sort_desc` reverses it), and how many there are."""
    ordered = sorted(rows, key=key, reverse=paging.sort_desc)
    return ordered[paging.offset : paging.offset + paging.page_size], len(ordered)


def page(entities: Iterable[E], key: Callable[[E], Any], paging: Paging) -> tuple[list[E], int]:
    """`ordered_page` of entities, detached."""
    chunk, total = ordered_page(entities, key, paging)
    return [detach(e) for e in chunk], total


def sequenced_page(rows: Iterable[Sequenced[E]], paging: Paging) -> tuple[list[E], int]:
    """A page of sequenced rows in their stable order: `created_at`, then insertion."""
    chunk, total = ordered_page(rows, by_time_then_seq, paging)
    return [detach(row.item) for row in chunk], total


def by_time_then_seq(row: Sequenced[Any]) -> tuple[Any, int]:
    """The order of messages and bios: `created_at`, then the insertion key."""
    return row.item.created_at, row.seq


def by_time_then_id(entity: Any) -> tuple[Any, Any]:
    """The order of every list but messages and bios: `created_at`, then id."""
    return entity.created_at, entity.id


def _drop(table: dict[Any, T], doomed: Callable[[T], bool]) -> None:
    for key in [k for k, row in table.items() if doomed(row)]:
        del table[key]
