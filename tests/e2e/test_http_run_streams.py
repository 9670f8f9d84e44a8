"""Streamed runs, their replay and what a stream's end means (SPEC §9.1 to 9.4), through the real
server on SQLite and PostgreSQL, against the echo model and a loopback OpenAI-compatible server that
streams real chat-completion chunks."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.e2e.conftest import closed_port
from tests.e2e.http_api import API, agent, error, listed, read_session, run
from tests.e2e.sse import Event, check_shape, parse, replayed, streamed
from tests.support.openai_server import FakeOpenAIServer, Scripted, chunk, stream_chunks

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_an_echo_run_streams_word_by_word_and_ends_with_the_body_of_the_run(api: httpx.AsyncClient) -> None:
    await agent(api)
    plain = (await run(api, "assistant", "warm up", session_name="s")).json()

    events = await streamed(api, "assistant", "hello there,  how are you?", session_name="s")

    check_shape(events)
    created, *deltas, completed = events
    assert [d.event for d in deltas] == ["message.delta"] * 5
    assert [d.data["text"] for d in deltas] == ["hello ", "there,  ", "how ", "are ", "you?"]
    assert set(completed.data) == set(plain)
    assert completed.data["message"] == "hello there,  how are you?"
    assert created.data == {key: completed.data[key] for key in created.data}
    assert set(created.data) == {"run_id", "session_id", "session_name", "user_id", "agent_id", "user_message_id"}
    record = (await api.get(f"{API}/runs/{completed.data['run_id']}")).json()
    assert (record["status"], record["assistant_message_id"]) == ("completed", completed.data["assistant_message_id"])
    texts = [m["text_content"] for m in (await read_session(api, "s"))["messages"]["items"]]
    assert texts == ["warm up", "warm up", "hello there,  how are you?", "hello there,  how are you?"]


async def test_an_accept_header_asks_for_a_stream_too(api: httpx.AsyncClient) -> None:
    await agent(api)
    headers = {"Accept": "text/event-stream"}
    body = {"message_content": "one two"}
    response = await api.post(f"{API}/agents/assistant/run", json=body, headers=headers)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert [e.event for e in parse(response.text)] == ["run.created", "message.delta", "message.delta", "run.completed"]


async def test_a_refused_streamed_run_answers_json_and_writes_nothing(api: httpx.AsyncClient) -> None:
    await agent(api)
    error(await api.post(f"{API}/agents/nobody/run", json={"message_content": "x", "stream": True}), 404, "not_found")
    body = {"message_content": "x", "stream": True, "session_id": "5e55e55e-0000-4000-8000-000000000001"}
    error(await api.post(f"{API}/agents/assistant/run", json=body), 404, "not_found")
    assert (await listed(api, "/sessions"))["total"] == 0


async def test_a_run_replays_its_events_with_the_same_ids_from_the_first_or_after_one(api: httpx.AsyncClient) -> None:
    await agent(api)
    live = await streamed(api, "assistant", "one two three")
    run_id = live[0].data["run_id"]

    assert await replayed(api, run_id) == live
    assert await replayed(api, run_id, headers={"Last-Event-ID": "2"}) == live[2:]
    assert await replayed(api, run_id, params={"after": 4}) == live[4:]
    assert await replayed(api, run_id, params={"after": 99}) == []


async def test_a_run_not_streamed_replays_as_it_would_have_streamed(api: httpx.AsyncClient) -> None:
    await agent(api)
    answer = (await run(api, "assistant", "not streamed", session_name="plain")).json()

    events = await replayed(api, answer["run_id"])

    check_shape(events)
    assert [e.event for e in events] == ["run.created", "message.delta", "run.completed"]
    assert events[1].data == {"text": "not streamed"}
    assert events[2].data == answer


async def test_unknown_runs_and_bad_event_ids_are_refused(api: httpx.AsyncClient) -> None:
    error(await api.get(f"{API}/runs/5e55e55e-0000-4000-8000-000000000001/events"), 404, "not_found", "run_id")
    await agent(api)
    run_id = (await run(api, "assistant", "x")).json()["run_id"]
    assert (await api.get(f"{API}/runs/{run_id}/events", headers={"Last-Event-ID": "two"})).status_code == 400
    assert (await api.get(f"{API}/runs/{run_id}/events", params={"after": -1})).status_code == 400


async def test_an_openai_stream_is_passed_on_delta_by_delta_with_its_tool_calls_and_usage(
    api: httpx.AsyncClient, openai: FakeOpenAIServer
) -> None:
    await agent(api, "remote", model="openai:small")
    calls = [
        {"index": 0, "id": "call_a", "type": "function", "function": {"name": "lookup", "arguments": ""}},
        {"index": 0, "function": {"arguments": '{"q": "te'}},
        {"index": 1, "id": "call_b", "type": "function", "function": {"name": "clock", "arguments": "{}"}},
        {"index": 0, "function": {"arguments": 'a"}'}},
    ]
    usage = {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}
    openai.script(Scripted(None, chunks=stream_chunks("Let me ", "look.", tool_calls=calls, usage=usage)))

    events = await streamed(api, "remote", "tea?")

    check_shape(events)
    assert openai.received[0].body["stream"] is True
    assert [e.data["text"] for e in events if e.event == "message.delta"] == ["Let me ", "look."]
    tool_calls = [e.data for e in events if e.event == "tool.call"]
    assert tool_calls == [
        {"id": "call_a", "name": "lookup", "arguments": {"q": "tea"}},
        {"id": "call_b", "name": "clock", "arguments": {}},
    ]
    completed = events[-1].data
    assert (completed["message"], completed["tool_calls"]) == ("Let me look.", tool_calls)
    assert (completed["usage"]["request_tokens"], completed["usage"]["total_tokens"]) == (9, 13)


@pytest.mark.parametrize(
    "chunks",
    [
        stream_chunks("half a ", "reply", done=False),  # the server dies mid-stream
        [chunk({"content": "fine "}), b"data: {not json\n\n"],  # a malformed chunk
    ],
    ids=["cut short", "malformed"],
)
async def test_a_stream_that_breaks_ends_with_run_failed_and_the_run_failed(
    api: httpx.AsyncClient, openai: FakeOpenAIServer, chunks: list[bytes]
) -> None:
    await agent(api, "remote", model="openai:small")
    openai.script(Scripted(None, chunks=chunks))

    events = await streamed(api, "remote", "hello?", session_name="broken")

    check_shape(events)
    failed = events[-1]
    assert failed.event == "run.failed"
    assert (failed.data["status_code"], failed.data["extra"]["code"]) == (502, "model_error")
    assert failed.data["run_id"] == events[0].data["run_id"]
    record = (await api.get(f"{API}/runs/{failed.data['run_id']}")).json()
    assert (record["status"], record["error"]["code"]) == ("failed", "model_error")
    assert await replayed(api, failed.data["run_id"]) == events
    texts = [m["text_content"] for m in (await read_session(api, "broken"))["messages"]["items"]]
    assert texts == ["hello?"]  # the user message stays, no reply


@pytest.mark.settings(openai_base_url=f"http://127.0.0.1:{closed_port()}/v1")
async def test_a_model_that_cannot_be_reached_streams_run_failed_502(api: httpx.AsyncClient) -> None:
    await agent(api, "remote", model="openai:x")
    events = await streamed(api, "remote", "anyone?")
    assert [e.event for e in events] == ["run.created", "run.failed"]
    assert events[-1].data["status_code"] == 502


async def test_a_client_that_goes_away_mid_stream_does_not_stop_its_run(
    api: httpx.AsyncClient, openai: FakeOpenAIServer
) -> None:
    await agent(api, "remote", model="openai:small")
    openai.script(Scripted(None, chunks=stream_chunks("slow ", "but ", "sure"), pause=0.2))
    body = {"message_content": "take your time", "stream": True, "session_name": "left"}
    async with api.stream("POST", f"{API}/agents/remote/run", json=body) as response:
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                break  # run.created: then the client goes away
    run_id = (await listed(api, "/sessions/left/runs"))["items"][0]["id"]

    for _ in range(100):
        record = (await api.get(f"{API}/runs/{run_id}")).json()
        if record["status"] != "running":
            break
        await asyncio.sleep(0.05)

    assert record["status"] == "completed"
    texts = [m["text_content"] for m in (await read_session(api, "left"))["messages"]["items"]]
    assert texts == ["take your time", "slow but sure"]
    events = await replayed(api, run_id)
    check_shape(events)
    assert events[-1].data["message"] == "slow but sure"


async def test_a_cancelled_stream_ends_with_run_cancelled(api: httpx.AsyncClient, openai: FakeOpenAIServer) -> None:
    await agent(api, "remote", model="openai:small")
    openai.script(Scripted(None, chunks=stream_chunks(*(f"w{i} " for i in range(50))), pause=0.1))
    body = {"message_content": "go on", "stream": True, "session_name": "stopped"}
    async with api.stream("POST", f"{API}/agents/remote/run", json=body) as response:
        lines = response.aiter_lines()
        async for line in lines:
            if line.startswith("data:") and '"text"' in line:
                break  # the reply has begun
        run_id = (await listed(api, "/sessions/stopped/runs"))["items"][0]["id"]
        assert (await api.post(f"{API}/runs/{run_id}/cancel")).json()["status"] == "cancelled"
        rest = "\n".join([line async for line in lines])

    assert "event: run.cancelled" in rest
    assert parse(rest)[-1] == Event("run.cancelled", parse(rest)[-1].id, {"run_id": run_id})
    texts = [m["text_content"] for m in (await read_session(api, "stopped"))["messages"]["items"]]
    assert texts == ["go on"]
