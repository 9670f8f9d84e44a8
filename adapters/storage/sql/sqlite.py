"""SQLite storage: the stdlib `sqlite3` driver, inline on the event loop, `BEGIN IMMEDIATE` per
transaction, units of work committed in groups (see `database.py` for why)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.pool import StaticPool

from agentkeep.adapters.storage.sql.bulk_writer import SqliteBulkWriter
from agentkeep.adapters.storage.sql.dialect import SQLITE, json_dumps, json_loads, mask_url, normalize_url
from agentkeep.adapters.storage.sql.errors import Translated, translated
from agentkeep.adapters.storage.sql.executor import SyncExecutor
from agentkeep.adapters.storage.sql.tables import metadata
from agentkeep.adapters.storage.sql.unit_of_work import REVISION_QUERY, SqlUnitOfWork, UnitOfWorkRunner
from agentkeep.domain.errors import StorageUnavailable

#: Every connection's settings but its busy timeout (the benchmarks' floors use them too).
PRAGMAS = (
    "journal_mode = WAL",
    "synchronous = NORMAL",  # WAL stays consistent on a crash; only a power cut can lose the last commits
    "foreign_keys = ON",
    # 32 MiB of page cache (SQLite's default is 2 MB): a large write touches index pages all over
    # (names, random ids), and with a small cache the same pages are written and read back many
    # times within one transaction (migrate-agents, 100k profiles: 5.0 -> 4.6 s).
    "cache_size = -32768",
    # temp_store stays SQLite's default (files): in memory, a backfill's savepoint journal held
    # every page it touched (migrate-agents, 1M profiles: 190 -> 601 MB peak RSS; decision 047).
)


class SqliteStorage(UnitOfWorkRunner):
    """SQLite in WAL mode, `foreign_keys=ON`, a busy timeout on every connection.

    Units of work take turns on one connection and **commit in groups**: each runs inside a
    savepoint of a shared transaction, which commits once the units of work that were ready to run
    alongside have had their turn (a flush queued behind them on the event loop; at once after
    `GROUP_MAX`). A unit of work that rolls back only rolls back its savepoint. Leaving
    `unit_of_work()` returns only once the commit is done, so no caller hears "kept" before it is;
    under load, one commit serves many requests, and alone a unit of work waits one loop turn.
    """

    GROUP_MAX = 64

    def __init__(self, url: str | URL, *, busy_timeout: float = 30.0) -> None:
        self.url = normalize_url(url)
        if self.url.get_backend_name() != SQLITE:
            raise ValueError(f"not a SQLite URL: {mask_url(self.url)}")
        self.busy_timeout = busy_timeout
        self.engine = create_engine(
            self.url.set(drivername="sqlite+pysqlite"),
            poolclass=StaticPool,  # one connection; units of work take turns on it
            connect_args={"check_same_thread": False},
            json_serializer=json_dumps,
            json_deserializer=json_loads,
        )
        _configure_sqlite(self.engine, busy_timeout)
        # Opening the file at all: whatever fails there, the database is unavailable.
        self._opening = Translated(lambda: True, what=f"cannot open {mask_url(self.url)}")
        self._lock = asyncio.Lock()
        self._connection: Connection | None = None
        self._group: _Group | None = None  # the open transaction's members
        self._flusher: asyncio.Task[None] | None = None

    @property
    def dialect(self) -> Dialect:
        return self.engine.dialect

    def _connect(self) -> Connection:
        connection = self._connection
        if connection is None or connection.closed:
            with self._opening:
                connection = self._connection = self.engine.connect()
        return connection

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[SqlUnitOfWork]:
        await self._lock.acquire()
        try:
            connection = self._connect()
            if self._group is None:
                await self._begin_immediate(connection)
                self._group = _Group(asyncio.get_running_loop().create_future())
            group = self._group
            driver: Any = connection.connection.dbapi_connection
            with translated:
                driver.execute("SAVEPOINT uow")

            async def commit() -> None:
                with translated:
                    driver.execute("RELEASE uow")

            async def rollback() -> None:
                with translated:
                    driver.execute("ROLLBACK TO uow")
                    driver.execute("RELEASE uow")

            uow = SqlUnitOfWork(SyncExecutor(connection), SqliteBulkWriter(connection), commit, rollback)
            try:
                yield uow
            finally:
                group.members += 1
                if not uow.done:
                    self._undo(driver)
                self._end_turn()
        finally:
            self._lock.release()
        await asyncio.shield(group.committed)

    def _undo(self, driver: Any) -> None:
        """Roll back the current unit of work's savepoint (after an error inside it)."""
        if driver.in_transaction:
            try:
                with translated:
                    driver.execute("ROLLBACK TO uow")
                    driver.execute("RELEASE uow")
            except StorageUnavailable as e:  # the first error is the one to report; the group is lost
                self._end_group(e)
        else:  # SQLite rolled the whole transaction back itself (a full disk, an I/O error)
            self._end_group(StorageUnavailable("the database rolled the transaction back"))

    def _end_turn(self) -> None:
        """Leave the group open for the units of work ready to run, with a flush queued behind
        them; commit it now when it is full."""
        if self._group is None:
            return  # the group's transaction was lost (`_end_group`): nothing is left to commit
        if self._group.members >= self.GROUP_MAX:
            self._commit_group()
        elif self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        async with self._lock:
            self._flusher = None
            if self._group is not None:
                self._commit_group()

    def _commit_group(self) -> None:
        if self._group is None:
            return
        try:
            with translated:
                self._connect().commit()
        except StorageUnavailable as e:
            self._end_group(StorageUnavailable(f"the commit failed: {e}"))
            return
        self._group.committed.set_result(None)
        self._group = None

    def _end_group(self, error: StorageUnavailable) -> None:
        """The group's transaction is lost: roll back what is left, and tell every member."""
        group, self._group = self._group, None
        with contextlib.suppress(StorageUnavailable), translated:
            self._connect().rollback()
        if group is not None:
            group.committed.set_exception(error)
            group.committed.add_done_callback(lambda f: f.exception())  # retrieved even if all failed

    async def _begin_immediate(self, connection: Connection) -> None:
        with translated:
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
        async with self._lock:
            self._commit_group()
            metadata.create_all(self._connect())
            self._connect().commit()

    async def schema_revision(self) -> str | None:
        """The Alembic revision the database is at; None when it was never migrated."""
        async with self._lock:
            self._commit_group()
            connection = self._connect()
            try:
                with translated:
                    if not connection.exec_driver_sql(_HAS_REVISION).first():
                        return None
                    result = connection.exec_driver_sql(REVISION_QUERY).scalar()
                return None if result is None else str(result)
            finally:
                with translated:
                    connection.rollback()

    async def close(self) -> None:
        async with self._lock:
            self._commit_group()
            if self._connection is not None:
                self._connection.close()
                self._connection = None
            self.engine.dispose()


#: Whether Alembic's table exists (`schema_revision`).
_HAS_REVISION = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"


@dataclass(slots=True)
class _Group:
    """The units of work of one open transaction, and the commit they wait for."""

    committed: asyncio.Future[None]
    members: int = 0


def _is_busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return (code is not None and code & 0xFF == sqlite3.SQLITE_BUSY) or "database is locked" in str(error)


def _configure_sqlite(engine: Any, busy_timeout: float) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (BEGIN IMMEDIATE); the driver must not open transactions.
        dbapi_connection.isolation_level = None
        for pragma in (*PRAGMAS, f"busy_timeout = {int(busy_timeout * 1000)}"):
            dbapi_connection.execute(f"PRAGMA {pragma}")
