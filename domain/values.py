"""Value types shared by the entities: UTC timestamps, names, JSON objects, enums."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    EmailStr,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    JsonValue,
    PlainSerializer,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

AGENT_NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,252}$"
_AGENT_NAME = re.compile(AGENT_NAME_PATTERN)


def utcnow() -> datetime:
    """Now, timezone-aware UTC. The one clock of the core."""
    return datetime.now(UTC)


def to_utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive input is read as UTC (SPEC §2)."""
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """RFC 3339 with `Z` and microseconds: `2026-11-23T11:40:58.123456Z`."""
    return to_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _check_agent_name(value: str) -> str:
    if not _AGENT_NAME.match(value):
        raise ValueError(
            "must be a handle: lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, at most 253 characters"
        )
    return value


def _check_model(value: str) -> str:
    if value == "echo" or (value.startswith("openai:") and len(value) > len("openai:")):
        return value
    raise ValueError("must be 'echo' or 'openai:<model>'")


def _check_text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty or whitespace only")
    return value


class NativeFirstInJson:
    """A type's validation from JSON tried first by `native`, a pydantic-core schema that runs no
    Python (for the common case: a page of stored rows holds thousands of values), then, only for
    what `native` refuses, by the type's own schema (the annotations before this one) as before.

    `native` must accept nothing the type's own schema refuses, and give what it would give (an
    equal value): then the rules are the same. From Python objects (request bodies, the core's own
    values) the type's own schema alone runs, so its error messages are unchanged; from JSON, an
    input both refuse gets the errors of both. The JSON schema is the type's own."""

    def __init__(self, native: CoreSchema) -> None:
        self.native = native

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        own = handler(source)
        return core_schema.json_or_python_schema(
            json_schema=core_schema.union_schema([self.native, own], mode="left_to_right"),
            python_schema=own,
            metadata={"own": own},
        )

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return handler(schema["metadata"]["own"])


Timestamp = Annotated[
    datetime,
    AfterValidator(to_utc),
    # An aware time at offset 0 (PostgreSQL's JSON, the `Z` of SQLite's pages) as it is: an equal
    # UTC datetime (its tzinfo pydantic-core's `TzInfo(0)`); a naive or other offset through `to_utc`.
    NativeFirstInJson(core_schema.datetime_schema(tz_constraint=0)),
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
]
"""A timezone-aware UTC datetime, written as RFC 3339 with `Z` and microseconds."""

AgentName = Annotated[str, BeforeValidator(_lower), AfterValidator(_check_agent_name)]
"""An agent name: a handle such as `alice.bsky.social`, stored and compared lower-case."""

ModelName = Annotated[str, Field(max_length=255), AfterValidator(_check_model)]
"""The chat model of an agent: `echo` or `openai:<model>`."""

Email = Annotated[EmailStr, AfterValidator(str.lower)]
"""A valid email address, stored lower-case (so unique case-insensitively)."""

Text = Annotated[str, AfterValidator(_check_text)]
"""Text that must hold something besides whitespace."""

Label = Annotated[str, Field(min_length=1, max_length=255)]
"""A short free-form label: a name, a type, a version, a platform."""

JsonObject = dict[str, JsonValue]
"""A JSON object (a dict with string keys)."""

Json = JsonValue
"""Any JSON value."""

Count = Annotated[int, Field(ge=0, le=2**63 - 1)]
"""A non-negative count that fits a 64-bit column."""


class PersonaSource(StrEnum):
    USER_GENERATED = "user_generated"
    SYNC_BLUESKY = "sync_bluesky"


class PersonaBioSource(StrEnum):
    AI_GENERATED = "ai_generated"
    USER_PROVIDED = "user_provided"


class Role(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    TOOL = "tool"


class ReadMode(StrEnum):
    SYSTEM_PROMPT = "system_prompt"
    TOOL_CALL = "tool_call"


class Access(StrEnum):
    READ = "read"
    WRITE = "write"


class RunStatus(StrEnum):
    """Where a run is (SPEC §9). `queued`, `running` and `requires_action` hold the session."""

    QUEUED = "queued"
    RUNNING = "running"
    REQUIRES_ACTION = "requires_action"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def active(self) -> bool:
        """Whether the run is not finished yet (it holds its session)."""
        return self in ACTIVE_RUN_STATUSES


ACTIVE_RUN_STATUSES = frozenset({RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.REQUIRES_ACTION})


class MultitaskStrategy(StrEnum):
    """What a run does when its session is busy with another (SPEC §9.6)."""

    ENQUEUE = "enqueue"
    REJECT = "reject"
    INTERRUPT = "interrupt"
    ROLLBACK = "rollback"
