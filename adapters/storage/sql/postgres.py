"""PostgreSQL storage: asyncpg through SQLAlchemy's async engine, a pooled connection and one
transaction per unit of work, opened on the asyncpg connection itself."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import Dialect
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from agentkeep.adapters.storage.sql.bulk_writer import PostgresBulkWriter
from agentkeep.adapters.storage.sql.checkout_gate import CheckoutGate
from agentkeep.adapters.storage.sql.dialect import POSTGRES, json_dumps, json_loads, mask_url, normalize_url
from agentkeep.adapters.storage.sql.errors import Translated
from agentkeep.adapters.storage.sql.executor import AsyncExecutor
from agentkeep.adapters.storage.sql.repositories.messages import SqlMessages
from agentkeep.adapters.storage.sql.repositories.runs import SqlRuns
from agentkeep.adapters.storage.sql.tables import metadata
from agentkeep.adapters.storage.sql.unit_of_work import REVISION_QUERY, SqlUnitOfWork, UnitOfWorkRunner
from agentkeep.domain.errors import StorageUnavailable
from agentkeep.domain.models import Message, Run
from agentkeep.domain.patches import RunPatch


class PostgresStorage(UnitOfWorkRunner):
    """PostgreSQL over asyncpg, a pool of connections, one transaction per unit of work.

    The pool holds up to `pool_size` connections and keeps every one it opened: none is an
    "overflow" connection, which SQLAlchemy closes when it is given back. Under load an overflow
    pool opens and closes connections all the time (a server process, a TLS attempt and the
    codecs' set-up each), which cost 15% of the requests/s of first runs and raised their p99 by a
    quarter, measured. Checkouts pass a `CheckoutGate` as large as the pool, so that a freed
    connection goes to a run's reply before a new unit of work (`checkout_gate.py`).
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

        self._gate = CheckoutGate(pool_size)
        # Reaching the database at all: whatever fails there, it is unavailable (refused, turned
        # away: no such database, a bad password; `errors.py`).
        self._reaching = Translated(lambda: True, what=f"cannot reach {mask_url(self.url)}")

    @property
    def dialect(self) -> Dialect:
        return self.engine.dialect

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[SqlUnitOfWork]:
        async with self._executor() as executor:
            driver = executor.driver
            transaction = driver.transaction()
            with executor.translated:
                await transaction.start()

            async def commit() -> None:
                with executor.translated:
                    await transaction.commit()

            async def rollback() -> None:
                with executor.translated:
                    await transaction.rollback()

            bulk_writer = PostgresBulkWriter(executor)
            uow = SqlUnitOfWork(executor, bulk_writer, commit, rollback)
            try:
                yield uow
            except asyncio.CancelledError:
                # A statement cancelled mid-flight leaves the connection busy cancelling it: no
                # rollback on it (asyncpg would refuse it, hiding the cancellation), and it is
                # thrown away (the server rolls the transaction back as the connection closes).
                executor.broken = True
                raise
            finally:
                if not uow.done and not executor.broken:
                    # Lost now: the server rolls back by itself, and the first error is the one
                    # to report.
                    with contextlib.suppress(StorageUnavailable):
                        await rollback()

    async def finish_run(self, run: Run, patch: RunPatch, token: str, reply: Message | None = None) -> bool:
        # One statement (`SqlRuns.finish`), atomic by itself in autocommit: no BEGIN and no
        # COMMIT, two round trips fewer per run.
        async with self._executor(reply=True) as executor:
            return await SqlRuns(executor, messages=SqlMessages(executor)).finish(run, patch, token=token, reply=reply)

    @asynccontextmanager
    async def _executor(self, *, reply: bool = False) -> AsyncIterator[AsyncExecutor]:
        """A live pooled connection, in autocommit, until the block ends; thrown out of the pool
        instead of given back when it broke (lost, or left mid-statement by a cancellation). A
        `reply` is first in line for it."""
        async with self._gate.place(reply=reply), self._connection() as executor:
            yield executor

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncExecutor]:
        connection, driver = await self._checkout()
        executor = AsyncExecutor(connection, driver)
        try:
            yield executor
        except asyncio.CancelledError:
            executor.broken = True
            raise
        finally:
            if executor.broken or driver.is_closed():
                await _discard(connection, driver)
            else:
                await connection.close()

    async def _checkout(self) -> tuple[AsyncConnection, asyncpg.Connection]:
        """A pooled connection that is still open. One the server closed while it sat in the pool
        (a restart, a failover, an idle-connection reaper: asyncpg saw its socket close) is thrown
        away and the next one taken; no round trip is spent on checking a live one."""
        for _ in range(self.engine.pool.size() + 1):  # type: ignore[attr-defined]
            with self._reaching:
                connection = await self.engine.connect()
                try:
                    driver = (await connection.get_raw_connection()).driver_connection
                except BaseException:
                    await connection.close()
                    raise
            assert driver is not None  # an open connection has its asyncpg connection
            if not driver.is_closed():
                return connection, driver
            await _discard(connection, driver)
        raise StorageUnavailable(f"every connection to {mask_url(self.url)} was closed")

    async def create_schema(self) -> None:
        """Create every table (tests and benchmarks; a service uses `agentkeep db upgrade`)."""
        async with self.engine.begin() as connection:
            await connection.run_sync(metadata.create_all)

    async def schema_revision(self) -> str | None:
        """The Alembic revision the database is at; None when it was never migrated."""
        async with self._executor() as executor:
            with self._reaching, executor.translated:
                if await executor.driver.fetchval("SELECT to_regclass('alembic_version')") is None:
                    return None
                result = await executor.driver.fetchval(REVISION_QUERY)
                return None if result is None else str(result)

    async def close(self) -> None:
        await self.engine.dispose()


async def _discard(connection: AsyncConnection, driver: asyncpg.Connection) -> None:
    """Close a broken connection at once (no goodbye to a server that may be gone, no wait for a
    cancellation to be acknowledged) and take it out of the pool."""
    driver.terminate()
    await connection.invalidate()
    await connection.close()
