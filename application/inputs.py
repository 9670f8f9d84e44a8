"""What callers may send to create things: the entity's fields less what the core owns
(timestamps), with the same validation. An unknown field is an error naming it."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from agentkeep.domain.ids import AgentId, UserId
from agentkeep.domain.models import Agent, AgentBio, Memory, Session, User
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
    Text,
)


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewUser(Input):
    id: UserId | None = None
    email: Email | None = None
    phone_number: Annotated[str, Field(max_length=50)] | None = None
    user_data: JsonObject = Field(default_factory=dict)

    def build(self) -> User:
        return User(**_without_none_id(self))


class NewAgent(Input):
    id: AgentId | None = None
    name: AgentName
    display_name: Annotated[str, Field(max_length=255)] | None = None
    persona_source: PersonaSource = PersonaSource.USER_GENERATED
    type: Label | None = None
    model: ModelName = "echo"
    description: str | None = None
    system_prompt: str | None = None
    config: JsonObject = Field(default_factory=dict)
    active: bool = True
    version: Label | None = None

    def build(self) -> Agent:
        return Agent(**_without_none_id(self))


class AgentReplacement(Input):
    """The body of a create-or-replace (PUT): every field of an agent but its id; `name` defaults
    to the one in the path."""

    name: AgentName | None = None
    display_name: Annotated[str, Field(max_length=255)] | None = None
    persona_source: PersonaSource = PersonaSource.USER_GENERATED
    type: Label | None = None
    model: ModelName = "echo"
    description: str | None = None
    system_prompt: str | None = None
    config: JsonObject = Field(default_factory=dict)
    active: bool = True
    version: Label | None = None


class NewBio(Input):
    id: uuid.UUID | None = None
    persona_bio: Text
    persona_bio_source: PersonaBioSource = PersonaBioSource.USER_PROVIDED

    def build(self, agent_id: str) -> AgentBio:
        return AgentBio(agent_id=agent_id, **_without_none_id(self))


class Counts(Input):
    followers_count: Count | None = None
    follows_count: Count | None = None
    posts_count: Count | None = None


class NewSession(Input):
    id: uuid.UUID | None = None
    user_id: UserId
    agent_id: Annotated[str, Field(min_length=1, max_length=255)]
    """The agent's id or name."""
    name: Label | None = None
    platform: Label = "api"
    metadata: JsonObject = Field(default_factory=dict)

    def build(self, agent_id: str) -> Session:
        return Session(**{**_without_none_id(self), "agent_id": agent_id})


class NewMemory(Input):
    id: uuid.UUID | None = None
    name: Label
    description: str | None = None
    content: Json
    agent_id: Annotated[str, Field(min_length=1, max_length=255)]
    """The agent's id or name."""
    user_id: UserId | None = None
    session_id: uuid.UUID | None = None
    read_mode: ReadMode = ReadMode.SYSTEM_PROMPT
    access: Access = Access.WRITE
    metadata: JsonObject = Field(default_factory=dict)

    def build(self, agent_id: str) -> Memory:
        return Memory(**{**_without_none_id(self), "agent_id": agent_id})


def _without_none_id(model: BaseModel) -> dict[str, object]:
    values = {name: getattr(model, name) for name in type(model).model_fields}
    if values.get("id") is None:
        values.pop("id", None)
    return values
