"""The streamed chat-completions wire format (`"stream": true`): server-sent events whose `data:` is
a `chat.completion.chunk`, ended by `data: [DONE]`. Pure, no I/O: `adapters.models.openai` reads the
lines and feeds them here.

Each chunk's `choices[0].delta` may carry `content` (a text delta) and `tool_calls` fragments, keyed
by `index`: the first fragment of a call has its `id` and `function.name`, the following ones more
of `function.arguments` (a JSON text cut anywhere). The last chunk may carry `usage` (OpenAI sends
it when asked with `stream_options.include_usage`; others send it anyway, or never).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from agentkeep.adapters.models.chat_completions import MalformedReply, parse_call, usage_of
from agentkeep.domain.chat import ModelReply

DONE = "[DONE]"


@dataclass
class _Call:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class StreamedReply:
    """Assembles one streamed reply, line by line (`feed`), into the `ModelReply` of the whole."""

    def __init__(self, configured_model: str) -> None:
        self._configured_model = configured_model
        self._text: list[str] = []
        self._calls: dict[int, _Call] = {}
        self._usage: object = None
        self._model: str | None = None
        self.done = False

    def feed(self, line: str) -> str:
        """Read one line of the event stream; the text delta it carries ("" for none).
        `MalformedReply` for a `data:` that is not a chunk."""
        if not line.startswith("data:") or self.done:
            return ""  # a blank line, a comment (": keep-alive"), `event:` or `id:`
        payload = line.removeprefix("data:").strip()
        if payload == DONE:
            self.done = True
            return ""
        try:
            chunk = json.loads(payload)
        except ValueError as exc:
            raise MalformedReply(f"a stream chunk is not JSON ({exc})") from exc
        if not isinstance(chunk, dict):
            raise MalformedReply("a stream chunk is not a JSON object")
        if isinstance(chunk.get("model"), str) and chunk["model"]:
            self._model = chunk["model"]
        if chunk.get("usage") is not None:
            self._usage = chunk["usage"]
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            raise MalformedReply("a stream chunk has no choices")
        if not choices:
            return ""  # the usage-only last chunk
        delta = choices[0].get("delta") if isinstance(choices[0], dict) else None
        if not isinstance(delta, dict):
            raise MalformedReply("a stream chunk has no choices[0].delta")
        for fragment in delta.get("tool_calls") or []:
            self._add_call_fragment(fragment)
        content = delta.get("content")
        if content is None:
            return ""
        if not isinstance(content, str):
            raise MalformedReply("choices[0].delta.content is not text")
        self._text.append(content)
        return content

    def reply(self, duration_ms: float) -> ModelReply:
        """The whole reply; `MalformedReply` when the stream ended before `[DONE]`."""
        if not self.done:
            raise MalformedReply("the stream ended before [DONE]")
        calls = [
            parse_call(index, {"id": call.id, "function": {"name": call.name, "arguments": "".join(call.arguments)}})
            for index, call in sorted(self._calls.items())
        ]
        return ModelReply(
            text="".join(self._text),
            tool_calls=calls,
            usage=usage_of(self._usage, self._model or self._configured_model, duration_ms),
        )

    def _add_call_fragment(self, fragment: Any) -> None:
        if not isinstance(fragment, dict):
            raise MalformedReply("a tool call fragment is not an object")
        index = fragment.get("index", len(self._calls))
        if not isinstance(index, int) or isinstance(index, bool):
            raise MalformedReply("a tool call fragment has no index")
        call = self._calls.setdefault(index, _Call())
        if isinstance(fragment.get("id"), str) and fragment["id"]:
            call.id = fragment["id"]
        function = fragment.get("function") or {}
        if not isinstance(function, dict):
            raise MalformedReply("a tool call fragment's function is not an object")
        if isinstance(function.get("name"), str):
            call.name += function["name"]
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            call.arguments.append(arguments)
        elif arguments is not None:
            raise MalformedReply("a tool call fragment's arguments are not text")
