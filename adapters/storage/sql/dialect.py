"""Everything that differs between SQLite and PostgreSQL, in one place: URLs, upserts, and the
translation of integrity errors into domain errors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, UniqueConstraint
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.sql.dml import Insert

from agentkeep.adapters.storage.sql.tables import UNIQUE_FIELDS, metadata
from agentkeep.domain.errors import Conflict, DomainError, Invalid, NotFound

SQLITE = "sqlite"
POSTGRES = "postgresql"


def normalize_url(url: str | URL) -> URL:
    """The async-driver form of a database URL: `sqlite://`, `postgres://` and `postgresql://`
    work as well as `sqlite+aiosqlite://` and `postgresql+asyncpg://`."""
    if isinstance(url, str):
        if url.startswith("postgres://"):
            url = "postgresql://" + url.removeprefix("postgres://")
        try:
            url = make_url(url)
        except ArgumentError:
            raise Invalid(f"not a database URL: {mask_url(url)}", key="database_url") from None
    backend = url.get_backend_name()
    if backend == SQLITE:
        return url.set(drivername="sqlite+aiosqlite")
    if backend in (POSTGRES, "postgres"):
        return url.set(drivername="postgresql+asyncpg")
    raise Invalid(f"unsupported database {backend!r}: use sqlite:// or postgresql://", key="database_url")


def mask_url(url: str | URL) -> str:
    """The URL as it may be printed: never with its password."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return re.sub(r"://([^:/@]*):[^@]*@", r"://\1:***@", str(url))
    return parsed.render_as_string(hide_password=True)


def json_loads(text: str) -> Any:
    """`json.loads`, with the empty object and list a message row is mostly made of (its tool
    calls, outputs, context) answered without the parser: fifty rows of history hold hundreds."""
    if text == "{}":
        return {}
    if text == "[]":
        return []
    return json.loads(text)


def json_dumps(value: Any) -> str:
    """`json.dumps`, with the same shortcut for an empty object or list (the same text)."""
    if not value and type(value) in (dict, list):
        return "{}" if type(value) is dict else "[]"
    return json.dumps(value)


def insert(table: Table, dialect_name: str) -> Insert:
    """An INSERT that knows `ON CONFLICT` on this dialect."""
    if dialect_name == POSTGRES:
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_ignoring(table: Table, dialect_name: str, conflict_on: Sequence[str], **where: Any) -> Insert:
    """INSERT ... ON CONFLICT (conflict_on) DO NOTHING. The target is always named, so a clash on
    another unique column is still an error."""
    stmt: Any = insert(table, dialect_name)
    return stmt.on_conflict_do_nothing(index_elements=list(conflict_on), **where)  # type: ignore[no-any-return]


def upsert(table: Table, dialect_name: str, conflict_on: Sequence[str], update: Iterable[str]) -> Insert:
    """INSERT ... ON CONFLICT (conflict_on) DO UPDATE SET col = excluded.col for each of `update`."""
    stmt: Any = insert(table, dialect_name)
    return stmt.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=list(conflict_on), set_={name: stmt.excluded[name] for name in update}
    )


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


def translate_data_error(error: DBAPIError | BaseException) -> DomainError | None:
    """PostgreSQL refuses some values SQLite stores (a NUL character in text or JSON, SQLSTATE class
    22): that is bad input, not a server error. None when the error is something else."""
    orig = error.orig if isinstance(error, DBAPIError) else error
    sqlstate = getattr(orig, "sqlstate", None) or ""
    if sqlstate.startswith("22"):
        return Invalid("a value cannot be stored by this database (a NUL character, or out of range)")
    return None


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
