"""The chat model port: what run-agent needs from a model, whichever model it is."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from agentkeep.domain.chat import ModelReply
from agentkeep.domain.models import Message


class ChatModel(Protocol):
    """A chat model. Raises `ModelUnavailable` when it fails and `ModelTimeout` when it is slow."""

    async def reply(self, system_prompt: str, messages: Sequence[Message]) -> ModelReply:
        """Answer the conversation `messages` (oldest first, the new user message last)."""
        ...

    def stream(self, system_prompt: str, messages: Sequence[Message]) -> AsyncIterator[str | ModelReply]:
        """The same answer as it comes: its text deltas (which concatenate to its text), then the
        whole `ModelReply`, last. The same errors as `reply`, also after deltas were given."""
        ...


class ChatModels(Protocol):
    """Finds the chat model an agent names (`echo`, `openai:<model>`)."""

    def get(self, model: str) -> ChatModel:
        """The model called `model`; `Invalid` (key `model`) when none is known by that name."""
        ...
