"""What both demo writers share: the tally of a run (`Written`) and one connection to a SQLite
file or a PostgreSQL database (`on_database`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from agentkeep.adapters.storage.sql.dialect import SQLITE, mask_url, normalize_url
from agentkeep.domain.errors import Invalid, NotFound, StorageUnavailable

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Written:
    """What one demo run appended: rows per table, and the odd rows planted among them, per kind."""

    rows: dict[str, int]
    planted: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        text = ", ".join(f"{count:,} {table}" for table, count in self.rows.items())
        if self.planted:
            text += f" (planted: {', '.join(f'{count:,} {kind}' for kind, count in self.planted.items())})"
        return text


def on_database(url: str | URL, work: Callable[[Connection], T]) -> T:
    """`work` on one connection to `url`: a SQLite file (created if missing) or PostgreSQL."""
    target = normalize_url(url)
    if target.get_backend_name() == SQLITE:
        return _on_sqlite(target, work)
    return _block_on(_on_postgres(target, work))


def _on_sqlite(url: URL, work: Callable[[Connection], T]) -> T:
    database = url.database or ""
    if database in ("", ":memory:"):
        raise Invalid("the demo writes to a SQLite file, not to an in-memory database", key="url")
    folder = Path(database).resolve().parent
    if not folder.is_dir():
        raise NotFound(f"no directory {folder} to create {Path(database).name} in", key="url")
    engine = create_engine(url.set(drivername="sqlite+pysqlite"), poolclass=NullPool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "busy_timeout = 30000"):  # as agentkeep's
            dbapi_connection.execute(f"PRAGMA {pragma}")

    try:
        try:
            connection = engine.connect()
        except DBAPIError as e:
            raise StorageUnavailable(f"cannot open {mask_url(url)}: {e.orig}") from None
        with connection:
            return work(connection)
    finally:
        engine.dispose()


async def _on_postgres(url: URL, work: Callable[[Connection], T]) -> T:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        try:
            connection = await engine.connect()
        except (OSError, DBAPIError) as e:
            raise StorageUnavailable(f"cannot reach {mask_url(url)}: {getattr(e, 'orig', e)}") from None
        try:
            return await connection.run_sync(work)
        finally:
            await connection.close()
    finally:
        await engine.dispose()


def _block_on(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code, also from a thread that already runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        running = False
    else:
        running = True
    if not running:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
