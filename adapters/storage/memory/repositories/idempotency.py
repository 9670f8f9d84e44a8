"""Idempotency keys in memory."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from agentkeep.adapters.storage.memory.state import Repository
from agentkeep.domain.errors import NotFound
from agentkeep.domain.idempotency import Answer, IdempotencyRecord


class MemoryIdempotencyKeys(Repository):
    async def claim(self, record: IdempotencyRecord, now: datetime) -> IdempotencyRecord | None:
        stored = self._tables.idempotency_keys.get((record.route, record.key))
        if stored is not None and not stored.expired(now):
            return stored
        self._tables.idempotency_keys[(record.route, record.key)] = record
        return None

    async def get(self, route: str, key: str) -> IdempotencyRecord | None:
        return self._tables.idempotency_keys.get((route, key))

    async def complete(self, route: str, key: str, token: str, answer: Answer, expires_at: datetime) -> bool:
        stored = self._tables.idempotency_keys.get((route, key))
        if stored is None or stored.token != token:
            return False
        self._tables.idempotency_keys[(route, key)] = replace(stored, token=None, answer=answer, expires_at=expires_at)
        return True

    async def attach(self, route: str, key: str, token: str, run_id: uuid.UUID, expires_at: datetime) -> bool:
        stored = self._tables.idempotency_keys.get((route, key))
        if stored is None or stored.token != token:
            return False
        if run_id not in self._tables.runs:
            raise NotFound(f"no run {run_id}", key="run_id")
        self._tables.idempotency_keys[(route, key)] = replace(stored, token=None, run_id=run_id, expires_at=expires_at)
        return True

    async def release(self, route: str, key: str, token: str) -> None:
        stored = self._tables.idempotency_keys.get((route, key))
        if stored is not None and stored.token == token:
            del self._tables.idempotency_keys[(route, key)]

    async def purge_expired(self, now: datetime, limit: int = 100) -> int:
        doomed = [k for k, record in self._tables.idempotency_keys.items() if record.expired(now)][:limit]
        for k in doomed:
            del self._tables.idempotency_keys[k]
        return len(doomed)
