"""Bulk writes: a batch of entities as one executemany of a statement built once.

The parameter sets are the entities' own field values (`vars(entity)`, not a copy): the executor
converts each value with the dialect's type processors (`prepared.py`), so a row written here is
stored exactly as one written by the single-row paths. No `model_dump` per entity, no Core
statement per batch. Only a model with a field that holds other models (a JSON column of nested
models) is dumped, since the JSON processor takes plain values.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table, bindparam, update

from adapters.storage.sql.dialect import upsert
from adapters.storage.sql.prepared import Prepared, insert_row, set_columns


@cache
def insert_all(table: Table, model: type[BaseModel]) -> Prepared:
    """`INSERT INTO table` of every column that is a field of `model` (storage-only columns take
    their defaults)."""
    return Prepared(insert_row(table, _columns(table, model)))


@cache
def update_by_id(table: Table, model: type[BaseModel], kept: frozenset[str]) -> Prepared:
    """`UPDATE table SET` every field of `model` but `id` and `kept`, `WHERE id = :id`."""
    columns = [name for name in _columns(table, model) if name != "id" and name not in kept]
    return Prepared(set_columns(update(table).where(table.c.id == bindparam("id")), columns))


@cache
def upsert_all(
    table: Table, model: type[BaseModel], dialect_name: str, conflict_on: tuple[str, ...], changed: tuple[str, ...]
) -> Prepared:
    """`INSERT INTO table ... ON CONFLICT (conflict_on) DO UPDATE SET` each of `changed` to the
    new row's value; a stored row keeps its other columns."""
    statement: Any = upsert(table, dialect_name, conflict_on, changed)
    return Prepared(statement.values({name: bindparam(name) for name in _columns(table, model)}))


def parameters(entities: Sequence[BaseModel]) -> list[Mapping[str, Any]]:
    """The parameter sets of `entities` (all of one model), one per entity."""
    if not entities:
        return []
    if _holds_models(type(entities[0])):
        return [entity.model_dump() for entity in entities]
    return [vars(entity) for entity in entities]


def _columns(table: Table, model: type[BaseModel]) -> list[str]:
    return [c.name for c in table.c if c.name in model.model_fields]


@cache
def _holds_models(model: type[BaseModel]) -> bool:
    return any(_mentions_model(field.annotation) for field in model.model_fields.values())


def _mentions_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return True
    return any(_mentions_model(argument) for argument in typing.get_args(annotation))
