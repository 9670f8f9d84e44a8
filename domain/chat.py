"""What a chat model answers (the port that answers it is `domain.ports.chat_model`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agentkeep.domain.models import ToolCall, ToolOutput, Usage


class ModelReply(BaseModel):
    """What a model answered: the reply text, the tool calls it made, the outputs an adapter
    reports (agentkeep runs no tools itself), and what it cost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_outputs: list[ToolOutput] = Field(default_factory=list)
    usage: Usage
