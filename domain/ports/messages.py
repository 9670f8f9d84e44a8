"""The messages port."""

from __future__ import annotations

import builtins
import uuid
from typing import Protocol

from agentkeep.domain.models import Message
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import MessagePatch


class Messages(Protocol):
    """A session's messages, in the stable order they were appended in (read back through an
    index, oldest first)."""

    async def add(self, message: Message) -> Message:
        """Append `message` to its session (after every message written before it)."""
        ...

    async def get(self, message_id: uuid.UUID) -> Message | None: ...

    async def list(
        self, session_id: uuid.UUID, paging: Paging, *, hide_tools: bool = False
    ) -> tuple[list[Message], int]:
        """A page of the session's messages in their stable order; `hide_tools` leaves out
        `role=tool` messages (the entrypoint drops the tool fields)."""
        ...

    async def last(self, session_id: uuid.UUID, limit: int) -> builtins.list[Message]:
        """The last `limit` messages of the session, oldest first, read through an index."""
        ...

    async def update(self, message_id: uuid.UUID, patch: MessagePatch) -> Message | None: ...

    async def delete(self, message_id: uuid.UUID) -> bool: ...
