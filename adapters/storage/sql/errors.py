"""How a repository method runs its statements, and how their errors become domain errors.

A repository (`repositories/`) is written on an `Executor` (`executor.py`), the one way to run a
statement: `rows(query, params)` for what a statement answers, `write(query, params)` for what it
changes, each a `Prepared` statement (`prepared.py`: built once, compiled once per dialect, handed
to the driver itself with its values converted by SQLAlchemy's own type processors). A statement
whose shape depends on the call (a list's filters, a patch's columns) is prepared once per shape
and cached (`repositories/base.py`); a batch of keys is one parameter, not an IN list per size
(`bulk.RowsByKeys`). The backfills' bulk writes alone go through a bulk writer
(`bulk_writer.py`: parameter sets already in the driver's form, `bulk.BatchWrite`). The storage
(`sqlite.py`, `postgres.py`) checks a connection out, opens the transaction, gives the unit of
work (`unit_of_work.py`) an executor and a bulk writer on it, and commits or rolls back.

Every driver error on that path, whichever executor or bulk writer method, BEGIN, COMMIT,
ROLLBACK, connection checkout or `schema_revision` raised it, on either dialect, passes through
`Translated` below (`with translated:` on SQLite, the executor's own `with self.translated:` on
PostgreSQL), and only there becomes a domain error:

* an integrity violation names its constraint: a duplicate is a `Conflict` naming its field, a
  missing parent a `NotFound`, a broken check `Invalid`;
* a value the database refuses to store (PostgreSQL's SQLSTATE class 22: a NUL character, a
  number out of range) is `Invalid`;
* the database failing is `StorageUnavailable` (503): a connection refused, lost or terminated
  (and with it an asyncpg connection left closed in any state), a full disk, an I/O error, out of
  memory or connections, SQLite's lock held past the busy timeout;
* anything else (a syntax error, a missing table, a wrong type) is a bug, and propagates as it is.

A PostgreSQL connection whose statement failed as `StorageUnavailable`, or whose task was
cancelled mid-statement, is thrown out of the pool (`postgres.py`), never handed out again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg
from sqlalchemy import UniqueConstraint
from sqlalchemy.exc import DBAPIError, IntegrityError

from agentkeep.adapters.storage.sql.tables import UNIQUE_FIELDS, metadata
from agentkeep.domain.errors import Conflict, DomainError, Invalid, NotFound, StorageUnavailable

#: SQLite's primary result codes that mean the database, not the statement, failed.
_SQLITE_UNAVAILABLE = frozenset(
    {
        sqlite3.SQLITE_BUSY,  # locked past the busy timeout
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,  # a read-only file or file system
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_FULL,  # the disk, or `max_page_count`
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_NOTADB,
        sqlite3.SQLITE_PERM,
    }
)
#: PostgreSQL's SQLSTATE classes (and codes) that mean the server, not the statement, failed:
#: connection exceptions, insufficient resources (a full disk, too many connections), operator
#: intervention (an administrator or a shutdown terminated the backend, a statement timeout),
#: system errors (I/O).
_POSTGRES_UNAVAILABLE = ("08", "53", "57", "58", "XX001", "XX002")


class Translated:
    """A block of driver calls whose driver errors are raised as the domain errors they mean (see
    the module's docstring); reusable, so an executor keeps one (`with self._translated:`).

    `connection_lost` tells, after an error, whether the connection is now closed (asyncpg's
    `is_closed`): then whatever the driver raised, the connection was lost. `on_unavailable` is
    called before a `StorageUnavailable` is raised (the connection is to be thrown away). `what`
    begins its message ("cannot reach <the URL, masked>": the reason follows)."""

    __slots__ = ("_connection_lost", "_on_unavailable", "_what")

    def __init__(
        self,
        connection_lost: Callable[[], bool] | None = None,
        on_unavailable: Callable[[], None] | None = None,
        *,
        what: str = "the database failed",
    ) -> None:
        self._connection_lost = connection_lost
        self._on_unavailable = on_unavailable
        self._what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _tb: Any) -> None:
        if error is None or not isinstance(error, Exception):
            return  # no error, or a cancellation: as it is
        if isinstance(error, DomainError):
            translation: DomainError | None = error
        else:
            lost = self._connection_lost is not None and self._connection_lost()
            translation = domain_error(error, connection_lost=lost, what=self._what)
        if isinstance(translation, StorageUnavailable) and self._on_unavailable is not None:
            self._on_unavailable()
        if translation is None or translation is error:
            return  # a bug, or already a domain error: propagates as it is
        raise translation from None


#: Translation alone (SQLite, and what runs outside a connection's executor).
translated = Translated()


def domain_error(
    error: BaseException, *, connection_lost: bool = False, what: str = "the database failed"
) -> DomainError | None:
    """The domain error a driver error means; None when it means a bug."""
    driver = _driver_error(error)
    sqlstate = getattr(driver, "sqlstate", None) or ""
    if isinstance(driver, sqlite3.IntegrityError | asyncpg.IntegrityConstraintViolationError) or (
        sqlstate.startswith("23")
    ):
        return translate_integrity_error(driver)
    if sqlstate.startswith("22"):
        return Invalid("a value cannot be stored by this database (a NUL character, or out of range)")
    if connection_lost or _unavailable(error, driver, sqlstate):
        return StorageUnavailable(f"{what}: {_reason(driver)}")
    return None


def _driver_error(error: BaseException) -> BaseException:
    """The driver's own exception: under SQLAlchemy's wrapper (`DBAPIError.orig`), and under the
    asyncpg adapter's own (its `__cause__`)."""
    orig: BaseException = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    cause: BaseException | None = orig.__cause__
    if cause is not None and not isinstance(orig, _ASYNCPG_ERRORS) and isinstance(cause, _ASYNCPG_ERRORS):
        return cause
    return orig


_ASYNCPG_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError)


