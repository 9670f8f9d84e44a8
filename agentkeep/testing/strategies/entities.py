"""One strategy per domain model: valid, and stored alike by every adapter."""

from __future__ import annotations

import uuid
from datetime import datetime

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from agentkeep.domain.models import (
    Agent,
    AgentBio,
    AgentProfileMetadata,
    Memory,
    Message,
    Run,
    RunError,
    Session,
    ToolCall,
    ToolOutput,
    Usage,
    User,
)
from agentkeep.domain.values import (
    Access,
    MultitaskStrategy,
    PersonaBioSource,
    PersonaSource,
    ReadMode,
    Role,
    RunStatus,
)
from agentkeep.testing.strategies.values import (
    INT64,
    _maybe,
    _strategy,
    agent_ids,
    agent_names,
    emails,
    json_objects,
    json_values,
    labels,
    non_blank_texts,
    texts,
    timestamps,
)

__all__ = [
    "agent_bios",
    "agents",
    "memories",
    "messages",
    "profile_metadata",
    "run_errors",
    "runs",
    "sessions",
    "tool_calls",
    "tool_outputs",
    "usages",
    "users",
]


def users(
    ids: uuid.UUID | SearchStrategy[uuid.UUID] = st.uuids(),  # noqa: B008 - strategies are immutable
    email: str | SearchStrategy[str | None] | None = _maybe(emails()),  # noqa: B008
    created_at: datetime | SearchStrategy[datetime] = timestamps(),  # noqa: B008
) -> SearchStrategy[User]:
    return st.builds(
        User,
        id=_strategy(ids),
        email=_strategy(email),
        phone_number=_maybe(st.text("0123456789+- ", min_size=1, max_size=20)),
        user_data=json_objects(),
        created_at=_strategy(created_at),
    )


def agents(
    ids: str | SearchStrategy[str] = agent_ids(),  # noqa: B008
    names: str | SearchStrategy[str] = agent_names(),  # noqa: B008
    created_at: datetime | SearchStrategy[datetime] = timestamps(),  # noqa: B008
) -> SearchStrategy[Agent]:
    return st.builds(
        Agent,
        id=_strategy(ids),
        name=_strategy(names),
        display_name=_maybe(texts(max_size=40)),
        persona_source=st.sampled_from(PersonaSource),
        type=_maybe(labels()),
        model=st.sampled_from(["echo", "openai:gpt-4o-mini", "openai:llama3.1:8b"]),
        description=_maybe(texts(max_size=80)),
        system_prompt=_maybe(texts(max_size=100)),
        config=json_objects(),
        active=st.booleans(),
        version=_maybe(st.sampled_from(["1.0.0", "0.1", "2025-01"]) | labels()),
        created_at=_strategy(created_at),
    )


def agent_bios(
    agent_id: str | SearchStrategy[str],
    ids: uuid.UUID | SearchStrategy[uuid.UUID] = st.uuids(),  # noqa: B008
    created_at: datetime | SearchStrategy[datetime] = timestamps(),  # noqa: B008
) -> SearchStrategy[AgentBio]:
    return st.builds(
        AgentBio,
        id=_strategy(ids),
        agent_id=_strategy(agent_id),
        persona_bio=non_blank_texts(),
        persona_bio_source=st.sampled_from(PersonaBioSource),
        created_at=_strategy(created_at),
    )


def profile_metadata(
    agent_id: str | SearchStrategy[str],
    ids: uuid.UUID | SearchStrategy[uuid.UUID] = st.uuids(),  # noqa: B008
    created_at: datetime | SearchStrategy[datetime] = timestamps(),  # noqa: B008
) -> SearchStrategy[AgentProfileMetadata]:
    count = st.integers(0, 10**6) | st.integers(0, INT64)
    return st.builds(
        AgentProfileMetadata,
        id=_strategy(ids),
        agent_id=_strategy(agent_id),
        followers_count=count,
        follows_count=count,
        posts_count=count,
        created_at=_strategy(created_at),
    )


def sessions(
    user_id: uuid.UUID | SearchStrategy[uuid.UUID],
    agent_id: str | SearchStrategy[str],
    name: str | SearchStrategy[str | None] | None = _maybe(labels()),  # noqa: B008
    ids: uuid.UUID | SearchStrategy[uuid.UUID] = st.uuids(),  # noqa: B008
    created_at: datetime | SearchStrategy[datetime] = timestamps(),  # noqa: B008
) -> SearchStrategy[Session]:
    return st.builds(
        Session,
        id=_strategy(ids),
        user_id=_strategy(user_id),
        agent_id=_strategy(agent_id),
        name=_strategy(name),
        platform=st.sampled_from(["api", "cli"]) | labels(),
        metadata=json_objects(),
        created_at=_strategy(created_at),
        finished_at=_maybe(timestamps()),
    )


def tool_calls() -> SearchStrategy[ToolCall]:
    return st.builds(ToolCall, id=labels(), name=labels(), arguments=json_values())


