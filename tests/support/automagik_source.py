"""automagik-agents databases for the import tests, shaped like the real ones (shared/LEGACY-SCHEMAS.md):
integer `users.id` and `agents.id`, no unique rules, JSONB tool calls keyed "0", "1", ..., session
metadata stored as a JSON string, naive timestamps, the `admin@automagik` email, duplicate emails,
agent names and memories, anonymous sessions and orphan messages.

`create_source(url)` writes the standard data set (`ROWS`) into a new SQLite file or an empty
PostgreSQL database. On SQLite it adds the rows only SQLite can hold (unparseable JSON, a
creation time that is no time: `SQLITE_ONLY`). `schema="old"` makes the agents table of the
versions before `prompts` (with `agents.system_prompt`, no `prompts` table), `"new"` the later
one (no `system_prompt`: the prompt comes from `prompts`), `"both"` one in between.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, MetaData, Table, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from agentkeep.adapters.legacy import tables as legacy
from agentkeep.adapters.storage.sql.dialect import normalize_url


def sid(name: str) -> str:
    """The id of a fixture row (sessions, messages, memories are UUIDs upstream)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"automagik-fixture:{name}"))


def at(day: int, hour: int = 9, minute: int = 0, second: int = 0) -> datetime:
    """A naive timestamp in January 2024 (automagik wrote some without a zone: they are UTC)."""
    return datetime(2024, 1, day, hour, minute, second)


GONE_USER = 99
GONE_SESSION = sid("session-that-was-deleted")

TOOL_CALLS = {
    "0": {"tool_name": "search", "args": {"q": "tea"}, "tool_call_id": "call-1"},
    "1": {"tool_name": "clock", "args": {}, "tool_call_id": "call-2"},
}
TOOL_OUTPUTS = {"0": {"tool_name": "search", "content": "green tea", "tool_call_id": "call-1"}}


def message(name: str, session: str | None, role: str, created: datetime | None, **fields: Any) -> dict[str, Any]:
    """A `messages` row of agent 1 (unless `fields` say otherwise)."""
    return {
        "id": sid(name),
        "session_id": None if session is None else sid(session),
        "agent_id": 1,
        "role": role,
        "text_content": name,
        "created_at": created,
        **fields,
    }


def memory(name: str, memory_name: str, agent: int, user: int | None, **fields: Any) -> dict[str, Any]:
    """A `memories` row, made on January 3rd, read as the system prompt (unless `fields` say otherwise)."""
    return {
        "id": sid(name),
        "name": memory_name,
        "content": "x",
        "agent_id": agent,
        "user_id": user,
        "read_mode": "system_prompt",
        "created_at": at(3),
        **fields,
    }


#: Agent 1's prompt in `prompts`: its own `system_prompt` wins where the column is there.
PROMPTED = "You are Simple, from prompts. Name: {{user_name}}."