def _unavailable(error: BaseException, driver: BaseException, sqlstate: str) -> bool:
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True  # SQLAlchemy saw a disconnect
    if isinstance(driver, OSError | asyncpg.PostgresConnectionError | asyncpg.ConnectionDoesNotExistError):
        return True  # refused, reset, timed out, closed mid-operation
    if isinstance(driver, asyncpg.InternalClientError):
        # asyncpg's protocol is off its rails: on a backend terminated while idle, the server's
        # FATAL message puts it in its error state until the socket's end is read, and a statement
        # started meanwhile fails with "cannot switch to state 12; another operation (2) is in
        # progress". The connection is of no more use (the executor throws it away).
        return True
    if isinstance(driver, sqlite3.Error):
        code = getattr(driver, "sqlite_errorcode", None)
        if code is None:  # a driver without result codes: SQLite's messages
            return "locked" in str(driver) or "disk" in str(driver)
        return code & 0xFF in _SQLITE_UNAVAILABLE
    return sqlstate.startswith(_POSTGRES_UNAVAILABLE)


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


# SQLite names the columns of a violated unique rule, not the rule: map them back.
def _sqlite_unique_rules() -> Mapping[tuple[str, frozenset[str]], str]:
    rules: dict[tuple[str, frozenset[str]], str] = {}
    for table in metadata.tables.values():
        constraints: list[Any] = [table.primary_key, *table.constraints, *table.indexes]
        for c in constraints:
            unique = isinstance(c, UniqueConstraint) or c is table.primary_key or getattr(c, "unique", False)
            if unique and c.name:
                rules[(table.name, frozenset(col.name for col in c.columns))] = str(c.name)
    return rules


_SQLITE_RULES = _sqlite_unique_rules()
_NOUNS = {
    "users": "user",
    "agent": "agent",
    "agent_persona_bios": "bio",
    "user_agent_profile_metadata": "profile metadata",
    "sessions": "session",
    "messages": "message",
    "memories": "memory",
    "runs": "run",
    "run_events": "run event",
}


def translate_integrity_error(error: IntegrityError | BaseException | None) -> DomainError:
    """The domain error an integrity violation means: a duplicate is a `Conflict` naming its field,
    a missing parent a `NotFound`, a broken check `Invalid`. `error` is SQLAlchemy's, or the
    driver's own (`sqlite3.IntegrityError`, asyncpg's)."""
    orig = error.orig if isinstance(error, IntegrityError) else error
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is not None:  # PostgreSQL (asyncpg, under SQLAlchemy's wrapper or not)
        cause = orig if hasattr(orig, "constraint_name") else (orig.__cause__ if orig is not None else None)
        name = getattr(cause, "constraint_name", None) or ""
        table = getattr(cause, "table_name", None) or ""
        if sqlstate == "23505":
            return _conflict(table, name)
        if sqlstate == "23503":
            return NotFound("a referenced row does not exist", key=_fk_key(name))
        return Invalid(f"the row breaks the rule {name or sqlstate}")
    text = str(orig)
    if text.startswith("UNIQUE constraint failed: "):
        if text.startswith("UNIQUE constraint failed: index "):
            return _conflict("", text.split("'")[1])
        columns = [c.strip() for c in text.removeprefix("UNIQUE constraint failed: ").split(",")]
        table = columns[0].split(".")[0]
        name = _SQLITE_RULES.get((table, frozenset(c.split(".")[1] for c in columns)), "")
        return _conflict(table, name)
    if text.startswith("FOREIGN KEY constraint failed"):
        return NotFound("a referenced row does not exist")
    return Invalid(f"the row breaks a rule of the database: {text}")


def _conflict(table: str, constraint: str) -> Conflict:
    field = UNIQUE_FIELDS.get(constraint, "id")
    noun = _NOUNS.get(table) or next((n for t, n in _NOUNS.items() if constraint.startswith(f"uq_{t}_")), "row")
    return Conflict.duplicate(noun, field)


def _fk_key(constraint: str) -> str | None:
    # fk_<table>_<column>_<referred table>: the column is what points at nothing.
    for table in metadata.tables.values():
        for fk in table.foreign_key_constraints:
            if fk.name == constraint:
                return str(next(iter(fk.column_keys)))
    return None