def tool_outputs() -> SearchStrategy[ToolOutput]:
    return st.builds(ToolOutput, tool_call_id=labels(), name=labels(), content=json_values())


def usages() -> SearchStrategy[Usage]:
    tokens = _maybe(st.integers(0, 10**6))
    return st.builds(
        Usage,
        model=_maybe(st.sampled_from(["echo", "gpt-4o-mini"])),
        request_tokens=tokens,
        response_tokens=tokens,
        total_tokens=tokens,
        duration_ms=_maybe(st.integers(0, 10**7).map(lambda eighths: eighths / 8)),
    )


@st.composite
def messages(
    draw: st.DrawFn,
    session_id: uuid.UUID | SearchStrategy[uuid.UUID],
    user_id: uuid.UUID | SearchStrategy[uuid.UUID | None] | None = None,
    agent_id: str | SearchStrategy[str | None] | None = None,
    roles: SearchStrategy[Role] = st.sampled_from(Role),  # noqa: B008
    ids: uuid.UUID | SearchStrategy[uuid.UUID] = st.uuids(),  # noqa: B008
    created_at: datetime | SearchStrategy[datetime] = timestamps(),  # noqa: B008
) -> Message:
    """A message of any role: an assistant's may carry tool calls, usage and its system prompt;
    a tool message carries tool outputs."""
    role = draw(roles)
    assistant = role is Role.ASSISTANT
    return Message(
        id=draw(_strategy(ids)),
        session_id=draw(_strategy(session_id)),
        user_id=draw(_strategy(user_id)),
        agent_id=draw(_strategy(agent_id)),
        role=role,
        text_content=draw(_maybe(texts(max_size=100))),
        media_url=draw(_maybe(st.sampled_from(["https://example.com/a.png", "s3://bucket/key.ogg"]))),
        mime_type=draw(_maybe(st.sampled_from(["image/png", "audio/ogg", "text/plain"]))),
        message_type=draw(st.sampled_from(["text", "image", "audio"])),
        tool_calls=draw(st.lists(tool_calls(), max_size=3)) if assistant else [],
        tool_outputs=draw(st.lists(tool_outputs(), max_size=3)) if role is Role.TOOL else [],
        context=draw(json_objects()),
        usage=draw(_maybe(usages())) if assistant else None,
        system_prompt=draw(_maybe(texts(max_size=100))) if assistant else None,
        created_at=draw(_strategy(created_at)),
    )


def memories(
    agent_id: str | SearchStrategy[str],
    user_id: uuid.UUID | SearchStrategy[uuid.UUID | None] | None = None,
    session_id: uuid.UUID | SearchStrategy[uuid.UUID | None] | None = None,
    names: str | SearchStrategy[str] = labels(),  # noqa: B008
    ids: uuid.UUID | SearchStrategy[uuid.UUID] = st.uuids(),  # noqa: B008
    created_at: datetime | SearchStrategy[datetime] = timestamps(),  # noqa: B008
) -> SearchStrategy[Memory]:
    """A memory with text or JSON content; agent-wide unless `user_id` gives a user."""
    return st.builds(
        Memory,
        id=_strategy(ids),
        name=_strategy(names),
        description=_maybe(texts(max_size=80)),
        content=texts(max_size=100) | json_values(),
        agent_id=_strategy(agent_id),
        user_id=_strategy(user_id),
        session_id=_strategy(session_id),
        read_mode=st.sampled_from(ReadMode),
        access=st.sampled_from(Access),
        metadata=json_objects(),
        created_at=_strategy(created_at),
    )


def run_errors() -> SearchStrategy[RunError]:
    return st.builds(
        RunError, code=st.sampled_from(["model_error", "model_timeout", "interrupted"]), detail=texts(max_size=80)
    )


def runs(
    session_id: uuid.UUID | SearchStrategy[uuid.UUID],
    user_id: uuid.UUID | SearchStrategy[uuid.UUID],
    agent_id: str | SearchStrategy[str],
    ids: uuid.UUID | SearchStrategy[uuid.UUID] = st.uuids(),  # noqa: B008
    created_at: datetime | SearchStrategy[datetime] = timestamps(),  # noqa: B008
) -> SearchStrategy[Run]:
    """A run in any status, with what each status may carry."""
    return st.builds(
        Run,
        id=_strategy(ids),
        session_id=_strategy(session_id),
        user_id=_strategy(user_id),
        agent_id=_strategy(agent_id),
        status=st.sampled_from(RunStatus),
        user_message_id=_maybe(st.uuids()),
        assistant_message_id=_maybe(st.uuids()),
        pending_tool_calls=st.lists(tool_calls(), max_size=2),
        error=_maybe(run_errors()),
        usage=_maybe(usages()),
        steps=st.integers(0, 100),
        multitask_strategy=st.sampled_from(MultitaskStrategy),
        created_at=_strategy(created_at),
        started_at=_maybe(timestamps()),
        finished_at=_maybe(timestamps()),
    )
