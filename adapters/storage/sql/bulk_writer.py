"""The backfills' bulk writes (migrate-agents, import-automagik), apart from the executor.

Only the batch methods of the `*Backfill` ports (`add_many`, `update_many`, `upsert_many`) write
through a `BulkWriter`; every statement of a request goes through the executor (`executor.py`).
A bulk write is one executemany of parameter sets already bound (`repositories/bulk.BatchWrite`:
positional, in the statement's order, in the driver's form), on the driver itself, inside the
unit of work's transaction, its errors translated as every other statement's (`errors.py`).

On SQLite a write of many rows runs off the event loop as multi-row INSERTs (`large_writes.py`),
so a backfill plans its next batch meanwhile; on PostgreSQL it is asyncpg's executemany.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import Connection

from agentkeep.adapters.storage.sql import large_writes
from agentkeep.adapters.storage.sql.errors import translated
from agentkeep.adapters.storage.sql.executor import AsyncExecutor
from agentkeep.adapters.storage.sql.prepared import Prepared


class BulkWriter(Protocol):
    """Writes a batch of parameter sets with one statement, in the current transaction."""

    async def write(self, query: Prepared, rows: Sequence[Sequence[Any]]) -> None:
        """An executemany of `query` over `rows`: parameter sets already bound, positional in the
        order of the statement's parameters (`Compiled.names`), in the driver's form."""
        ...


class SqliteBulkWriter:
    """Inline on the `sqlite3` connection for few rows; many rows of an INSERT off the event loop
    (`large_writes.py`)."""

    def __init__(self, connection: Connection) -> None:
        self._dialect = connection.dialect
        self._driver: sqlite3.Connection = connection.connection.dbapi_connection  # type: ignore[assignment]

    async def write(self, query: Prepared, rows: Sequence[Sequence[Any]]) -> None:
        compiled = query.compiled(self._dialect)
        with translated:
            if not await large_writes.insert(self._driver, compiled.sql, rows):
                self._driver.executemany(compiled.sql, rows)


class PostgresBulkWriter:
    """asyncpg's executemany, translated by the executor's own `translated` (so a lost connection
    marks it broken, and the storage throws it away)."""

    def __init__(self, executor: AsyncExecutor) -> None:
        self._dialect = executor.dialect
        self._driver = executor.driver
        self._translated = executor.translated

    async def write(self, query: Prepared, rows: Sequence[Sequence[Any]]) -> None:
        compiled = query.compiled(self._dialect)
        with self._translated:
            if len(rows) == 1:
                await self._driver.execute(compiled.sql, *rows[0])  # cheaper than an executemany of one
            else:
                await self._driver.executemany(compiled.sql, rows)