ROWS: dict[str, list[dict[str, Any]]] = {
    "users": [
        {"id": 1, "email": "admin@automagik", "user_data": {"role": "admin"}, "created_at": at(1)},
        {
            "id": 2,
            "email": "Ada@Example.com",
            "phone_number": "+44 20",
            "user_data": {"lang": "en"},
            "created_at": at(2),
        },
        {"id": 3, "email": "ADA@example.COM", "user_data": {}, "created_at": at(2, 11)},
        {"id": 4, "email": None, "user_data": None, "created_at": at(2, 12)},
        {"id": 5, "email": "bob@example.com", "user_data": {"n": 5}, "created_at": at(2, 13), "updated_at": at(3)},
    ],
    "prompts": [
        {"id": 1, "agent_id": 2, "prompt_text": "Sofia, from prompts.", "version": 1, "is_active": True},
        {"id": 2, "agent_id": 1, "prompt_text": PROMPTED, "version": 1, "is_active": True},
    ],
    "agents": [
        {
            "id": 1,
            "name": "simple_agent",
            "type": "pydanticai",
            "model": "openai:gpt-4o-mini",
            "description": "the simple one",
            "version": "1.0",
            "config": {"temperature": 0.2},
            "active": True,
            "run_id": 3,
            "system_prompt": "You are Simple. Name: {{user_name}}.",
            "active_default_prompt_id": 2,
            "created_at": at(1),
        },
        {
            "id": 2,
            "name": "Sofia Agent",
            "model": "anthropic:claude-3-5-sonnet",
            "config": None,
            "active": True,
            "run_id": 0,
            "system_prompt": None,
            "active_default_prompt_id": 1,
            "created_at": at(1, 10),
        },
        {"id": 3, "name": "sofia agent", "model": "echo", "config": {}, "created_at": at(1, 11)},
        {"id": 4, "name": "_hidden", "model": "echo", "config": {}, "created_at": at(1, 12)},
        {"id": 5, "name": "inactive", "model": None, "config": {}, "active": False, "created_at": at(1, 13)},
    ],
    "sessions": [
        {
            "id": sid("chat"),
            "user_id": 2,
            "agent_id": 1,
            "name": "chat",
            "platform": "web",
            "metadata": '{"channel": "web"}',  # a JSON string holding JSON, as automagik wrote it
            "created_at": at(3),
        },
        {"id": sid("anonymous"), "user_id": None, "agent_id": 1, "name": "chat", "created_at": at(4)},
        {"id": sid("anonymous-2"), "user_id": None, "agent_id": 2, "name": None, "created_at": at(4, 10)},
        {"id": sid("of-skipped-agent"), "user_id": 4, "agent_id": 3, "name": "lost", "created_at": at(4, 11)},
        {
            "id": sid("finished"),
            "user_id": 1,
            "agent_id": 2,
            "name": "finished",
            "platform": None,
            "metadata": {"k": 1},
            "created_at": at(5),
            "updated_at": at(5, 12),
            "run_finished_at": at(5, 12),
        },
        {"id": sid("bobs"), "user_id": 5, "agent_id": 5, "name": None, "metadata": None, "created_at": at(6)},
    ],
    "messages": [
        message("m-hello", "chat", "user", at(3, 9, 0, 1), user_id=2, text_content="hello", message_type="text"),
        message(
            "m-tools",
            "chat",
            "assistant",
            at(3, 9, 0, 2),
            user_id=2,
            text_content="let me look",
            tool_calls=TOOL_CALLS,
            tool_outputs=TOOL_OUTPUTS,
            raw_payload={"raw": True},
            channel_payload={"chat": 42},
            user_feedback="thumbs up",
            flagged="no",
            context={"lang": "en"},
            system_prompt="You are Simple.",
        ),
        # Two at the same second: the source's (created_at, id) order is kept.
        message("m-no-user", "chat", "user", at(3, 9, 0, 3), user_id=None, text_content="no user"),
        message("m-gone-user", "chat", "user", at(3, 9, 0, 3), user_id=GONE_USER, text_content="gone user"),
        message("m-no-tools", "chat", "assistant", at(3, 9, 0, 4), user_id=2, tool_calls={}, tool_outputs=None),
        message("m-anonymous", "anonymous", "user", at(4, 9, 1), user_id=None, agent_id=None),
        message("m-no-time", "finished", "user", None, user_id=1, agent_id=2, text_content="timeless"),
        message("m-no-session", None, "user", at(3), user_id=2),
        {**message("m-session-gone", None, "user", at(3), user_id=2), "session_id": GONE_SESSION},
        message("m-of-skipped-session", "of-skipped-agent", "user", at(4, 11, 1), user_id=4, agent_id=3),
    ],
    "memories": [
        memory("mem-name", "user_name", 1, None, content="Ada", access="read_write", updated_at=at(5)),
        memory("mem-name-older", "user_name", 1, None, content="Old", access="read", updated_at=at(4)),
        memory("mem-ada-name", "user_name", 1, 2, content="Ada Lovelace", access="write"),
        memory(
            "mem-prefs",
            "prefs",
            1,
            2,
            content='{"tea": "green"}',
            session_id=sid("chat"),
            read_mode="tool_calling",
            access="read",
            metadata={"m": 1},
        ),
        memory("mem-tool", "tooling", 1, 2, session_id=GONE_SESSION, read_mode="tool", access=None),
        memory("mem-skipped-agent", "lost", 3, None),
        memory("mem-gone-user", "orphan", 1, GONE_USER),
    ],
}

