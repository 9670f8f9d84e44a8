"""A message as the row it is stored as (what the messages and the sessions repositories both
write: a session's first message may go in the session's own statement)."""

from __future__ import annotations

import hashlib
from typing import Any

from agentkeep.adapters.storage.sql.repositories.base import row_values
from agentkeep.adapters.storage.sql.tables import messages
from agentkeep.domain.models import Message

#: The columns a message row is written with (`seq`, the insertion key, is the database's).
MESSAGE_COLUMNS = [c.name for c in messages.c if c.name != "seq"]


def prompt_id(text: str) -> str:
    """The key of a system prompt: the SHA-256 of its text, in hex."""
    return hashlib.sha256(text.encode()).hexdigest()


def message_row(message: Message) -> dict[str, Any]:
    prompt = message.system_prompt
    return {
        **row_values(message, exclude={"system_prompt"}),
        "system_prompt_id": None if prompt is None else prompt_id(prompt),
    }
