"""The OpenAI-compatible adapter against a real HTTP server on a loopback port (no provider)."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence

import pytest

from agentkeep.adapters.models import ModelRegistry, OpenAIChatModel
from agentkeep.domain.errors import ModelTimeout, ModelUnavailable
from agentkeep.domain.models import Message, ToolCall, ToolOutput
from agentkeep.domain.values import Role
from tests.support.openai_server import FakeOpenAIServer, Scripted, completion

API_KEY = "sk-test-0123456789-SECRET"
SESSION = uuid.uuid4()


def message(
    role: Role, text: str | None = None, *, tool_calls: Sequence[ToolCall] = (), tool_outputs: Sequence[ToolOutput] = ()
) -> Message:
    return Message(
        session_id=SESSION, role=role, text_content=text, tool_calls=list(tool_calls), tool_outputs=list(tool_outputs)
    )


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    fake = FakeOpenAIServer()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
async def model(server: FakeOpenAIServer) -> AsyncIterator[OpenAIChatModel]:
    chat = OpenAIChatModel("gpt-test", server.base_url, API_KEY, timeout=5.0)
    yield chat
    await chat.aclose()


async def test_request_carries_model_system_prompt_history_and_key(
    server: FakeOpenAIServer, model: OpenAIChatModel
) -> None:
    history = [
        message(Role.USER, "What is in the box?"),
        message(Role.ASSISTANT, None, tool_calls=[ToolCall(id="call_1", name="open_box", arguments={"lid": "up"})]),
        message(Role.TOOL, None, tool_outputs=[ToolOutput(tool_call_id="call_1", name="open_box", content="a cat")]),
        message(Role.ASSISTANT, "A cat."),
        message(Role.SYSTEM, "The user is in a hurry."),
        message(Role.USER, "Alive?"),
    ]

    await model.reply("You are terse.", history)

    [request] = server.received
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.body["model"] == "gpt-test"
    assert request.body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is in the box?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "open_box", "arguments": '{"lid":"up"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
        {"role": "assistant", "content": "A cat."},
        {"role": "system", "content": "The user is in a hurry."},
        {"role": "user", "content": "Alive?"},
    ]


async def test_no_authorization_header_without_a_key(server: FakeOpenAIServer) -> None:
    local = OpenAIChatModel("llama3", server.base_url + "/", None, timeout=5.0)
    try:
        await local.reply("", [message(Role.USER, "hi")])
    finally:
        await local.aclose()

    [request] = server.received
    assert "authorization" not in request.headers
    assert request.path == "/v1/chat/completions"  # the trailing slash of the base URL is not doubled


async def test_reply_text_and_usage_come_from_the_response(server: FakeOpenAIServer, model: OpenAIChatModel) -> None:
    usage = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    server.script(Scripted(completion("Héllo,\n  wörld", usage=usage, model="gpt-test-2024-01-01")))

    reply = await model.reply("sys", [message(Role.USER, "hi")])

    assert reply.text == "Héllo,\n  wörld"
    assert reply.tool_calls == []
    assert reply.tool_outputs == []
    assert reply.usage.model == "gpt-test-2024-01-01"
    assert (reply.usage.request_tokens, reply.usage.response_tokens, reply.usage.total_tokens) == (12, 3, 15)
    assert reply.usage.duration_ms is not None
    assert reply.usage.duration_ms > 0


async def test_null_content_and_no_usage_give_empty_text_and_the_configured_model(
    server: FakeOpenAIServer, model: OpenAIChatModel
) -> None:
    server.script(Scripted(completion(None, model=None)))

    reply = await model.reply("sys", [message(Role.USER, "hi")])

    assert reply.text == ""
    assert reply.usage.model == "gpt-test"
    assert reply.usage.request_tokens is None
    assert reply.usage.total_tokens is None


async def test_tool_calls_in_the_reply_have_parsed_arguments(server: FakeOpenAIServer, model: OpenAIChatModel) -> None:
    calls = [
        {"id": "call_a", "type": "function", "function": {"name": "search", "arguments": '{"q": "cats", "n": 2}'}},
        {"id": "call_b", "type": "function", "function": {"name": "broken", "arguments": '{"q": '}},
    ]
    server.script(Scripted(completion(None, tool_calls=calls)))

    reply = await model.reply("sys", [message(Role.USER, "find cats")])

    assert reply.text == ""
    assert reply.tool_calls == [
        ToolCall(id="call_a", name="search", arguments={"q": "cats", "n": 2}),
        ToolCall(id="call_b", name="broken", arguments='{"q": '),  # unparseable: kept as written
    ]
    assert reply.tool_outputs == []


FAILURES = {
    "rate limited": (
        Scripted({"error": {"message": "Rate limit reached"}}, status=429, headers={"Retry-After": "7"}),
        ["rate limited (429, retry after 7 s)", "Rate limit reached"],
    ),
    "server error": (Scripted(b"upstream exploded\n\n  badly", status=500), ["HTTP 500", "upstream exploded badly"]),
    "key echoed in a 401": (
        Scripted({"error": {"message": f"Incorrect API key provided: {API_KEY}."}}, status=401),
        ["HTTP 401", "Incorrect API key provided: ***."],
    ),
    "key echoed where the excerpt is cut": (Scripted(("x" * 190 + API_KEY).encode(), status=502), ["HTTP 502"]),
    "not JSON": (Scripted(b"<html>oops</html>"), ["malformed reply", "not JSON"]),
    "no choices": (Scripted({"object": "chat.completion"}), ["malformed reply", "choices[0]"]),
    "empty choices": (Scripted({"choices": []}), ["malformed reply", "choices[0]"]),
    "choice without message": (Scripted({"choices": [{"index": 0}]}), ["malformed reply", "choices[0].message"]),
    "a JSON list": (Scripted([1, 2]), ["malformed reply"]),
}


@pytest.mark.parametrize(("scripted", "expected"), FAILURES.values(), ids=FAILURES.keys())
async def test_a_failed_call_is_model_unavailable_with_a_clear_reason_and_no_key(
    server: FakeOpenAIServer, model: OpenAIChatModel, scripted: Scripted, expected: list[str]
) -> None:
    server.script(scripted)

    with pytest.raises(ModelUnavailable) as caught:
        await model.reply("sys", [message(Role.USER, "hi")])

    assert type(caught.value) is ModelUnavailable  # not a timeout
    assert caught.value.code == "model_error"
    reason = str(caught.value)
    assert "'gpt-test'" in reason
    for part in expected:
        assert part in reason
    assert "sk-test" not in reason  # not even a prefix of the key
    assert len(reason) < 400


async def test_a_slow_server_is_a_model_timeout(server: FakeOpenAIServer) -> None:
    server.script(Scripted(completion(), delay=5.0))
    impatient = OpenAIChatModel("gpt-test", server.base_url, API_KEY, timeout=0.2)
    started = time.perf_counter()
    try:
        with pytest.raises(ModelTimeout) as caught:
            await impatient.reply("sys", [message(Role.USER, "hi")])
    finally:
        await impatient.aclose()

    assert time.perf_counter() - started < 2.0
    assert caught.value.code == "model_timeout"
    assert "did not answer within 0.2 s" in str(caught.value)
    assert API_KEY not in str(caught.value)


async def test_a_server_that_trickles_its_answer_is_cut_at_the_timeout(server: FakeOpenAIServer) -> None:
    # Each byte comes well within the timeout; the whole answer would take seconds.
    server.script(Scripted(completion("a long answer " * 20), trickle=0.05))
    impatient = OpenAIChatModel("gpt-test", server.base_url, API_KEY, timeout=0.3)
    started = time.perf_counter()
    try:
        with pytest.raises(ModelTimeout):
            await impatient.reply("sys", [message(Role.USER, "hi")])
    finally:
        await impatient.aclose()

    assert time.perf_counter() - started < 1.5


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # nothing listens there any more


async def test_connection_refused_is_model_unavailable() -> None:
    nowhere = OpenAIChatModel("gpt-test", f"http://127.0.0.1:{closed_port()}/v1", API_KEY, timeout=5.0)
    try:
        with pytest.raises(ModelUnavailable) as caught:
            await nowhere.reply("sys", [message(Role.USER, "hi")])
    finally:
        await nowhere.aclose()

    assert type(caught.value) is ModelUnavailable
    assert "cannot connect to model 'gpt-test' at http://127.0.0.1:" in str(caught.value)
    assert API_KEY not in str(caught.value)


async def test_registry_models_share_one_connection_pool(server: FakeOpenAIServer) -> None:
    registry = ModelRegistry(server.base_url, None, timeout=5.0)
    try:
        first = await registry.get("openai:llama3").reply("sys", [message(Role.USER, "one")])
        second = await registry.get("openai:qwen2").reply("sys", [message(Role.USER, "two")])
    finally:
        await registry.aclose()

    assert first.text == second.text == "Hello!"
    assert [r.body["model"] for r in server.received] == ["llama3", "qwen2"]
    # Both requests came over one kept-alive connection: the same client port.
    assert server.received[0].client_port == server.received[1].client_port
