"""Sessions in SQL, with the run lease that makes runs on one session take turns."""

from __future__ import annotations

import builtins
import functools
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, func, or_, select, update

from agentkeep.adapters.storage.sql.bulk_writer import BulkWriter
from agentkeep.adapters.storage.sql.dialect import POSTGRES, SQLITE, insert_ignoring
from agentkeep.adapters.storage.sql.executor import Executor
from agentkeep.adapters.storage.sql.prepared import Prepared, insert_row, prefixed
from agentkeep.adapters.storage.sql.repositories import bulk
from agentkeep.adapters.storage.sql.repositories.base import BulkRepository, Listing, entity_columns, row_values
from agentkeep.adapters.storage.sql.repositories.leases import RELEASE_RUN_LEASE
from agentkeep.adapters.storage.sql.repositories.message_rows import MESSAGE_COLUMNS, message_row
from agentkeep.adapters.storage.sql.tables import messages, runs, sessions, users
from agentkeep.domain.models import Message, Run, Session, User
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import SessionPatch
from agentkeep.domain.ports import Messages, RunLease, Runs, Users
from agentkeep.domain.values import utcnow

_ORDER = (sessions.c.created_at, sessions.c.id)
# The run lease (`run_token`, `run_until`) is storage-only: never part of the entity.
_COLUMNS = entity_columns(sessions, Session)
_ROWS = select(*_COLUMNS)
_ADD = Prepared(insert_row(sessions, [*(c.name for c in _COLUMNS), "run_token", "run_until"]))
# INSERT ... ON CONFLICT (name) DO NOTHING RETURNING id: a row when it was added.
_ADD_UNLESS_NAME = {
    dialect: Prepared(
        insert_ignoring(sessions, dialect, ["name"])
        .values({name: bindparam(name) for name in (*(c.name for c in _COLUMNS), "run_token", "run_until")})
        .returning(sessions.c.id)
    )
    for dialect in (SQLITE, POSTGRES)
}
_BY_ID = Prepared(_ROWS.where(sessions.c.id == bindparam("id")))
_BY_NAME = Prepared(_ROWS.where(sessions.c.name == bindparam("name")))
_LEASE = Prepared(select(sessions.c.run_token, sessions.c.run_until).where(sessions.c.id == bindparam("id")))
_BY_IDS = bulk.RowsByKeys(_ROWS, sessions.c.id)
_BY_NAMES = bulk.RowsByKeys(_ROWS, sessions.c.name)
_LIST = Listing(
    sessions,
    _ORDER,
    rows=_ROWS,
    user_id=sessions.c.user_id == bindparam("user_id"),
    agent_id=sessions.c.agent_id == bindparam("agent_id"),
)
# The first finish wins; a repeated one changes nothing, not even `updated_at`.
_FINISHED_AT: Any = sessions.c.finished_at
_FINISH = Prepared(
    update(sessions)
    .where(sessions.c.id == bindparam("b_id"))
    .values(
        finished_at=func.coalesce(_FINISHED_AT, bindparam("b_at", type_=_FINISHED_AT.type)),
        updated_at=case(
            (_FINISHED_AT.is_(None), bindparam("b_now", type_=_FINISHED_AT.type)), else_=sessions.c.updated_at
        ),
    )
    .returning(*_COLUMNS)
)
# Take the run lease when nobody holds it or its holder's time is up; give it back by its token.
_FREE = or_(sessions.c.run_token.is_(None), sessions.c.run_until < bindparam("now"))
_CLAIM = Prepared(
    update(sessions)
    .where(sessions.c.id == bindparam("b_id"), _FREE)
    .values(run_token=bindparam("token"), run_until=bindparam("until"))
)
_CLAIM_BY_NAME = Prepared(
    update(sessions)
    .where(sessions.c.name == bindparam("b_name"), _FREE)
    .values(run_token=bindparam("token"), run_until=bindparam("until"))
    .returning(*_COLUMNS)
)


@functools.cache
def _add_with(owner: bool, message: bool, run: bool) -> Prepared:
    """PostgreSQL: a session with its new owner, its first message and/or its run, in one
    statement (the foreign keys are checked at its end); the owner's values are
    `owner_<column>`, the message's `message_<column>`, the run's `run_<column>`."""
    statement = _ADD.statement
    if owner:
        statement = statement.add_cte(insert_row(users, prefix="owner_").cte("new_owner"))
    if message:
        statement = statement.add_cte(insert_row(messages, MESSAGE_COLUMNS, prefix="message_").cte("first_message"))
    if run:
        statement = statement.add_cte(insert_row(runs, prefix="run_").cte("first_run"))
    return Prepared(statement)


