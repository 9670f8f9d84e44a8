"""The in-memory storage: a real implementation of the storage ports, for tests and embedding.

Units of work take turns (one `asyncio.Lock`), as SQLite's single writer does. Each works on a copy
of the tables; `commit()` swaps the copy in, and leaving without commit discards it. That gives
every unit of work the isolation and atomicity the SQL adapters get from a transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from agentkeep.adapters.storage.aborting import Abort
from agentkeep.adapters.storage.memory.repositories import (
    MemoryAgentBios,
    MemoryAgents,
    MemoryIdempotencyKeys,
    MemoryMemories,
    MemoryMessages,
    MemoryProfileMetadata,
    MemoryRunEvents,
    MemoryRuns,
    MemorySessions,
    MemoryUsers,
)
from agentkeep.adapters.storage.memory.state import Tables, UnitOfWorkTables
from agentkeep.domain.models import Message, Run
from agentkeep.domain.patches import RunPatch
from agentkeep.domain.ports.backfill import (
    AgentBiosBackfill,
    AgentsBackfill,
    MemoriesBackfill,
    MessagesBackfill,
    ProfileMetadataBackfill,
    SessionsBackfill,
    UsersBackfill,
)
from agentkeep.domain.ports.idempotency_keys import IdempotencyKeys
from agentkeep.domain.ports.run_events import RunEvents
from agentkeep.domain.ports.runs import Runs
from agentkeep.domain.ports.unit_of_work import UnitOfWork

T = TypeVar("T")


class MemoryUnitOfWork:
    """The repositories of one unit of work, over its own copy of the tables (the runtime and
    the backfill ports both). Once a repository raised, it refuses every call, as PostgreSQL
    does (`adapters.storage.aborting`)."""

    def __init__(self, storage: MemoryStorage) -> None:
        self._storage = storage
        self._uow_tables = uow_tables = UnitOfWorkTables(storage.tables.copy())
        self._abort = abort = Abort()
        self.users: UsersBackfill = abort.guard(MemoryUsers(uow_tables))
        self.agents: AgentsBackfill = abort.guard(MemoryAgents(uow_tables))
        self.bios: AgentBiosBackfill = abort.guard(MemoryAgentBios(uow_tables))
        self.profile_metadata: ProfileMetadataBackfill = abort.guard(MemoryProfileMetadata(uow_tables))
        self.sessions: SessionsBackfill = abort.guard(MemorySessions(uow_tables))
        self.messages: MessagesBackfill = abort.guard(MemoryMessages(uow_tables))
        self.memories: MemoriesBackfill = abort.guard(MemoryMemories(uow_tables))
        self.idempotency_keys: IdempotencyKeys = abort.guard(MemoryIdempotencyKeys(uow_tables))
        self.runs: Runs = abort.guard(MemoryRuns(uow_tables))
        self.run_events: RunEvents = abort.guard(MemoryRunEvents(uow_tables))

    async def commit(self) -> None:
        self._abort.check()
        self._storage.tables = self._uow_tables.tables
        # Work after a commit goes on in a new transaction, as it does on a SQL connection.
        self._uow_tables.tables = self._storage.tables.copy()

    async def rollback(self) -> None:
        self._uow_tables.tables = self._storage.tables.copy()


class MemoryStorage:
    """Every table in process memory; nothing survives `close()` or the process."""

    def __init__(self) -> None:
        self.tables = Tables()
        self._lock = asyncio.Lock()
        self._closed = False

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[MemoryUnitOfWork]:
        if self._closed:
            raise RuntimeError("the storage is closed")
        async with self._lock:
            # Leaving without commit() drops the unit of work's copy: nothing to undo.
            yield MemoryUnitOfWork(self)

    async def run(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run `work` in one unit of work and commit when it returns (roll back when it raises)."""
        async with self.unit_of_work() as uow:
            result = await work(uow)
            await uow.commit()
            return result

    async def finish_run(self, run: Run, patch: RunPatch, token: str, reply: Message | None = None) -> bool:
        return await self.run(lambda uow: uow.runs.finish(run, patch, token=token, reply=reply))

    async def close(self) -> None:
        async with self._lock:
            self._closed = True
            self.tables = Tables()
