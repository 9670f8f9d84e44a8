"""Idempotency keys in SQL: one row per (route, key), claimed with one insert-on-conflict."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, tuple_, update

from agentkeep.adapters.storage.sql.dialect import POSTGRES, SQLITE, insert
from agentkeep.adapters.storage.sql.prepared import Prepared
from agentkeep.adapters.storage.sql.repositories.base import SqlRepository
from agentkeep.adapters.storage.sql.tables import idempotency_keys as keys
from agentkeep.domain.idempotency import Answer, IdempotencyRecord

_KEY = ("route", "key")
_CLAIM_COLUMNS = ("fingerprint", "token", "status", "body", "expires_at", "run_id")
_IS = (keys.c.route == bindparam("b_route"), keys.c.key == bindparam("b_key"))
_GET = Prepared(select(keys).where(*_IS))
_COMPLETE = Prepared(
    update(keys)
    .where(*_IS, keys.c.token == bindparam("b_token"))
    .values(token=None, status=bindparam("status"), body=bindparam("body"), expires_at=bindparam("expires_at"))
)
_ATTACH = Prepared(
    update(keys)
    .where(*_IS, keys.c.token == bindparam("b_token"))
    .values(token=None, run_id=bindparam("run_id"), expires_at=bindparam("expires_at"))
)
_RELEASE = Prepared(delete(keys).where(*_IS, keys.c.token == bindparam("b_token")))
# SKIP LOCKED (PostgreSQL; SQLite has one writer and no row locks): a purge never waits for
# another transaction, so it cannot be part of a deadlock.
_DOOMED = (
    select(keys.c.route, keys.c.key)
    .where(keys.c.expires_at <= bindparam("now"))
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_PURGE = Prepared(delete(keys).where(tuple_(keys.c.route, keys.c.key).in_(_DOOMED)))


def _claim_statement(dialect: str) -> Prepared:
    stmt: Any = insert(keys, dialect).values({name: bindparam(name) for name in (*_KEY, *_CLAIM_COLUMNS)})
    # An expired record is overwritten in the same statement; a live one stays as it is.
    # (PostgreSQL waits for a concurrent claim of the key to end, then sees its row.)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(_KEY),
        set_={name: stmt.excluded[name] for name in _CLAIM_COLUMNS},
        where=keys.c.expires_at <= bindparam("now"),
    ).returning(keys.c.route)
    return Prepared(stmt)


_CLAIM = {dialect: _claim_statement(dialect) for dialect in (SQLITE, POSTGRES)}


class SqlIdempotencyKeys(SqlRepository):
    table = keys

    async def claim(self, record: IdempotencyRecord, now: datetime) -> IdempotencyRecord | None:
        if await self._executor.rows(_CLAIM[self._dialect], {**_row(record), "now": now}):
            return None
        held = await self.get(record.route, record.key)
        assert held is not None  # the row the insert ran into
        return held

    async def get(self, route: str, key: str) -> IdempotencyRecord | None:
        rows = await self._executor.rows(_GET, {"b_route": route, "b_key": key})
        return _record(rows[0]) if rows else None

    async def complete(self, route: str, key: str, token: str, answer: Answer, expires_at: datetime) -> bool:
        params = {"b_route": route, "b_key": key, "b_token": token}
        values = {"status": answer.status, "body": answer.body, "expires_at": expires_at}
        return bool(await self._executor.write(_COMPLETE, {**params, **values}))

    async def attach(self, route: str, key: str, token: str, run_id: uuid.UUID, expires_at: datetime) -> bool:
        params = {"b_route": route, "b_key": key, "b_token": token, "run_id": run_id, "expires_at": expires_at}
        return bool(await self._executor.write(_ATTACH, params))

    async def release(self, route: str, key: str, token: str) -> None:
        await self._executor.write(_RELEASE, {"b_route": route, "b_key": key, "b_token": token})

    async def purge_expired(self, now: datetime, limit: int = 100) -> int:
        return await self._executor.write(_PURGE, {"now": now, "limit": limit})


def _row(record: IdempotencyRecord) -> dict[str, Any]:
    answer = record.answer
    return {
        "route": record.route,
        "key": record.key,
        "fingerprint": record.fingerprint,
        "token": record.token,
        "status": None if answer is None else answer.status,
        "body": None if answer is None else answer.body,
        "expires_at": record.expires_at,
        "run_id": record.run_id,
    }


def _record(row: Any) -> IdempotencyRecord:
    answer = None if row["status"] is None else Answer(row["status"], row["body"])
    return IdempotencyRecord(
        route=row["route"],
        key=row["key"],
        fingerprint=row["fingerprint"],
        expires_at=row["expires_at"],
        token=row["token"],
        answer=answer,
        run_id=row["run_id"],
    )
