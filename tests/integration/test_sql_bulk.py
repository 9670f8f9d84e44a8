"""The SQL adapter's bulk calls (the backfills'): each runs one statement for a batch and none for
an empty one, and a row written in bulk is stored exactly as one written alone. On SQLite, PostgreSQL,
and SQLite with every bulk INSERT run as a large one (in a worker thread, as multi-row statements)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from agentkeep.adapters.storage.sql import large_writes
from agentkeep.adapters.storage.sql.bulk_writer import PostgresBulkWriter, SqliteBulkWriter
from agentkeep.adapters.storage.sql.executor import AsyncExecutor, SyncExecutor
from agentkeep.adapters.storage.sql.prepared import Prepared
from agentkeep.domain.models import Agent, AgentProfileMetadata, User
from agentkeep.domain.ports import Storage, UnitOfWork
from agentkeep.testing.builders import a_bio, a_memory, a_session, a_user, add, an_agent, at
from tests.support.storages import opener

Work = Callable[[UnitOfWork], Awaitable[Any]]
#: SQLite with every bulk INSERT run as it runs a large one: in a worker thread, as multi-row
#: statements (of two rows here, so that a batch takes several and one of them is shorter).
SQLITE_OFF_LOOP = "sqlite-off-loop"


@pytest.fixture(params=["sqlite", SQLITE_OFF_LOOP, pytest.param("postgres", marks=pytest.mark.postgres)])
def make_storage(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], Any]:
    """The SQL adapters, and SQLite's large writes (this module's calls are small: `SyncExecutor`
    would run them inline)."""
    if request.param != SQLITE_OFF_LOOP:
        return opener(request.param, request, tmp_path)
    monkeypatch.setattr(large_writes, "OFF_LOOP_ROWS", 1)
    monkeypatch.setattr(large_writes, "MAX_ROWS", 2)
    return opener("sqlite", request, tmp_path)


# Statements


@contextmanager
def statements(storage: Storage) -> Iterator[list[str]]:
    """The SQL statements run while inside (an executemany counts once).

    SQLAlchemy reports what runs through it; the executors hand `Prepared` statements to the
    driver directly, so those are seen by wrapping their two methods (they call through)."""
    seen: list[str] = []
    engine: Any = getattr(storage, "engine")  # noqa: B009 - SQL storages only
    engine = getattr(engine, "sync_engine", engine)

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    def recording(method: Any) -> Any:
        async def run(self: Any, query: Prepared, *args: Any) -> Any:
            seen.append(query.compiled(self._dialect).sql)
            return await method(self, query, *args)

        return run

    event.listen(engine, "before_cursor_execute", record)
    try:
        with pytest.MonkeyPatch.context() as patch:
            for runner, names in RUNNERS:
                for name in names:
                    patch.setattr(runner, name, recording(getattr(runner, name)))
            yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


#: What runs a statement on the driver itself, and its methods that do.
RUNNERS = (
    (SyncExecutor, ("rows", "write")),
    (AsyncExecutor, ("rows", "write")),
    (SqliteBulkWriter, ("write",)),
    (PostgresBulkWriter, ("write",)),
)


def bulk_calls(user: User, agent: Agent, other: Agent, empty: bool) -> list[Work]:
    """One call of each bulk method, on a batch of two (or on nothing)."""

    def two(make: Callable[[], Any]) -> list[Any]:
        return [] if empty else [make(), make()]

    return [
        lambda uow: uow.users.get_many(two(uuid.uuid4)),
        lambda uow: uow.users.get_many_by_email(two(lambda: "A@b.org")),
        lambda uow: uow.users.add_many(two(a_user)),
        lambda uow: uow.agents.get_many(two(lambda: agent.id)),
        lambda uow: uow.agents.get_many_by_name(two(lambda: agent.name)),
        lambda uow: uow.agents.add_many(two(an_agent)),
        lambda uow: uow.agents.update_many([] if empty else [agent, other]),
        lambda uow: uow.bios.agents_with_bios(two(lambda: agent.id)),
        lambda uow: uow.bios.add_many(two(lambda: a_bio(agent))),
        lambda uow: uow.profile_metadata.get_many(two(lambda: agent.id)),
        lambda uow: uow.profile_metadata.upsert_many(two(lambda: AgentProfileMetadata(agent_id=agent.id))),
        lambda uow: uow.sessions.get_many(two(uuid.uuid4)),
        lambda uow: uow.sessions.get_many_by_name(two(lambda: "s")),
        lambda uow: uow.sessions.add_many(two(lambda: a_session(user, agent))),
        lambda uow: uow.messages.existing_ids(two(uuid.uuid4)),
        lambda uow: uow.memories.existing_ids(two(uuid.uuid4)),
    ]


@pytest.mark.parametrize("empty", [False, True], ids=["batch", "empty"])
async def test_each_bulk_call_is_one_statement_and_an_empty_one_none(storage: Storage, empty: bool) -> None:
    user, agent, other = a_user(), an_agent(), an_agent()
    await add(storage, user, agent, other)

    async with storage.unit_of_work() as uow:
        for call in bulk_calls(user, agent, other, empty):
            with statements(storage) as seen:
                result = await call(uow)
            assert len(seen) == (0 if empty else 1), seen
            if empty:
                assert not result, result  # an empty call answers nothing
        await uow.commit()


# Stored form


async def stored_rows(storage: Storage, table: str, ids: list[Any]) -> list[dict[str, Any]]:
    """The rows of `table` with these ids, as the database holds them (read past every adapter)."""
    engine: Any = getattr(storage, "engine")  # noqa: B009 - SQL storages only
    sql = f"SELECT * FROM {table} WHERE id IN ({', '.join(repr(i) for i in ids)})"
    if hasattr(engine, "sync_engine"):
        async with engine.connect() as connection:
            result = await connection.exec_driver_sql(sql)
    else:
        with engine.connect() as connection:
            result = connection.exec_driver_sql(sql)
    rows = [dict(row) for row in result.mappings()]
    return sorted(rows, key=lambda row: ids.index(row["id"]))


async def test_a_row_written_in_bulk_is_stored_as_one_written_alone(storage: Storage) -> None:
    odd = datetime(2021, 3, 4, 5, 6, 7, 0, tzinfo=timezone(timedelta(hours=-5)))  # no microseconds, not UTC
    config = {"temperature": 0.5, "tools": ["a", "é"], "nested": {"n": None, "ok": True}}
    sqlite = not hasattr(storage.engine, "sync_engine")  # type: ignore[attr-defined]

    def key(value: uuid.UUID | str) -> Any:
        return value.hex if sqlite and isinstance(value, uuid.UUID) else value

    user = a_user(email="Alone@Example.org", user_data=config, created_at=odd, updated_at=at(1))
    twin_user = user.model_copy(update={"id": uuid.uuid4(), "email": "bulk@example.org"})
    agent = an_agent(config=config, active=False, display_name="É", created_at=odd, updated_at=at(2))
    twin_agent = agent.model_copy(update={"id": uuid.uuid4().hex, "name": "bulk-twin"})
    bio = a_bio(agent, created_at=odd, updated_at=at(3))
    twin_bio = bio.model_copy(update={"id": uuid.uuid4()})
    counts = AgentProfileMetadata(agent_id=agent.id, followers_count=2**63 - 1, created_at=odd)
    twin_counts = counts.model_copy(update={"id": uuid.uuid4(), "agent_id": twin_agent.id})
    session = a_session(user, agent, metadata=config, created_at=odd)
    twin_session = session.model_copy(update={"id": uuid.uuid4(), "name": None})
    memory = a_memory(agent, user, content=config, metadata=config, created_at=odd)
    twin_memory = memory.model_copy(update={"id": uuid.uuid4(), "name": "bulk-twin"})

    await add(storage, user, agent, bio, session, memory)
    await storage.run(lambda uow: uow.profile_metadata.upsert(counts))

    async def bulk(uow: UnitOfWork) -> None:
        await uow.users.add_many([twin_user])
        await uow.agents.add_many([twin_agent])
        await uow.bios.add_many([twin_bio])
        await uow.profile_metadata.upsert_many([twin_counts])
        await uow.sessions.add_many([twin_session])
        await uow.memories.add_many([twin_memory])

    await storage.run(bulk)

    differ = {"id", "seq", "email", "name", "agent_id"}  # what the twins were given of their own
    for table, alone, twin in [
        ("users", user, twin_user),
        ("agent", agent, twin_agent),
        ("agent_persona_bios", bio, twin_bio),
        ("user_agent_profile_metadata", counts, twin_counts),
        ("sessions", session, twin_session),
        ("memories", memory, twin_memory),
    ]:
        stored, in_bulk = await stored_rows(storage, table, [key(alone.id), key(twin.id)])
        assert {k: v for k, v in in_bulk.items() if k not in differ} == {
            k: v for k, v in stored.items() if k not in differ
        }, table
