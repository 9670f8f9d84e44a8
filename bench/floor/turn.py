"""What both floors share: the history size, the decoding of a message row, the echo reply's usage
and the JSON answer (the fields of agentkeep's `RunResult`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

HISTORY = 50
JSON_COLUMNS = ("tool_calls", "tool_outputs", "context", "usage")


def decoded(row: Mapping[str, Any]) -> dict[str, Any]:
    """A message row, every column, its JSON columns decoded. Most of them hold `[]` or `{}`: those
    skip the parser (as agentkeep's decoders do), so the floor is the fastest plain code."""
    message = dict(row)
    for column in JSON_COLUMNS:
        value = message[column]
        if value is not None:
            message[column] = [] if value == "[]" else {} if value == "{}" else json.loads(value)
    return message


def echo_usage(text: str, history: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The echo model's usage: words of every message sent, words of the reply (its text)."""
    words = len(text.split())
    request = words + sum(len((m["text_content"] or "").split()) for m in history)
    return {"model": "echo", "request_tokens": request, "response_tokens": words, "total_tokens": request + words}


def answer(
    text: str,
    session: Mapping[str, Any],
    message_ids: tuple[uuid.UUID, uuid.UUID],
    usage: dict[str, Any],
) -> dict[str, Any]:
    """The JSON body of a run, as agentkeep answers it. `session`: its id, name, user and agent."""
    return {
        "message": text,
        "session_id": str(session["id"]),
        "session_name": session["name"],
        "user_id": str(session["user_id"]),
        "agent_id": session["agent_id"],
        "user_message_id": str(message_ids[0]),
        "assistant_message_id": str(message_ids[1]),
        "tool_calls": [],
        "tool_outputs": [],
        "usage": usage,
    }