def _row(session: Session, lease: RunLease | None) -> dict[str, Any]:
    return {
        **row_values(session),
        "run_token": None if lease is None else lease.token,
        "run_until": None if lease is None else lease.until,
    }


class SqlSessions(BulkRepository):
    """Sessions; a session's new owner and first message are added through `users` and
    `messages` where they cannot go in the session's own statement (the unit of work gives its
    own repositories)."""

    table = sessions

    def __init__(
        self, executor: Executor, bulk_writer: BulkWriter, *, users: Users, messages: Messages, runs: Runs
    ) -> None:
        super().__init__(executor, bulk_writer)
        self._users = users
        self._messages = messages
        self._runs = runs

    async def add(
        self,
        session: Session,
        *,
        lease: RunLease | None = None,
        owner: User | None = None,
        first_message: Message | None = None,
        run: Run | None = None,
    ) -> Session:
        row = _row(session, lease)
        # The message that goes in the session's statement: not one with a system prompt, which
        # stores its prompt too (`SqlMessages.add`).
        joined = first_message if first_message is not None and first_message.system_prompt is None else None
        # The run goes in it after its message only: the message is appended first.
        joined_run = run if run is not None and (first_message is None or joined is not None) else None
        if self._dialect == POSTGRES and (owner is not None or joined is not None or joined_run is not None):
            if owner is not None:
                row.update(prefixed(row_values(owner), "owner_"))
            if joined is not None:
                row.update(prefixed(message_row(joined), "message_"))
            if joined_run is not None:
                row.update(prefixed(row_values(joined_run), "run_"))
            await self._executor.write(_add_with(owner is not None, joined is not None, joined_run is not None), row)
        else:  # one statement each
            joined = joined_run = None
            if owner is not None:
                await self._users.add(owner)
            await self._executor.write(_ADD, row)
        if first_message is not None and joined is None:
            await self._messages.add(first_message)
        if run is not None and joined_run is None:
            await self._runs.add(run)
        return session

    async def get(self, session_id: uuid.UUID) -> Session | None:
        return await self._row(Session, _BY_ID, {"id": session_id})

    async def get_many(self, session_ids: Collection[uuid.UUID]) -> builtins.list[Session]:
        return await self._rows_by_keys(Session, _BY_IDS, session_ids)

    async def get_many_by_name(self, names: Collection[str]) -> builtins.list[Session]:
        return await self._rows_by_keys(Session, _BY_NAMES, names)

    async def add_many(self, batch: Sequence[Session]) -> None:
        await self._insert_many(batch)

    async def get_by_name(self, name: str) -> Session | None:
        return await self._row(Session, _BY_NAME, {"name": name})

    async def get_or_create_by_name(self, session: Session, *, lease: RunLease | None = None) -> tuple[Session, bool]:
        if session.name is None:
            raise ValueError("get_or_create_by_name needs a name")
        created = bool(await self._executor.rows(_ADD_UNLESS_NAME[self._dialect], _row(session, lease)))
        stored = await self.get_by_name(session.name)
        assert stored is not None  # inserted, or there already
        return stored, created

    async def list(
        self, paging: Paging, *, user_id: uuid.UUID | None = None, agent_id: str | None = None
    ) -> tuple[list[Session], int]:
        return await self._page(Session, _LIST, paging, user_id=user_id, agent_id=agent_id)

    async def update(self, session_id: uuid.UUID, patch: SessionPatch) -> Session | None:
        if not patch:
            return await self.get(session_id)
        return await self._patch(Session, "id", session_id, patch, columns=_COLUMNS)

    async def finish(self, session_id: uuid.UUID, at: datetime) -> Session | None:
        return await self._row(Session, _FINISH, {"b_id": session_id, "b_at": at, "b_now": utcnow()})

    async def delete(self, session_id: uuid.UUID) -> bool:
        return await self._delete("id", session_id)

    async def claim_run(self, session_id: uuid.UUID, token: str, now: datetime, until: datetime) -> bool:
        params = {"b_id": session_id, "now": now, "token": token, "until": until}
        return bool(await self._executor.write(_CLAIM, params))

    async def claim_run_by_name(self, name: str, token: str, now: datetime, until: datetime) -> Session | None:
        params = {"b_name": name, "now": now, "token": token, "until": until}
        return await self._row(Session, _CLAIM_BY_NAME, params)

    async def lease(self, session_id: uuid.UUID) -> RunLease | None:
        rows = await self._executor.rows(_LEASE, {"id": session_id})
        if not rows or rows[0]["run_token"] is None or rows[0]["run_until"] is None:
            return None
        return RunLease(rows[0]["run_token"], rows[0]["run_until"])

    async def release_run(self, session_id: uuid.UUID, token: str) -> None:
        await self._executor.write(RELEASE_RUN_LEASE, {"b_id": session_id, "token": token})
