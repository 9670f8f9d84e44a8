"""Background runs (SPEC §9.5) and keyed runs answered from their record (SPEC §9.7), through the
real server on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from agentkeep.application.idempotency import HEADER
from tests.e2e.http_api import API, agent, bad_fields, error, listed, read_session, run, unchanged
from tests.e2e.sse import check_shape, parse, replayed, streamed
from tests.support.openai_server import FakeOpenAIServer, Scripted, completion, stream_chunks

pytestmark = pytest.mark.asyncio(loop_scope="session")

REPLAYED = "idempotent-replayed"


async def ended(api: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    """The run's record once it has ended."""
    for _ in range(200):
        record: dict[str, Any] = (await api.get(f"{API}/runs/{run_id}")).json()
        if record["status"] not in {"queued", "running"}:
            return record
        await asyncio.sleep(0.025)
    raise AssertionError(f"run {run_id} did not end: {record}")


async def test_a_background_run_answers_202_with_the_run_and_goes_on_to_its_end(
    api: httpx.AsyncClient, openai: FakeOpenAIServer
) -> None:
    await agent(api, "remote", model="openai:small")
    openai.script(Scripted(None, chunks=stream_chunks("in ", "the ", "back"), pause=0.2))
    body = {"message_content": "later", "session_name": "bg", "background": True}

    answer = await api.post(f"{API}/agents/remote/run", json=body)

    assert answer.status_code == 202, answer.text
    started = answer.json()
    assert started["status"] == "running"  # answered while the model is still at it
    assert started == (await api.get(f"{API}/runs/{started['id']}")).json() | {"updated_at": started["updated_at"]}
    events = await replayed(api, started["id"])  # follows it live, to its end
    check_shape(events)
    assert "".join(e.data["text"] for e in events if e.event == "message.delta") == "in the back"
    record = await ended(api, started["id"])
    assert (record["status"], events[-1].data["assistant_message_id"]) == ("completed", record["assistant_message_id"])
    texts = [m["text_content"] for m in (await read_session(api, "bg"))["messages"]["items"]]
    assert texts == ["later", "in the back"]


async def test_a_background_run_can_be_cancelled(api: httpx.AsyncClient, openai: FakeOpenAIServer) -> None:
    await agent(api, "remote", model="openai:small")
    openai.script(Scripted(None, chunks=stream_chunks(*(f"w{i} " for i in range(50))), pause=0.1))
    started = (await run(api, "remote", "go", session_name="bg", background=True)).json()

    cancelled = await api.post(f"{API}/runs/{started['id']}/cancel")

    assert cancelled.json()["status"] == "cancelled"
    assert (await ended(api, started["id"]))["status"] == "cancelled"
    assert parse((await api.get(f"{API}/runs/{started['id']}/events")).text)[-1].event == "run.cancelled"
    assert [m["text_content"] for m in (await read_session(api, "bg"))["messages"]["items"]] == ["go"]


async def test_a_background_run_refused_is_answered_json_and_writes_nothing(api: httpx.AsyncClient) -> None:
    await agent(api)
    async with unchanged(api):
        missing = await run(api, "nobody", "hi", background=True)
        both = await run(api, "assistant", "hi", background=True, stream=True)
        wrong = await run(api, "assistant", "hi", background="soon")

    error(missing, 404, "not_found")
    bad_fields(both, "background")
    bad_fields(wrong, "background")


async def test_a_keyed_streamed_retry_answers_the_runs_events_from_the_first(api: httpx.AsyncClient) -> None:
    await agent(api)
    headers = {HEADER: "stream-1"}
    first = await streamed(api, "assistant", "say it twice", session_name="s", headers=headers)

    async with unchanged(api):
        body = {"message_content": "say it twice", "stream": True, "session_name": "s"}
        again = await api.post(f"{API}/agents/assistant/run", json=body, headers=headers)

    assert again.status_code == 200, again.text
    assert again.headers.get(REPLAYED) == "true"
    assert parse(again.text) == first
    check_shape(first)
    assert (await read_session(api, "s"))["messages"]["total"] == 2


async def test_a_keyed_run_is_answered_as_a_stream_when_the_retry_asks_for_one(api: httpx.AsyncClient) -> None:
    # Same body, an Accept header: the same request, answered the run's events (made from its
    # record: it was not streamed).
    await agent(api)
    headers = {HEADER: "plain-1"}
    first = (await run(api, "assistant", "once", session_name="s", headers=headers)).json()

    again = await run(api, "assistant", "once", session_name="s", headers={**headers, "Accept": "text/event-stream"})

    assert again.headers.get(REPLAYED) == "true"
    events = parse(again.text)
    check_shape(events)
    assert events[-1].data == first


async def test_a_keyed_background_retry_answers_the_same_run(api: httpx.AsyncClient) -> None:
    await agent(api)
    headers = {HEADER: "bg-1"}
    first = await run(api, "assistant", "once", session_name="s", background=True, headers=headers)
    await ended(api, first.json()["id"])

    again = await run(api, "assistant", "once", session_name="s", background=True, headers=headers)

    assert (again.status_code, again.headers.get(REPLAYED)) == (202, "true")
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["status"] == "completed"
    assert (await listed(api, "/sessions/s/runs"))["total"] == 1


async def test_a_cancelled_keyed_run_replays_409_run_cancelled(
    api: httpx.AsyncClient, openai: FakeOpenAIServer
) -> None:
    await agent(api, "slow", model="openai:small")
    openai.script(Scripted(completion("never seen"), delay=5))
    headers = {HEADER: "stop-1"}
    first = asyncio.create_task(run(api, "slow", "go", session_name="s", headers=headers))
    while not openai.received:  # noqa: ASYNC110 - the fake server records from its own thread
        await asyncio.sleep(0.01)
    run_id = (await listed(api, "/sessions/s/runs"))["items"][0]["id"]
    await api.post(f"{API}/runs/{run_id}/cancel")
    answered = await first

    again = await run(api, "slow", "go", session_name="s", headers=headers)

    assert error(answered, 409, "run_cancelled")["extra"]["run_id"] == run_id
    assert (again.status_code, again.content, again.headers.get(REPLAYED)) == (409, answered.content, "true")
    assert len(openai.received) == 1
