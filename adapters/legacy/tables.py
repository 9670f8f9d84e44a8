"""The legacy schemas agentkeep reads, as SQLAlchemy Core tables (shared/LEGACY-SCHEMAS.md).

The sources query them; the demo generator and the tests create them, shaped like the real
databases: no unique rules beyond the upstream primary keys, nullable columns where old databases
have nulls. They live in their own `MetaData`, never in agentkeep's schema or its migrations.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Integer, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB, TIMESTAMP
from sqlalchemy.dialects.postgresql import UUID as PG_UUID

# The social-agent simulation platform (SQLite upstream).

social = MetaData()

bluesky_profiles = Table(
    "bluesky_profiles",
    social,
    # `handle TEXT PRIMARY KEY` without NOT NULL, as in the databases made by raw SQL: SQLite then
    # allows NULL handles (PostgreSQL never does).
    Column("handle", Text, primary_key=True, nullable=True),
    Column("did", Text),
    Column("display_name", Text),
    Column("bio", Text),
    Column("followers_count", Integer),
    Column("follows_count", Integer),
    Column("posts_count", Integer),
)

# Upstream has one bio per handle (`handle` its primary key); databases that kept every generated
# bio have several per handle and no key at all: the harder shape, so the one made here.
agent_bios = Table(
    "agent_bios",
    social,
    Column("handle", Text),
    Column("generated_bio", Text),
    Column("created_at", Text),  # `YYYY_MM_DD-HH:MM:SS` or ISO 8601, UTC
)

# automagik-agents (PostgreSQL upstream; SQLite databases hold the same columns).

automagik = MetaData()

Jsonb = JSON().with_variant(JSONB(), "postgresql")
Uuid = String(36).with_variant(PG_UUID(as_uuid=False), "postgresql")
Stamp = Text().with_variant(TIMESTAMP(timezone=True), "postgresql")  # naive text on SQLite


def _stamps() -> list[Column[object]]:
    return [Column("created_at", Stamp), Column("updated_at", Stamp)]


users = Table(
    "users",
    automagik,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", Text),
    Column("phone_number", String(50)),
    Column("user_data", Jsonb),
    *_stamps(),
)

prompts = Table(
    "prompts",
    automagik,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent_id", Integer),
    Column("prompt_text", Text),
    Column("version", Integer),
    Column("is_active", Boolean),
    Column("is_default_from_code", Boolean),
    Column("status_key", String(255)),
    Column("name", String(255)),
    *_stamps(),
)

agents = Table(
    "agents",
    automagik,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255)),
    Column("type", String(50)),
    Column("model", String(255)),
    Column("description", Text),
    Column("version", String(50)),
    Column("config", Jsonb),
    Column("active", Boolean),
    Column("run_id", Integer),
    Column("system_prompt", Text),  # dropped by later versions (then `prompts` holds it)
    Column("active_default_prompt_id", Integer),  # added by later versions
    *_stamps(),
)

sessions = Table(
    "sessions",
    automagik,
    Column("id", Uuid, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id")),
    Column("agent_id", Integer, ForeignKey("agents.id")),
    Column("name", String(255)),
    Column("platform", String(50)),
    Column("metadata", Jsonb),  # sometimes a JSON string holding JSON
    *_stamps(),
    Column("run_finished_at", Stamp),
)

messages = Table(
    "messages",
    automagik,
    Column("id", Uuid, primary_key=True),
    # No foreign keys enforced here: real databases hold messages whose session or user is gone.
    Column("session_id", Uuid),
    Column("user_id", Integer),
    Column("agent_id", Integer),
    Column("role", String(20), nullable=False),
    Column("text_content", Text),
    Column("media_url", Text),
    Column("mime_type", Text),
    Column("message_type", Text),
    Column("raw_payload", Jsonb),
    Column("tool_calls", Jsonb),  # {"0": {tool_name, args, tool_call_id}, ...}; '{}' when none
    Column("tool_outputs", Jsonb),  # {"0": {tool_name, content, tool_call_id}, ...}
    Column("system_prompt", Text),
    Column("user_feedback", Text),
    Column("flagged", Text),
    Column("context", Jsonb),
    *_stamps(),
    Column("channel_payload", Jsonb),
)

memories = Table(
    "memories",
    automagik,
    Column("id", Uuid, primary_key=True),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    Column("content", Text),
    Column("session_id", Uuid),
    Column("user_id", Integer),
    Column("agent_id", Integer),
    Column("read_mode", String(50)),
    Column("access", String(20)),
    Column("metadata", Jsonb),
    *_stamps(),
)
