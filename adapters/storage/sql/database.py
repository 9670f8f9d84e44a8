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

from typing import Any

from sqlalchemy.engine import URL

from agentkeep.adapters.storage.sql.dialect import SQLITE, normalize_url
from agentkeep.adapters.storage.sql.executor import Executor
from agentkeep.adapters.storage.sql.postgres import PostgresStorage
from agentkeep.adapters.storage.sql.sqlite import SqliteStorage
from agentkeep.adapters.storage.sql.unit_of_work import SqlUnitOfWork

__all__ = ["Executor", "PostgresStorage", "SqlUnitOfWork", "SqliteStorage", "open_storage"]


def open_storage(url: str | URL, **options: Any) -> SqliteStorage | PostgresStorage:
    """The storage for a database URL, SQLite or PostgreSQL, by its scheme."""
    normalized = normalize_url(url)
    if normalized.get_backend_name() == SQLITE:
        return SqliteStorage(normalized, **options)
    return PostgresStorage(normalized, **options)
