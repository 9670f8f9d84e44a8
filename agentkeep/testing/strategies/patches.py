"""Patches: each field present or not; a nullable field may be set to None (which clears it)."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from agentkeep.domain.patches import (
    AgentBioPatch,
    AgentPatch,
    MemoryPatch,
    MessagePatch,
    ProfileCounts,
    SessionPatch,
    UserPatch,
)
from agentkeep.domain.values import Access, PersonaBioSource, PersonaSource, ReadMode
from agentkeep.testing.strategies.values import (
    INT64,
    _maybe,
    agent_names,
    emails,
    json_objects,
    json_values,
    labels,
    non_blank_texts,
    texts,
)

__all__ = [
    "agent_bio_patches",
    "agent_patches",
    "memory_patches",
    "message_patches",
    "profile_counts",
    "session_patches",
    "user_patches",
]

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
