"""What both SQL storages share: the executor the repositories are written on, the unit of work
that holds them, and `run(work)`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection
from sqlalchemy.engine import Result
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from adapters.storage.sql.dialect import POSTGRES, SQLITE, translate_data_error, translate_integrity_error
from adapters.storage.sql.repositories import (
    SqlAgentBios,
    SqlAgents,
    SqlMemories,
    SqlMessages,
    SqlProfileMetadata,
    SqlSessions,
    SqlUsers,
)
from domain.ports import AgentBios, Agents, Memories, Messages, ProfileMetadata, Sessions, Users

#: The schema revision Alembic stamped (the storages' `schema_revision()`).
REVISION_QUERY = "SELECT version_num FROM alembic_version"

T = TypeVar("T")


class Executor(Protocol):
    """Runs one statement inside the current transaction; what the repositories are written on."""

    dialect_name: str

    async def execute(self, statement: Executable, params: Any = None) -> Result[Any]: ...


class SyncExecutor:
    """Executes on a sync SQLAlchemy connection, inline (SQLite)."""

    dialect_name = SQLITE

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    async def execute(self, statement: Executable, params: Any = None) -> Result[Any]:
        try:
            return self._connection.execute(statement, params)
        except IntegrityError as e:
            raise translate_integrity_error(e) from None


class AsyncExecutor:
    """Executes on an async SQLAlchemy connection (PostgreSQL over asyncpg)."""

    dialect_name = POSTGRES

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def execute(self, statement: Executable, params: Any = None) -> Result[Any]:
        try:
            return await self._connection.execute(statement, params)
        except IntegrityError as e:
            raise translate_integrity_error(e) from None
        except DBAPIError as e:
            translated = translate_data_error(e)
            if translated is None:
                raise
            raise translated from None


class SqlUnitOfWork:
    """The repositories of one transaction. Leaving it without `commit()` rolls back."""

    def __init__(
        self, executor: Executor, commit: Callable[[], Awaitable[None]], rollback: Callable[[], Awaitable[None]]
    ):
        self.users: Users = SqlUsers(executor)
        self.agents: Agents = SqlAgents(executor)
        self.bios: AgentBios = SqlAgentBios(executor)
        self.profiles: ProfileMetadata = SqlProfileMetadata(executor)
        self.sessions: Sessions = SqlSessions(executor)
        self.messages: Messages = SqlMessages(executor)
        self.memories: Memories = SqlMemories(executor)
        self._commit = commit
        self._rollback = rollback
        self.done = False

    async def commit(self) -> None:
        await self._commit()
        self.done = True

    async def rollback(self) -> None:
        await self._rollback()
        self.done = True


class RunsWork:
    """`run(work)` on top of `unit_of_work()`, shared by both storages."""

    def unit_of_work(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    async def run(self, work: Callable[[Any], Awaitable[T]]) -> T:
        async with self.unit_of_work() as uow:
            result = await work(uow)
            await uow.commit()
            return result
