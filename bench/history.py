"""Reading the last 50 messages of one session through agentkeep's port, as the database grows.

For each size, a fresh database (agentkeep's schema, `bench.databases.prepare`) is seeded with a raw
`executemany` (SQLite) or `COPY` (PostgreSQL), not measured: sessions of 1,000 messages each (10,000
messages: 10 sessions; 1,000,000: 1,000), written round-robin over the sessions with rising
timestamps, as when many conversations go on at once, so that one session's messages lie far apart
in the table. Then `storage.run(lambda uow: uow.messages.last(session_id, 50))` on a session in the
middle, on every size in turn (so a busy moment of the machine falls on all sizes alike), `reads`
times after a warm-up: the median per size, in ms.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from agentkeep.adapters.storage.sql.database import PostgresStorage, SqliteStorage, open_storage
from bench.databases import AGENT, asyncpg_dsn, postgres_database, prepare, sqlite_url

PER_SESSION = 1000
HISTORY = 50
WARMUP = 100
_COLUMNS = ("id", "session_id", "user_id", "agent_id", "role", "text_content", "message_type", "created_at")


class Layout:
    """`size` messages over sessions of PER_SESSION messages, written round-robin. Ids are random
    UUIDs in hex (as agentkeep stores them on SQLite; asyncpg takes them too)."""

    def __init__(self, size: int, agent_id: str) -> None:
        self._random = random.Random(size)
        self.size = size
        self.agent_id = agent_id
        self.user_id = self.new_id()
        self.sessions = [self.new_id() for _ in range(max(1, size // PER_SESSION))]

    def new_id(self) -> str:
        return f"{self._random.getrandbits(128):032x}"

    @property
    def measured(self) -> uuid.UUID:
        return uuid.UUID(self.sessions[len(self.sessions) // 2])

    def messages(self) -> Iterator[tuple[Any, ...]]:
        """Rows of _COLUMNS, oldest first; `created_at` aware UTC."""
        start = datetime(2025, 1, 1, tzinfo=UTC)
        count = len(self.sessions)
        for i in range(self.size):
            role = "assistant" if (i // count) % 2 else "user"
            created = start + timedelta(milliseconds=i)
            yield (
                self.new_id(),
                self.sessions[i % count],
                self.user_id,
                self.agent_id,
                role,
                f"message {i}",
                "text",
                created,
            )


def run_history(sizes: list[int], reads: int, postgres_url: str | None) -> dict[str, dict[str, float]]:
    """{database: {size: median ms}} for SQLite, and PostgreSQL when a server URL is given."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        urls = {size: sqlite_url(Path(tmp), f"history-{size}") for size in sizes}
        results["sqlite"] = measure(urls, lambda url, size: seed_sqlite(url.removeprefix("sqlite:///"), size), reads)
    if postgres_url:
        with ExitStack() as databases:
            urls = {size: databases.enter_context(postgres_database(postgres_url)) for size in sizes}
            results["postgres"] = measure(urls, lambda url, size: asyncio.run(seed_postgres(url, size)), reads)
    return results


def measure(urls: dict[int, str], seed: Callable[[str, int], uuid.UUID], reads: int) -> dict[str, float]:
    targets = []
    for size, url in urls.items():
        prepare(url)
        targets.append((url, seed(url, size)))
    medians = asyncio.run(median_read_ms(targets, reads))
    return {str(size): ms for size, ms in zip(urls, medians, strict=True)}


def seed_sqlite(path: str, size: int) -> uuid.UUID:
    """Seed the database at `path`; the id of the session to read."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA cache_size = -1048576")  # the indexes in memory: random ids land all over them
    try:
        (agent_id,) = db.execute("SELECT id FROM agent WHERE name = ?", (AGENT,)).fetchone()
        layout = Layout(size, agent_id)
        now = _sqlite_time(datetime.now(UTC))
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO users (id, user_data, created_at, updated_at) VALUES (?, '{}', ?, ?)",
            (layout.user_id, now, now),
        )
        db.executemany(
            "INSERT INTO sessions (id, user_id, agent_id, platform, metadata, created_at, updated_at)"
            " VALUES (?, ?, ?, 'api', '{}', ?, ?)",
            [(session, layout.user_id, agent_id, now, now) for session in layout.sessions],
        )
        db.executemany(
            f"INSERT INTO messages ({', '.join(_COLUMNS)}, tool_calls, tool_outputs, context)"
            f" VALUES ({', '.join('?' * len(_COLUMNS))}, '[]', '[]', '{{}}')",
            ((*row[:-1], _sqlite_time(row[-1])) for row in layout.messages()),
        )
        db.execute("COMMIT")
        return layout.measured
    finally:
        db.close()


def _sqlite_time(value: datetime) -> str:
    """A timestamp as agentkeep stores it on SQLite: naive UTC text with microseconds."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


async def seed_postgres(url: str, size: int) -> uuid.UUID:
    """Seed the database at `url`, then ANALYZE it (as autovacuum would); the session to read."""
    db = await asyncpg.connect(asyncpg_dsn(url))
    try:
        agent_id = await db.fetchval("SELECT id FROM agent WHERE name = $1", AGENT)
        layout = Layout(size, agent_id)
        now = datetime.now(UTC)
        async with db.transaction():
            await db.execute(
                "INSERT INTO users (id, user_data, created_at, updated_at) VALUES ($1, '{}', $2, $2)",
                layout.user_id,
                now,
            )
            await db.executemany(
                "INSERT INTO sessions (id, user_id, agent_id, platform, metadata, created_at, updated_at)"
                " VALUES ($1, $2, $3, 'api', '{}', $4, $4)",
                [(session, layout.user_id, agent_id, now) for session in layout.sessions],
            )
            await db.copy_records_to_table(
                "messages",
                records=((*row, "[]", "[]", "{}") for row in layout.messages()),
                columns=[*_COLUMNS, "tool_calls", "tool_outputs", "context"],
            )
        await db.execute("ANALYZE")
        return layout.measured
    finally:
        await db.close()


async def median_read_ms(targets: list[tuple[str, uuid.UUID]], reads: int) -> list[float]:
    """For each (database URL, session id): the median time of reading the session's last 50
    messages, `reads` times after a warm-up, the databases taking turns read by read."""
    storages = [(open_storage(url), session) for url, session in targets]
    times: list[list[float]] = [[] for _ in storages]
    try:
        for read in range(WARMUP + reads):
            for (storage, session), spent in zip(storages, times, strict=True):
                seconds = await timed_read(storage, session)
                if read >= WARMUP:
                    spent.append(seconds)
        return [statistics.median(spent) * 1000 for spent in times]
    finally:
        for storage, _ in storages:
            await storage.close()


async def timed_read(storage: SqliteStorage | PostgresStorage, session_id: uuid.UUID) -> float:
    """Seconds to read the session's last 50 messages through agentkeep's storage port."""
    started = time.perf_counter()
    messages = await storage.run(lambda uow: uow.messages.last(session_id, HISTORY))
    spent = time.perf_counter() - started
    assert len(messages) == HISTORY
    return spent
