"""automagik-agents rows as agentkeep entities (SPEC §7), one function per table.

Each takes the source row and the parents its step resolved in agentkeep, and returns the entity,
or raises `BadValue` when the row cannot stand (it is skipped). Values dropped from a row that is
kept are appended to `dropped`; the step reports them once the row is kept. What needs the other
rows of the batch or agentkeep's rows (a repeated email, agent name or session name, a missing
parent) is decided by the step.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from agentkeep.application import automagik_values as values
from agentkeep.application.automagik_values import BadValue
from agentkeep.domain.legacy import LegacyAgent, LegacyMemory, LegacyMessage, LegacySession, LegacyUser, RawTime
from agentkeep.domain.models import Agent, Memory, Message, Session, User

E = TypeVar("E", bound=BaseModel)


def user(row: LegacyUser, user_id: uuid.UUID, dropped: list[BadValue]) -> User:
    """The user, without its email (`email` decides on it)."""
    user_data, other = values.json_object(row.user_data, "user_data")
    return _build(
        User,
        id=user_id,
        phone_number=values.label(row.phone_number),
        user_data=values.with_legacy(user_data, {"user_data": other}),
        **_stamps(row.created_at, row.updated_at, dropped),
    )


def email(row: LegacyUser, taken: set[str], dropped: list[BadValue]) -> str | None:
    """The user's email, unless it is invalid, or a lower user id (in the source, or earlier in
    `taken`) has it: then it is dropped."""
    try:
        address = values.email(row.email)
    except BadValue as e:
        dropped.append(e)
        return None
    if address is not None and (row.email_repeated or address in taken):
        dropped.append(BadValue("duplicate_email", f"email {row.email!r} belongs to a lower user id"))
        return None
    return address


def agent(row: LegacyAgent, agent_id: str, dropped: list[BadValue]) -> Agent:
    """The agent, its name made a handle (the original kept as its display name), a model that
    agentkeep does not run replaced by `echo` (the original under `config.legacy.model`)."""
    name = values.agent_name(row.name)
    config, other = values.json_object(row.config, "config")
    model, legacy_model = values.model(row.model)
    return _build(
        Agent,
        id=agent_id,
        name=name,
        display_name=row.name if row.name != name else None,
        type=values.label(row.type),
        model=model,
        description=row.description,
        system_prompt=row.system_prompt,
        config=values.with_legacy(config, {"config": other, "model": legacy_model, "run_id": row.run_id}),
        active=True if row.active is None else bool(row.active),
        version=values.label(row.version),
        **_stamps(row.created_at, row.updated_at, dropped),
    )


def session(
    row: LegacySession, session_id: uuid.UUID, user_id: uuid.UUID, agent_id: str, dropped: list[BadValue]
) -> Session:
    """The session, without its name (`session_name` decides on it); `run_finished_at` is its
    `finished_at`, metadata stored as a JSON string is parsed."""
    metadata, other = values.json_object(row.metadata, "metadata")
    return _build(
        Session,
        id=session_id,
        user_id=user_id,
        agent_id=agent_id,
        platform=values.label(row.platform) or "api",
        metadata=values.with_legacy(metadata, {"metadata": other}),
        finished_at=_optional_time(row.run_finished_at, "run_finished_at", dropped),
        **_stamps(row.created_at, row.updated_at, dropped),
    )


def session_name(row: LegacySession, taken: set[str], dropped: list[BadValue]) -> str | None:
    """The session's name, unless it is blank or an earlier session (in the source, or earlier in
    `taken`) has it: then it is dropped."""
    if row.name is None:
        return None
    if not row.name.strip() or len(row.name) > 255:
        dropped.append(BadValue("invalid_name", f"name {row.name!r} is blank or too long"))
        return None
    if row.name_repeated or row.name in taken:
        dropped.append(BadValue("duplicate_name", f"name {row.name!r} belongs to an earlier session"))
        return None
    return row.name


def message(
    row: LegacyMessage,
    message_id: uuid.UUID,
    parent: Session,
    user_id: uuid.UUID,
    agent_id: str,
    dropped: list[BadValue],
) -> Message:
    """The message; automagik's tool calls and outputs as lists, the columns agentkeep has no
    place for under `context.legacy`. With no time of its own it takes its session's."""
    context, other = values.json_object(row.context, "context")
    legacy = {
        "context": other,
        "raw_payload": values.parse_json(row.raw_payload, "raw_payload"),
        "channel_payload": values.parse_json(row.channel_payload, "channel_payload"),
        "user_feedback": row.user_feedback,
        "flagged": row.flagged,
    }
    created = values.timestamp(row.created_at, "created_at")
    if created is None:
        created = _optional_time(row.updated_at, "updated_at", dropped) or parent.created_at
    return _build(
        Message,
        id=message_id,
        session_id=parent.id,
        user_id=user_id,
        agent_id=agent_id,
        role=row.role,
        text_content=row.text_content,
        media_url=row.media_url,
        mime_type=row.mime_type,
        message_type=values.label(row.message_type) or "text",
        tool_calls=values.tool_calls(row.tool_calls),
        tool_outputs=values.tool_outputs(row.tool_outputs),
        context=values.with_legacy(context, legacy),
        system_prompt=row.system_prompt,
        created_at=created,
    )


def memory(
    row: LegacyMemory,
    memory_id: uuid.UUID,
    agent_id: str,
    user_id: uuid.UUID | None,
    session_id: uuid.UUID | None,
    dropped: list[BadValue],
) -> Memory:
    """The memory; `read_mode` `tool`/`tool_calling` is `tool_call`, `access` `read_write` is
    `write`; its content is kept as the text it is."""
    metadata, other = values.json_object(row.metadata, "metadata")
    return _build(
        Memory,
        id=memory_id,
        name=row.name,
        description=row.description,
        content=row.content,
        agent_id=agent_id,
        user_id=user_id,
        session_id=session_id,
        read_mode=values.read_mode(row.read_mode),
        access=values.access(row.access),
        metadata=values.with_legacy(metadata, {"metadata": other}),
        **_stamps(row.created_at, row.updated_at, dropped),
    )


def _build(entity: type[E], **fields: Any) -> E:
    """The entity, or BadValue `invalid_value` naming what breaks agentkeep's rules (a NUL
    character included: PostgreSQL cannot store one)."""
    if values.holds_nul(*fields.values()):
        raise BadValue("invalid_value", "a text holds a NUL character")
    try:
        return entity(**fields)
    except ValidationError as e:
        first = e.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise BadValue("invalid_value", f"{field}: {first['msg']}") from None


def _stamps(created: RawTime, updated: RawTime, dropped: list[BadValue]) -> dict[str, datetime]:
    """`created_at` and `updated_at` to build an entity with. An unreadable creation time skips
    the row; a missing one is the update time, else now. An unreadable update time is dropped."""
    created_at = values.timestamp(created, "created_at")
    updated_at = _optional_time(updated, "updated_at", dropped)
    stamps = {"created_at": created_at or updated_at, "updated_at": updated_at}
    return {key: value for key, value in stamps.items() if value is not None}


def _optional_time(raw: RawTime, column: str, dropped: list[BadValue]) -> datetime | None:
    try:
        return values.timestamp(raw, column)
    except BadValue as e:
        dropped.append(e)
        return None
