"""The `echo` chat model: deterministic, no network, the embedded default (SPEC §3).

Its reply is the text of the last user message, unchanged; streamed, word by word, each word with
the spaces after it (so the deltas concatenate to the reply). Its usage counts words
(`len(text.split())`), so a run's cost is predictable in tests and benchmarks: `request_tokens` over
the system prompt and the text of every message sent (history and the new message),
`response_tokens` over the reply.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Sequence

from agentkeep.domain.chat import ModelReply
from agentkeep.domain.models import Message, Usage
from agentkeep.domain.values import Role

ECHO = "echo"
_WORD_STARTS = re.compile(r"(?<=\s)(?=\S)")


def _words(text: str | None) -> int:
    return len(text.split()) if text else 0


class EchoModel:
    """A `ChatModel` that answers with the last user message's `text_content` (empty if none)."""

    name = ECHO

    async def reply(self, system_prompt: str, messages: Sequence[Message]) -> ModelReply:
        started = time.perf_counter()
        text = next((m.text_content or "" for m in reversed(messages) if m.role == Role.USER), "")
        request_tokens = _words(system_prompt) + sum(_words(m.text_content) for m in messages)
        response_tokens = _words(text)
        usage = Usage(
            model=ECHO,
            request_tokens=request_tokens,
            response_tokens=response_tokens,
            total_tokens=request_tokens + response_tokens,
            duration_ms=(time.perf_counter() - started) * 1000,
        )
        return ModelReply(text=text, usage=usage)

    async def stream(self, system_prompt: str, messages: Sequence[Message]) -> AsyncIterator[str | ModelReply]:
        reply = await self.reply(system_prompt, messages)
        for word in _WORD_STARTS.split(reply.text):
            if word:
                yield word
        yield reply
