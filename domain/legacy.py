"""Legacy sources (read only): the rows migrate-agents and import-automagik read (SPEC §2 "Legacy
sources", §4, §7).

A source hands out rows in keyset-paginated batches, in a stable order, never the whole table.
Rows carry raw values (text timestamps, JSON as text or as parsed values, integer ids): mapping them
to entities, and deciding what is a bad row, is the use cases' work. What needs the whole table to
decide (a handle that appears twice, the newest bio of a handle, an email a lower id already has) is
computed by the source's database and arrives as a flag on the row. The ports that stream them
are in `domain.ports.legacy_sources`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

#: A JSON column as a source gives it: parsed (PostgreSQL JSONB, through some drivers), or text.
RawJson = str | dict[str, object] | list[object] | int | float | bool | None
#: A timestamp as a source gives it: a datetime (naive ones are UTC), or text to parse.
RawTime = datetime | str | None


# The social-agent simulation platform (`bluesky_profiles`, `agent_bios`).


@dataclass(frozen=True, slots=True)
class LegacyProfile:
    """One `bluesky_profiles` row, with what the source computed about it from the whole table."""

    handle: str | None
    did: str | None
    display_name: str | None
    bio: str | None
    followers_count: int | None
    follows_count: int | None
    posts_count: int | None
    #: Another row has this handle, case ignored (`duplicate_handle`, every such row).
    handle_repeated: bool = False
    #: Another row has this DID (`duplicate_did`, every such row).
    did_repeated: bool = False
    #: The handle's newest non-empty `agent_bios.generated_bio`, among those with a readable time.
    generated_bio: str | None = None
    generated_bio_at: datetime | None = None
    #: How many of the handle's `agent_bios` rows have a `created_at` that cannot be read
    #: (`bad_timestamp`; they took no part in choosing the newest).
    bad_bio_timestamps: int = 0


# automagik-agents (`users`, `agents`, `sessions`, `messages`, `memories`, `prompts`).


@dataclass(frozen=True, slots=True)
class LegacyUser:
    id: int
    email: str | None
    phone_number: str | None
    user_data: RawJson
    created_at: RawTime
    updated_at: RawTime
    #: A lower user id has this email, case ignored: it is dropped from this user.
    email_repeated: bool = False


@dataclass(frozen=True, slots=True)
class LegacyAgent:
    id: int
    name: str | None
    type: str | None
    model: str | None
    description: str | None
    version: str | None
    config: RawJson
    active: bool | None
    run_id: int | None
    #: `agents.system_prompt`, else the text of the agent's active default prompt (`prompts`).
    system_prompt: str | None
    created_at: RawTime
    updated_at: RawTime


@dataclass(frozen=True, slots=True)
class LegacySession:
    id: str
    user_id: int | None
    agent_id: int | None
    name: str | None
    platform: str | None
    metadata: RawJson
    created_at: RawTime
    updated_at: RawTime
    run_finished_at: RawTime
    #: An earlier session (created_at, then id) has this name: it is dropped from this session.
    name_repeated: bool = False


@dataclass(frozen=True, slots=True)
class LegacyMessage:
    id: str
    session_id: str | None
    user_id: int | None
    agent_id: int | None
    role: str | None
    text_content: str | None
    media_url: str | None
    mime_type: str | None
    message_type: str | None
    raw_payload: RawJson
    tool_calls: RawJson
    tool_outputs: RawJson
    system_prompt: str | None
    user_feedback: str | None
    flagged: str | None
    context: RawJson
    channel_payload: RawJson
    created_at: RawTime
    updated_at: RawTime
    #: The user of the message's session (a message with no user gets it); None when the session
    #: has none or is gone.
    session_user_id: int | None = None


@dataclass(frozen=True, slots=True)
class LegacyMemory:
    id: str
    name: str | None
    description: str | None
    content: str | None
    session_id: str | None
    user_id: int | None
    agent_id: int | None
    read_mode: str | None
    access: str | None
    metadata: RawJson
    created_at: RawTime
    updated_at: RawTime
    #: Another memory of the same (name, agent, user) wins over this one (it is skipped).
    duplicate: bool = False
