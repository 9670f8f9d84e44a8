"""Database faults injected into each kind of statement, through the real SQL adapters: a
PostgreSQL connection dropped under the storage (`pg_terminate_backend`, as a restart, a failover
or an idle-connection reaper does), a full SQLite disk, and SQLite's write lock held by another
process past the busy timeout.

Each fault answers `StorageUnavailable` at the port (503 over HTTP, exit 1 in the CLI), never
another error; nothing of the failed unit of work is kept; and the next call once the fault is
lifted succeeds: a dead pooled connection is thrown away, never handed out again.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event

from agentkeep.adapters.models.echo import EchoModel
from agentkeep.adapters.storage.sql.postgres import PostgresStorage
from agentkeep.application.run_agent import RunAgent, RunRequest
from agentkeep.domain import Paging, StorageUnavailable
from agentkeep.domain.ports import UnitOfWork
from tests.support.builders import add, an_agent

#: A unit of work's body, and what it should have written (checked absent after a fault).
Work = Callable[[UnitOfWork], Awaitable[Any]]


class Models:
    def get(self, model: str) -> EchoModel:
        return EchoModel()


def run_request(text: str = "hello", **fields: Any) -> RunRequest:
    return RunRequest.model_validate({"message_content": text, **fields})


async def message_count(storage: Any) -> int:
    async def work(uow: UnitOfWork) -> int:
        sessions, _ = await uow.sessions.list(Paging(page_size=100))
        return sum([(await uow.messages.list(s.id, Paging(page_size=1)))[1] for s in sessions])

    return int(await storage.run(work))


# --- PostgreSQL: connections terminated under the pool ---------------------------------------


class Killer:
    """Terminates the server backends of one storage's pool (and only those: other tests share
    the server), from a connection of its own."""

    def __init__(self, storage: PostgresStorage, admin: asyncpg.Connection) -> None:
        self.pids: set[int] = set()
        self._admin = admin

        @event.listens_for(storage.engine.sync_engine, "connect")
        def remember(dbapi_connection: Any, _record: Any) -> None:
            self.pids.add(dbapi_connection.driver_connection.get_server_pid())

    async def kill(self) -> int:
        """Terminate every backend the pool opened; how many were still alive."""
        killed = await self._admin.fetchval(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid = ANY($1::int[])",
            list(self.pids),
        )
        return int(killed)


@pytest.fixture
async def postgres(postgres_url: str, pg_schema: str) -> AsyncIterator[tuple[PostgresStorage, Killer]]:
    storage = PostgresStorage(postgres_url, schema=pg_schema, pool_size=4)
    admin = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg://", "postgresql://"))
    killer = Killer(storage, admin)
    await storage.create_schema()
    try:
        yield storage, killer
    finally:
        await storage.close()
        await admin.close()


pg = pytest.mark.postgres


@pg
async def test_after_the_pools_connections_are_killed_the_next_run_succeeds(
    postgres: tuple[PostgresStorage, Killer],
) -> None:
    storage, killer = postgres
    await add(storage, an_agent(name="assistant"))
    run = RunAgent(storage, Models())
    await asyncio.gather(*(run("assistant", run_request()) for _ in range(4)))
    assert await killer.kill() >= 1
    await asyncio.sleep(0.1)  # the database is back at once: only the connections are gone
    for _ in range(8):  # more runs than the pool has connections: none gets a dead one
        result = await run("assistant", run_request("after"))
        assert result.message == "after"


@pg
async def test_connections_killed_repeatedly_under_load_fail_as_unavailable_and_recover(
    postgres: tuple[PostgresStorage, Killer],
) -> None:
    storage, killer = postgres
    await add(storage, an_agent(name="assistant"))
    run = RunAgent(storage, Models(), session_wait=2.0)
    outcomes: Counter[str] = Counter()
    stop = time.monotonic() + 3.0

    async def client(n: int) -> None:
        name = f"load-{n}"
        while time.monotonic() < stop:
            try:
                await run("assistant", run_request(session_name=name))
                outcomes["ok"] += 1
            except StorageUnavailable:
                outcomes["unavailable"] += 1
            except Exception as e:
                outcomes[f"{type(e).__name__}: {e}"] += 1

    async def kill_every(seconds: float) -> int:
        kills = 0
        while time.monotonic() < stop:
            await asyncio.sleep(seconds)
            kills += await killer.kill()
        return kills

    *_, kills = await asyncio.gather(*(client(n) for n in range(4)), kill_every(0.25))
    assert kills >= 4
    assert outcomes["unavailable"] >= 1  # the faults were felt
    assert set(outcomes) <= {"ok", "unavailable"}, outcomes  # and nothing else escaped (a 500)
    # The database answers again: so does every run, at once.
    await asyncio.sleep(0.1)
    again = [run("assistant", run_request("after", session_name=f"load-{n}")) for n in range(4)]
    results = await asyncio.gather(*again)
    assert [r.message for r in results] == ["after"] * 4
    for _ in range(8):
        assert (await run("assistant", run_request("again"))).message == "again"
