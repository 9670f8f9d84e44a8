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
import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event

from agentkeep.adapters.models.echo import EchoModel
from agentkeep.adapters.storage.sql.postgres import PostgresStorage
from agentkeep.adapters.storage.sql.sqlite import SqliteStorage
from agentkeep.application.run_agent import RunAgent, RunRequest
from agentkeep.domain import Message, Paging, StorageUnavailable, UserPatch
from agentkeep.domain.patches import RunPatch
from agentkeep.domain.ports import UnitOfWork
from agentkeep.domain.values import RunStatus
from agentkeep.testing.builders import a_message, a_run, a_session, a_user, add, an_agent

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


# --- Each kind of statement, on each database -------------------------------------------------


class World:
    """A user, an agent and a session of theirs, stored; and entities a fault must not leave."""

    def __init__(self) -> None:
        self.user, self.agent = a_user(), an_agent()
        self.session = a_session(self.user, self.agent)
        self.before = a_user()  # written in the same unit of work, before the faulty statement
        self.run = a_run(self.session, status=RunStatus.RUNNING)

    async def store(self, storage: Any) -> None:
        await add(storage, self.user, self.agent, self.session, self.run)

    async def finish(self, storage: Any, reply: Message) -> bool:
        """The run's end with `reply`: the statement written outside any unit of work."""
        done = RunPatch(status=RunStatus.COMPLETED, assistant_message_id=reply.id, steps=1)
        return bool(await storage.finish_run(self.run, done, "token", reply))

    def message(self, size: int = 10) -> Message:
        return a_message(self.session, text_content="x" * size)


#: A statement of each kind a repository runs, through what runs it: the executor's `rows` (a
#: read; a list and a patch, prepared once per shape of their filters or columns) and `write`,
#: the bulk writer's `write` (the backfills' bulk writes); "commit" runs no statement of its own
#: (the fault lands on COMMIT).
STATEMENTS: dict[str, Callable[[UnitOfWork, World, int], Awaitable[Any]]] = {
    "read": lambda uow, w, size: uow.agents.get(w.agent.id),
    "list": lambda uow, w, size: uow.sessions.list(Paging(), user_id=w.user.id),
    "write": lambda uow, w, size: uow.messages.add(w.message(size)),
    "patch": lambda uow, w, size: uow.users.update(w.user.id, UserPatch(user_data={"x": "x" * size})),
    "bulk write": lambda uow, w, size: uow.users.add_many([a_user(user_data={"x": "x" * size}) for _ in range(50)]),
    "commit": lambda uow, w, size: asyncio.sleep(0),
}
WRITES = ["write", "patch", "bulk write"]


async def stored_users(storage: Any) -> int:
    _, total = await storage.run(lambda uow: uow.users.list(Paging(page_size=1)))
    return int(total)


@pg
@pytest.mark.parametrize("kind", list(STATEMENTS))
async def test_postgres_a_statement_on_a_terminated_connection_is_unavailable_and_the_next_succeeds(
    postgres: tuple[PostgresStorage, Killer], kind: str
) -> None:
    storage, killer = postgres
    world = World()
    await world.store(storage)
    statement = STATEMENTS[kind]

    async def work(uow: UnitOfWork) -> None:
        await uow.users.add(world.before)
        assert await killer.kill() == 1  # this unit of work's connection, mid-transaction
        await statement(uow, world, 10)

    with pytest.raises(StorageUnavailable):
        await storage.run(work)
    assert await storage.run(lambda uow: uow.users.get(world.before.id)) is None  # nothing partial
    users = await stored_users(storage)
    await storage.run(lambda uow: statement(uow, world, 10))  # at once: no dead connection is handed out
    assert await stored_users(storage) == users + (50 if kind == "bulk write" else 0)


@pg
async def test_postgres_a_reply_whose_connection_is_terminated_mid_statement_is_unavailable(
    postgres: tuple[PostgresStorage, Killer], pg_schema: str, postgres_url: str
) -> None:
    storage, killer = postgres
    world = World()
    await world.store(storage)
    reply = world.message()
    locker = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        # The reply's statement gives the session's lease back: it waits on this lock, in
        # flight, when its connection is terminated.
        transaction = locker.transaction()
        await transaction.start()
        await locker.execute(f'LOCK TABLE "{pg_schema}".sessions IN SHARE MODE')
        storing = asyncio.create_task(world.finish(storage, reply))
        await asyncio.sleep(0.3)
        assert not storing.done()
        assert await killer.kill() == 1
        with pytest.raises(StorageUnavailable):
            await asyncio.wait_for(storing, 10)
        await transaction.rollback()
    finally:
        await locker.close()
    assert await storage.run(lambda uow: uow.messages.get(reply.id)) is None
    await world.finish(storage, reply)  # at once
    assert await storage.run(lambda uow: uow.messages.get(reply.id)) is not None


@pg
async def test_postgres_runs_cancelled_mid_statement_never_leave_a_connection_busy(
    postgres: tuple[PostgresStorage, Killer],
) -> None:
    """A task cancelled while its statement runs (a client gone, a timeout) leaves its asyncpg
    connection cancelling that statement: it must not be handed to the next unit of work, which
    would fail with `another operation is in progress` (two operations at once)."""
    storage, _ = postgres
    await add(storage, an_agent(name="assistant"))
    run = RunAgent(storage, Models(), session_wait=5.0)
    cancelled = 0
    for round_ in range(30):
        tasks = [asyncio.create_task(run("assistant", run_request())) for _ in range(6)]
        await asyncio.sleep(0.0005 * (round_ % 10))
        for task in tasks[::2]:
            cancelled += task.cancel()
        for outcome in await asyncio.gather(*tasks, return_exceptions=True):
            assert outcome is None or not isinstance(outcome, Exception), repr(outcome)
    assert cancelled > 0
    results = await asyncio.gather(*(run("assistant", run_request("after")) for _ in range(8)))
    assert [r.message for r in results] == ["after"] * 8


