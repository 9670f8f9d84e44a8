"""Hypothesis strategies for agentkeep's domain: valid entities, patches and their parts.

Everything made here is stored identically by every storage adapter: strings hold no NUL character
(PostgreSQL rejects it in text and JSON) and no lone surrogate; JSON integers fit 64 bits and JSON
floats are finite eighths (exact in binary and in decimal, so they survive PostgreSQL's `numeric`);
timestamps carry a zone and microseconds. Parent ids are parameters: pass a value, or a strategy.
So are the ids and unique names of the entities themselves: Hypothesis may well draw one UUID
twice, so a test that writes many examples into one database passes fresh ones
(`users(ids=uuid.uuid4())`) or draws them from a pool on purpose to provoke conflicts.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from agentkeep.domain.models import (
    Agent,
    AgentBio,
    AgentProfileMetadata,
    Memory,
    Message,
    Session,
    ToolCall,
    ToolOutput,
    Usage,
    User,
)
from agentkeep.domain.patches import (
    AgentBioPatch,
    AgentPatch,
    MemoryPatch,
    MessagePatch,
    ProfileCounts,
    SessionPatch,
    UserPatch,
)
from agentkeep.domain.values import Access, PersonaBioSource, PersonaSource, ReadMode, Role

T = TypeVar("T")

__all__ = [
    "agent_bio_patches",
    "agent_bios",
    "agent_ids",
    "agent_names",
    "agent_patches",
    "agents",
    "dids",
    "emails",
    "json_objects",
    "json_scalars",
    "json_values",
    "labels",
    "memories",
    "memory_patches",
    "message_patches",
    "messages",
    "non_blank_texts",
    "profile_counts",
    "profile_metadata",
    "session_patches",
    "sessions",
    "texts",
    "timestamps",
    "tool_calls",
    "tool_outputs",
    "usages",
    "user_patches",
    "users",
]

_CHARACTERS = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
_LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_ZONES = (UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-7)))
INT64 = 2**63 - 1


def _strategy(value: T | SearchStrategy[T]) -> SearchStrategy[T]:
    return value if isinstance(value, SearchStrategy) else st.just(value)


def _maybe(strategy: SearchStrategy[T]) -> SearchStrategy[T | None]:
    return st.none() | strategy


# Values


def texts(min_size: int = 0, max_size: int = 40) -> SearchStrategy[str]:
    """Any text both databases keep as is (no NUL, no lone surrogate)."""
    return st.text(_CHARACTERS, min_size=min_size, max_size=max_size)


def non_blank_texts(max_size: int = 200) -> SearchStrategy[str]:
    """Text with something besides whitespace (a persona bio)."""
    return st.builds(
        lambda pad, core, tail: pad + core + tail,
        st.sampled_from(["", " ", "\n"]),
        st.text(st.characters(categories=("L", "N", "P")), min_size=1, max_size=max_size),
        texts(max_size=20),
    )


def labels(max_size: int = 30) -> SearchStrategy[str]:
    """A short free-form label: a session name, a platform, a type, a version."""
    return texts(min_size=1, max_size=max_size)


def timestamps(min_year: int = 2000, max_year: int = 2100) -> SearchStrategy[datetime]:
    """Aware timestamps with microseconds, in UTC or another fixed zone (stored as UTC)."""
    return st.datetimes(
        min_value=datetime(min_year, 1, 2), max_value=datetime(max_year, 12, 30), timezones=st.sampled_from(_ZONES)
    )


def json_scalars() -> SearchStrategy[Any]:
    return (
        st.none()
        | st.booleans()
        | st.integers(-INT64 - 1, INT64)
        | st.integers(-(10**6), 10**6).map(lambda eighths: eighths / 8)
        | texts(max_size=20)
    )


def json_values(max_leaves: int = 6) -> SearchStrategy[Any]:
    """Any JSON value: nested lists and objects of portable scalars."""
    return st.recursive(
        json_scalars(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts(max_size=8), inner, max_size=3),
        max_leaves=max_leaves,
    )


def json_objects(max_size: int = 3) -> SearchStrategy[dict[str, Any]]:
    """A JSON object (user_data, config, metadata, context)."""
    return st.dictionaries(texts(max_size=8), json_values(), max_size=max_size)


def emails() -> SearchStrategy[str]:
    """Valid email addresses, in mixed case (the entities store them lower-case)."""
    word = st.text(_LOWER_ALNUM + "ABCXYZ_+-", min_size=1, max_size=8)
    local = st.lists(word, min_size=1, max_size=3).map(".".join)
    label = st.text(_LOWER_ALNUM, min_size=1, max_size=10)
    domain = st.builds(lambda a, tld: f"{a}.{tld}", label, st.sampled_from(["com", "org", "net", "io", "Example.COM"]))
    return st.builds(lambda lp, d: f"{lp}@{d}", local, domain)


def agent_names(max_size: int = 30) -> SearchStrategy[str]:
    """Valid handles: `^[a-z0-9][a-z0-9._-]{0,252}$`, some of them Bluesky-like (`x.bsky.social`)."""
    plain = st.builds(
        lambda first, rest: first + rest,
        st.sampled_from(_LOWER_ALNUM),
        st.text(_LOWER_ALNUM + "._-", max_size=max(0, max_size - 1)),
    )
    return plain | plain.map(lambda name: f"{name[:max_size]}.bsky.social")


def dids() -> SearchStrategy[str]:
    """Bluesky DIDs (`did:plc:` + 24 base32 characters) and `did:web:` ones."""
    plc = st.text("abcdefghijklmnopqrstuvwxyz234567", min_size=24, max_size=24).map(lambda s: f"did:plc:{s}")
    web = st.text(_LOWER_ALNUM, min_size=1, max_size=12).map(lambda s: f"did:web:{s}.example.com")
    return plc | web


def agent_ids() -> SearchStrategy[str]:
    """Agent ids: 32 lower-case hex characters, or a `did:` string."""
    return st.uuids().map(lambda u: u.hex) | dids()


# Entities


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


# Patches: each field is present or not; a nullable field may be set to None (which clears it).


def user_patches(email: SearchStrategy[str | None] = _maybe(emails())) -> SearchStrategy[UserPatch]:  # noqa: B008
    fields = {"email": email, "phone_number": _maybe(texts(max_size=20)), "user_data": json_objects()}
    return st.fixed_dictionaries({}, optional=fields).map(UserPatch.model_validate)


def agent_patches(names: SearchStrategy[str] = agent_names()) -> SearchStrategy[AgentPatch]:  # noqa: B008
    fields = {
        "name": names,
        "display_name": _maybe(texts(max_size=40)),
        "persona_source": st.sampled_from(PersonaSource),
        "type": _maybe(labels()),
        "model": st.sampled_from(["echo", "openai:gpt-4o"]),
        "description": _maybe(texts(max_size=80)),
        "system_prompt": _maybe(texts(max_size=100)),
        "config": json_objects(),
        "active": st.booleans(),
        "version": _maybe(labels()),
    }
    return st.fixed_dictionaries({}, optional=fields).map(AgentPatch.model_validate)


def agent_bio_patches() -> SearchStrategy[AgentBioPatch]:
    fields = {"persona_bio": non_blank_texts(), "persona_bio_source": st.sampled_from(PersonaBioSource)}
    return st.fixed_dictionaries({}, optional=fields).map(AgentBioPatch.model_validate)


def profile_counts() -> SearchStrategy[ProfileCounts]:
    count = st.integers(0, INT64)
    fields = {"followers_count": count, "follows_count": count, "posts_count": count}
    return st.fixed_dictionaries({}, optional=fields).map(ProfileCounts.model_validate)


def session_patches(names: SearchStrategy[str | None] = _maybe(labels())) -> SearchStrategy[SessionPatch]:  # noqa: B008
    fields = {"name": names, "platform": labels(), "metadata": json_objects()}
    return st.fixed_dictionaries({}, optional=fields).map(SessionPatch.model_validate)


def message_patches() -> SearchStrategy[MessagePatch]:
    fields = {
        "text_content": _maybe(texts(max_size=100)),
        "media_url": _maybe(texts(max_size=40)),
        "mime_type": _maybe(st.sampled_from(["image/png", "text/plain"])),
        "message_type": labels(),
        "context": json_objects(),
    }
    return st.fixed_dictionaries({}, optional=fields).map(MessagePatch.model_validate)


def memory_patches(names: SearchStrategy[str] = labels()) -> SearchStrategy[MemoryPatch]:  # noqa: B008
    fields = {
        "name": names,
        "description": _maybe(texts(max_size=80)),
        "content": texts(max_size=100) | json_values(),
        "read_mode": st.sampled_from(ReadMode),
        "access": st.sampled_from(Access),
        "metadata": json_objects(),
    }
    return st.fixed_dictionaries({}, optional=fields).map(MemoryPatch.model_validate)
