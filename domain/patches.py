"""Partial updates (SPEC §5, PATCH): each field present is set, `null` clears a nullable field,
JSON fields are replaced whole; ids, owner ids and timestamps are read only.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from agentkeep.domain.errors import FieldError, Invalid
from agentkeep.domain.models import RunError, ToolCall, Usage
from agentkeep.domain.values import (
    Access,
    AgentName,
    Count,
    Email,
    Json,
    JsonObject,
    Label,
    ModelName,
    PersonaBioSource,
    PersonaSource,
    ReadMode,
    RunStatus,
    Text,
    Timestamp,
)

_ALWAYS_READ_ONLY = frozenset({"id", "created_at", "updated_at"})


class Patch(BaseModel):
    """Base of the patches: knows its read-only and its non-nullable fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    read_only: ClassVar[frozenset[str]] = frozenset()
    not_null: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Self:
        """Validate a patch body, raising `Invalid` that names every bad field."""
        read_only = sorted(_ALWAYS_READ_ONLY.union(cls.read_only).intersection(data))
        errors = [FieldError(key, "is read only") for key in read_only]
        nulls = sorted(k for k in cls.not_null.intersection(data) if data[k] is None)
        errors += [FieldError(key, "may not be null") for key in nulls]
        if errors:
            raise Invalid(errors)
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise Invalid.from_validation_error(e) from None

    def changes(self) -> dict[str, Any]:
        """The fields the caller set, by name, as Python values."""
        return {name: getattr(self, name) for name in self.model_fields_set}

    def __bool__(self) -> bool:
        return bool(self.model_fields_set)

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: Any, info: Any) -> Any:
        if value is None and info.field_name in cls.not_null:
            raise ValueError("may not be null")
        return value


class UserPatch(Patch):
    email: Email | None = None
    phone_number: str | None = None
    user_data: JsonObject | None = None

    not_null = frozenset({"user_data"})


class AgentPatch(Patch):
    name: AgentName | None = None
    display_name: str | None = None
    persona_source: PersonaSource | None = None
    type: Label | None = None
    model: ModelName | None = None
    description: str | None = None
    system_prompt: str | None = None
    config: JsonObject | None = None
    active: bool | None = None
    version: Label | None = None

    not_null = frozenset({"name", "persona_source", "model", "config", "active"})


class AgentBioPatch(Patch):
    persona_bio: Text | None = None
    persona_bio_source: PersonaBioSource | None = None

    read_only = frozenset({"agent_id"})
    not_null = frozenset({"persona_bio", "persona_bio_source"})


class ProfileCounts(Patch):
    """The counts of an upsert of profile metadata; an unset count keeps its value (0 when new)."""

    followers_count: Count | None = None
    follows_count: Count | None = None
    posts_count: Count | None = None

    read_only = frozenset({"agent_id"})
    not_null = frozenset({"followers_count", "follows_count", "posts_count"})


class SessionPatch(Patch):
    name: Label | None = None
    platform: Label | None = None
    metadata: JsonObject | None = None

    read_only = frozenset({"user_id", "agent_id", "finished_at"})
    not_null = frozenset({"platform", "metadata"})


class MessagePatch(Patch):
    text_content: str | None = None
    media_url: str | None = None
    mime_type: str | None = None
    message_type: Label | None = None
    context: JsonObject | None = None

    read_only = frozenset({"session_id", "user_id", "agent_id", "role"})
    not_null = frozenset({"message_type", "context"})


class MemoryPatch(Patch):
    name: Label | None = None
    description: str | None = None
    content: Json = None
    read_mode: ReadMode | None = None
    access: Access | None = None
    metadata: JsonObject | None = None

    read_only = frozenset({"agent_id", "user_id", "session_id"})
    not_null = frozenset({"name", "read_mode", "access", "metadata"})


class RunPatch(Patch):
    """What a run's life changes on its record (written by the core, never by a caller)."""

    status: RunStatus | None = None
    assistant_message_id: uuid.UUID | None = None
    pending_tool_calls: list[ToolCall] | None = None
    error: RunError | None = None
    usage: Usage | None = None
    steps: Count | None = None
    started_at: Timestamp | None = None
    finished_at: Timestamp | None = None

    read_only = frozenset({"session_id", "agent_id", "user_id", "user_message_id", "multitask_strategy"})
    not_null = frozenset({"status", "pending_tool_calls", "steps"})
