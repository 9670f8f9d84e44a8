"""Idempotent retries (SPEC §5 "Retries"): a request sent again with the same `Idempotency-Key` gets
the answer the first one got, and nothing is done twice.

One key is one row (`IdempotencyKeys`), so this holds across every process sharing the database:

1. **Claim** the key, in a short transaction of its own, before any work: of concurrent requests
   with one key, one inserts the row. The others find it: sent with another request (route path
   or body) → 409 `idempotency_key_reused`; still running → 409 `idempotency_key_in_progress`;
   answered → that answer, replayed, and nothing else is done.
2. **Work, and keep the answer.** A create keeps it in the create's own transaction: its use case
   is handed a `KeyedCreate` and calls `keep(uow.idempotency_keys, result)` in the unit of work
   that writes the row, so the row and the answer commit together or not at all, and not even a
   crash makes a retry create twice. A run keeps no answer: its prepare unit of work, which writes
   the run's record and its user message, names the run on the key (`RunKey.attach`), and the run's
   record answers every retry (SPEC §9.7): the run's answer once it has ended, its events to a
   streamed retry, from the first.
3. **An error that wrote nothing releases the claim** (every 4xx: SPEC §3 and §5 promise they
   write nothing; a storage failure): the retry is evaluated afresh, which cannot repeat anything
   since nothing was done. A run that failed once its record was written *did* write: the retry
   is answered its failure (502/504, 503, 500) from its record; to try again, send a new key.

A claim lasts `claim_for` seconds, longer than a request can run, so a process that dies holding
one frees the key then. An answer is kept `ttl` seconds; after that the key is new again. Expired
rows are deleted by later claims, a few at a time.
"""

from __future__ import annotations

import contextlib
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, TypeVar

from agentkeep.domain.errors import Conflict, StorageUnavailable
from agentkeep.domain.idempotency import Answer, IdempotencyRecord
from agentkeep.domain.ports.idempotency_keys import IdempotencyKeys
from agentkeep.domain.ports.unit_of_work import Storage, UnitOfWork
from agentkeep.domain.values import utcnow

T = TypeVar("T")

HEADER = "Idempotency-Key"
REUSED = "idempotency_key_reused"
Replay = Answer | uuid.UUID
"""What a retry is answered: an answer kept, or the run a keyed run started (its record answers)."""
IN_PROGRESS = "idempotency_key_in_progress"


@dataclass(frozen=True, slots=True)
class KeyedRequest:
    """A request sent with an `Idempotency-Key`: the route it is scoped to (method and route
    template, e.g. `POST /api/v1/agents/{agent_id_or_name}/run`), the key, and a fingerprint of
    the request itself (its path and body, byte for byte) that a retry must match."""

    route: str
    key: str
    fingerprint: str

    @classmethod
    def of(cls, route: str, key: str, path: str, body: bytes) -> KeyedRequest:
        return cls(route, key, hashlib.sha256(path.encode() + b"\n" + body).hexdigest())


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to give, and whether it is a replay of the first request's."""

    answer: Answer
    replayed: bool


