"""Run records (SPEC §9): every run makes one; `GET /runs/{id}`, a session's runs, cancel; through
the real server on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from agentkeep.domain.models import Run
from agentkeep.domain.values import RunStatus, utcnow
from agentkeep.entrypoints.container import Container
from tests.e2e.conftest import closed_port
from tests.e2e.http_api import API, agent, error, listed, read_session, run
from tests.e2e.sse import parse
from tests.support.openai_server import FakeOpenAIServer, Scripted, completion

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def read_run(api: httpx.AsyncClient, run_id: str) -> dict[str, Any]:
    response = await api.get(f"{API}/runs/{run_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_a_run_answers_its_record_which_reads_back_completed(api: httpx.AsyncClient) -> None:
    await agent(api)
    answer = (await run(api, "assistant", "hello there", session_name="one")).json()

    record = await read_run(api, answer["run_id"])

    assert answer["status"] == "completed"
    assert record["id"] == answer["run_id"]
    assert record["status"] == "completed"
    for field in ("session_id", "user_id", "agent_id", "user_message_id", "assistant_message_id", "usage"):
        assert record[field] == answer[field], field
    assert (record["steps"], record["error"], record["pending_tool_calls"]) == (1, None, [])
    assert record["multitask_strategy"] == "enqueue"
    assert record["created_at"] <= record["started_at"] <= record["finished_at"]


async def test_a_sessions_runs_are_listed_oldest_first_by_id_or_name(api: httpx.AsyncClient) -> None:
    await agent(api)
    first = (await run(api, "assistant", "one", session_name="listed")).json()
    second = (await run(api, "assistant", "two", session_name="listed")).json()
    await run(api, "assistant", "elsewhere", session_name="other")

    by_name = await listed(api, "/sessions/listed/runs")
    by_id = await listed(api, f"/sessions/{first['session_id']}/runs", sort_desc=True)

    assert [r["id"] for r in by_name["items"]] == [first["run_id"], second["run_id"]]
    assert [r["id"] for r in by_id["items"]] == [second["run_id"], first["run_id"]]
    assert by_name["total"] == 2


async def test_unknown_runs_and_sessions_are_404(shared_api: httpx.AsyncClient) -> None:
    error(await shared_api.get(f"{API}/runs/{uuid.uuid4()}"), 404, "not_found", "run_id")
    error(await shared_api.get(f"{API}/runs/not-a-uuid"), 404, "not_found", "run_id")
    error(await shared_api.post(f"{API}/runs/{uuid.uuid4()}/cancel"), 404, "not_found", "run_id")
    error(await shared_api.get(f"{API}/sessions/{uuid.uuid4()}/runs"), 404, "not_found", "session_id")


@pytest.mark.settings(openai_base_url=f"http://127.0.0.1:{closed_port()}/v1")
async def test_a_model_failure_leaves_the_run_failed_and_names_it(api: httpx.AsyncClient) -> None:
    await agent(api, "remote", model="openai:x")

    body = error(await run(api, "remote", "are you there?", session_name="down"), 502, "model_error")

    record = await read_run(api, body["extra"]["run_id"])
    assert record["status"] == "failed"
    assert record["error"]["code"] == "model_error"
    assert record["assistant_message_id"] is None
    assert record["finished_at"] is not None
    # The session is free: the next run makes a run of its own.
    again = error(await run(api, "remote", "again?", session_name="down"), 502, "model_error")
    assert again["extra"]["run_id"] != body["extra"]["run_id"]


@pytest.mark.settings(model_timeout=0.3)
async def test_a_model_timeout_leaves_the_run_failed_model_timeout(
    api: httpx.AsyncClient, openai: FakeOpenAIServer
) -> None:
    await agent(api, "slow", model="openai:small")
    openai.script(Scripted(completion("too late"), delay=5))

    body = error(await run(api, "slow", "hurry", session_name="late"), 504, "model_timeout")

    assert (await read_run(api, body["extra"]["run_id"]))["error"]["code"] == "model_timeout"


async def test_cancel_stops_a_running_run_frees_its_session_and_is_idempotent(
    api: httpx.AsyncClient, openai: FakeOpenAIServer
) -> None:
    await agent(api, "slow", model="openai:small")
    openai.script(Scripted(completion("never seen"), delay=5), Scripted(completion("next")))
    running = asyncio.create_task(run(api, "slow", "wait for it", session_name="cancelled"))
    while not openai.received:  # noqa: ASYNC110 - the fake server records from its own thread
        await asyncio.sleep(0.01)
    runs = (await listed(api, "/sessions/cancelled/runs"))["items"]
    assert [r["status"] for r in runs] == ["running"]

    cancelled = await api.post(f"{API}/runs/{runs[0]['id']}/cancel")
    answered = await asyncio.wait_for(running, 2)  # abandoned at once, not after the model's 5 s

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert error(answered, 409, "run_cancelled")["extra"]["run_id"] == runs[0]["id"]
    again = await api.post(f"{API}/runs/{runs[0]['id']}/cancel")
    assert again.json() == cancelled.json()  # idempotent: answered unchanged
    # The user message stays, no reply was written, and the session takes the next run at once.
    nxt = await run(api, "slow", "and now?", session_name="cancelled")
    assert nxt.status_code == 200, nxt.text
    messages = (await read_session(api, "cancelled"))["messages"]["items"]
    assert [m["text_content"] for m in messages] == ["wait for it", "and now?", "next"]


async def test_cancel_of_a_finished_run_answers_it_unchanged(api: httpx.AsyncClient) -> None:
    await agent(api)
    answer = (await run(api, "assistant", "done", session_name="finished")).json()
    before = await read_run(api, answer["run_id"])

    cancelled = await api.post(f"{API}/runs/{answer['run_id']}/cancel")

    assert cancelled.status_code == 200
    assert cancelled.json() == before


async def test_a_run_its_process_left_behind_is_failed_interrupted_once_its_lease_ran_out(
    api: httpx.AsyncClient, container: Container
) -> None:
    """As a process killed mid-run leaves it: the run `running`, its session's lease held by it,
    expired; nothing else is told."""
    await agent(api)
    first = (await run(api, "assistant", "before", session_name="left")).json()
    storage = container.storage()
    session_id = uuid.UUID(first["session_id"])
    orphan = Run(
        session_id=session_id,
        agent_id=first["agent_id"],
        user_id=uuid.UUID(first["user_id"]),
        status=RunStatus.RUNNING,
        created_at=utcnow() - timedelta(minutes=5),
    )
    expired = utcnow() - timedelta(minutes=1)
    await storage.run(lambda uow: uow.runs.add(orphan))
    assert await storage.run(lambda uow: uow.sessions.claim_run(session_id, orphan.id.hex, expired, expired))
    alive = await read_run(api, first["run_id"])

    swept = await read_run(api, str(orphan.id))
    events = [(e.event, e.data) for e in parse((await api.get(f"{API}/runs/{orphan.id}/events")).text)]
    after = await run(api, "assistant", "after", session_name="left")

    assert alive["status"] == "completed"
    assert (swept["status"], swept["error"]["code"]) == ("failed", "interrupted")
    assert [e[0] for e in events] == ["run.created", "run.failed"]
    assert events[-1][1]["extra"]["code"] == "interrupted"
    assert after.status_code == 200  # the session is free
