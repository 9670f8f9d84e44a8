"""The PostgreSQL floor: a run's statements on asyncpg, one transaction per request, from a pool as
large as agentkeep's (20 connections, each kept open once made, as agentkeep's pool keeps them).

Values are written as agentkeep writes them on PostgreSQL: native UUIDs, aware timestamps, JSONB.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.floor.turn import HISTORY, answer, decoded, echo_usage

_LAST = "SELECT * FROM messages WHERE session_id = $1 ORDER BY created_at DESC, seq DESC LIMIT $2"
_INSERT_USER = "INSERT INTO users (id, user_data, created_at, updated_at) VALUES ($1, '{}', $2, $2)"
# A concurrent first run may create the named session first: then nothing is inserted.
_INSERT_SESSION = (
    "INSERT INTO sessions (id, user_id, agent_id, name, platform, metadata, created_at, updated_at)"
    " VALUES ($1, $2, $3, $4, 'api', '{}', $5, $5) ON CONFLICT (name) DO NOTHING RETURNING *"
)
_INSERT_MESSAGE = (
    "INSERT INTO messages (id, session_id, user_id, agent_id, role, text_content, message_type, tool_calls,"
    " tool_outputs, context, usage, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'text', '[]', '[]', '{}', $7, $8)"
)


class _Raced(Exception):
    """Another request created the named session first: roll back and start over (as agentkeep does)."""


class PostgresFloor:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @classmethod
    async def connect(cls, dsn: str) -> PostgresFloor:
        return cls(await asyncpg.create_pool(dsn, min_size=10, max_size=20))

    async def run(self, agent_name: str, text: str, session_name: str | None) -> dict[str, Any] | None:
        """The answer to a run; None when there is no such agent."""
        while True:
            try:
                async with self._pool.acquire() as db, db.transaction():
                    return await self._turn(db, agent_name, text, session_name)
            except _Raced:
                continue

    async def _turn(
        self, db: asyncpg.Connection, agent_name: str, text: str, session_name: str | None
    ) -> dict[str, Any] | None:
        agent = await db.fetchrow("SELECT * FROM agent WHERE name = $1", agent_name)
        if agent is None:
            return None
        session = None
        if session_name is not None:
            session = await db.fetchrow("SELECT * FROM sessions WHERE name = $1", session_name)
        if session is None:
            session, history = await self._new_session(db, agent["id"], session_name), []  # a new session has none
        else:
            history = [decoded(row) for row in await db.fetch(_LAST, session["id"], HISTORY)]
        usage = echo_usage(text, history)
        ids = (uuid.uuid4(), uuid.uuid4())
        common = (session["id"], session["user_id"], agent["id"])
        await db.execute(_INSERT_MESSAGE, ids[0], *common, "user", text, None, datetime.now(UTC))
        await db.execute(_INSERT_MESSAGE, ids[1], *common, "assistant", text, json.dumps(usage), datetime.now(UTC))
        return answer(text, session, ids, usage)

    @staticmethod
    async def _new_session(db: asyncpg.Connection, agent_id: str, name: str | None) -> asyncpg.Record:
        user_id, now = uuid.uuid4(), datetime.now(UTC)
        await db.execute(_INSERT_USER, user_id, now)
        session = await db.fetchrow(_INSERT_SESSION, uuid.uuid4(), user_id, agent_id, name, now)
        if session is None:
            raise _Raced
        return session

    async def close(self) -> None:
        await self._pool.close()
