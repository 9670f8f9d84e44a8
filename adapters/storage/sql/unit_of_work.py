"""What both SQL storages share: the executor the repositories are written on, the unit of work
that holds them, and `run(work)`."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

import asyncpg
from sqlalchemy import Connection
from sqlalchemy.engine import Result
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from agentkeep.adapters.storage.sql import large_writes
from agentkeep.adapters.storage.sql.dialect import POSTGRES, SQLITE, translate_data_error, translate_integrity_error
from agentkeep.adapters.storage.sql.prepared import Prepared
from agentkeep.adapters.storage.sql.repositories import (
    SqlAgentBios,
    SqlAgents,
    SqlIdempotencyKeys,
    SqlMemories,
    SqlMessages,
    SqlProfileMetadata,
    SqlSessions,
    SqlUsers,
)
from agentkeep.domain.errors import StorageUnavailable
from agentkeep.domain.models import Message
from agentkeep.domain.ports import (
    AgentBios,
    Agents,
    IdempotencyKeys,
    Memories,
    Messages,
    ProfileMetadata,
    Sessions,
    Users,
)

#: The schema revision Alembic stamped (the storages' `schema_revision()`).
REVISION_QUERY = "SELECT version_num FROM alembic_version"

T = TypeVar("T")
#: No parameters.
EMPTY: Mapping[str, Any] = MappingProxyType({})


class Executor(Protocol):
    """Runs statements inside the current transaction; what the repositories are written on.
    `execute` takes any Core statement; `rows` and `write` take a `Prepared` one (the hot paths)."""

    dialect_name: str

    async def execute(self, statement: Executable, params: Any = None) -> Result[Any]: ...

    async def rows(self, query: Prepared, params: Mapping[str, Any] = EMPTY) -> list[dict[str, Any]]:
        """The rows a SELECT (or a statement with RETURNING) gives, as dicts."""
        ...

    async def write(self, query: Prepared, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] = EMPTY) -> int:
        """Run an INSERT, UPDATE or DELETE (an executemany for a list of parameter sets); the
        number of rows it changed, -1 when the driver does not tell (an executemany on asyncpg)."""
        ...

    async def write_bound(self, query: Prepared, rows: Sequence[Sequence[Any]]) -> None:
        """An executemany of parameter sets already bound: positional, in the order of the
        statement's parameters (`Compiled.names`), in the driver's form (`bulk.Write`)."""
        ...


class SyncExecutor:
    """Executes on a sync SQLAlchemy connection, inline (SQLite); `Prepared` statements go to
    the `sqlite3` connection underneath it directly, in the same transaction."""

    dialect_name = SQLITE

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._dialect = connection.dialect
        self._driver: sqlite3.Connection = connection.connection.dbapi_connection  # type: ignore[assignment]

    async def execute(self, statement: Executable, params: Any = None) -> Result[Any]:
        try:
            return self._connection.execute(statement, params)
        except IntegrityError as e:
            raise translate_integrity_error(e) from None

    async def rows(self, query: Prepared, params: Mapping[str, Any] = EMPTY) -> list[dict[str, Any]]:
        compiled = query.compiled(self._dialect)
        with _translated_sqlite_errors():
            cursor = self._driver.execute(compiled.sql, compiled.bind(params))
            return compiled.decode(cursor.fetchall())

    async def write(self, query: Prepared, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] = EMPTY) -> int:
        compiled = query.compiled(self._dialect)
        with _translated_sqlite_errors():
            if isinstance(params, Mapping):
                cursor = self._driver.execute(compiled.sql, compiled.bind(params))
            else:
                cursor = self._driver.executemany(compiled.sql, [compiled.bind(p) for p in params])
        return cursor.rowcount

    async def write_bound(self, query: Prepared, rows: Sequence[Sequence[Any]]) -> None:
        """Few rows: an executemany, inline; many rows of an INSERT: off the event loop
        (`large_writes.py`)."""
        compiled = query.compiled(self._dialect)
        with _translated_sqlite_errors():
            if not await large_writes.insert(self._driver, compiled.sql, rows):
                self._driver.executemany(compiled.sql, rows)


@contextmanager
def _translated_sqlite_errors() -> Iterator[None]:
    """sqlite3's integrity errors as domain errors (see `dialect.py`); a failing database (a full
    disk, an I/O error) as `StorageUnavailable`."""
    try:
        yield
    except sqlite3.IntegrityError as e:
        raise translate_integrity_error(e) from None
    except sqlite3.OperationalError as e:
        raise StorageUnavailable(f"the database failed: {e}") from None


class AsyncExecutor:
    """Executes on an async SQLAlchemy connection in autocommit mode (PostgreSQL over asyncpg),
    inside the transaction the storage opened on the asyncpg connection underneath; `Prepared`
    statements go to that asyncpg connection directly (its own prepared-statement cache)."""

    dialect_name = POSTGRES

    def __init__(self, connection: AsyncConnection, driver: asyncpg.Connection) -> None:
        self._connection = connection
        self._dialect = connection.dialect
        self._driver = driver

    @property
    def driver(self) -> asyncpg.Connection:
        """The asyncpg connection underneath."""
        return self._driver

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

    async def rows(self, query: Prepared, params: Mapping[str, Any] = EMPTY) -> list[dict[str, Any]]:
        compiled = query.compiled(self._dialect)
        with _translated_asyncpg_errors():
            return compiled.decode(await self._driver.fetch(compiled.sql, *compiled.bind(params)))

    async def write(self, query: Prepared, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] = EMPTY) -> int:
        compiled = query.compiled(self._dialect)
        if not isinstance(params, Mapping) and len(params) == 1:
            params = params[0]  # an executemany costs asyncpg more than one execute
        with _translated_asyncpg_errors():
            if not isinstance(params, Mapping):
                await self._driver.executemany(compiled.sql, [compiled.bind(p) for p in params])
                return -1  # asyncpg does not count the rows of an executemany
            status = await self._driver.execute(compiled.sql, *compiled.bind(params))
        # "UPDATE 3", "DELETE 0", "INSERT 0 1": the count is last.
        return int(status.rsplit(" ", 1)[-1])

    async def write_bound(self, query: Prepared, rows: Sequence[Sequence[Any]]) -> None:
        compiled = query.compiled(self._dialect)
        with _translated_asyncpg_errors():
            if len(rows) == 1:
                await self._driver.execute(compiled.sql, *rows[0])  # cheaper than an executemany of one
            else:
                await self._driver.executemany(compiled.sql, rows)


@contextmanager
def _translated_asyncpg_errors() -> Iterator[None]:
    """asyncpg's integrity and data errors as domain errors (see `dialect.py`)."""
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as e:
        raise translate_integrity_error(e) from None
    except asyncpg.DataError as e:
        raise translate_data_error(e) or e from None
    except (OSError, asyncpg.PostgresConnectionError, asyncpg.ConnectionDoesNotExistError) as e:
        raise StorageUnavailable(f"lost the database connection: {e}") from None


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
        self.idempotency_keys: IdempotencyKeys = SqlIdempotencyKeys(executor)
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

    async def add_reply(self, message: Message, token: str) -> None:
        await self.run(lambda uow: uow.messages.add_reply(message, token))
