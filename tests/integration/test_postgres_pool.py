"""The PostgreSQL storage's pool under load: at most `POOL_SIZE` connections, and every connection
it opened stays open for the next request (no connection made and dropped per request)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event

from agentkeep.adapters.storage.sql.postgres import PostgresStorage
from agentkeep.domain.ports import UnitOfWork

pytestmark = pytest.mark.postgres


@pytest.fixture
async def storage(postgres_url: str, pg_schema: str) -> AsyncIterator[PostgresStorage]:
    storage = PostgresStorage(postgres_url, schema=pg_schema)
    await storage.create_schema()
    yield storage
    await storage.close()


async def _hold_all_at_once(storage: PostgresStorage, count: int) -> None:
    """`count` units of work, each holding its connection until all of them hold one."""
    holding = 0
    everyone = asyncio.Event()

    async def hold(uow: UnitOfWork) -> None:
        nonlocal holding
        await uow.agents.get_many([])
        holding += 1
        if holding == count:
            everyone.set()
        await everyone.wait()

    await asyncio.wait_for(asyncio.gather(*(storage.run(hold) for _ in range(count))), timeout=60)


async def test_a_burst_of_requests_leaves_every_connection_open_for_the_next(storage: PostgresStorage) -> None:
    opened = 0

    @event.listens_for(storage.engine.sync_engine, "connect")
    def count(*_: object) -> None:
        nonlocal opened
        opened += 1

    size = PostgresStorage.POOL_SIZE
    await _hold_all_at_once(storage, size)
    assert storage.engine.pool.checkedin() == size  # type: ignore[attr-defined]
    after_first_burst = opened

    await _hold_all_at_once(storage, size)
    assert opened == after_first_burst  # the second burst reused them all
    assert storage.engine.pool.checkedin() == size  # type: ignore[attr-defined]
