"""The idempotency keys port."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from agentkeep.domain.idempotency import Answer, IdempotencyRecord


class IdempotencyKeys(Protocol):
    """The records of `Idempotency-Key`s (`domain.idempotency`), one per (route, key): rows in the
    database, so that a claim holds across every process that shares it."""

    async def claim(self, record: IdempotencyRecord, now: datetime) -> IdempotencyRecord | None:
        """Insert `record` (a claim: `token` set, no answer), or put it in place of a record of
        its (route, key) that expired by `now`: None then. Otherwise the live record that holds
        the key, unchanged. One insert-on-conflict, so of concurrent claims exactly one wins."""
        ...

    async def get(self, route: str, key: str) -> IdempotencyRecord | None:
        """The record of this key, expired or not."""
        ...

    async def complete(self, route: str, key: str, token: str, answer: Answer, expires_at: datetime) -> bool:
        """Store the answer of the claim `token` holds (the token goes), kept until `expires_at`.
        False when `token` no longer holds the key (its claim expired and another took it)."""
        ...

    async def attach(self, route: str, key: str, token: str, run_id: uuid.UUID, expires_at: datetime) -> bool:
        """The claim `token` holds started the run `run_id` (in the unit of work that writes it):
        the token goes, the record names the run until `expires_at` (deleting the run deletes
        it). False when `token` no longer holds the key."""
        ...

    async def release(self, route: str, key: str, token: str) -> None:
        """Forget the claim `token` holds, if it still holds it: the key is new again."""
        ...

    async def purge_expired(self, now: datetime, limit: int = 100) -> int:
        """Delete up to `limit` records that expired by `now` (skipping any another transaction
        holds, so it never waits); how many it deleted."""
        ...
