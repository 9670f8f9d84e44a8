"""A message as the row it is stored as (what the messages and the sessions repositories both
write: a session's first message may go in the session's own statement)."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import bindparam

from agentkeep.adapters.storage.sql.dialect import POSTGRES, insert_ignoring
from agentkeep.adapters.storage.sql.repositories.base import row_values
from agentkeep.adapters.storage.sql.tables import messages, system_prompts
from agentkeep.domain.models import Message

#: The columns a message row is written with (`seq`, the insertion key, is the database's).
MESSAGE_COLUMNS = [c.name for c in messages.c if c.name != "seq"]


#: PostgreSQL: a CTE storing a message's system prompt unless stored (parameters `system_prompt_id`,
#: `prompt_text`, `created_at`), for the statement that stores the message itself.
STORED_PROMPT = (
    insert_ignoring(system_prompts, POSTGRES, ["id"])
    .values(id=bindparam("system_prompt_id"), text=bindparam("prompt_text"), created_at=bindparam("created_at"))
    .cte("stored_prompt")
)


def prompt_id(text: str) -> str:
    """The key of a system prompt: the SHA-256 of its text, in hex."""
    return hashlib.sha256(text.encode()).hexdigest()


def message_row(message: Message) -> dict[str, Any]:
    prompt = message.system_prompt
    return {
        **row_values(message, exclude={"system_prompt"}),
        "system_prompt_id": None if prompt is None else prompt_id(prompt),
    }
