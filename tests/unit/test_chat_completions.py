"""The chat-completions wire format: a history any OpenAI-compatible server accepts, and replies
from the servers that bend the format (Ollama, llama.cpp, vLLM)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from agentkeep.adapters.models.chat_completions import NOT_RUN, MalformedReply, parse_reply, request_messages
from agentkeep.domain.models import Message, ToolCall, ToolOutput
from agentkeep.domain.values import JsonObject, Role

SESSION = uuid.uuid4()


def message(
    role: Role,
    text: str | None = None,
    *,
    tool_calls: Sequence[ToolCall] = (),
    tool_outputs: Sequence[ToolOutput] = (),
    context: JsonObject | None = None,
) -> Message:
    return Message(
        session_id=SESSION,
        role=role,
        text_content=text,
        tool_calls=list(tool_calls),
        tool_outputs=list(tool_outputs),
        context=context or {},
    )


def call(call_id: str, name: str = "lookup") -> ToolCall:
    return ToolCall(id=call_id, name=name, arguments={"q": call_id})


def body(message_: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps({"choices": [{"index": 0, "message": message_}], **extra}).encode()


def test_a_tool_call_without_a_result_gets_a_not_run_result_before_the_next_turn() -> None:
    # agentkeep runs no tools: this is the usual history after a model called one.
    sent = request_messages(
        "sys",
        [message(Role.USER, "q"), message(Role.ASSISTANT, tool_calls=[call("a"), call("b")]), message(Role.USER, "q2")],
    )

    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "tool", "user"]
    assert sent[3] == {"role": "tool", "tool_call_id": "a", "content": NOT_RUN}
    assert sent[4] == {"role": "tool", "tool_call_id": "b", "content": NOT_RUN}


def test_a_result_whose_call_is_not_in_the_history_is_left_out() -> None:
    orphan = message(Role.TOOL, tool_outputs=[ToolOutput(tool_call_id="gone", name="lookup", content="x")])

    sent = request_messages("sys", [orphan, message(Role.USER, "q")])

    assert sent == [{"role": "system", "content": "sys"}, {"role": "user", "content": "q"}]


def test_outputs_reported_on_the_assistant_message_follow_it_as_tool_messages() -> None:
    assistant = message(
        Role.ASSISTANT,
        "checking",
        tool_calls=[call("a")],
        tool_outputs=[ToolOutput(tool_call_id="a", name="lookup", content={"hits": [1, 2], "note": "é"})],
    )

    sent = request_messages("sys", [assistant, message(Role.USER, "q")])

    assert sent[1]["content"] == "checking"
    # Non-text content goes out as compact JSON text, unicode kept.
    assert sent[2] == {"role": "tool", "tool_call_id": "a", "content": '{"hits":[1,2],"note":"é"}'}
    assert sent[3] == {"role": "user", "content": "q"}


def test_a_bare_tool_message_answers_the_call_it_names_else_the_oldest_open_one() -> None:
    sent = request_messages(
        "sys",
        [
            message(Role.ASSISTANT, tool_calls=[call("a"), call("b")]),
            message(Role.TOOL, "for b", context={"tool_call_id": "b"}),
            message(Role.TOOL, "for a"),
        ],
    )

    assert sent[2:] == [
        {"role": "tool", "tool_call_id": "b", "content": "for b"},
        {"role": "tool", "tool_call_id": "a", "content": "for a"},
    ]


def test_raw_string_arguments_go_back_as_written() -> None:
    raw = ToolCall(id="a", name="broken", arguments='{"q": ')

    sent = request_messages("sys", [message(Role.ASSISTANT, tool_calls=[raw])])

    assert sent[1]["tool_calls"][0]["function"] == {"name": "broken", "arguments": '{"q": '}


def test_content_parts_are_joined_into_the_reply_text() -> None:
    parts = [{"type": "text", "text": "Hel"}, {"type": "image_url", "image_url": {}}, {"type": "text", "text": "lo"}]

    assert parse_reply(body({"role": "assistant", "content": parts}), "m", 1.0).text == "Hello"


def test_tool_calls_from_local_servers_are_accepted() -> None:
    calls = [
        {"function": {"name": "search", "arguments": {"q": "cats"}}},  # Ollama: an object, and no id
        {"id": "x", "type": "function", "function": {"name": "now", "arguments": ""}},
        {"id": "y", "type": "function", "function": {"name": "echo", "arguments": '"just text"'}},
    ]

    reply = parse_reply(body({"role": "assistant", "content": None, "tool_calls": calls}), "m", 1.0)

    assert reply.tool_calls == [
        ToolCall(id="call_0", name="search", arguments={"q": "cats"}),
        ToolCall(id="x", name="now", arguments={}),
        ToolCall(id="y", name="echo", arguments="just text"),
    ]


def test_counts_a_server_got_wrong_are_left_out_and_a_missing_total_is_summed() -> None:
    wrong = parse_reply(body({"content": "hi"}, usage={"prompt_tokens": -1, "completion_tokens": "3"}), "m", 2.5)
    summed = parse_reply(body({"content": "hi"}, usage={"prompt_tokens": 4, "completion_tokens": 3}), "m", 2.5)

    assert (wrong.usage.request_tokens, wrong.usage.response_tokens, wrong.usage.total_tokens) == (None, None, None)
    assert summed.usage.total_tokens == 7
    assert (summed.usage.model, summed.usage.duration_ms) == ("m", 2.5)


@pytest.mark.parametrize(
    ("message_", "reason"),
    [
        ({"content": 42}, "content is neither text nor null"),
        ({"content": None, "tool_calls": {"0": {}}}, "tool_calls is not a list"),
        ({"content": None, "tool_calls": [{"id": "a", "function": {"arguments": "{}"}}]}, "tool call 0 has no"),
        ({"content": None, "tool_calls": ["search"]}, "tool call 0 has no"),
    ],
)
def test_a_message_that_is_not_a_chat_message_is_malformed(message_: dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedReply, match=reason):
        parse_reply(body(message_), "m", 1.0)


def test_a_body_that_is_not_utf8_json_is_malformed() -> None:
    with pytest.raises(MalformedReply, match="not JSON"):
        parse_reply(b"\xff\xfe\x00garbage", "m", 1.0)
