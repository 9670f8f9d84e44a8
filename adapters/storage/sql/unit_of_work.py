"""What both SQL storages share: the unit of work that assembles the repositories of one
transaction on its executor (the backfills' batch writes on its bulk writer), and
`UnitOfWorkRunner` (`run(work)`). How a statement runs and fails: `errors.py`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from agentkeep.adapters.storage.aborting import Abort
from agentkeep.adapters.storage.sql.bulk_writer import BulkWriter
from agentkeep.adapters.storage.sql.executor import Executor
from agentkeep.adapters.storage.sql.repositories.agents import SqlAgentBios, SqlAgents, SqlProfileMetadata
from agentkeep.adapters.storage.sql.repositories.idempotency import SqlIdempotencyKeys
from agentkeep.adapters.storage.sql.repositories.memories import SqlMemories
from agentkeep.adapters.storage.sql.repositories.messages import SqlMessages
from agentkeep.adapters.storage.sql.repositories.run_events import SqlRunEvents
from agentkeep.adapters.storage.sql.repositories.runs import SqlRuns
from agentkeep.adapters.storage.sql.repositories.sessions import SqlSessions
from agentkeep.adapters.storage.sql.repositories.users import SqlUsers
from agentkeep.domain.models import Message, Run
from agentkeep.domain.patches import RunPatch
from agentkeep.domain.ports import (
    AgentBiosBackfill,
    AgentsBackfill,
    IdempotencyKeys,
    MemoriesBackfill,
    MessagesBackfill,
    ProfileMetadataBackfill,
    RunEvents,
    Runs,
    SessionsBackfill,
    UsersBackfill,
)

#: The schema revision Alembic stamped (the storages' `schema_revision()`).
REVISION_QUERY = "SELECT version_num FROM alembic_version"

T = TypeVar("T")


class SqlUnitOfWork:
    """The repositories of one transaction. Leaving it without `commit()` rolls back. Once a
    repository raised, every call and `commit()` raise, as PostgreSQL refuses every statement
    after a failed one (`adapters.storage.aborting`): SQLite does the same through it."""

    def __init__(
        self,
        executor: Executor,
        bulk_writer: BulkWriter,
        commit: Callable[[], Awaitable[None]],
        rollback: Callable[[], Awaitable[None]],
    ):
        users, messages = SqlUsers(executor, bulk_writer), SqlMessages(executor)
        runs = SqlRuns(executor, messages=messages)
        self._abort = abort = Abort()
        self.users: UsersBackfill = abort.guard(users)
        self.agents: AgentsBackfill = abort.guard(SqlAgents(executor, bulk_writer))
        self.bios: AgentBiosBackfill = abort.guard(SqlAgentBios(executor, bulk_writer))
        self.profile_metadata: ProfileMetadataBackfill = abort.guard(SqlProfileMetadata(executor, bulk_writer))
        # A session may be added with its new owner, its first message and its run (one statement
        # on PostgreSQL): on SQLite it adds them through their own repositories.
        self.sessions: SessionsBackfill = abort.guard(
            SqlSessions(executor, bulk_writer, users=users, messages=messages, runs=runs)
        )
        self.messages: MessagesBackfill = abort.guard(messages)
        self.memories: MemoriesBackfill = abort.guard(SqlMemories(executor, bulk_writer))
        self.idempotency_keys: IdempotencyKeys = abort.guard(SqlIdempotencyKeys(executor))
        self.runs: Runs = abort.guard(runs)
        self.run_events: RunEvents = abort.guard(SqlRunEvents(executor))
        self._commit = commit
        self._rollback = rollback
        self.done = False

    async def commit(self) -> None:
        self._abort.check()
        await self._commit()
        self.done = True

    async def rollback(self) -> None:
        await self._rollback()
        self.done = True


class UnitOfWorkRunner:
    """What both SQL storages build on their `unit_of_work()`: `run(work)` runs `work` in one unit
    of work and commits it when `work` returns (rolls back when it raises); `finish_run` is such a
    run."""

    def unit_of_work(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    async def run(self, work: Callable[[Any], Awaitable[T]]) -> T:
        async with self.unit_of_work() as uow:
            result = await work(uow)
            await uow.commit()
            return result

    async def finish_run(self, run: Run, patch: RunPatch, token: str, reply: Message | None = None) -> bool:
        return await self.run(lambda uow: uow.runs.finish(run, patch, token=token, reply=reply))
