"""The SQL storage adapter: one set of repositories, two ways to execute a unit of work.

* **SQLite** runs on the stdlib `sqlite3` driver, on the event loop's thread. A statement on a
  local file takes microseconds, far less than a hop to a driver thread and back (aiosqlite makes
  one per statement; see LIBRARY-NOTES "What a unit of work costs"). What can block is waiting for
  another process's write lock, so each unit of work starts with `BEGIN IMMEDIATE` (the only
  statement that waits): tried at once, and only when the database is busy retried in a worker
  thread under SQLite's busy timeout. Inside a process, units of work take turns on one connection
  (SQLite has one writer anyway); with WAL, readers in other processes are never blocked.
* **PostgreSQL** runs on asyncpg through SQLAlchemy's async engine: a pooled connection and one
  transaction per unit of work.

Both accept the URL forms of `dialect.normalize_url`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Dialect, create_engine, event, inspect
from sqlalchemy.engine import URL, Result
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import InterfaceError as SAInterfaceError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import Executable

from adapters.storage.sql.dialect import (
    POSTGRES,
    SQLITE,
    mask_url,
    normalize_url,
    translate_data_error,
    translate_integrity_error,
)
from adapters.storage.sql.repositories import (
    SqlAgentBios,
    SqlAgents,
    SqlMemories,
    SqlMessages,
    SqlProfileMetadata,
    SqlSessions,
    SqlUsers,
)
from adapters.storage.sql.tables import metadata
from domain.errors import StorageUnavailable
from domain.ports import AgentBios, Agents, Memories, Messages, ProfileMetadata, Sessions, Users

T = TypeVar("T")


class Executor(Protocol):
    """Runs one statement inside the current transaction; what the repositories are written on."""

    dialect_name: str

    async def execute(self, statement: Executable, params: Any = None) -> Result[Any]: ...


class _SyncExecutor:
    """Executes on a sync SQLAlchemy connection, inline (SQLite)."""

    dialect_name = SQLITE

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    async def execute(self, statement: Executable, params: Any = None) -> Result[Any]:
        try:
            return self._connection.execute(statement, params)
        except IntegrityError as e:
            raise translate_integrity_error(e) from None


class _AsyncExecutor:
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


class _Runs:
    """`run(work)` on top of `unit_of_work()`, shared by both storages."""

    def unit_of_work(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    async def run(self, work: Callable[[Any], Awaitable[T]]) -> T:
        async with self.unit_of_work() as uow:
            result = await work(uow)
            await uow.commit()
            return result


class SqliteStorage(_Runs):
    """SQLite in WAL mode, `foreign_keys=ON`, a busy timeout on every connection."""

    def __init__(self, url: str | URL, *, busy_timeout: float = 30.0) -> None:
        self.url = normalize_url(url)
        if self.url.get_backend_name() != SQLITE:
            raise ValueError(f"not a SQLite URL: {mask_url(self.url)}")
        self.busy_timeout = busy_timeout
        self.engine = create_engine(
            self.url.set(drivername="sqlite+pysqlite"),
            poolclass=StaticPool,  # one connection; units of work take turns on it
            connect_args={"check_same_thread": False},
        )
        _configure_sqlite(self.engine, busy_timeout)
        self._lock = asyncio.Lock()
        self._connection: Connection | None = None

    @property
    def dialect(self) -> Dialect:
        return self.engine.dialect

    def _connect(self) -> Connection:
        if self._connection is None or self._connection.closed:
            try:
                self._connection = self.engine.connect()
            except OperationalError as e:
                raise StorageUnavailable(f"cannot open {mask_url(self.url)}: {e.orig}") from None
        return self._connection

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[SqlUnitOfWork]:
        async with self._lock:
            connection = self._connect()
            await self._begin_immediate(connection)

            async def commit() -> None:
                connection.commit()

            async def rollback() -> None:
                connection.rollback()

            uow = SqlUnitOfWork(_SyncExecutor(connection), commit, rollback)
            try:
                yield uow
            finally:
                if not uow.done:
                    connection.rollback()

    async def _begin_immediate(self, connection: Connection) -> None:
        connection.begin()
        raw: Any = connection.connection.dbapi_connection
        raw.execute("PRAGMA busy_timeout = 0")
        try:
            raw.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as e:
            if not _is_busy(e):
                connection.rollback()
                raise
        finally:
            raw.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        # Another process holds the write lock: wait for it off the event loop.
        try:
            await asyncio.to_thread(raw.execute, "BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            connection.rollback()
            if _is_busy(e):
                raise StorageUnavailable(f"the database stayed locked for {self.busy_timeout:g} s") from None
            raise

    async def create_schema(self) -> None:
        """Create every table (tests and benchmarks; a service uses `agentkeep db upgrade`)."""
        metadata.create_all(self._connect())
        self._connect().commit()

    async def schema_revision(self) -> str | None:
        """The Alembic revision the database is at; None when it was never migrated."""
        async with self._lock:
            try:
                result = self._connect().exec_driver_sql(_REVISION).scalar()
                return None if result is None else str(result)
            except OperationalError:
                return None  # no alembic_version table
            finally:
                self._connect().rollback()

    async def close(self) -> None:
        async with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            self.engine.dispose()


class PostgresStorage(_Runs):
    """PostgreSQL over asyncpg, a pool of connections, one transaction per unit of work."""

    def __init__(self, url: str | URL, *, pool_size: int = 10, schema: str | None = None) -> None:
        self.url = normalize_url(url)
        if self.url.get_backend_name() != POSTGRES:
            raise ValueError(f"not a PostgreSQL URL: {mask_url(self.url)}")
        connect_args: dict[str, Any] = {}
        if schema is not None:
            connect_args["server_settings"] = {"search_path": schema}
        self.engine: AsyncEngine = create_async_engine(
            self.url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False, connect_args=connect_args
        )

    @property
    def dialect(self) -> Dialect:
        return self.engine.dialect

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[SqlUnitOfWork]:
        try:
            connection = await self.engine.connect()
        except (OSError, OperationalError, SAInterfaceError) as e:
            raise StorageUnavailable(f"cannot reach {mask_url(self.url)}: {e}") from None
        try:
            await connection.begin()
            uow = SqlUnitOfWork(_AsyncExecutor(connection), connection.commit, connection.rollback)
            try:
                yield uow
            finally:
                if not uow.done:
                    await connection.rollback()
        finally:
            await connection.close()

    async def create_schema(self) -> None:
        """Create every table (tests and benchmarks; a service uses `agentkeep db upgrade`)."""
        async with self.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)

    async def schema_revision(self) -> str | None:
        """The Alembic revision the database is at; None when it was never migrated."""
        try:
            async with self.engine.connect() as connection:
                exists = await connection.run_sync(lambda c: inspect(c).has_table("alembic_version"))
                if not exists:
                    return None
                result = (await connection.exec_driver_sql(_REVISION)).scalar()
                return None if result is None else str(result)
        except (OSError, OperationalError, SAInterfaceError) as e:
            raise StorageUnavailable(f"cannot reach {mask_url(self.url)}: {e}") from None

    async def close(self) -> None:
        await self.engine.dispose()


def open_storage(url: str | URL, **options: Any) -> SqliteStorage | PostgresStorage:
    """The storage for a database URL, SQLite or PostgreSQL, by its scheme."""
    normalized = normalize_url(url)
    if normalized.get_backend_name() == SQLITE:
        return SqliteStorage(normalized, **options)
    return PostgresStorage(normalized, **options)


_REVISION = "SELECT version_num FROM alembic_version"


def _is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return (code is not None and code & 0xFF == sqlite3.SQLITE_BUSY) or "database is locked" in str(error)


def _configure_sqlite(engine: Any, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (BEGIN IMMEDIATE); the driver must not open transactions.
        dbapi_connection.isolation_level = None
        for pragma in (
            "journal_mode = WAL",
            "synchronous = NORMAL",  # WAL stays consistent on a crash; only a power cut can lose the last commits
            "foreign_keys = ON",
            f"busy_timeout = {int(busy_timeout * 1000)}",
        ):
            dbapi_connection.execute(f"PRAGMA {pragma}")
