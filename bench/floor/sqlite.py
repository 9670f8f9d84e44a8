"""The SQLite floor: a run's statements on the stdlib `sqlite3` driver, the driver agentkeep itself
runs SQLite on, inline on the event loop, with the connection settings agentkeep uses.

Values are written as agentkeep writes them on SQLite: UUIDs as 32 hex characters, timestamps as
naive UTC text with microseconds, JSON as text.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import UTC, datetime
from typing import Any

from agentkeep.adapters.storage.sql.sqlite import PRAGMAS
from bench.floor.turn import HISTORY, answer, decoded, echo_usage

_LAST = "SELECT * FROM messages WHERE session_id = ? ORDER BY created_at DESC, seq DESC LIMIT ?"
_INSERT_USER = "INSERT INTO users (id, user_data, created_at, updated_at) VALUES (?, '{}', ?, ?)"
_INSERT_SESSION = (
    "INSERT INTO sessions (id, user_id, agent_id, name, platform, metadata, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, 'api', '{}', ?, ?)"
)
_INSERT_MESSAGE = (
    "INSERT INTO messages (id, session_id, user_id, agent_id, role, text_content, message_type, tool_calls,"
    " tool_outputs, context, usage, created_at) VALUES (?, ?, ?, ?, ?, ?, 'text', '[]', '[]', '{}', ?, ?)"
)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class SqliteFloor:
    """One connection, with agentkeep's settings (`PRAGMAS`) and a busy timeout."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        for pragma in (*PRAGMAS, "busy_timeout = 30000"):
            self._db.execute(f"PRAGMA {pragma}")

    async def run(self, agent_name: str, text: str, session_name: str | None) -> dict[str, Any] | None:
        """The answer to a run; None when there is no such agent."""
        # The transaction never yields to the event loop, so requests take turns on the connection
        # as agentkeep's units of work do, without a lock.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            result = self._turn(agent_name, text, session_name)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return result

    def _turn(self, agent_name: str, text: str, session_name: str | None) -> dict[str, Any] | None:
        agent = self._db.execute("SELECT * FROM agent WHERE name = ?", (agent_name,)).fetchone()
        if agent is None:
            return None
        session = None
        if session_name is not None:
            session = self._db.execute("SELECT * FROM sessions WHERE name = ?", (session_name,)).fetchone()
        if session is None:
            session, history = self._new_session(agent["id"], session_name), []  # a new session has none
        else:
            history = [decoded(row) for row in self._db.execute(_LAST, (session["id"], HISTORY))]
        usage = echo_usage(text, history)
        ids = (uuid.uuid4(), uuid.uuid4())
        common = (session["id"], session["user_id"], agent["id"])
        self._db.execute(_INSERT_MESSAGE, (ids[0].hex, *common, "user", text, None, _now()))
        self._db.execute(_INSERT_MESSAGE, (ids[1].hex, *common, "assistant", text, json.dumps(usage), _now()))
        found = {**session, "id": uuid.UUID(session["id"]), "user_id": uuid.UUID(session["user_id"])}
        return answer(text, found, ids, usage)

    def _new_session(self, agent_id: str, name: str | None) -> dict[str, Any]:
        user_id, session_id, now = uuid.uuid4().hex, uuid.uuid4().hex, _now()
        self._db.execute(_INSERT_USER, (user_id, now, now))
        self._db.execute(_INSERT_SESSION, (session_id, user_id, agent_id, name, now, now))
        return {"id": session_id, "user_id": user_id, "agent_id": agent_id, "name": name}

    async def close(self) -> None:
        self._db.close()
