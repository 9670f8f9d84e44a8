"""The schema of SPEC §2 as SQLAlchemy Core tables, valid on SQLite and PostgreSQL.

Constraints are named by a convention, so Alembic can alter them on SQLite and the error
translation (`dialect.py`) can say which field a unique violation is about.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is aware UTC on the way in and on the way out, on both databases.

    SQLite's `DateTime(timezone=True)` drops the zone; we store UTC and re-attach it. The stored
    text sorts in time order because every value is UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stamp: datetime = value
        return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)

    # On SQLite the two steps (ours, then the dialect's text format) are one C call each way;
    # the text is the dialect's own, `YYYY-MM-DD HH:MM:SS.ffffff`, so it compares and sorts alike.
    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_text

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)
        return _sqlite_stamp


def _sqlite_text(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is UTC:  # the common case, a third cheaper: cut the "+00:00"
        return value.isoformat(" ", "microseconds")[:26]
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return utc.replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_stamp(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


# JSONB on PostgreSQL (indexable, compact); JSON text on SQLite. SQL NULL for Python None.
Json = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
# A monotonic insertion key: SQLite's rowid alias (INTEGER PRIMARY KEY), an identity on PostgreSQL.
Seq = BigInteger().with_variant(Integer(), "sqlite")
AgentIdType = String(255)


def _timestamps() -> list[Column[Any]]:
    return [
        Column("created_at", UtcDateTime(), nullable=False),
        Column("updated_at", UtcDateTime(), nullable=False),
    ]


def _one_of(column: str, values: list[str]) -> str:
    listed = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({listed})"


users = Table(
    "users",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("email", String(320)),
    Column("phone_number", String(50)),
    Column("user_data", Json, nullable=False),
    *_timestamps(),
    UniqueConstraint("email"),
    Index(None, "created_at", "id"),
)

#: The agents (the table keeps its legacy name, `agent`).
agents = Table(
    "agent",
    metadata,
    Column("id", AgentIdType, primary_key=True),
    Column("name", String(253), nullable=False),
    Column("display_name", String(255)),
    Column("persona_source", String(32), nullable=False),
    Column("type", String(255)),
    Column("model", String(255), nullable=False),
    Column("description", Text),
    Column("system_prompt", Text),
    Column("config", Json, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("version", String(255)),
    *_timestamps(),
    UniqueConstraint("name"),
    CheckConstraint(_one_of("persona_source", ["user_generated", "sync_bluesky"]), name="persona_source"),
    Index(None, "created_at", "id"),
)

agent_persona_bios = Table(
    "agent_persona_bios",
    metadata,
    Column("seq", Seq, Identity(), primary_key=True),
    Column("id", Uuid(), nullable=False),
    Column("agent_id", AgentIdType, ForeignKey("agent.id", ondelete="CASCADE"), nullable=False),
    Column("persona_bio", Text, nullable=False),
    Column("persona_bio_source", String(32), nullable=False),
    *_timestamps(),
    UniqueConstraint("id"),
    CheckConstraint(_one_of("persona_bio_source", ["ai_generated", "user_provided"]), name="persona_bio_source"),
    # The current bio and the bio list: newest first, ties by insertion order.
    Index(None, "agent_id", "created_at", "seq"),
)

user_agent_profile_metadata = Table(
    "user_agent_profile_metadata",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("agent_id", AgentIdType, ForeignKey("agent.id", ondelete="CASCADE"), nullable=False),
    Column("followers_count", BigInteger, nullable=False),
    Column("follows_count", BigInteger, nullable=False),
    Column("posts_count", BigInteger, nullable=False),
    *_timestamps(),
    UniqueConstraint("agent_id"),
    CheckConstraint("followers_count >= 0 AND follows_count >= 0 AND posts_count >= 0", name="counts"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("user_id", Uuid(), ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("agent_id", AgentIdType, ForeignKey("agent.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255)),
    Column("platform", String(255), nullable=False),
    Column("metadata", Json, nullable=False),
    *_timestamps(),
    Column("finished_at", UtcDateTime()),
    # The run lease: runs on one session take turns across processes without holding a
    # transaction during the model call (run-agent claims it, and releases it when done).
    Column("run_token", String(32)),
    Column("run_until", UtcDateTime()),
    UniqueConstraint("name"),
    Index(None, "created_at", "id"),
    Index(None, "user_id", "created_at", "id"),
    Index(None, "agent_id", "created_at", "id"),
)

# A system prompt is stored once per distinct text (keyed by its SHA-256) and referenced by the
# assistant messages it produced, not copied into each of them.
system_prompts = Table(
    "system_prompts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("text", Text, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

messages = Table(
    "messages",
    metadata,
    Column("seq", Seq, Identity(), primary_key=True),
    Column("id", Uuid(), nullable=False),
    Column("session_id", Uuid(), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Uuid(), ForeignKey("users.id", ondelete="CASCADE")),
    Column("agent_id", AgentIdType, ForeignKey("agent.id", ondelete="CASCADE")),
    Column("role", String(16), nullable=False),
    Column("text_content", Text),
    Column("media_url", Text),
    Column("mime_type", String(255)),
    Column("message_type", String(255), nullable=False),
    Column("tool_calls", Json, nullable=False),
    Column("tool_outputs", Json, nullable=False),
    Column("context", Json, nullable=False),
    Column("usage", Json),
    Column("system_prompt_id", String(64), ForeignKey("system_prompts.id")),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("id"),
    CheckConstraint(_one_of("role", ["user", "assistant", "system", "tool"]), name="role"),
    # History: the last N messages of a session, whatever the size of the table.
    Index(None, "session_id", "created_at", "seq"),
    # Cascades from a user or an agent find their messages without a scan.
    Index(None, "user_id"),
    Index(None, "agent_id"),
)

memories = Table(
    "memories",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("description", Text),
    Column("content", Json),
    Column("agent_id", AgentIdType, ForeignKey("agent.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Uuid(), ForeignKey("users.id", ondelete="CASCADE")),
    Column("session_id", Uuid(), ForeignKey("sessions.id", ondelete="SET NULL")),
    Column("read_mode", String(32), nullable=False),
    Column("access", String(16), nullable=False),
    Column("metadata", Json, nullable=False),
    *_timestamps(),
    # A user's memory is unique on (name, agent, user); NULLs are distinct in a plain UNIQUE on
    # both databases, so agent-wide memories get a partial unique index of their own.
    UniqueConstraint("name", "agent_id", "user_id"),
    Index(
        "uq_memories_name_agent_id_agent_wide",
        "name",
        "agent_id",
        unique=True,
        sqlite_where=text("user_id IS NULL"),
        postgresql_where=text("user_id IS NULL"),
    ),
    CheckConstraint(_one_of("read_mode", ["system_prompt", "tool_call"]), name="read_mode"),
    CheckConstraint(_one_of("access", ["read", "write"]), name="access"),
    Index(None, "agent_id", "user_id", "read_mode"),
    Index(None, "user_id"),
    Index(None, "session_id"),
    Index(None, "created_at", "id"),
)

# Idempotency-Key records (`domain.idempotency`): a claim while the first request runs (`token`),
# then its answer, replayed to retries until `expires_at`, or for a run the run it started.
# Expired rows are deleted lazily, by later claims, through the `expires_at` index.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("route", String(255), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("token", String(32)),
    Column("status", Integer),
    Column("body", Text),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("run_id", Uuid(), ForeignKey("runs.id", ondelete="CASCADE")),
    Index(None, "expires_at"),
    Index(None, "run_id"),  # a deleted run's keys go with it
)

# The record of every run (SPEC §9). `user_id` and `agent_id` are copies of the session's (deleting
# the session, or its user or agent, deletes its runs through it).
runs = Table(
    "runs",
    metadata,
    Column("id", Uuid(), primary_key=True),
    Column("session_id", Uuid(), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("agent_id", AgentIdType, nullable=False),
    Column("user_id", Uuid(), nullable=False),
    Column("status", String(32), nullable=False),
    Column("user_message_id", Uuid()),
    Column("assistant_message_id", Uuid()),
    Column("pending_tool_calls", Json, nullable=False),
    Column("error", Json),
    Column("usage", Json),
    Column("steps", Integer, nullable=False),
    Column("multitask_strategy", String(16), nullable=False),
    *_timestamps(),
    Column("started_at", UtcDateTime()),
    Column("finished_at", UtcDateTime()),
    CheckConstraint(
        _one_of("status", ["queued", "running", "requires_action", "completed", "failed", "cancelled"]), name="status"
    ),
    CheckConstraint(_one_of("multitask_strategy", ["enqueue", "reject", "interrupt", "rollback"]), name="strategy"),
    CheckConstraint("steps >= 0", name="steps"),
    # A session's runs, oldest first; the active run of a session.
    Index(None, "session_id", "created_at", "id"),
)

# A streamed run's events (SPEC §9.2), by (run, id). `data` is plain JSON (`json`, not `jsonb`, on
# PostgreSQL): replayed as it was written, its keys in their order.
run_events = Table(
    "run_events",
    metadata,
    Column("run_id", Uuid(), ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("event", String(32), nullable=False),
    Column("data", JSON(none_as_null=True), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

# Which field a unique constraint is about, for the Conflict it becomes.
UNIQUE_FIELDS: dict[str, str] = {
    "pk_users": "id",
    "uq_users_email": "email",
    "pk_agent": "id",
    "uq_agent_name": "name",
    "uq_agent_persona_bios_id": "id",
    "pk_user_agent_profile_metadata": "id",
    "uq_user_agent_profile_metadata_agent_id": "agent_id",
    "pk_sessions": "id",
    "uq_sessions_name": "name",
    "uq_messages_id": "id",
    "pk_memories": "id",
    "uq_memories_name_agent_id_user_id": "name",
    "uq_memories_name_agent_id_agent_wide": "name",
    "pk_runs": "id",
    "pk_run_events": "seq",
}
