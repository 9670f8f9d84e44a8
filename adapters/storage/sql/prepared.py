"""Every statement a repository runs, built once and compiled once per dialect.

A Core statement costs more to build, to key for SQLAlchemy's compiled cache and to run through
its execution context than SQLite takes to answer it (about 100 µs against 15 µs here). So every
statement is written once, with bind parameters, as `Prepared` (one per shape where the shape
depends on the call: `repositories/base.py`); the executors compile each one once per dialect
and hand the driver the SQL and the positional values themselves. The values are converted by
SQLAlchemy's own type processors (taken from the dialect), so a row written this way is stored
exactly as one written through SQLAlchemy, and read back the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Dialect, Table, Uuid, bindparam
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.dml import Insert, Update, UpdateBase
from sqlalchemy.sql.selectable import Select
from sqlalchemy.types import TypeEngine

Processor = Callable[[Any], Any] | None
_NO_VALUE = object()


@dataclass(frozen=True, slots=True)
class Compiled:
    """One statement in one dialect: its SQL, its parameters in driver order (each with its bind
    processor and default), and its result columns (each with its result processor)."""

    sql: str
    params: tuple[tuple[str, Processor, Any], ...]
    columns: tuple[str, ...]
    decoders: tuple[tuple[int, Callable[[Any], Any]], ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The parameters' names, in driver order."""
        return tuple(name for name, _, _ in self.params)

    def bind(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """The positional values for the driver."""
        out = []
        for name, process, default in self.params:
            value = values.get(name, default)
            if value is _NO_VALUE:
                raise KeyError(f"no value for the bind parameter {name!r}")
            out.append(value if process is None or value is None else process(value))
        return tuple(out)

    def decode(self, rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
        """Driver rows as dicts of Python values."""
        columns, decoders = self.columns, self.decoders
        if not decoders:
            return [dict(zip(columns, row, strict=True)) for row in rows]
        out = []
        for raw in rows:
            row = list(raw)
            for index, decode in decoders:
                if row[index] is not None:
                    row[index] = decode(row[index])
            out.append(dict(zip(columns, row, strict=True)))
        return out


class Prepared:
    """A Core statement with bind parameters (a SELECT, or an INSERT/UPDATE/DELETE with or
    without RETURNING), compiled lazily once per dialect."""

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: Select[Any] | UpdateBase) -> None:
        self.statement = statement
        self._compiled: dict[str, Compiled] = {}

    def compiled(self, dialect: Dialect) -> Compiled:
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = _compile(self.statement, dialect)
        return found


def insert_row(table: Table, columns: Iterable[str] | None = None, *, prefix: str = "") -> Insert:
    """`INSERT INTO table (columns) VALUES (:column, ...)`, every column by default: the bind
    parameters are named after the columns, after `prefix` (for two rows in one statement)."""
    names = [c.name for c in table.c] if columns is None else list(columns)
    return table.insert().values({name: bindparam(prefix + name) for name in names})


def prefixed(row: dict[str, Any], prefix: str) -> dict[str, Any]:
    """A row's values named as `insert_row(..., prefix=prefix)` binds them."""
    return {prefix + name: value for name, value in row.items()}


def set_columns(statement: Update, names: Iterable[str]) -> Update:
    """`SET column = :column` for each name."""
    return statement.values({name: bindparam(name) for name in names})


def _decoder(impl: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """The dialect's result processor for a column type, with shortcuts for what a message row
    repeats: empty JSON lists and objects, and the same few UUIDs (its session, user, agent)."""
    process = impl.result_processor(dialect, None)
    if process is None:
        return None
    if isinstance(impl, JSON):
        json_process = process

        def json_value(value: Any) -> Any:
            if value == "[]":
                return []
            if value == "{}":
                return {}
            return json_process(value)

        return json_value
    if isinstance(impl, Uuid) and impl.as_uuid:
        return functools.lru_cache(maxsize=4096)(process)
    return process


def _compile(statement: Select[Any] | UpdateBase, dialect: Dialect) -> Compiled:
    compiled: Any = statement.compile(dialect=dialect)
    names = compiled.positiontup or []
    params = []
    for name in names:
        bind = compiled.binds[name]
        default = _NO_VALUE if bind.required else bind.effective_value
        params.append((name, bind.type.dialect_impl(dialect).bind_processor(dialect), default))
    result: Sequence[ColumnElement[Any]] = (
        list(statement.selected_columns) if isinstance(statement, Select) else list(statement.exported_columns)
    )
    decoders = []
    for index, column in enumerate(result):
        process = _decoder(column.type.dialect_impl(dialect), dialect)
        if process is not None:
            decoders.append((index, process))
    return Compiled(
        sql=compiled.string,
        params=tuple(params),
        columns=tuple(str(c.key) for c in result),
        decoders=tuple(decoders),
    )
