"""One conversation turn through agentkeep's unit of work against the raw driver, in one run.

A turn: read the agent, read the session, read the last 50 messages, insert two messages, commit
(LIBRARY-NOTES' "What a unit of work costs"). Prints ms per turn (median of several rounds, after a
warm-up) and the ratio. Run:  .venv/bin/python -m bench.uow_turn [--turns 2000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg

from agentkeep.adapters.storage.sql.database import PostgresStorage, SqliteStorage, open_storage
from agentkeep.domain import Agent, Message, Role, Session, User
from agentkeep.domain.ports import UnitOfWork

HISTORY = 50


async def seed(storage: SqliteStorage | PostgresStorage, messages: int) -> tuple[str, uuid.UUID]:
    """An agent, a user and a session holding `messages` messages."""
    await storage.create_schema()
    agent, user = Agent(name="bench"), User()
    session = Session(user_id=user.id, agent_id=agent.id, name="bench")

    async with storage.unit_of_work() as uow:  # a backfill unit of work: it takes batches
        await uow.agents.add(agent)
        await uow.users.add(user)
        await uow.sessions.add(session)
        await uow.messages.add_many(
            [
                Message(session_id=session.id, user_id=user.id, agent_id=agent.id, role=Role.USER, text_content=f"m{i}")
                for i in range(messages)
            ]
        )
        await uow.commit()
    return agent.id, session.id


def agentkeep_turn(
    storage: SqliteStorage | PostgresStorage, agent_id: str, session_id: uuid.UUID
) -> Callable[[], Awaitable[None]]:
    async def work(uow: UnitOfWork) -> None:
        agent = await uow.agents.get(agent_id)
        session = await uow.sessions.get(session_id)
        assert agent is not None and session is not None
        history = await uow.messages.last(session.id, HISTORY)
        assert len(history) == HISTORY
        common = {"session_id": session.id, "user_id": session.user_id, "agent_id": agent.id}
        await uow.messages.add(Message(role=Role.USER, text_content="hello", **common))
        await uow.messages.add(
            Message(role=Role.ASSISTANT, text_content="hello", system_prompt="You are bench.", **common)
        )

    async def turn() -> None:
        await storage.run(work)

    return turn


_INSERT = (
    "INSERT INTO messages (id, session_id, user_id, agent_id, role, text_content, message_type, tool_calls,"
    " tool_outputs, context, created_at) VALUES ({})"
)


def aiosqlite_turn(db: aiosqlite.Connection, agent_id: str, session_id: uuid.UUID) -> Callable[[], Awaitable[None]]:
    insert = _INSERT.format(", ".join("?" * 11))
    sid = session_id.hex

    async def turn() -> None:
        await db.execute("BEGIN IMMEDIATE")
        async with db.execute("SELECT * FROM agent WHERE id = ?", (agent_id,)) as c:
            await c.fetchone()
        async with db.execute("SELECT * FROM sessions WHERE id = ?", (sid,)) as c:
            session = await c.fetchone()
        async with db.execute(
            "SELECT * FROM messages WHERE session_id = ? ORDER BY created_at DESC, seq DESC LIMIT ?", (sid, HISTORY)
        ) as c:
            rows = list(await c.fetchall())
        assert session is not None and len(rows) == HISTORY
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        for role in ("user", "assistant"):
            await db.execute(
                insert, (uuid.uuid4().hex, sid, session[1], agent_id, role, "hello", "text", "[]", "[]", "{}", now)
            )
        await db.commit()

    return turn


def asyncpg_turn(pool: asyncpg.Pool, agent_id: str, session_id: uuid.UUID) -> Callable[[], Awaitable[None]]:
    insert = _INSERT.format(", ".join(f"${i}" for i in range(1, 12)))

    async def turn() -> None:
        async with pool.acquire() as db, db.transaction():
            await db.fetchrow("SELECT * FROM agent WHERE id = $1", agent_id)
            session = await db.fetchrow("SELECT * FROM sessions WHERE id = $1", session_id)
            rows = await db.fetch(
                "SELECT * FROM messages WHERE session_id = $1 ORDER BY created_at DESC, seq DESC LIMIT $2",
                session_id,
                HISTORY,
            )
            assert session is not None and len(rows) == HISTORY
            now = datetime.now(UTC)
            for role in ("user", "assistant"):
                await db.execute(
                    insert,
                    uuid.uuid4(),
                    session_id,
                    session["user_id"],
                    agent_id,
                    role,
                    "hello",
                    "text",
                    "[]",
                    "[]",
                    "{}",
                    now,
                )

    return turn


async def measure(turn: Callable[[], Awaitable[None]], turns: int, rounds: int) -> float:
    """Median ms per turn over `rounds` rounds of `turns` sequential turns, after a warm-up round."""
    for _ in range(min(turns, 200)):
        await turn()
    results = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(turns):
            await turn()
        results.append((time.perf_counter() - start) * 1000 / turns)
    return statistics.median(results)


async def bench_sqlite(turns: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        storage = open_storage(f"sqlite:///{path}")
        assert isinstance(storage, SqliteStorage)
        agent_id, session_id = await seed(storage, 1000)
        ours = await measure(agentkeep_turn(storage, agent_id, session_id), turns, rounds)
        await storage.close()
        async with aiosqlite.connect(path, isolation_level=None) as db:
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.execute("PRAGMA foreign_keys = ON")
            raw = await measure(aiosqlite_turn(db, agent_id, session_id), turns, rounds)
    return {"agentkeep_ms": ours, "raw_ms": raw, "ratio": ours / raw}


async def bench_postgres(url: str, turns: int, rounds: int) -> dict[str, float]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    admin = await asyncpg.connect(dsn)
    await admin.execute(f"CREATE SCHEMA {schema}")
    try:
        storage = PostgresStorage(url, schema=schema)
        agent_id, session_id = await seed(storage, 1000)
        ours = await measure(agentkeep_turn(storage, agent_id, session_id), turns, rounds)
        await storage.close()
        pool = await asyncpg.create_pool(dsn, server_settings={"search_path": schema}, min_size=1, max_size=1)
        raw = await measure(asyncpg_turn(pool, agent_id, session_id), turns, rounds)
        await pool.close()
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()
    return {"agentkeep_ms": ours, "raw_ms": raw, "ratio": ours / raw}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", help="a PostgreSQL URL; PostgreSQL is skipped without it")
    args = parser.parse_args()
    results: dict[str, Any] = {"sqlite": await bench_sqlite(args.turns, args.rounds)}
    if args.postgres:
        results["postgres"] = await bench_postgres(args.postgres, args.turns, args.rounds)
    print("one turn (read agent, read session, last 50 messages, insert 2 messages, commit), sequential")
    print(f"{'database':<10} {'agentkeep ms':>13} {'raw driver ms':>14} {'ratio':>7}")
    for name, r in results.items():
        print(f"{name:<10} {r['agentkeep_ms']:>13.3f} {r['raw_ms']:>14.3f} {r['ratio']:>7.2f}")
    print(json.dumps(results))


if __name__ == "__main__":
    asyncio.run(main())