# SQLite: a full disk.


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    storage = SqliteStorage(f"sqlite:///{tmp_path}/faults.db", busy_timeout=0.3)
    await storage.create_schema()
    try:
        yield storage
    finally:
        await storage.close()


def _limit_pages(storage: SqliteStorage, extra: int | None) -> None:
    """`PRAGMA max_page_count` on the storage's connection: the file may grow by `extra`
    pages (None: no limit)."""
    driver: Any = storage._connect().connection.dbapi_connection
    pages = driver.execute("PRAGMA page_count").fetchone()[0]
    driver.execute(f"PRAGMA max_page_count = {pages + extra if extra is not None else 4294967294}")


@pytest.mark.parametrize("kind", WRITES)
async def test_sqlite_a_write_on_a_full_disk_is_unavailable_and_the_next_succeeds(
    sqlite: SqliteStorage, kind: str
) -> None:
    world = World()
    await world.store(sqlite)
    statement = STATEMENTS[kind]
    _limit_pages(sqlite, 2)

    async def work(uow: UnitOfWork) -> None:
        await uow.users.add(world.before)
        await statement(uow, world, 100_000)  # more than two pages

    with pytest.raises(StorageUnavailable):
        await sqlite.run(work)
    assert await sqlite.run(lambda uow: uow.agents.get(world.agent.id)) is not None  # reads still answer
    _limit_pages(sqlite, None)  # space is freed
    assert await sqlite.run(lambda uow: uow.users.get(world.before.id)) is None  # nothing partial
    users = await stored_users(sqlite)
    await sqlite.run(lambda uow: statement(uow, world, 100_000))
    assert await stored_users(sqlite) == users + (50 if kind == "bulk write" else 0)


async def test_sqlite_a_reply_on_a_full_disk_is_unavailable_and_the_next_succeeds(sqlite: SqliteStorage) -> None:
    world = World()
    await world.store(sqlite)
    reply = world.message(100_000)
    _limit_pages(sqlite, 2)
    with pytest.raises(StorageUnavailable):
        await world.finish(sqlite, reply)
    _limit_pages(sqlite, None)
    assert await sqlite.run(lambda uow: uow.messages.get(reply.id)) is None
    await world.finish(sqlite, reply)
    assert await sqlite.run(lambda uow: uow.messages.get(reply.id)) is not None


@contextlib.contextmanager
def small_disk(directory: Path, size: str = "1m") -> Iterator[Path]:
    """A tmpfs of `size` mounted on `directory` (root only: a skip otherwise)."""
    directory.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)], check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


async def test_sqlite_a_commit_on_a_full_disk_is_unavailable_and_the_next_succeeds(tmp_path: Path) -> None:
    """The statements fit in the page cache; the disk runs full as COMMIT writes them out."""
    with small_disk(tmp_path / "disk") as disk:
        storage = SqliteStorage(f"sqlite:///{disk}/full.db", busy_timeout=0.3)
        try:
            await storage.create_schema()
            world = World()
            await world.store(storage)
            filler = disk / "filler"
            with contextlib.suppress(OSError), filler.open("wb") as f:
                while True:  # the disk, full to the last block
                    f.write(b"\0" * 4096)
                    f.flush()
            statements_done = False

            async def work(uow: UnitOfWork) -> None:
                nonlocal statements_done
                await uow.users.add(world.before)
                await uow.messages.add(world.message(200_000))
                statements_done = True

            with pytest.raises(StorageUnavailable):
                await storage.run(work)
            assert statements_done  # it was the commit that failed
            filler.unlink()
            assert await storage.run(lambda uow: uow.users.get(world.before.id)) is None
            await storage.run(work)
            assert await storage.run(lambda uow: uow.users.get(world.before.id)) is not None
        finally:
            await storage.close()


# SQLite: the write lock held by another process past the busy timeout.


@contextlib.contextmanager
def write_lock_held(path: Path) -> Iterator[None]:
    """Another process holds `BEGIN IMMEDIATE` on the database until the block ends."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"c = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
            "c.execute('BEGIN IMMEDIATE')\n"
            "print('held', flush=True)\n"
            "sys.stdin.read()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(10)


@pytest.mark.parametrize("kind", list(STATEMENTS))
async def test_sqlite_a_unit_of_work_locked_out_past_the_wait_is_unavailable_and_the_next_succeeds(
    sqlite: SqliteStorage, tmp_path: Path, kind: str
) -> None:
    world = World()
    await world.store(sqlite)
    statement = STATEMENTS[kind]

    async def work(uow: UnitOfWork) -> None:
        await uow.users.add(world.before)
        await statement(uow, world, 10)

    with write_lock_held(tmp_path / "faults.db"):
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            await sqlite.run(work)
        assert time.monotonic() - started >= 0.25  # it waited its busy timeout
        with pytest.raises(StorageUnavailable):
            await world.finish(sqlite, world.message())
    await sqlite.run(work)  # the lock is gone: at once
    assert await sqlite.run(lambda uow: uow.users.get(world.before.id)) is not None
