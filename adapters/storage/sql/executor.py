"""The executor the repositories are written on, one per dialect: it runs `Prepared` statements on
the driver itself, inside the transaction its storage opened, and raises every driver error as a
domain error. How a repository method runs its statements: `errors.py`; the backfills' bulk
writes alone go through a `bulk_writer.BulkWriter` instead."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Protocol

import asyncpg
from sqlalchemy import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from agentkeep.adapters.storage.sql.dialect import POSTGRES, SQLITE
from agentkeep.adapters.storage.sql.errors import Translated, translated
from agentkeep.adapters.storage.sql.prepared import Prepared

#: No parameters.
EMPTY: Mapping[str, Any] = MappingProxyType({})


class Executor(Protocol):
    """Runs `Prepared` statements inside the current transaction, on the driver itself; what the
    repositories are written on. Each raises a driver error as the domain error it means
    (`errors.py`)."""

    dialect_name: str

    async def rows(self, query: Prepared, params: Mapping[str, Any] = EMPTY) -> list[dict[str, Any]]:
        """The rows a SELECT (or a statement with RETURNING) gives, as dicts."""
        ...

    async def write(self, query: Prepared, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] = EMPTY) -> int:
        """Run an INSERT, UPDATE or DELETE (an executemany for a list of parameter sets); the
        number of rows it changed, -1 when the driver does not tell (an executemany on asyncpg)."""
        ...


class SyncExecutor:
    """Executes inline on the `sqlite3` connection under a sync SQLAlchemy one (SQLite), in the
    transaction its storage opened."""

    dialect_name = SQLITE

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._dialect = connection.dialect
        self._driver: sqlite3.Connection = connection.connection.dbapi_connection  # type: ignore[assignment]

    async def rows(self, query: Prepared, params: Mapping[str, Any] = EMPTY) -> list[dict[str, Any]]:
        compiled = query.compiled(self._dialect)
        with translated:
            cursor = self._driver.execute(compiled.sql, compiled.bind(params))
            return compiled.decode(cursor.fetchall())

    async def write(self, query: Prepared, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] = EMPTY) -> int:
        compiled = query.compiled(self._dialect)
        with translated:
            if isinstance(params, Mapping):
                cursor = self._driver.execute(compiled.sql, compiled.bind(params))
            else:
                cursor = self._driver.executemany(compiled.sql, [compiled.bind(p) for p in params])
        return cursor.rowcount


class AsyncExecutor:
    """Executes on the asyncpg connection under an async SQLAlchemy one (PostgreSQL), inside the
    transaction the storage opened on it (asyncpg's own prepared-statement cache).

    `broken` turns true once the connection failed as `StorageUnavailable` (lost, terminated,
    the server out of resources): the storage then throws it away instead of giving it back to
    the pool."""

    dialect_name = POSTGRES

    def __init__(self, connection: AsyncConnection, driver: asyncpg.Connection) -> None:
        self._connection = connection
        self._dialect = connection.dialect
        self._driver = driver
        self.broken = False
        self.translated = Translated(driver.is_closed, self._break)

    def _break(self) -> None:
        self.broken = True

    @property
    def dialect(self) -> Dialect:
        """SQLAlchemy's dialect of the connection, that statements compile for."""
        return self._dialect

    @property
    def driver(self) -> asyncpg.Connection:
        """The asyncpg connection underneath."""
        return self._driver

    async def rows(self, query: Prepared, params: Mapping[str, Any] = EMPTY) -> list[dict[str, Any]]:
        compiled = query.compiled(self._dialect)
        with self.translated:
            return compiled.decode(await self._driver.fetch(compiled.sql, *compiled.bind(params)))

    async def write(self, query: Prepared, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] = EMPTY) -> int:
        compiled = query.compiled(self._dialect)
        if not isinstance(params, Mapping) and len(params) == 1:
            params = params[0]  # an executemany costs asyncpg more than one execute
        with self.translated:
            if not isinstance(params, Mapping):
                await self._driver.executemany(compiled.sql, [compiled.bind(p) for p in params])
                return -1  # asyncpg does not count the rows of an executemany
            status = await self._driver.execute(compiled.sql, *compiled.bind(params))
        # "UPDATE 3", "DELETE 0", "INSERT 0 1": the count is last.
        return int(status.rsplit(" ", 1)[-1])
