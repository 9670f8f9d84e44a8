"""Busy sessions (SPEC §9.6): `enqueue` first come first served, `reject`, `interrupt`, `rollback`,
with real concurrent clients through the real server on SQLite and PostgreSQL; a slow loopback
model holds the session."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.e2e.http_api import API, agent, error, listed, read_session, run
from tests.support.openai_server import FakeOpenAIServer, Scripted, completion

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def holding(api: httpx.AsyncClient, openai: FakeOpenAIServer, delay: float = 1.0) -> asyncio.Task[httpx.Response]:
    """A run on the session `busy` whose model answers after `delay` s, once it holds the session."""
    await agent(api, "slow", model="openai:small")
    openai.script(Scripted(completion("first, slowly"), delay=delay))
    task = asyncio.create_task(run(api, "slow", "first", session_name="busy"))
    while not openai.received:  # noqa: ASYNC110 - the fake server records from its own thread
        await asyncio.sleep(0.01)
    return task


async def texts(api: httpx.AsyncClient) -> list[str]:
    return [m["text_content"] for m in (await read_session(api, "busy"))["messages"]["items"]]


async def test_reject_is_409_session_busy_at_once_and_writes_nothing(
    api: httpx.AsyncClient, openai: FakeOpenAIServer
) -> None:
    first = await holding(api, openai)
    started = time.monotonic()

    refused = await run(api, "slow", "second", session_name="busy", multitask_strategy="reject")

    assert time.monotonic() - started < 0.5  # not after the session wait
    error(refused, 409, "session_busy")
    assert (await first).status_code == 200
    assert await texts(api) == ["first", "first, slowly"]
    assert (await listed(api, "/sessions/busy/runs"))["total"] == 1


@pytest.mark.parametrize("strategy", ["interrupt", "rollback"])
async def test_interrupt_and_rollback_cancel_the_active_run_then_run(
    api: httpx.AsyncClient, openai: FakeOpenAIServer, strategy: str
) -> None:
    first = await holding(api, openai, delay=5)
    openai.script(Scripted(completion("second, at once")))

    second = await run(api, "slow", "second", session_name="busy", multitask_strategy=strategy)
    stopped = await asyncio.wait_for(first, 2)  # abandoned, not after its model's 5 s

    assert second.status_code == 200, second.text
    assert error(stopped, 409, "run_cancelled")
    runs = (await listed(api, "/sessions/busy/runs"))["items"]
    assert [(r["status"], r["multitask_strategy"]) for r in runs] == [("cancelled", "enqueue"), ("completed", strategy)]
    kept = ["first"] if strategy == "interrupt" else []  # rollback deletes what the cancelled run wrote
    assert await texts(api) == [*kept, "second", "second, at once"]


async def test_enqueued_runs_take_the_session_in_their_order_of_arrival(
    api: httpx.AsyncClient, openai: FakeOpenAIServer
) -> None:
    first = await holding(api, openai, delay=0.5)
    waiting = []
    for n in range(2, 6):
        openai.script(Scripted(completion(f"reply {n}"), delay=0.05))
        waiting.append(asyncio.create_task(run(api, "slow", f"run {n}", session_name="busy")))
        await asyncio.sleep(0.05)  # each arrives after the one before

    answers = [await first, *[await task for task in waiting]]

    assert [a.status_code for a in answers] == [200] * 5
    assert await texts(api) == ["first", "first, slowly", *[t for n in range(2, 6) for t in (f"run {n}", f"reply {n}")]]


async def test_an_unknown_strategy_is_400(shared_api: httpx.AsyncClient) -> None:
    body = {"message_content": "x", "multitask_strategy": "shove"}
    response = await shared_api.post(f"{API}/agents/assistant/run", json=body)
    assert response.status_code == 400
    assert [e["key"] for e in response.json()["extra"]] == ["multitask_strategy"]
