"""What every SQL repository shares: its executor, row mapping, paging and partial updates."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, Table, func, select, update

from agentkeep.adapters.storage.sql.executor import Executor
from agentkeep.adapters.storage.sql.prepared import Prepared
from agentkeep.adapters.storage.sql.repositories import bulk
from agentkeep.adapters.storage.sql.repositories.json_pages import PAGE, list_of
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import Patch
from agentkeep.domain.values import utcnow

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class SqlRepository:
    table: Table

    def __init__(self, executor: Executor) -> None:
        self._x = executor

    @property
    def _dialect(self) -> str:
        return self._x.dialect_name

    async def _page(
        self,
        model: type[M],
        where: Sequence[ColumnElement[bool]],
        paging: Paging,
        order_by: Sequence[Any],
        *,
        rows: Select[Any] | None = None,
    ) -> tuple[list[M], int]:
        """One page of `model` rows matching `where`, and how many match in all. `rows` selects
        one row where the table has storage-only columns (default: every column of the table)."""
        total = (await self._x.execute(select(func.count()).select_from(self.table).where(*where))).scalar_one()
        if total == 0 or paging.offset >= total:
            return [], total
        ordering = [c.desc() for c in order_by] if paging.sort_desc else list(order_by)
        query = select(self.table) if rows is None else rows
        stmt = query.where(*where).order_by(*ordering).limit(paging.page_size).offset(paging.offset)
        return await self._all(model, stmt), total

    async def _one(self, model: type[M], stmt: Select[Any]) -> M | None:
        row = (await self._x.execute(stmt)).mappings().first()
        return None if row is None else model.model_validate(dict(row))

    async def _all(self, model: type[M], stmt: Select[Any]) -> list[M]:
        return list_of(model).validate_python((await self._x.execute(stmt)).mappings().all())

    async def _first(self, model: type[M], query: Prepared, params: Mapping[str, Any]) -> M | None:
        """The first row of a prepared query as `model`; None when there is none."""
        rows = await self._x.rows(query, params)
        return model.model_validate(rows[0]) if rows else None

    async def _every(self, model: type[M], query: Prepared, params: Mapping[str, Any]) -> list[M]:
        """Every row of a prepared query as `model`, validated in one call."""
        return list_of(model).validate_python(await self._x.rows(query, params))

    async def _json_page(self, model: type[M], query: Prepared, params: Mapping[str, Any]) -> list[M]:
        """The rows of a `json_pages.json_page` statement as `model`: the database's JSON array,
        validated straight from its text in one call."""
        rows = await self._x.rows(query, params)
        return list_of(model).validate_json(rows[0][PAGE])

    async def _present(self, column: Any, keys: Collection[T]) -> set[T]:
        """Which of `keys` are stored in `column`: one IN list, none when empty."""
        if not keys:
            return set()
        stmt = select(column).where(column.in_(list(keys))).distinct()
        return set((await self._x.execute(stmt)).scalars())

    async def _all_keyed(self, model: type[M], rows: bulk.KeyedRows, keys: Collection[Any]) -> list[M]:
        """The `model` rows of `rows` whose key is one of `keys`: one statement, none when empty."""
        if not keys:
            return []
        found = await self._x.rows(rows.query(self._dialect), rows.parameters(self._dialect, keys))
        return [model.model_validate(row) for row in found]

    async def _keys_present(self, keys_of: bulk.KeyedRows, keys: Collection[T]) -> set[T]:
        """Which of `keys` are stored (`keys_of` selects the key column alone): one statement,
        none when empty."""
        if not keys:
            return set()
        found = await self._x.rows(keys_of.query(self._dialect), keys_of.parameters(self._dialect, keys))
        return {next(iter(row.values())) for row in found}

    async def _insert_many(self, rows: Sequence[BaseModel]) -> None:
        """Insert every entity (all of one model) in the given order: one executemany of an
        INSERT built once (`bulk.py`), none when empty. The first bad row raises (translated by
        the executor); the unit of work is then left, which rolls the rows before it back."""
        if rows:
            await self._write_all(bulk.insert_all(self.table, type(rows[0])), rows)

    async def _write_all(self, write: bulk.Write, rows: Sequence[BaseModel]) -> None:
        """One executemany of a bulk statement, a parameter set per entity."""
        await self._x.write_bound(write.query(self._dialect), write.parameters(rows, self._dialect))

    async def _patch(
        self, model: type[M], key: ColumnElement[bool], patch: Patch, *, columns: Sequence[Any] | None = None
    ) -> M | None:
        """Apply a patch (setting `updated_at`) and return the row as it is now (its `columns`,
        default all); None if missing."""
        values: Mapping[str, Any] = {**patch.changes(), "updated_at": utcnow()}
        returning = self.table.c if columns is None else columns
        stmt = update(self.table).where(key).values(**values).returning(*returning)
        row = (await self._x.execute(stmt)).mappings().first()
        return None if row is None else model.model_validate(dict(row))

    async def _delete(self, key: ColumnElement[bool]) -> bool:
        result: Any = await self._x.execute(self.table.delete().where(key))
        return bool(result.rowcount)


def row_values(entity: BaseModel, exclude: set[str] | None = None) -> dict[str, Any]:
    """An entity as column values (JSON fields as plain JSON, the rest as Python values)."""
    return entity.model_dump(exclude=exclude)


def entity_columns(table: Table, model: type[BaseModel]) -> list[Any]:
    """The columns of `table` that are fields of `model`: storage-only columns (an insertion key,
    a run lease, a reference) never reach the entity, which forbids unknown fields."""
    return [c for c in table.c if c.name in model.model_fields]
