"""The entities of SPEC §2 (their tables are named in `__table__`).

Entities are immutable; a change is a new value (`model_copy`) or a `*Patch` applied by a repository.
Validation lives here, so every adapter and entrypoint gets it for free. Timestamps are made here
too, so the same entity written to two adapters compares equal.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agentkeep.domain.ids import AgentId, UserId, new_agent_id, new_id
from agentkeep.domain.values import (
    Access,
    AgentName,
    Count,
    Email,
    Json,
    JsonObject,
    Label,
    ModelName,
    MultitaskStrategy,
    PersonaBioSource,
    PersonaSource,
    ReadMode,
    Role,
    RunStatus,
    Text,
    Timestamp,
    utcnow,
)


class Entity(BaseModel):
    """Base of every entity: strict about unknown fields, immutable, stamped with UTC times."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=False)
    __table__: ClassVar[str]

    created_at: Timestamp = Field(default_factory=utcnow)
    updated_at: Timestamp | None = None

    @model_validator(mode="after")
    def _stamp_updated_at(self) -> Any:
        if self.updated_at is None:
            # A new entity was last updated when it was made.
            object.__setattr__(self, "updated_at", self.created_at)
        return self


class User(Entity):
    __table__ = "users"

    id: UserId = Field(default_factory=new_id)
    email: Email | None = None
    phone_number: str | None = Field(default=None, max_length=50)
    user_data: JsonObject = Field(default_factory=dict)


class Agent(Entity):
    __table__ = "agent"

    id: AgentId = Field(default_factory=new_agent_id)
    name: AgentName
    display_name: str | None = Field(default=None, max_length=255)
    persona_source: PersonaSource = PersonaSource.USER_GENERATED
    type: Label | None = None
    model: ModelName = "echo"
    description: str | None = None
    system_prompt: str | None = None
    config: JsonObject = Field(default_factory=dict)
    active: bool = True
    version: Label | None = None


class AgentBio(Entity):
    """A persona bio. An agent has many; the newest (ties: the last inserted) is current."""

    __table__ = "agent_persona_bios"

    id: uuid.UUID = Field(default_factory=new_id)
    agent_id: AgentId
    persona_bio: Text
    persona_bio_source: PersonaBioSource


class AgentProfileMetadata(Entity):
    """Social counts of an agent, one row per agent."""

    __table__ = "user_agent_profile_metadata"

    id: uuid.UUID = Field(default_factory=new_id)
    agent_id: AgentId
    followers_count: Count = 0
    follows_count: Count = 0
    posts_count: Count = 0


class Session(Entity):
    __table__ = "sessions"

    id: uuid.UUID = Field(default_factory=new_id)
    user_id: UserId
    agent_id: AgentId
    name: Label | None = None
    platform: Label = "api"
    metadata: JsonObject = Field(default_factory=dict)
    finished_at: Timestamp | None = None


class ToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    arguments: Json = Field(default_factory=dict)


class ToolOutput(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tool_call_id: str
    name: str
    content: Json = None


class Usage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = None
    request_tokens: Count | None = None
    response_tokens: Count | None = None
    total_tokens: Count | None = None
    duration_ms: float | None = Field(default=None, ge=0)


class Message(BaseModel):
    """One message of a session. Messages are kept in one stable order: `created_at`, then the
    order in which they were written (a storage key, never the timestamp alone)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    __table__: ClassVar[str] = "messages"

    id: uuid.UUID = Field(default_factory=new_id)
    session_id: uuid.UUID
    user_id: UserId | None = None
    agent_id: AgentId | None = None
    role: Role
    text_content: str | None = None
    media_url: str | None = None
    mime_type: str | None = Field(default=None, max_length=255)
    message_type: Label = "text"
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_outputs: list[ToolOutput] = Field(default_factory=list)
    context: JsonObject = Field(default_factory=dict)
    usage: Usage | None = None
    system_prompt: str | None = None
    created_at: Timestamp = Field(default_factory=utcnow)


MemoryKey = tuple[str, str, uuid.UUID | None]
"""What a memory is unique on: its name, its agent's id, its user's id (None: agent-wide)."""


class Memory(Entity):
    """A named piece of knowledge of an agent, for one user (`user_id`) or agent-wide (`None`).

    Unique on (`name`, `agent_id`, `user_id`); two agent-wide memories of one name clash.
    """

    __table__ = "memories"

    id: uuid.UUID = Field(default_factory=new_id)
    name: Label
    description: str | None = None
    content: Json
    agent_id: AgentId
    user_id: UserId | None = None
    session_id: uuid.UUID | None = None
    read_mode: ReadMode = ReadMode.SYSTEM_PROMPT
    access: Access = Access.WRITE
    metadata: JsonObject = Field(default_factory=dict)

    @property
    def key(self) -> MemoryKey:
        return (self.name, self.agent_id, self.user_id)


class RunError(BaseModel):
    """Why a run failed or was cancelled by the system: a code (`model_error`, `model_timeout`,
    `interrupted`, ...) and a sentence."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: Label
    detail: str


class Run(Entity):
    """One run of an agent on a message (SPEC §9): made by every run request, finished once
    (`completed`, `failed` or `cancelled`). Deleting its session deletes it."""

    __table__ = "runs"

    id: uuid.UUID = Field(default_factory=new_id)
    session_id: uuid.UUID
    agent_id: AgentId
    user_id: UserId
    status: RunStatus = RunStatus.QUEUED
    user_message_id: uuid.UUID | None = None
    assistant_message_id: uuid.UUID | None = None
    pending_tool_calls: list[ToolCall] = Field(default_factory=list)
    error: RunError | None = None
    usage: Usage | None = None
    steps: Count = 0
    multitask_strategy: MultitaskStrategy = MultitaskStrategy.ENQUEUE
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None
