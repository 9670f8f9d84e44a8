"""Idempotency keys: one claim wins, live records stay, expired ones give way, answers keep; and a
keyed create keeps its answer in its own transaction (its use case calls `KeyedCreate.keep`), on
every adapter."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from agentkeep.application.idempotency import IN_PROGRESS, Idempotency, KeyedCreate, KeyedRequest, RunKey
from agentkeep.application.inputs import NewUser
from agentkeep.application.users import UserService
from agentkeep.domain.errors import Conflict, StorageUnavailable
from agentkeep.domain.idempotency import Answer, IdempotencyRecord
from agentkeep.domain.models import Run, User
from agentkeep.domain.paging import Paging
from agentkeep.domain.ports import Storage, UnitOfWork
from agentkeep.domain.values import utcnow
from agentkeep.testing.builders import a_run, at, seed

ROUTE = "POST /api/v1/agents"


def a_claim(key: str = "k1", token: str = "t" * 32, until: float = 120, **fields: Any) -> IdempotencyRecord:
    values: dict[str, Any] = {"route": ROUTE, "key": key, "fingerprint": "f" * 64, "expires_at": at(until)}
    return IdempotencyRecord(**{**values, "token": token, **fields})


async def claim(storage: Storage, record: IdempotencyRecord, now: float = 0) -> IdempotencyRecord | None:
    return await storage.run(lambda uow: uow.idempotency_keys.claim(record, at(now)))


async def get(storage: Storage, key: str = "k1", route: str = ROUTE) -> IdempotencyRecord | None:
    return await storage.run(lambda uow: uow.idempotency_keys.get(route, key))


async def complete(storage: Storage, token: str, answer: Answer, until: datetime, key: str = "k1") -> bool:
    return await storage.run(lambda uow: uow.idempotency_keys.complete(ROUTE, key, token, answer, until))


async def test_the_first_claim_wins_and_the_next_sees_it(storage: Storage) -> None:
    first = a_claim(token="a" * 32)

    assert await claim(storage, first) is None
    second = a_claim(token="b" * 32, fingerprint="0" * 64, until=200)
    assert await claim(storage, second, now=10) == first

    assert await get(storage) == first  # the loser changed nothing


async def test_a_key_is_scoped_to_its_route(storage: Storage) -> None:
    await claim(storage, a_claim())

    other_route = a_claim(route="POST /api/v1/users", token="b" * 32)

    assert await claim(storage, other_route) is None
    assert await get(storage, route="POST /api/v1/users") == other_route
    assert await get(storage) == a_claim()


async def test_an_expired_record_gives_way_to_a_new_claim(storage: Storage) -> None:
    await claim(storage, a_claim(token="a" * 32, until=30))
    await complete(storage, "a" * 32, Answer(201, "{}"), at(60))
    fresh = a_claim(token="b" * 32, fingerprint="0" * 64, until=200)

    assert await claim(storage, fresh, now=59) is not None  # answered, and still live
    assert await claim(storage, fresh, now=60) is None  # expired at 60: the key is new

    assert await get(storage) == fresh


async def test_complete_keeps_the_answer_for_the_claims_token_only(storage: Storage) -> None:
    await claim(storage, a_claim(token="a" * 32))
    answer = Answer(201, '{"name": "Ünïcode ✓", "text": "' + "x" * 100_000 + '"}')

    assert await complete(storage, "b" * 32, Answer(500, "{}"), at(999)) is False
    assert await complete(storage, "a" * 32, answer, at(86_400)) is True

    stored = await get(storage)
    assert stored == replace(a_claim(), token=None, answer=answer, expires_at=at(86_400))
    assert stored is not None
    assert stored.expires_at.tzinfo is not None
    # Answered: the token holds nothing any more.
    assert await complete(storage, "a" * 32, Answer(500, "{}"), at(999)) is False
    assert await get(storage) == stored


async def test_release_forgets_the_claim_of_its_token_only(storage: Storage) -> None:
    await claim(storage, a_claim(token="a" * 32))

    await storage.run(lambda uow: uow.idempotency_keys.release(ROUTE, "k1", "b" * 32))
    assert await get(storage) == a_claim(token="a" * 32)

    await storage.run(lambda uow: uow.idempotency_keys.release(ROUTE, "k1", "a" * 32))
    assert await get(storage) is None
    assert await claim(storage, a_claim(token="c" * 32)) is None


async def test_release_leaves_an_answered_key_alone(storage: Storage) -> None:
    await claim(storage, a_claim(token="a" * 32))
    await complete(storage, "a" * 32, Answer(200, "[]"), at(500))

    await storage.run(lambda uow: uow.idempotency_keys.release(ROUTE, "k1", "a" * 32))

    stored = await get(storage)
    assert stored is not None
    assert stored.answer == Answer(200, "[]")


async def test_purge_deletes_expired_records_only_up_to_its_limit(storage: Storage) -> None:
    for i in range(5):
        await claim(storage, a_claim(key=f"old{i}", until=10 + i))
    await claim(storage, a_claim(key="live", until=100))

    assert await storage.run(lambda uow: uow.idempotency_keys.purge_expired(at(50), limit=3)) == 3
    assert await storage.run(lambda uow: uow.idempotency_keys.purge_expired(at(50))) == 2
    assert await storage.run(lambda uow: uow.idempotency_keys.purge_expired(at(50))) == 0

    assert [await get(storage, f"old{i}") for i in range(5)] == [None] * 5
    assert await get(storage, "live") == a_claim(key="live", until=100)


async def test_a_claim_rolled_back_with_its_unit_of_work_leaves_no_record(storage: Storage) -> None:
    async with storage.unit_of_work() as uow:
        assert await uow.idempotency_keys.claim(a_claim(), at(0)) is None
        assert await uow.idempotency_keys.get(ROUTE, "k1") == a_claim()  # seen inside it

    assert await get(storage) is None


async def test_of_concurrent_claims_of_one_key_exactly_one_wins(storage: Storage) -> None:
    claims = [a_claim(token=f"{i:032d}") for i in range(10)]

    held = await asyncio.gather(*(claim(storage, c) for c in claims))

    winners = [c for c, h in zip(claims, held, strict=True) if h is None]
    assert len(winners) == 1
    assert all(h == winners[0] for h in held if h is not None)
    assert await get(storage) == winners[0]


async def test_a_keyed_create_keeps_its_answer_with_its_row(storage: Storage) -> None:
    users = UserService(storage)
    request = KeyedRequest.of(ROUTE, "k", "/users", b"{}")
    before = utcnow()

    outcome = await Idempotency(storage, ttl=60, claim_for=600).create(
        request, lambda keyed: users.create(NewUser(), keyed), lambda user: Answer(201, user.model_dump_json())
    )

    stored = await get(storage, "k")
    assert stored is not None
    assert (stored.token, stored.answer) == (None, outcome.answer)
    assert stored.expires_at >= before + timedelta(seconds=60)
    created = User.model_validate_json(outcome.answer.body)
    assert await storage.run(lambda uow: uow.users.get(created.id)) == created


async def test_a_keyed_create_whose_claim_was_taken_meanwhile_creates_nothing(storage: Storage) -> None:
    users = UserService(storage)
    request = KeyedRequest.of(ROUTE, "k", "/users", b"{}")
    taker = IdempotencyRecord(ROUTE, "k", request.fingerprint, utcnow() + timedelta(hours=1), token="o" * 32)

    async def create_after_a_takeover(keyed: KeyedCreate[User]) -> User:
        # As when our claim outlived `claim_for`: another request took the key, and does the work.
        await storage.run(lambda uow: uow.idempotency_keys.claim(taker, utcnow() + timedelta(days=1)))
        return await users.create(NewUser(), keyed)

    with pytest.raises(Conflict) as raised:
        await Idempotency(storage, ttl=60, claim_for=600).create(
            request, create_after_a_takeover, lambda _: Answer(201, "{}")
        )

    assert raised.value.code == IN_PROGRESS
    assert (await storage.run(lambda uow: uow.users.list(Paging())))[1] == 0
    assert await get(storage, "k") == taker


async def test_a_keyed_create_that_does_not_keep_its_answer_fails_and_holds_its_key(storage: Storage) -> None:
    # A create's use case must say it keeps the answer: one that forgets is a bug, not a
    # silently unanswered key. Its row was written, so the key stays claimed (a retry is 409
    # until the claim expires) rather than freed for a retry that would create a second row.
    users = UserService(storage)
    request = KeyedRequest.of(ROUTE, "k", "/users", b"{}")

    with pytest.raises(RuntimeError, match="did not keep its answer"):
        await Idempotency(storage, ttl=60, claim_for=600).create(
            request, lambda keyed: users.create(NewUser()), lambda _: Answer(201, "{}")
        )

    held = await get(storage, "k")
    assert held is not None
    assert (held.token is not None, held.answer) == (True, None)
    assert (await storage.run(lambda uow: uow.users.list(Paging())))[1] == 1


RUN_ROUTE = "POST /api/v1/agents/{agent_id_or_name}/run"
RUN = KeyedRequest.of(RUN_ROUTE, "k", "/agents/a/run", b"{}")


async def start_a_run(storage: Storage, key: RunKey) -> Run:
    """What run-agent's prepare does with a key: write a run, name it on the key, in one unit of work."""
    _, _, session = await seed(storage)
    run = a_run(session)

    async def work(uow: UnitOfWork) -> Run:
        await uow.runs.add(run)
        await key.attach(uow.idempotency_keys, run.id)
        return run

    return await storage.run(work)