class Idempotency:
    """Runs keyed requests once (see the module). `ttl`: seconds an answer is replayed;
    `claim_for`: seconds a running request holds its key at most."""

    def __init__(self, storage: Storage, *, ttl: float, claim_for: float) -> None:
        self._storage = storage
        self._ttl = timedelta(seconds=ttl)
        self._claim_for = timedelta(seconds=claim_for)

    async def create(
        self,
        request: KeyedRequest,
        work: Callable[[KeyedCreate[T]], Awaitable[T]],
        render: Callable[[T], Answer],
    ) -> Outcome:
        """A create, once: `work(keyed)` runs the create's use case, which keeps `render(result)`
        with its row by `keyed.keep(...)` in its own unit of work. A use case that did not keep
        it is a bug (RuntimeError); its row may be written, so the key stays claimed until the
        claim expires rather than freed for a retry that would create a second one."""
        held = await self._claim(request)
        if isinstance(held, Answer):
            return Outcome(held, replayed=True)
        assert isinstance(held, IdempotencyRecord)  # a create's route starts no run
        keyed = KeyedCreate(held, render, self._ttl)
        try:
            await work(keyed)
        except BaseException:
            await self._release(held)
            raise
        if keyed.answer is None:
            raise RuntimeError("the create's use case did not keep its answer (KeyedCreate.keep)")
        return Outcome(keyed.answer, replayed=False)

    async def run(self, request: KeyedRequest, start: Callable[[RunKey], Awaitable[T]]) -> T | Replay:
        """A run, started once (SPEC §9.7): `start(key)` starts it, and its prepare unit of work
        attaches the key to the run it writes (`RunKey.attach`), so the run and its key commit
        together. A retry gets the run's id: its record answers it (its answer, or its events),
        whether it is finished or not. A start that fails wrote nothing (it rolled back): the key
        is free again. (A key answered before runs had records replays that answer.)"""
        held = await self._claim(request)
        if not isinstance(held, IdempotencyRecord):
            return held
        try:
            return await start(RunKey(held, self._ttl))
        except BaseException:
            await self._release(held)  # a no-op once attached: the claim's token is gone
            raise

    async def _claim(self, request: KeyedRequest) -> IdempotencyRecord | Replay:
        """Our claim on the key, or what to replay; Conflict when neither."""
        now = utcnow()
        mine = IdempotencyRecord(
            request.route, request.key, request.fingerprint, now + self._claim_for, token=uuid.uuid4().hex
        )

        async def claim(uow: UnitOfWork) -> IdempotencyRecord | None:
            held = await uow.idempotency_keys.claim(mine, now)
            await uow.idempotency_keys.purge_expired(now)  # after the claim: it waits for nothing
            return held

        held = await self._storage.run(claim)
        if held is None:
            return mine
        if held.fingerprint != request.fingerprint:
            raise Conflict(
                f"this {HEADER} was first sent with another request (path or body): use a new key",
                code=REUSED,
                key=HEADER,
            )
        if held.run_id is not None:
            return held.run_id
        if held.answer is None:
            raise Conflict(
                f"the first request with this {HEADER} is still running: retry once it has answered",
                code=IN_PROGRESS,
                key=HEADER,
            )
        return held.answer

    async def _release(self, claim: IdempotencyRecord) -> None:
        # A storage that fails now leaves the claim to expire; the request's own error matters more.
        with contextlib.suppress(StorageUnavailable):
            await self._storage.run(lambda uow: uow.idempotency_keys.release(claim.route, claim.key, _token(claim)))


def _token(claim: IdempotencyRecord) -> str:
    assert claim.token is not None  # a claim always has its token
    return claim.token


@dataclass(frozen=True, slots=True)
class RunKey:
    """A run sent with an `Idempotency-Key`, as run-agent's prepare is handed it: our claim on
    the key, and how long the run answers a retry."""

    claim: IdempotencyRecord
    ttl: timedelta

    async def attach(self, keys: IdempotencyKeys, run_id: uuid.UUID) -> None:
        """Name the run on the key, through the unit of work that writes the run. Conflict
        (`idempotency_key_in_progress`) when our claim expired and another request took the key."""
        claim = self.claim
        if not await keys.attach(claim.route, claim.key, _token(claim), run_id, utcnow() + self.ttl):
            raise Conflict(f"another request took over this {HEADER}", code=IN_PROGRESS, key=HEADER)


class KeyedCreate(Generic[T]):
    """A create sent with an `Idempotency-Key`, as its use case is handed it: the claim on the key,
    and how to render the create's result as the answer to replay. The use case calls `keep` in
    the unit of work that writes its row, before that unit of work commits (the claim's token
    goes with the answer, so a second commit that kept it too would be refused a `Conflict`)."""

    def __init__(self, claim: IdempotencyRecord, render: Callable[[T], Answer], ttl: timedelta) -> None:
        self._claim = claim
        self._render = render
        self._ttl = ttl
        #: The answer kept (once `keep` has run; it commits with the unit of work `keep` ran in).
        self.answer: Answer | None = None

    async def keep(self, keys: IdempotencyKeys, result: T) -> None:
        """Store the answer to `result` on the key, through the unit of work's `keys`. Conflict
        (`idempotency_key_in_progress`) when our claim expired and another request took the key:
        that one does the work, so this unit of work must not commit."""
        answer = self._render(result)
        claim = self._claim
        if not await keys.complete(claim.route, claim.key, _token(claim), answer, utcnow() + self._ttl):
            raise Conflict(f"another request took over this {HEADER}", code=IN_PROGRESS, key=HEADER)
        self.answer = answer
