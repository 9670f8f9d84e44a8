"""Bulk reads and writes: a batch as one statement, built once (`Prepared`).

Writes (`BatchWrite`) are one executemany, run by the bulk writer on the driver itself, of parameter
sets already in the driver's form: each value went through the bind processor SQLAlchemy has for
its column on that dialect (so a row is stored exactly as the single-row paths store it), and
only once when it is the same object as the previous row's (a batch's rows share their
timestamps). No `model_dump` per entity (but for a model with a field that holds other models, a
JSON column of nested models), no Core statement per batch.

Reads by a batch of keys (`RowsByKeys`) pass all the keys as one parameter: SQLAlchemy's
`IN (...)` list costs a bound parameter per key, each through its machinery, which at thousands
of keys cost more than the query.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Collection, Sequence
from functools import cache
from operator import itemgetter
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ARRAY, ColumnElement, Dialect, Select, Table, any_, bindparam, func, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.types import TypeEngine

from agentkeep.adapters.storage.sql.dialect import POSTGRES, SQLITE, json_dumps, upsert
from agentkeep.adapters.storage.sql.prepared import Prepared

_Processing = tuple[int, Callable[[Any], Any], int]


class BatchWrite:
    """One bulk statement of a table for one entity model, and its parameter sets.

    The statement is built once per dialect, with parameters that take their values as they are
    (`_InDriverForm`: no processing in the executor, no cast). The values are put in the driver's form
    here, by the very bind processors SQLAlchemy would use for each column on that dialect, so a
    row is stored exactly as the single-row paths store it; a value that is the same object as
    the previous row's (a batch's rows share their timestamps) is converted once.
    """

    def __init__(self, table: Table, build: Callable[[str], Any]) -> None:
        self._table = table
        self._build = build
        self._queries: dict[str, Prepared] = {}
        self._binding: dict[str, tuple[tuple[str, ...], tuple[_Processing, ...]]] = {}

    def query(self, dialect_name: str) -> Prepared:
        found = self._queries.get(dialect_name)
        if found is None:
            found = self._queries[dialect_name] = Prepared(self._build(dialect_name))
        return found

    def parameters(self, entities: Sequence[BaseModel], dialect_name: str) -> list[list[Any]]:
        """One parameter set per entity (all of one model): positional, in the compiled
        statement's order, each value in the driver's form (for `bulk_writer.BulkWriter.write`)."""
        if not entities:
            return []
        names, processors = self._binding_for(dialect_name)
        values_of = itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
        dump = _holds_models(type(entities[0]))
        # The last value each processor converted, and what it made of it: positions that share a
        # processor share the entry, so a row's `updated_at` that is its `created_at` is one call.
        last_in: list[Any] = [_NOTHING] * len(processors)
        last_out: list[Any] = [None] * len(processors)
        rows = []
        for entity in entities:
            row = list(values_of(entity.model_dump() if dump else vars(entity)))
            for i, process, k in processors:
                value = row[i]
                if value is None:
                    continue
                if value is not last_in[k]:
                    last_in[k], last_out[k] = value, process(value)
                row[i] = last_out[k]
            rows.append(row)
        return rows

    def _binding_for(self, dialect_name: str) -> tuple[tuple[str, ...], tuple[_Processing, ...]]:
        """The statement's parameter names in driver order, and for each position that has a
        bind processor (SQLAlchemy's, for that column on that dialect): the position, the
        processor, and the index of the processor among the distinct ones."""
        found = self._binding.get(dialect_name)
        if found is None:
            dialect = _DIALECTS[dialect_name]
            names = self.query(dialect_name).compiled(dialect).names
            processors: list[_Processing] = []
            distinct: list[Callable[[Any], Any]] = []
            for i, name in enumerate(names):
                process = self._table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                if process is not None:
                    if process not in distinct:
                        distinct.append(process)
                    processors.append((i, process, distinct.index(process)))
            found = self._binding[dialect_name] = (names, tuple(processors))
        return found


class _InDriverForm(TypeEngine[Any]):
    """A parameter whose value is already in the driver's form."""

    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None


_IN_DRIVER_FORM = _InDriverForm()
_NOTHING = object()
# The dialects of the two storages, as their engines configure them, for their bind processors
# (which need no connection).
_DIALECTS: dict[str, Dialect] = {
    SQLITE: sqlite.pysqlite.dialect(json_serializer=json_dumps),
    POSTGRES: asyncpg.dialect(json_serializer=json_dumps),  # type: ignore[no-untyped-call]
}


def _bind(name: str) -> Any:
    return bindparam(name, type_=_IN_DRIVER_FORM)


@cache
def insert_all(table: Table, model: type[BaseModel]) -> BatchWrite:
    """`INSERT INTO table` of every column that is a field of `model` (storage-only columns take
    their defaults)."""
    names = _columns(table, model)
    return BatchWrite(table, lambda _: table.insert().values({name: _bind(name) for name in names}))


@cache
def update_by_id(table: Table, model: type[BaseModel], kept: frozenset[str]) -> BatchWrite:
    """`UPDATE table SET` every field of `model` but `id` and `kept`, `WHERE id = :id`."""
    names = [name for name in _columns(table, model) if name not in kept]
    statement = update(table).where(table.c.id == _bind("id"))
    return BatchWrite(table, lambda _: statement.values({name: _bind(name) for name in names if name != "id"}))


@cache
def upsert_all(
    table: Table, model: type[BaseModel], conflict_on: tuple[str, ...], changed: tuple[str, ...]
) -> BatchWrite:
    """`INSERT INTO table ... ON CONFLICT (conflict_on) DO UPDATE SET` each of `changed` to the
    new row's value; a stored row keeps its other columns."""
    names = _columns(table, model)

    def build(dialect_name: str) -> Any:
        statement: Any = upsert(table, dialect_name, conflict_on, changed)
        return statement.values({name: _bind(name) for name in names})

    return BatchWrite(table, build)


class RowsByKeys:
    """`rows` (a SELECT) where `column` is one of a batch of keys (and each further column one of
    its own batch), each batch given as one parameter: a JSON array read by `json_each` on SQLite,
    an array compared with `= ANY` on PostgreSQL."""

    def __init__(self, rows: Select[Any], column: ColumnElement[Any], *columns: ColumnElement[Any]) -> None:
        self._names = [f"keys_{n}" if n else "keys" for n in range(1 + len(columns))]
        keyed = list(zip((column, *columns), self._names, strict=True))
        sqlite_where = [
            c.in_(select(func.json_each(bindparam(name)).table_valued("value").c.value)) for c, name in keyed
        ]
        self._sqlite = Prepared(rows.where(*sqlite_where))
        self._postgres = Prepared(rows.where(*(c == any_(bindparam(name, type_=ARRAY(c.type))) for c, name in keyed)))
        # Keys in the form SQLite stores them (a UUID as 32 hex characters), for the JSON arrays.
        sqlite = _DIALECTS[SQLITE]
        self._stored = [c.type.dialect_impl(sqlite).bind_processor(sqlite) for c, _ in keyed]

    def query(self, dialect_name: str) -> Prepared:
        return self._sqlite if dialect_name == SQLITE else self._postgres

    def parameters(self, dialect_name: str, *keys: Collection[Any]) -> dict[str, Any]:
        """The parameters for one batch of keys per column, in the columns' order."""
        if dialect_name != SQLITE:
            return {name: list(batch) for name, batch in zip(self._names, keys, strict=True)}
        return {
            name: json.dumps(list(batch) if stored is None else [stored(key) for key in batch])
            for name, batch, stored in zip(self._names, keys, self._stored, strict=True)
        }


def _columns(table: Table, model: type[BaseModel]) -> list[str]:
    return [c.name for c in table.c if c.name in model.model_fields]


@cache
def _holds_models(model: type[BaseModel]) -> bool:
    return any(_mentions_model(field.annotation) for field in model.model_fields.values())


def _mentions_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_mentions_model(argument) for argument in typing.get_args(annotation))