async def test_a_keyed_run_names_its_run_on_the_key_and_a_retry_gets_the_run(storage: Storage) -> None:
    keys = Idempotency(storage, ttl=60, claim_for=600)
    run = await keys.run(RUN, lambda key: start_a_run(storage, key))

    stored = await get(storage, "k", RUN_ROUTE)
    assert stored is not None
    assert (stored.token, stored.answer, stored.run_id) == (None, None, run.id)
    started_again: list[RunKey] = []

    async def start_again(key: RunKey) -> Run:
        started_again.append(key)
        raise AssertionError("a retry starts nothing")

    assert (await keys.run(RUN, start_again), started_again) == (run.id, [])


@pytest.mark.parametrize("error", [StorageUnavailable("the database failed"), RuntimeError("a bug"), Conflict("busy")])
async def test_a_keyed_run_that_failed_to_start_frees_its_key(storage: Storage, error: Exception) -> None:
    keys = Idempotency(storage, ttl=60, claim_for=600)

    async def fail(key: RunKey) -> Run:
        raise error

    with pytest.raises(type(error)):
        await keys.run(RUN, fail)

    assert await get(storage, "k", RUN_ROUTE) is None


async def test_a_run_whose_claim_was_taken_meanwhile_is_not_written(storage: Storage) -> None:
    keys = Idempotency(storage, ttl=60, claim_for=600)

    async def start_late(key: RunKey) -> Run:
        # Our claim expired and another request took the key before our run was written.
        await storage.run(lambda uow: uow.idempotency_keys.release(RUN_ROUTE, "k", key.claim.token or ""))
        assert await claim(storage, replace(key.claim, token="u" * 32)) is None
        return await start_a_run(storage, key)

    with pytest.raises(Conflict) as caught:
        await keys.run(RUN, start_late)

    assert caught.value.code == IN_PROGRESS
    assert (await storage.run(lambda uow: uow.runs.active(uuid.uuid4()))) is None
    stored = await get(storage, "k", RUN_ROUTE)
    assert stored is not None and (stored.token, stored.run_id) == ("u" * 32, None)


async def test_a_runs_key_goes_with_its_session(storage: Storage) -> None:
    keys = Idempotency(storage, ttl=60, claim_for=600)
    run = await keys.run(RUN, lambda key: start_a_run(storage, key))

    assert await storage.run(lambda uow: uow.sessions.delete(run.session_id))

    assert await get(storage, "k", RUN_ROUTE) is None