#: Rows PostgreSQL cannot hold (JSONB parses, TIMESTAMPTZ checks), in raw SQL values.
SQLITE_ONLY: dict[str, list[dict[str, Any]]] = {
    "users": [{"id": 6, "email": "carol@example.com", "user_data": "{not json"}],
    "sessions": [
        {"id": sid("bad-metadata"), "user_id": 2, "agent_id": 1, "metadata": "{nope", "created_at": "2024-01-07"},
        {"id": sid("bad-time"), "user_id": 2, "agent_id": 1, "metadata": "{}", "created_at": "yesterday"},
        {"id": "not-a-uuid", "user_id": 2, "agent_id": 1, "metadata": "{}", "created_at": "2024-01-07"},
        {
            "id": sid("bad-update"),
            "user_id": 2,
            "agent_id": 1,
            "created_at": "2024-01-07T10:00:00+02:00",
            "updated_at": "later",
        },
    ],
    "messages": [
        {
            "id": sid("m-bad-json"),
            "session_id": sid("chat"),
            "role": "user",
            "tool_calls": "[1,",
            "created_at": "2024-01-03 09:00:05",
        },
        {"id": sid("m-bad-role"), "session_id": sid("chat"), "role": "robot", "created_at": "2024-01-03 09:00:06"},
    ],
    "memories": [{"id": sid("mem-bad-json"), "name": "broken", "agent_id": 1, "metadata": "{", "created_at": "x"}],
}


def _table(source: Table, metadata: MetaData, without: set[str]) -> Table:
    columns = [
        Column(
            c.name,
            c.type,
            *(ForeignKey(fk.target_fullname) for fk in c.foreign_keys),
            primary_key=c.primary_key,
            autoincrement=c.autoincrement,
            nullable=c.nullable,
        )
        for c in source.columns
        if c.name not in without
    ]
    return Table(source.name, metadata, *columns)


def schema_of(version: str) -> MetaData:
    """The automagik tables of one version: `old`, `new` or `both` (see the module's doc)."""
    metadata = MetaData()
    without = {
        "old": {"agents": {"active_default_prompt_id"}},
        "new": {"agents": {"system_prompt"}},
        "both": {},
    }[version]
    for source in legacy.automagik.sorted_tables:
        if version == "old" and source.name == "prompts":
            continue
        _table(source, metadata, without.get(source.name, set()))
    # The indexes automagik's migrations make (keyset reads use them).
    Index("idx_messages_session_id", metadata.tables["messages"].c.session_id)
    Index("idx_messages_created_at", metadata.tables["messages"].c.created_at)
    Index("idx_sessions_user_id", metadata.tables["sessions"].c.user_id)
    Index("idx_memories_agent_id", metadata.tables["memories"].c.agent_id)
    return metadata


async def create_source(url: str, *, schema: str = "new", extra: dict[str, list[dict[str, Any]]] | None = None) -> None:
    """The standard data set in a new automagik-agents database at `url` (a SQLite file that
    does not exist yet, or an empty PostgreSQL database), plus `extra` rows."""
    engine = create_async_engine(normalize_url(url))
    try:
        async with engine.begin() as connection:
            metadata = schema_of(schema)
            await connection.run_sync(metadata.create_all)
            await _insert(connection, metadata, ROWS)
            if connection.dialect.name == "sqlite":
                await _insert_raw(connection, SQLITE_ONLY)
            if extra:
                await _insert(connection, metadata, extra)
    finally:
        await engine.dispose()


async def _insert(connection: AsyncConnection, metadata: MetaData, rows: dict[str, list[dict[str, Any]]]) -> None:
    sqlite = connection.dialect.name == "sqlite"
    for name in ("users", "prompts", "agents", "sessions", "messages", "memories"):
        if name not in metadata.tables or not rows.get(name):
            continue
        table = metadata.tables[name]
        for row in rows[name]:
            values = {k: _stamp(v, sqlite) for k, v in row.items() if k in table.c}
            await connection.execute(table.insert().values(**values))


def _stamp(value: Any, sqlite: bool) -> Any:
    # SQLite keeps times as text (`YYYY-MM-DD HH:MM:SS`, no zone); PostgreSQL as TIMESTAMPTZ,
    # written here from a naive datetime, as automagik sometimes did.
    if sqlite and isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return value


async def _insert_raw(connection: AsyncConnection, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Rows written as raw SQL values: JSON text that does not parse, times that are no time."""
    for name, items in rows.items():
        for row in items:
            columns = ", ".join(row)
            params = ", ".join(f":{k}" for k in row)
            await connection.execute(text(f"INSERT INTO {name} ({columns}) VALUES ({params})"), row)
