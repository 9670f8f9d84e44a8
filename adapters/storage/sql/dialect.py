"""Everything that differs between SQLite and PostgreSQL, in one place: URLs, JSON and upserts
(what their errors mean is `errors.py`)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.sql.dml import Insert

from agentkeep.domain.errors import Invalid

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
