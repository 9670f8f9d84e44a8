"""The Alembic environment: one history for SQLite and PostgreSQL, run on the async drivers.

Where the URL comes from: the `sqlalchemy.url` option (set by `adapters/storage/sql/migrator.py`),
else `AGENTKEEP_DATABASE_URL`, else `sqlite:///agentkeep.db` — the same resolution as the service,
so a plain `alembic upgrade head` in the repository migrates the database the service would use.

When `config.attributes["connection"]` holds a (sync) connection, the migrations run on it, inside
the caller's transaction: `await async_connection.run_sync(migrator.upgrade)` from code that already
runs an event loop.

Safety of a run:

* every revision of a run applies in one transaction, on SQLite too (the driver's legacy
  transaction control would autocommit each DDL statement; we issue BEGIN ourselves), so a failed
  run leaves the schema as it was;
* concurrent runs (replicas starting together) take turns: a PostgreSQL advisory lock, SQLite's
  write lock taken up front with `BEGIN IMMEDIATE`; the second run then finds the schema at head;
* on SQLite, foreign keys are off during the run (batch migrations copy, drop and rename tables:
  with `foreign_keys=ON`, dropping a parent table would cascade-delete its children's rows) and
  `PRAGMA foreign_key_check` must come back empty before the commit.
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, event, pool, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, async_engine_from_config

from agentkeep.adapters.storage.sql.dialect import mask_url, normalize_url
from agentkeep.adapters.storage.sql.tables import UtcDateTime, metadata
from agentkeep.domain.errors import StorageUnavailable

config = context.config
target_metadata = metadata

DEFAULT_URL = "sqlite:///agentkeep.db"
# Key of the PostgreSQL advisory lock that serialises migration runs ("agentkeep" in hex, 63 bits).
MIGRATION_LOCK = 0x6167656E746B6565
SQLITE_BUSY_TIMEOUT_MS = 30_000

if config.config_file_name is not None:  # the alembic command line; agentkeep's own config has no file
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> URL:
    raw = config.get_main_option("sqlalchemy.url") or os.environ.get("AGENTKEEP_DATABASE_URL") or DEFAULT_URL
    return normalize_url(raw)


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """How autogenerate writes our types into a revision, whatever database it compared against."""
    if type_ != "type":
        return False
    # Revisions must not import application code: a timestamp column is a plain aware DateTime.
    if isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    # Rendered against SQLite, JSONB would come out as `astext_type=Text()`, an undefined name.
    if isinstance(obj, JSONB):
        if autogen_context.imports is not None:
            autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return f"postgresql.JSONB(none_as_null={obj.none_as_null!r})"
    return False


def _configure(**options: Any) -> None:
    sqlite = options.pop("dialect_name") == "sqlite"
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        # Every revision must run on SQLite, which can only ALTER through batch (copy-and-move)
        # operations; on PostgreSQL they are plain ALTERs. So autogenerate writes batch operations
        # whichever database it compares against.
        render_as_batch=True,
        render_item=render_item,
        # SQLite has transactional DDL; Alembic assumes it has not.
        transactional_ddl=True if sqlite else None,
        **options,
    )


def run_migrations_offline() -> None:
    """`alembic upgrade --sql`: the SQL to stdout, no database."""
    url = database_url()
    _configure(
        dialect_name=url.get_backend_name(),
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    dialect_name = connection.dialect.name
    _configure(dialect_name=dialect_name, connection=connection)
    with context.begin_transaction():
        if dialect_name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()
        if dialect_name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                tables = sorted({row[0] for row in broken})
                raise RuntimeError(f"the migration left rows without their parent in {', '.join(tables)}")


def _prepare_sqlite(engine: Any) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver must not BEGIN (nor skip BEGIN for DDL)
        cursor = dbapi_connection.cursor()
        # PRAGMA foreign_keys is a no-op inside a transaction: it is set here, before BEGIN.
        for pragma in ("journal_mode = WAL", f"busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}", "foreign_keys = OFF"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


async def run_async_migrations() -> None:
    url = database_url()
    section = config.get_section(config.config_ini_section, {})
    engine = async_engine_from_config({**section, "sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool)
    if url.get_backend_name() == "sqlite":
        _prepare_sqlite(engine.sync_engine)
    try:
        try:
            connection: AsyncConnection = await engine.connect()
        except (OSError, DBAPIError) as e:
            reason = e.orig if isinstance(e, DBAPIError) else e
            if url.get_backend_name() == "sqlite":
                # aiosqlite stops its worker thread after a failed open without waiting for it; the
                # thread then reports to this loop, which must still be running (else "Event loop
                # is closed" in that thread).
                await asyncio.sleep(0.05)
                raise StorageUnavailable(f"cannot open {mask_url(url)}: {reason}") from None
            raise StorageUnavailable(f"cannot reach {mask_url(url)}: {reason}") from None
        try:
            await connection.run_sync(do_run_migrations)
        finally:
            await connection.close()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
    else:
        asyncio.run(run_async_migrations())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
