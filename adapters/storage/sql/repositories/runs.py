"""Runs in SQL: one row per run; a change of status is one conditional UPDATE ... RETURNING."""

from __future__ import annotations

import builtins
import functools
import uuid
from collections.abc import Collection

from sqlalchemy import bindparam, literal_column, select, update

from agentkeep.adapters.storage.sql.prepared import Prepared, insert_row, set_columns
from agentkeep.adapters.storage.sql.repositories.base import KEY, Listing, SqlRepository, row_values
from agentkeep.adapters.storage.sql.tables import runs
from agentkeep.domain.models import Run
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import RunPatch
from agentkeep.domain.values import RunStatus, utcnow

_ADD = Prepared(insert_row(runs))
_BY_ID = Prepared(select(runs).where(runs.c.id == bindparam("id")))
_LIST = Listing(runs, (runs.c.created_at, runs.c.id), session_id=runs.c.session_id == bindparam("session_id"))


@functools.lru_cache(maxsize=256)
def _update_statement(names: tuple[str, ...], statuses: tuple[str, ...] | None) -> Prepared:
    """`UPDATE runs SET ... WHERE id = :b_key [AND status IN (...)] RETURNING *`, once per set of
    columns and of statuses (the statuses are literals: a handful of shapes, each compiled once)."""
    statement = update(runs).where(runs.c.id == bindparam(KEY))
    if statuses is not None:
        # Enum values (letters and underscores): safe as literals.
        statement = statement.where(runs.c.status.in_([literal_column(f"'{s}'") for s in statuses]))
    return Prepared(set_columns(statement, names).returning(*runs.c))


class SqlRuns(SqlRepository):
    table = runs

    async def add(self, run: Run) -> Run:
        await self._executor.write(_ADD, row_values(run))
        return run

    async def get(self, run_id: uuid.UUID) -> Run | None:
        return await self._row(Run, _BY_ID, {"id": run_id})

    async def list(self, session_id: uuid.UUID, paging: Paging) -> tuple[builtins.list[Run], int]:
        return await self._page(Run, _LIST, paging, session_id=session_id)

    async def update(
        self, run_id: uuid.UUID, patch: RunPatch, *, when: Collection[RunStatus] | None = None
    ) -> Run | None:
        if when is not None and not when:
            return None  # no status allows it
        changes = {**patch.model_dump(include=patch.model_fields_set), "updated_at": utcnow()}
        statuses = None if when is None else tuple(sorted(RunStatus(s).value for s in when))
        query = _update_statement(tuple(sorted(changes)), statuses)
        return await self._row(Run, query, {**changes, KEY: run_id})
