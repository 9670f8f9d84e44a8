"""PostgreSQL storage: asyncpg through SQLAlchemy's async engine, a pooled connection and one
transaction per unit of work, opened on the asyncpg connection itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Dialect, inspect
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from agentkeep.adapters.storage.sql.dialect import POSTGRES, json_dumps, json_loads, mask_url, normalize_url
from agentkeep.adapters.storage.sql.repositories import SqlMessages
from agentkeep.adapters.storage.sql.tables import metadata
from agentkeep.adapters.storage.sql.unit_of_work import REVISION_QUERY, AsyncExecutor, RunsWork, SqlUnitOfWork
from agentkeep.domain.errors import StorageUnavailable
from agentkeep.domain.models import Message


class PostgresStorage(RunsWork):
    """PostgreSQL over asyncpg, a pool of connections, one transaction per unit of work.

    The pool holds up to `pool_size` connections and keeps every one it opened: none is an
    "overflow" connection, which SQLAlchemy closes when it is given back. Under load an overflow
    pool opens and closes connections all the time (a server process, a TLS attempt and the
    codecs' set-up each), which cost 15% of the requests/s of first runs and raised their p99 by a
    quarter, measured.
    """

    POOL_SIZE = 20

    def __init__(self, url: str | URL, *, pool_size: int = POOL_SIZE, schema: str | None = None) -> None:
        self.url = normalize_url(url)
        if self.url.get_backend_name() != POSTGRES:
            raise ValueError(f"not a PostgreSQL URL: {mask_url(self.url)}")
        connect_args: dict[str, Any] = {}
        if schema is not None:
            connect_args["server_settings"] = {"search_path": schema}
        # AUTOCOMMIT: SQLAlchemy opens no transaction of its own; each unit of work opens one on
        # the asyncpg connection, and SQLAlchemy's statements run inside it.
        self.engine: AsyncEngine = create_async_engine(
            self.url,
            pool_size=pool_size,
            max_overflow=0,
            pool_pre_ping=False,
            connect_args=connect_args,
            isolation_level="AUTOCOMMIT",
            json_serializer=json_dumps,
            json_deserializer=json_loads,  # asyncpg's JSONB codec decodes every value with it
        )

    @property
    def dialect(self) -> Dialect:
        return self.engine.dialect

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[SqlUnitOfWork]:
        async with self._executor() as executor:
            driver = executor.driver
            transaction = driver.transaction()
            await transaction.start()
            uow = SqlUnitOfWork(executor, transaction.commit, transaction.rollback)
            try:
                yield uow
            finally:
                # A statement cancelled mid-flight (the task was cancelled) closes the asyncpg
                # connection, and the server rolls its transaction back itself: a rollback would
                # fail, and its InterfaceError would hide the cancellation.
                if not uow.done and not driver.is_closed():
                    await transaction.rollback()

    async def add_reply(self, message: Message, token: str) -> None:
        # One statement (`SqlMessages.add_reply`), atomic by itself in autocommit: no BEGIN and
        # no COMMIT, two round trips fewer per run.
        async with self._executor() as executor:
            await SqlMessages(executor).add_reply(message, token)

    @asynccontextmanager
    async def _executor(self) -> AsyncIterator[AsyncExecutor]:
        """A pooled connection, in autocommit, until the block ends."""
        try:
            connection = await self.engine.connect()
        except (OSError, DBAPIError) as e:  # refused, or turned away: no such database, a bad password
            raise StorageUnavailable(f"cannot reach {mask_url(self.url)}: {e}") from None
        try:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None  # an open connection has its asyncpg connection
            yield AsyncExecutor(connection, driver)
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
                result = (await connection.exec_driver_sql(REVISION_QUERY)).scalar()
                return None if result is None else str(result)
        except (OSError, DBAPIError) as e:
            raise StorageUnavailable(f"cannot reach {mask_url(self.url)}: {e}") from None

    async def close(self) -> None:
        await self.engine.dispose()
