"""What every SQL repository shares: its executor, row mapping, paging and partial updates.

Every statement is a `Prepared` one run through the executor (`rows` / `write`). A statement
whose shape depends on the call (a list's filters, a patch's columns) is built and prepared once
per shape, then cached (`Listing`, `_patch_statement`, `_update_statement`, `_delete_statement`).
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, Table, bindparam, func, select, update

from agentkeep.adapters.storage.sql.bulk_writer import BulkWriter
from agentkeep.adapters.storage.sql.executor import Executor
from agentkeep.adapters.storage.sql.prepared import Prepared, set_columns
from agentkeep.adapters.storage.sql.repositories import bulk
from agentkeep.adapters.storage.sql.repositories.json_pages import PAGE, list_of
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import Patch
from agentkeep.domain.values import utcnow

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

#: The bind parameter of the key a patch, an update or a delete finds its row by (a `SET` may
#: not use a column's own name).
KEY = "b_key"


class Listing:
    """The pages of a table's rows (`rows`, default every column), filtered by any of some named
    conditions, in `order_by` (or its reverse): a count and a page statement prepared once per
    set of conditions in use and direction.

    Each condition is named after the bind parameter it takes (`user_id=sessions.c.user_id ==
    bindparam("user_id")`), or takes none (`active=agents.c.active.is_(True)`, given as True)."""

    def __init__(
        self,
        table: Table,
        order_by: Sequence[Any],
        *,
        rows: Select[Any] | None = None,
        **conditions: ColumnElement[bool],
    ) -> None:
        self._table = table
        self._rows = select(table) if rows is None else rows
        self._order_by = tuple(order_by)
        self._conditions = conditions
        self._cache: dict[tuple[frozenset[str], bool], tuple[Prepared, Prepared]] = {}

    def statements(self, used: frozenset[str], descending: bool) -> tuple[Prepared, Prepared]:
        """The count (one row, `total`) and the page (`limit`, `offset`) with the conditions `used`."""
        found = self._cache.get((used, descending))
        if found is None:
            where = [self._conditions[name] for name in sorted(used)]
            count = select(func.count().label("total")).select_from(self._table).where(*where)
            ordering = [c.desc() for c in self._order_by] if descending else list(self._order_by)
            page = self._rows.where(*where).order_by(*ordering).limit(bindparam("limit")).offset(bindparam("offset"))
            found = self._cache[(used, descending)] = (Prepared(count), Prepared(page))
        return found


class SqlRepository:
    table: Table

    def __init__(self, executor: Executor) -> None:
        self._executor = executor

    @property
    def _dialect(self) -> str:
        return self._executor.dialect_name

    async def _page(self, model: type[M], listing: Listing, paging: Paging, **filters: Any) -> tuple[list[M], int]:
        """One page of `model` rows of `listing` matching `filters` (a condition's name and its
        value; a None value filters nothing), and how many match in all."""
        params = {name: value for name, value in filters.items() if value is not None}
        count, page = listing.statements(frozenset(params), paging.sort_desc)
        total: int = (await self._executor.rows(count, params))[0]["total"]
        if total == 0 or paging.offset >= total:
            return [], total
        params.update(limit=paging.page_size, offset=paging.offset)
        return await self._rows(model, page, params), total

    async def _row(self, model: type[M], query: Prepared, params: Mapping[str, Any]) -> M | None:
        """The first row of a query as `model`; None when there is none."""
        rows = await self._executor.rows(query, params)
        return model.model_validate(rows[0]) if rows else None

    async def _rows(self, model: type[M], query: Prepared, params: Mapping[str, Any]) -> list[M]:
        """Every row of a query as `model`, validated in one call."""
        return list_of(model).validate_python(await self._executor.rows(query, params))

    async def _json_page(self, model: type[M], query: Prepared, params: Mapping[str, Any]) -> list[M]:
        """The rows of a `json_pages.json_page` statement as `model`: the database's JSON array,
        validated straight from its text in one call."""
        rows = await self._executor.rows(query, params)
        return list_of(model).validate_json(rows[0][PAGE])

    async def _rows_by_keys(self, model: type[M], rows: bulk.RowsByKeys, keys: Collection[Any]) -> list[M]:
        """The `model` rows of `rows` whose key is one of `keys`: one statement, none when empty."""
        if not keys:
            return []
        found = await self._executor.rows(rows.query(self._dialect), rows.parameters(self._dialect, keys))
        return [model.model_validate(row) for row in found]

    async def _keys_present(self, keys_of: bulk.RowsByKeys, keys: Collection[T]) -> set[T]:
        """Which of `keys` are stored (`keys_of` selects the key column alone): one statement,
        none when empty."""
        if not keys:
            return set()
        found = await self._executor.rows(keys_of.query(self._dialect), keys_of.parameters(self._dialect, keys))
        return {next(iter(row.values())) for row in found}

    async def _patch(
        self, model: type[M], key: str, value: Any, patch: Patch, *, columns: Sequence[Any] | None = None
    ) -> M | None:
        """Apply a patch (setting `updated_at`) to the row whose column `key` is `value`, and
        return the row as it is now (its `columns`, default all); None if missing."""
        changes: dict[str, Any] = {**patch.changes(), "updated_at": utcnow()}
        returning = tuple(c.name for c in (self.table.c if columns is None else columns))
        query = _patch_statement(self.table, key, tuple(sorted(changes)), returning)
        return await self._row(model, query, {**changes, KEY: value})

    async def _update(self, key: str, value: Any, changes: Mapping[str, Any]) -> int:
        """Set `changes` (column values) on the row whose column `key` is `value`; rows changed."""
        query = _update_statement(self.table, key, tuple(sorted(changes)))
        return await self._executor.write(query, {**changes, KEY: value})

    async def _delete(self, key: str, value: Any) -> bool:
        """Delete the row whose column `key` is `value`; whether there was one."""
        return bool(await self._executor.write(_delete_statement(self.table, key), {KEY: value}))


class BulkRepository(SqlRepository):
    """A repository with batch methods for the backfills (the `*Backfill` ports): those write
    through the bulk writer (`bulk_writer.py`), every other statement through the executor."""

    def __init__(self, executor: Executor, bulk_writer: BulkWriter) -> None:
        super().__init__(executor)
        self._bulk_writer = bulk_writer

    async def _insert_many(self, rows: Sequence[BaseModel]) -> None:
        """Insert every entity (all of one model) in the given order: one executemany of an
        INSERT built once (`bulk.py`), none when empty. The first bad row raises (translated as
        every statement's error); the unit of work is then left, which rolls the rows before it
        back."""
        if rows:
            await self._write_batch(bulk.insert_all(self.table, type(rows[0])), rows)

    async def _write_batch(self, write: bulk.BatchWrite, rows: Sequence[BaseModel]) -> None:
        """One executemany of a bulk statement, a parameter set per entity."""
        await self._bulk_writer.write(write.query(self._dialect), write.parameters(rows, self._dialect))


@functools.lru_cache(maxsize=1024)
def _update_statement(table: Table, key: str, names: tuple[str, ...]) -> Prepared:
    """`UPDATE table SET name = :name, ... WHERE key = :b_key`, once per set of columns."""
    return Prepared(set_columns(update(table).where(table.c[key] == bindparam(KEY)), names))


@functools.lru_cache(maxsize=1024)
def _patch_statement(table: Table, key: str, names: tuple[str, ...], returning: tuple[str, ...]) -> Prepared:
    """`_update_statement` `RETURNING` the columns `returning`."""
    statement = set_columns(update(table).where(table.c[key] == bindparam(KEY)), names)
    return Prepared(statement.returning(*(table.c[name] for name in returning)))


@functools.cache
def _delete_statement(table: Table, key: str) -> Prepared:
    return Prepared(table.delete().where(table.c[key] == bindparam(KEY)))


def row_values(entity: BaseModel, exclude: set[str] | None = None) -> dict[str, Any]:
    """An entity as column values (JSON fields as plain JSON, the rest as Python values)."""
    return entity.model_dump(exclude=exclude)


def entity_columns(table: Table, model: type[BaseModel]) -> list[Any]:
    """The columns of `table` that are fields of `model`: storage-only columns (an insertion key,
    a run lease, a reference) never reach the entity, which forbids unknown fields."""
    return [c for c in table.c if c.name in model.model_fields]
