"""The streamed chat-completions format: deltas, tool-call fragments, usage, and broken streams."""

from __future__ import annotations

import pytest

from agentkeep.adapters.models.chat_completions import MalformedReply
from agentkeep.adapters.models.chat_stream import StreamedReply
from agentkeep.domain.models import ToolCall
from tests.support.openai_server import chunk, stream_chunks


def fed(pieces: list[bytes]) -> tuple[StreamedReply, list[str]]:
    reply, deltas = StreamedReply("configured"), []
    for piece in pieces:
        for line in piece.decode().splitlines():
            text = reply.feed(line)
            if text:
                deltas.append(text)
    return reply, deltas


def test_text_deltas_concatenate_and_the_usage_of_the_last_chunk_counts() -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    reply, deltas = fed(stream_chunks("Hel", "lo", " there", usage=usage))

    whole = reply.reply(12.5)

    assert deltas == ["Hel", "lo", " there"]
    assert whole.text == "Hello there"
    assert (whole.usage.model, whole.usage.request_tokens, whole.usage.total_tokens) == ("served-model", 5, 7)
    assert whole.usage.duration_ms == 12.5


def test_tool_call_arguments_split_across_chunks_and_interleaved_are_put_back_together() -> None:
    calls = [
        {"index": 0, "id": "a", "type": "function", "function": {"name": "look", "arguments": '{"q": '}},
        {"index": 1, "id": "b", "type": "function", "function": {"name": "raw", "arguments": "not "}},
        {"index": 0, "function": {"arguments": '"x"}'}},
        {"index": 1, "function": {"arguments": "json"}},
    ]
    reply, deltas = fed(stream_chunks(tool_calls=calls))

    assert deltas == []
    assert reply.reply(1).tool_calls == [
        ToolCall(id="a", name="look", arguments={"q": "x"}),
        ToolCall(id="b", name="raw", arguments="not json"),  # kept raw, as a whole reply's would be
    ]


def test_comments_and_blank_lines_are_no_data_and_a_stream_without_usage_counts_nothing() -> None:
    reply, deltas = fed([b": keep-alive\n\n", *stream_chunks("ok")])

    assert deltas == ["ok"]
    assert reply.reply(1).usage.total_tokens is None


def test_a_stream_cut_short_is_malformed() -> None:
    reply, _ = fed(stream_chunks("half", done=False))
    with pytest.raises(MalformedReply, match="before \\[DONE\\]"):
        reply.reply(1)


@pytest.mark.parametrize(
    "line",
    [b"data: {not json", b"data: [1, 2]", b'data: {"choices": "no"}', b'data: {"choices": [{"delta": 3}]}'],
)
def test_a_chunk_that_is_not_a_chunk_is_malformed(line: bytes) -> None:
    with pytest.raises(MalformedReply):
        fed([chunk({"content": "fine"}), line + b"\n"])
