"""What run-agent takes and answers: the body of a run and its 200 answer (SPEC §3, §5)."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from agentkeep.domain.ids import UserId
from agentkeep.domain.models import ToolCall, ToolOutput, Usage
from agentkeep.domain.values import Email, JsonObject, Label, MultitaskStrategy, RunStatus, Text

MAX_MESSAGE = 100_000


class RunUser(BaseModel):
    """Fields of the run's user: applied to a found user, given to a new one."""

    model_config = ConfigDict(extra="forbid")

    email: Email | None = None
    phone_number: Annotated[str, Field(max_length=50)] | None = None
    user_data: JsonObject = Field(default_factory=dict)


class RunRequest(BaseModel):
    """The body of a run. A field it does not define is an error, so a typo never silently
    starts a new session."""

    model_config = ConfigDict(extra="forbid")

    message_content: Annotated[Text, Field(max_length=MAX_MESSAGE)]
    user_id: UserId | None = None
    user: RunUser | None = None
    session_id: uuid.UUID | None = None
    session_name: Label | None = None
    session_origin: Label = "api"
    system_prompt: str | None = None
    message_limit: Annotated[int, Field(ge=0, le=1000)] = 50
    message_type: Label = "text"
    media_url: str | None = None
    mime_type: Annotated[str, Field(max_length=255)] | None = None
    context: JsonObject = Field(default_factory=dict)
    stream: bool = False
    background: bool = False
    multitask_strategy: MultitaskStrategy = MultitaskStrategy.ENQUEUE


class RunResult(BaseModel):
    run_id: uuid.UUID
    status: RunStatus
    message: str
    session_id: uuid.UUID
    session_name: str | None
    user_id: uuid.UUID
    agent_id: str
    user_message_id: uuid.UUID
    assistant_message_id: uuid.UUID
    tool_calls: list[ToolCall]
    tool_outputs: list[ToolOutput]
    usage: Usage
