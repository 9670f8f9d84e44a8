"""Runs in SQL: one row per run; a change of status is one conditional UPDATE. A run's end
(`finish`) is one statement on PostgreSQL: the run's UPDATE, its reply's INSERT (only if the run
was still active), its prompt and the session's lease given back, as CTEs."""

from __future__ import annotations

import builtins
import functools
import uuid
from collections.abc import Collection
from typing import Any, Protocol

from sqlalchemy import Update, bindparam, exists, func, literal_column, select, update

from agentkeep.adapters.storage.sql.dialect import POSTGRES
from agentkeep.adapters.storage.sql.executor import Executor
from agentkeep.adapters.storage.sql.prepared import Prepared, insert_row, prefixed
from agentkeep.adapters.storage.sql.repositories.base import KEY, Listing, SqlRepository, row_values
from agentkeep.adapters.storage.sql.repositories.leases import RELEASE_RUN_LEASE, RELEASE_RUN_LEASE_CTE
from agentkeep.adapters.storage.sql.repositories.message_rows import MESSAGE_COLUMNS, STORED_PROMPT, message_row
from agentkeep.adapters.storage.sql.tables import messages, runs
from agentkeep.domain.models import Message, Run
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import RunPatch
from agentkeep.domain.values import ACTIVE_RUN_STATUSES, RunStatus, utcnow

_ADD = Prepared(insert_row(runs))
_BY_ID = Prepared(select(runs).where(runs.c.id == bindparam("id")))
_ACTIVE_LITERALS = tuple(sorted(s.value for s in ACTIVE_RUN_STATUSES))
_ACTIVE = Prepared(
    select(runs)
    .where(
        runs.c.session_id == bindparam("session_id"),
        runs.c.status.in_([literal_column(f"'{s}'") for s in _ACTIVE_LITERALS]),
    )
    .order_by(runs.c.created_at.desc(), runs.c.id.desc())
    .limit(1)
)
_LIST = Listing(runs, (runs.c.created_at, runs.c.id), session_id=runs.c.session_id == bindparam("session_id"))


#: The bind parameters of a finish's run columns are prefixed: a message has columns of the same
#: names (`usage`) in the same statement.
_RUN = "run_"


class _Messages(Protocol):
    """What runs need of the messages repository (handed in by the unit of work)."""

    async def add(self, message: Message) -> Message: ...


#: PostgreSQL: a run and its user message in one statement (the message's values `message_<column>`).
_ADD_WITH_MESSAGE = Prepared(
    _ADD.statement.add_cte(insert_row(messages, MESSAGE_COLUMNS, prefix="message_").cte("user_message"))
)


def _conditional_update(names: tuple[str, ...], statuses: tuple[str, ...] | None, prefix: str = "") -> Update:
    """`UPDATE runs SET name = :<prefix>name, ... WHERE id = :b_key [AND status IN (...)]`; the
    statuses are literals (enum values: letters and underscores), so each shape compiles once."""
    statement = update(runs).where(runs.c.id == bindparam(KEY))
    if statuses is not None:
        statement = statement.where(runs.c.status.in_([literal_column(f"'{s}'") for s in statuses]))
    return statement.values({name: bindparam(f"{prefix}{name}") for name in names})


@functools.lru_cache(maxsize=256)
def _update_statement(names: tuple[str, ...], statuses: tuple[str, ...] | None) -> Prepared:
    """`_conditional_update` RETURNING the run, once per set of columns and of statuses."""
    return Prepared(_conditional_update(names, statuses).returning(*runs.c))


@functools.lru_cache(maxsize=64)
def _finish_statement(names: tuple[str, ...]) -> Prepared:
    """SQLite: the UPDATE of a finish alone (the reply and the lease follow it)."""
    return Prepared(_conditional_update(names, _ACTIVE_LITERALS))


@functools.lru_cache(maxsize=64)
def _finish_in_one(names: tuple[str, ...], reply: bool, prompt: bool) -> Prepared:
    """PostgreSQL: a finish in one statement, answering one row, `finished` (0 or 1)."""
    finished = _conditional_update(names, _ACTIVE_LITERALS, _RUN).returning(runs.c.id).cte("finished")
    statement: Any = select(func.count().label("finished")).select_from(finished).add_cte(RELEASE_RUN_LEASE_CTE)
    if reply:
        values = select(*(bindparam(name, type_=messages.c[name].type) for name in MESSAGE_COLUMNS))
        added = messages.insert().from_select(MESSAGE_COLUMNS, values.where(exists(select(finished.c.id))))
        statement = statement.add_cte(added.cte("added"))
        if prompt:
            statement = statement.add_cte(STORED_PROMPT)
    return Prepared(statement)


class SqlRuns(SqlRepository):
    table = runs

    def __init__(self, executor: Executor, *, messages: _Messages) -> None:
        super().__init__(executor)
        self._messages = messages

    async def add(self, run: Run, *, user_message: Message | None = None) -> Run:
        if user_message is None:
            await self._executor.write(_ADD, row_values(run))
        elif self._dialect == POSTGRES and user_message.system_prompt is None:
            await self._executor.write(
                _ADD_WITH_MESSAGE, {**row_values(run), **prefixed(message_row(user_message), "message_")}
            )
        else:
            await self._messages.add(user_message)
            await self._executor.write(_ADD, row_values(run))
        return run

    async def get(self, run_id: uuid.UUID) -> Run | None:
        return await self._row(Run, _BY_ID, {"id": run_id})

    async def list(self, session_id: uuid.UUID, paging: Paging) -> tuple[builtins.list[Run], int]:
        return await self._page(Run, _LIST, paging, session_id=session_id)

    async def active(self, session_id: uuid.UUID) -> Run | None:
        return await self._row(Run, _ACTIVE, {"session_id": session_id})

    async def update(
        self, run_id: uuid.UUID, patch: RunPatch, *, when: Collection[RunStatus] | None = None
    ) -> Run | None:
        if when is not None and not when:
            return None  # no status allows it
        changes = _changes(patch)
        statuses = None if when is None else tuple(sorted(RunStatus(s).value for s in when))
        query = _update_statement(tuple(sorted(changes)), statuses)
        return await self._row(Run, query, {**changes, KEY: run_id})

    async def finish(self, run: Run, patch: RunPatch, *, token: str, reply: Message | None = None) -> bool:
        changes = _changes(patch)
        names = tuple(sorted(changes))
        if self._dialect == POSTGRES:
            params = {f"{_RUN}{name}": value for name, value in changes.items()}
            params.update({KEY: run.id, "released_session": run.session_id, "released_token": token})
            if reply is not None:
                params.update(message_row(reply), prompt_text=reply.system_prompt)
            query = _finish_in_one(names, reply is not None, reply is not None and reply.system_prompt is not None)
            return bool((await self._executor.rows(query, params))[0]["finished"])
        finished = bool(await self._executor.write(_finish_statement(names), {**changes, KEY: run.id}))
        if finished and reply is not None:
            await self._messages.add(reply)
        await self._executor.write(RELEASE_RUN_LEASE, {"b_id": run.session_id, "token": token})
        return finished


def _changes(patch: RunPatch) -> dict[str, Any]:
    """A patch's columns (JSON fields as plain JSON), and `updated_at` now."""
    return {**patch.model_dump(include=patch.model_fields_set), "updated_at": utcnow()}
