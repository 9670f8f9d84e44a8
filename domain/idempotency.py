"""Idempotent retries (SPEC §5 "Retries"): what is remembered of a request sent with an
`Idempotency-Key`, so that a retry is answered without doing the work again.

A key lives on one route (`POST /api/v1/agents`, ...): the same key on two routes is two keys. Its
record first holds the *claim* of the request doing the work (`token`), then the `answer` that
request gave, or for a run the `run_id` of the run it started (whose record answers a retry).
Past `expires_at` (the claim's end while it runs, the TTL once answered) a record is as good as
gone: the key is new again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Answer:
    """A response as it is replayed: the status and the JSON body, as first sent."""

    status: int
    body: str


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """One key of one route. `fingerprint` names the request first sent with it (a retry must
    send the same); `token` is set while that request runs, `answer` once it has answered, or
    `run_id` once it started its run."""

    route: str
    key: str
    fingerprint: str
    expires_at: datetime
    token: str | None = None
    answer: Answer | None = None
    run_id: uuid.UUID | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now
