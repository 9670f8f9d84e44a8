"""Idempotency keys in SQL: one row per (route, key), claimed with one insert-on-conflict."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, tuple_, update

from agentkeep.adapters.storage.sql.dialect import insert
from agentkeep.adapters.storage.sql.repositories.base import SqlRepository
from agentkeep.adapters.storage.sql.tables import idempotency_keys as keys
from agentkeep.domain.idempotency import Answer, IdempotencyRecord

_KEY = ("route", "key")
_CLAIM_COLUMNS = ("fingerprint", "token", "status", "body", "expires_at")


class SqlIdempotencyKeys(SqlRepository):
    table = keys

    async def claim(self, record: IdempotencyRecord, now: datetime) -> IdempotencyRecord | None:
        values = _row(record)
        stmt: Any = insert(keys, self._dialect).values(**values)
        # An expired record is overwritten in the same statement; a live one stays as it is.
        # (PostgreSQL waits for a concurrent claim of the key to end, then sees its row.)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(_KEY),
            set_={name: stmt.excluded[name] for name in _CLAIM_COLUMNS},
            where=keys.c.expires_at <= now,
        ).returning(keys.c.route)
        if (await self._x.execute(stmt)).first() is not None:
            return None
        held = await self.get(record.route, record.key)
        assert held is not None  # the row the insert ran into
        return held

    async def get(self, route: str, key: str) -> IdempotencyRecord | None:
        row = (await self._x.execute(select(keys).where(*_is(route, key)))).mappings().first()
        return None if row is None else _record(row)

    async def complete(self, route: str, key: str, token: str, answer: Answer, expires_at: datetime) -> bool:
        stmt = (
            update(keys)
            .where(*_is(route, key), keys.c.token == token)
            .values(token=None, status=answer.status, body=answer.body, expires_at=expires_at)
        )
        result: Any = await self._x.execute(stmt)
        return bool(result.rowcount)

    async def release(self, route: str, key: str, token: str) -> None:
        await self._x.execute(delete(keys).where(*_is(route, key), keys.c.token == token))

    async def purge_expired(self, now: datetime, limit: int = 100) -> int:
        # SKIP LOCKED (PostgreSQL; SQLite has one writer and no row locks): a purge never waits
        # for another transaction, so it cannot be part of a deadlock.
        doomed = (
            select(keys.c.route, keys.c.key)
            .where(keys.c.expires_at <= now)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        result: Any = await self._x.execute(delete(keys).where(tuple_(keys.c.route, keys.c.key).in_(doomed)))
        return int(result.rowcount)


def _is(route: str, key: str) -> tuple[Any, Any]:
    return keys.c.route == route, keys.c.key == key


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
    )
