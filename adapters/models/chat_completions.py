"""The OpenAI chat-completions wire format: our messages to a request body, a response body to a
`ModelReply`. Pure functions, no I/O; `adapters.models.openai` sends what they build.

The request is what OpenAI, Ollama, vLLM, llama.cpp and LM Studio all accept: a `system` message
with the prompt, then the history in order. Tool calls go out as `tool_calls` on the assistant
message and their results as `tool` messages. OpenAI rejects a history in which a call has no result
or a result has no call, and agentkeep runs no tools (SPEC §3), so:

* a tool call with no reported result in the history gets a `tool` message saying it was not run;
* a tool result whose call is not in the history (cut off by `message_limit`) is left out.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agentkeep.domain.chat import ModelReply
from agentkeep.domain.models import Message, ToolCall, Usage
from agentkeep.domain.values import Json, Role

NOT_RUN = "This tool was not run: agentkeep records tool calls but runs no tools."

_MAX_COUNT = 2**63 - 1


class MalformedReply(ValueError):
    """The response body is not a chat completion; the message says what is wrong with it."""


def request_messages(system_prompt: str, messages: Sequence[Message]) -> list[dict[str, Any]]:
    """The `messages` of a chat-completions request: the system prompt, then `messages`."""
    out: list[dict[str, Any]] = [{"role": "system", "content": system_prompt}]
    # Call ids of the latest assistant turn that still wait for a result, in call order.
    pending: list[str] = []

    def answer(call_id: str, content: Json) -> None:
        if call_id in pending:
            pending.remove(call_id)
            out.append({"role": "tool", "tool_call_id": call_id, "content": _text(content)})

    def close_turn() -> None:
        for call_id in pending:
            out.append({"role": "tool", "tool_call_id": call_id, "content": NOT_RUN})
        pending.clear()

    for message in messages:
        if message.role == Role.TOOL:
            if message.tool_outputs:
                for output in message.tool_outputs:
                    answer(output.tool_call_id, output.content)
            elif pending:
                # A bare tool message answers the call it names, else the oldest one still open.
                named = message.context.get("tool_call_id")
                answer(named if isinstance(named, str) else pending[0], message.text_content or "")
            continue
        close_turn()
        if message.role == Role.ASSISTANT and message.tool_calls:
            out.append(
                {
                    "role": "assistant",
                    # OpenAI wants null, not "", for an assistant turn that only calls tools.
                    "content": message.text_content or None,
                    "tool_calls": [_call(call) for call in message.tool_calls],
                }
            )
            pending.extend(call.id for call in message.tool_calls)
            # An adapter may report outputs on the assistant message itself (SPEC §3).
            for output in message.tool_outputs:
                answer(output.tool_call_id, output.content)
        else:
            out.append({"role": message.role.value, "content": message.text_content or ""})
    close_turn()
    return out


def parse_reply(body: bytes, configured_model: str, duration_ms: float) -> ModelReply:
    """The `ModelReply` in a chat-completions response body; `MalformedReply` if there is none."""
    try:
        data = json.loads(body)
    except ValueError as exc:  # includes UnicodeDecodeError
        raise MalformedReply(f"the body is not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise MalformedReply("the body is not a JSON object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise MalformedReply("the body has no choices[0]")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise MalformedReply("the body has no choices[0].message")

    raw_calls = message.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        raise MalformedReply("choices[0].message.tool_calls is not a list")
    model = data.get("model")
    return ModelReply(
        text=_content(message.get("content")),
        tool_calls=[parse_call(index, raw) for index, raw in enumerate(raw_calls)],
        usage=usage_of(data.get("usage"), model if isinstance(model, str) and model else configured_model, duration_ms),
    )


def _call(call: ToolCall) -> dict[str, Any]:
    # A string is sent as is: it is the raw text of arguments that did not parse as JSON.
    arguments = call.arguments if isinstance(call.arguments, str) else _compact(call.arguments)
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments}}


def _text(content: Json) -> str:
    return content if isinstance(content, str) else _compact(content)


def _compact(value: Json) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _content(content: object) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        # Some servers answer with content parts; the text parts, in order, are the reply.
        return "".join(part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str))
    raise MalformedReply("choices[0].message.content is neither text nor null")


def parse_call(index: int, raw: object) -> ToolCall:
    function = raw.get("function") if isinstance(raw, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(raw, dict) or not isinstance(function, dict) or not isinstance(name, str) or not name:
        raise MalformedReply(f"tool call {index} has no function name")
    call_id = raw.get("id")
    arguments = function.get("arguments")
    if isinstance(arguments, str):
        try:
            parsed: Json = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            parsed = arguments  # kept raw: the caller sees what the model wrote
    elif arguments is None:
        parsed = {}
    else:
        parsed = arguments  # Ollama sends an object where OpenAI sends a string
    return ToolCall(
        # Some local servers leave the id out; the position keeps calls of one reply apart.
        id=str(call_id) if isinstance(call_id, str | int) and call_id != "" else f"call_{index}",
        name=name,
        arguments=parsed,
    )


def usage_of(raw: object, model: str, duration_ms: float) -> Usage:
    counts = raw if isinstance(raw, dict) else {}
    request = _count(counts.get("prompt_tokens"))
    response = _count(counts.get("completion_tokens"))
    total = _count(counts.get("total_tokens"))
    if total is None and request is not None and response is not None:
        total = request + response
    return Usage(
        model=model,
        request_tokens=request,
        response_tokens=response,
        total_tokens=total,
        duration_ms=duration_ms,
    )


def _count(value: object) -> int | None:
    # A count the server got wrong is no count, never a failed run.
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_COUNT:
        return value
    return None
