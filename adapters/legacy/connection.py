"""A legacy database opened for reading, SQLite or PostgreSQL, from any accepted URL form.

Nothing is ever written to a source: a SQLite file is opened read only (`mode=ro`, so a missing
file is an error and is never created) and only SELECTs and the connection's own temporary tables
are used. One connection serves the whole read, in autocommit, so temporary tables made at the
start live until `close()` and no read transaction stays open between batches (a long one would
keep a SQLite WAL from being checkpointed while agentkeep writes to the same file).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import URL, Row
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import Executable, TextClause

from agentkeep.adapters.storage.sql.dialect import POSTGRES, SQLITE, mask_url, normalize_url
from agentkeep.domain.errors import Invalid, NotFound, StorageUnavailable

T = TypeVar("T")


class SourceDatabase:
    """One read connection to a legacy database. `dialect` is `sqlite` or `postgresql`."""

    def __init__(self, url: str | URL) -> None:
        self.url = normalize_url(url)
        self.dialect = self.url.get_backend_name()
        self._sync: Connection | None = None
        self._async: AsyncConnection | None = None

    @property
    def masked_url(self) -> str:
        return mask_url(self.url)

    async def open(self) -> SourceDatabase:
        if self.dialect == SQLITE:
            self._sync = await asyncio.to_thread(self._open_sqlite)
        else:
            engine = create_async_engine(self.url, poolclass=StaticPool)
            try:
                self._async = await engine.connect()
            except (OSError, DBAPIError) as e:
                await engine.dispose()
                raise StorageUnavailable(f"cannot reach the source {self.masked_url}: {e}") from None
            await self._async.execution_options(isolation_level="AUTOCOMMIT")
            await self._async.exec_driver_sql("SET TIME ZONE 'UTC'")
        return self

    def _open_sqlite(self) -> Connection:
        database = self.url.database
        if not database or database == ":memory:":
            raise Invalid("the source must be a SQLite file", key="source_url")
        path = Path(database).resolve()
        if not path.is_file():
            raise NotFound(f"no SQLite database at {path}", key="source_url")
        engine = create_engine(
            URL.create("sqlite+pysqlite", database=f"file:{path}", query={"mode": "ro", "uri": "true"}),
            poolclass=StaticPool,
            connect_args={"check_same_thread": False},
            isolation_level="AUTOCOMMIT",
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Temporary tables on disk, not in this process's memory: a source may be large.
            dbapi_connection.execute("PRAGMA temp_store = FILE")
            dbapi_connection.execute("PRAGMA busy_timeout = 30000")

        try:
            return engine.connect()
        except DBAPIError as e:
            raise StorageUnavailable(f"cannot open the source {self.masked_url}: {e.orig}") from None

    async def fetch(self, statement: Executable | str, params: Any = None) -> list[Row[Any]]:
        """Every row of one statement (a batch: the caller bounds it with LIMIT)."""
        if self._sync is not None:
            sync = self._sync
            return await asyncio.to_thread(lambda: list(_execute(sync, statement, params)))
        assert self._async is not None, "open() the source first"
        if isinstance(statement, str):
            result = await self._async.exec_driver_sql(statement, params)
        else:
            result = await self._async.execute(statement, params)
        return list(result)

    async def fetch_as(
        self, query: TextClause, params: Mapping[str, Any], convert: Callable[[Sequence[Any]], T]
    ) -> list[T]:
        """Every row of one query (a batch), each turned into a value by `convert`. On SQLite the
        query runs on the driver's own cursor and `convert` in the reading thread, so a batch is
        read and converted while the caller goes on (the backfills read one batch ahead)."""
        if self._sync is not None:
            driver: Any = self._sync.connection.dbapi_connection
            sql = query.text  # named `:parameters`, which sqlite3 takes as they are
            return await asyncio.to_thread(lambda: [convert(row) for row in driver.execute(sql, params)])
        return [convert(row) for row in await self.fetch(query, params)]

    async def execute(self, statement: Executable | str, params: Any = None) -> None:
        """Run a statement that returns no rows (a temporary table of this connection)."""
        if self._sync is not None:
            sync = self._sync
            await asyncio.to_thread(lambda: _execute(sync, statement, params).close())
            return
        assert self._async is not None, "open() the source first"
        if isinstance(statement, str):
            await self._async.exec_driver_sql(statement, params)
        else:
            await self._async.execute(statement, params)

    async def table_names(self) -> set[str]:
        """The tables the source holds (in its default schema)."""
        if self.dialect == SQLITE:
            rows = await self.fetch("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = await self.fetch(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            )
        return {str(row[0]) for row in rows}

    async def close(self) -> None:
        if self._sync is not None:
            sync, self._sync = self._sync, None
            await asyncio.to_thread(sync.close)
            sync.engine.dispose()
        if self._async is not None:
            connection, self._async = self._async, None
            await connection.close()
            await connection.engine.dispose()


def _execute(connection: Connection, statement: Executable | str, params: Any) -> Any:
    if isinstance(statement, str):
        return connection.exec_driver_sql(statement, params)
    return connection.execute(statement, params)


async def open_source(url: str | URL) -> SourceDatabase:
    """The legacy database at `url`, opened for reading. NotFound for a missing SQLite file."""
    source = SourceDatabase(url)
    if source.dialect not in (SQLITE, POSTGRES):
        raise Invalid(f"unsupported source {source.masked_url}", key="source_url")
    return await source.open()
