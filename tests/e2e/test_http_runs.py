"""`POST /api/v1/agents/{agent_id_or_name}/run` (SPEC §3, §5) through the real server."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from agentkeep.domain.ids import legacy_user_id
from tests.e2e.conftest import Seed, closed_port
from tests.e2e.http_api import (
    API,
    agent,
    bad_fields,
    error,
    listed,
    read_session,
    run,
    session,
    unchanged,
    user,
)
from tests.support.openai_server import FakeOpenAIServer, Scripted, completion

pytestmark = pytest.mark.asyncio(loop_scope="session")

RESPONSE_FIELDS = {
    "run_id",
    "status",
    "message",
    "session_id",
    "session_name",
    "user_id",
    "agent_id",
    "user_message_id",
    "assistant_message_id",
    "tool_calls",
    "tool_outputs",
    "usage",
}


async def test_run_answers_200_with_every_field_of_the_response(api: httpx.AsyncClient) -> None:
    created = await agent(api)
    response = await run(api, "assistant", "hello there", session_name="first")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == RESPONSE_FIELDS
    assert body["message"] == "hello there"  # echo
    assert body["agent_id"] == created["id"]
    assert body["session_name"] == "first"
    for field in ("session_id", "user_id", "user_message_id", "assistant_message_id"):
        assert str(uuid.UUID(body[field])) == body[field]
    assert body["user_message_id"] != body["assistant_message_id"]
    assert body["tool_calls"] == []
    assert body["tool_outputs"] == []
    assert body["usage"]["model"] == "echo"
    assert body["usage"]["response_tokens"] == 2


async def test_run_finds_the_agent_by_id_as_well_as_by_name(api: httpx.AsyncClient) -> None:
    created = await agent(api, "Helper")
    response = await run(api, created["id"])
    assert response.status_code == 200, response.text
    assert response.json()["agent_id"] == created["id"]


async def test_second_run_on_the_returned_session_sees_the_history(api: httpx.AsyncClient) -> None:
    await agent(api)
    first = (await run(api, "assistant", "one two three")).json()
    second = await run(api, "assistant", "four", session_id=first["session_id"], user_id=first["user_id"])
    assert second.status_code == 200, second.text
    assert second.json()["session_id"] == first["session_id"]
    assert second.json()["usage"]["request_tokens"] > first["usage"]["request_tokens"]
    messages = (await read_session(api, first["session_id"]))["messages"]
    assert messages["total"] == 4
    assert [m["role"] for m in messages["items"]] == ["user", "assistant", "user", "assistant"]
    assert [m["text_content"] for m in messages["items"]] == ["one two three"] * 2 + ["four"] * 2


async def test_unknown_field_is_400_naming_it_and_starts_no_session(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        response = await run(shared_api, "assistant", "hi", sesion_name="typo", user_id=str(uuid.uuid4()))
        bad_fields(response, "sesion_name")


async def test_empty_message_content_is_400_and_writes_no_row(shared_api: httpx.AsyncClient, shared: Seed) -> None:
    async with unchanged(shared_api):
        for content in ("", "   ", "\n\t"):
            new = await run(shared_api, "assistant", content, user_id=str(uuid.uuid4()), session_name="never")
            bad_fields(new, "message_content")
            known = await run(shared_api, "assistant", content, user_id=shared.user, session_id=shared.session)
            bad_fields(known, "message_content")


async def test_missing_or_too_long_message_content_is_400_naming_it(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        response = await shared_api.post(f"{API}/agents/assistant/run", json={"session_name": "s"})
        bad_fields(response, "message_content")
        bad_fields(await run(shared_api, "assistant", "x" * 100_001), "message_content")


async def test_run_of_an_unknown_agent_is_404(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        error(await run(shared_api, "nobody", user_id=str(uuid.uuid4()), session_name="s"), 404, "not_found")
        error(await run(shared_api, uuid.uuid4().hex), 404, "not_found")


async def test_run_of_an_inactive_agent_is_409_agent_inactive_and_writes_no_row(api: httpx.AsyncClient) -> None:
    await agent(api, active=False)
    async with unchanged(api):
        error(await run(api, "assistant", user_id=str(uuid.uuid4()), session_name="s"), 409, "agent_inactive")


async def test_run_with_an_unknown_session_id_is_404_naming_it(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        response = await run(shared_api, "assistant", session_id=str(uuid.uuid4()), user_id=str(uuid.uuid4()))
        error(response, 404, "not_found", "session_id")


async def test_run_on_a_finished_session_is_409_session_finished(api: httpx.AsyncClient) -> None:
    await agent(api)
    first = (await run(api, "assistant")).json()
    finished = await api.post(f"{API}/sessions/{first['session_id']}/finish")
    assert finished.status_code == 200, finished.text
    response = await run(api, "assistant", session_id=first["session_id"], user_id=first["user_id"])
    error(response, 409, "session_finished")
    assert (await read_session(api, first["session_id"]))["messages"]["total"] == 2


async def test_run_on_another_users_session_is_409_session_owner_mismatch(
    shared_api: httpx.AsyncClient, shared: Seed
) -> None:
    async with unchanged(shared_api):  # the stranger is not created either
        refs: list[dict[str, Any]] = [{"session_id": shared.session}, {"session_name": "seeded"}]
        for ref in refs:
            response = await run(shared_api, "assistant", user_id=str(uuid.uuid4()), **ref)
            error(response, 409, "session_owner_mismatch")


async def test_run_on_another_agents_session_is_409_session_owner_mismatch(api: httpx.AsyncClient) -> None:
    await agent(api, "one")
    await agent(api, "two")
    first = (await run(api, "one", session_name="shared")).json()
    error(await run(api, "two", session_name="shared"), 409, "session_owner_mismatch")
    assert (await read_session(api, first["session_id"]))["messages"]["total"] == 2


async def test_integer_user_id_is_answered_as_its_mapped_uuid_served_by_the_users_route(
    api: httpx.AsyncClient,
) -> None:
    await agent(api)
    response = await run(api, "assistant", user_id=7)
    assert response.status_code == 200, response.text
    mapped = str(legacy_user_id(7))
    assert response.json()["user_id"] == mapped
    read = await api.get(f"{API}/users/7")
    assert read.status_code == 200, read.text
    assert read.json()["id"] == mapped


async def test_run_with_a_user_email_finds_that_user_and_merges_user_data(api: httpx.AsyncClient) -> None:
    await agent(api)
    known = await user(api, email="ada@example.com", user_data={"a": 1, "b": 1})
    response = await run(api, "assistant", user={"email": "ADA@example.com", "user_data": {"b": 2}})
    assert response.status_code == 200, response.text
    assert response.json()["user_id"] == known["id"]
    assert (await api.get(f"{API}/users/{known['id']}")).json()["user_data"] == {"a": 1, "b": 2}


async def test_run_with_another_users_email_is_409_and_writes_nothing(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):  # seed@example.com is the shared user's
        response = await run(shared_api, "assistant", user_id=str(uuid.uuid4()), user={"email": "seed@example.com"})
        error(response, 409)


async def test_session_name_of_another_run_continues_that_session(api: httpx.AsyncClient) -> None:
    await agent(api)
    first = (await run(api, "assistant", "one", session_name="talk")).json()
    second = (await run(api, "assistant", "two", session_name="talk")).json()
    assert second["session_id"] == first["session_id"]
    assert second["user_id"] == first["user_id"]
    assert (await read_session(api, "talk"))["messages"]["total"] == 4


@pytest.mark.settings(openai_base_url=f"http://127.0.0.1:{closed_port()}/v1")
async def test_model_failure_is_502_model_error_and_keeps_the_user_message(api: httpx.AsyncClient) -> None:
    await agent(api, "remote", model="openai:x")
    response = await run(api, "remote", "are you there?", session_name="down")
    body = error(response, 502, "model_error")
    assert "connect" in body["detail"]
    messages = (await read_session(api, "down"))["messages"]["items"]
    assert [(m["role"], m["text_content"]) for m in messages] == [("user", "are you there?")]
    # The session is free again: the next run is answered (and fails the same way), not 409 busy.
    error(await run(api, "remote", "again?", session_name="down"), 502, "model_error")


async def test_64_concurrent_first_runs_make_one_user_one_session_and_alternating_messages(
    api: httpx.AsyncClient,
) -> None:
    await agent(api)
    user_id = str(uuid.uuid4())
    runs = [run(api, "assistant", f"message {i}", user_id=user_id, session_name="crowd") for i in range(64)]
    responses = await asyncio.gather(*runs)
    assert [r.status_code for r in responses] == [200] * 64, [r.text for r in responses if r.status_code != 200]
    assert {r.json()["session_id"] for r in responses} == {responses[0].json()["session_id"]}
    assert (await listed(api, "/users"))["total"] == 1
    assert (await listed(api, "/sessions"))["total"] == 1
    messages = []
    for page in (1, 2):
        messages += (await read_session(api, "crowd", page=page, page_size=100))["messages"]["items"]
    assert len(messages) == 128
    assert [m["role"] for m in messages] == ["user", "assistant"] * 64
    for question, answer in zip(messages[::2], messages[1::2], strict=True):
        assert answer["text_content"] == question["text_content"]  # echo: each reply follows its question


async def test_run_with_a_session_created_over_http_for_that_user(api: httpx.AsyncClient) -> None:
    created_agent = await agent(api)
    owner = await user(api)
    opened = await session(api, owner["id"], created_agent["name"], name="prepared")
    response = await run(api, "assistant", session_id=opened["id"], user_id=owner["id"])
    assert response.status_code == 200, response.text
    assert response.json()["session_name"] == "prepared"


async def test_the_models_tool_calls_and_usage_are_answered_and_kept(
    api: httpx.AsyncClient, openai: FakeOpenAIServer
) -> None:
    await agent(api, "remote", model="openai:small", system_prompt="Use tools.")
    call = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "tea"}'}}
    usage = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    openai.script(Scripted(completion(None, tool_calls=[call], usage=usage)))
    response = await run(api, "remote", "find tea", session_name="tools")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tool_calls"] == [{"id": "call_1", "name": "lookup", "arguments": {"q": "tea"}}]
    assert body["tool_outputs"] == []
    assert (body["usage"]["request_tokens"], body["usage"]["response_tokens"]) == (7, 3)
    sent = openai.received[0].body
    assert sent["model"] == "small"
    assert sent["messages"][0] == {"role": "system", "content": "Use tools."}
    stored = (await read_session(api, "tools", show_system_prompt="true"))["messages"]["items"]
    assert stored[1]["tool_calls"] == body["tool_calls"]
    assert stored[1]["system_prompt"] == "Use tools."
    hidden = (await read_session(api, "tools", hide_tools="true"))["messages"]["items"]
    assert all("tool_calls" not in m for m in hidden)


@pytest.mark.settings(model_timeout=0.3)
async def test_model_timeout_is_504_model_timeout_and_keeps_the_user_message(
    api: httpx.AsyncClient, openai: FakeOpenAIServer
) -> None:
    await agent(api, "slow", model="openai:small")
    openai.script(Scripted(completion("too late"), delay=5))
    error(await run(api, "slow", "hurry", session_name="late"), 504, "model_timeout")
    messages = (await read_session(api, "late"))["messages"]["items"]
    assert [(m["role"], m["text_content"]) for m in messages] == [("user", "hurry")]


@pytest.mark.settings(session_wait=0.1)
async def test_a_run_that_waits_past_session_wait_is_409_session_busy(
    api: httpx.AsyncClient, openai: FakeOpenAIServer
) -> None:
    await agent(api, "slow", model="openai:small")
    first = (await run(api, "slow", "one", session_name="busy")).json()  # makes the session
    openai.script(Scripted(completion("two, slowly"), delay=0.6))
    holding = asyncio.create_task(run(api, "slow", "two", session_id=first["session_id"], user_id=first["user_id"]))
    # Once the second run is at the model, it holds the session.
    while len(openai.received) < 2:  # noqa: ASYNC110 - the fake server records from its own thread
        await asyncio.sleep(0.01)
    waiting = await run(api, "slow", "three", session_id=first["session_id"], user_id=first["user_id"])
    error(waiting, 409, "session_busy")
    assert (await holding).status_code == 200
    messages = (await read_session(api, "busy"))["messages"]["items"]
    assert [m["text_content"] for m in messages] == ["one", "Hello!", "two", "two, slowly"]


@pytest.mark.parametrize("identity", ["email", "session_name_only"])
async def test_concurrent_first_runs_by_email_or_session_name_make_one_user_and_one_session(
    api: httpx.AsyncClient, identity: str
) -> None:
    await agent(api)
    who = {"user": {"email": "new@example.com"}} if identity == "email" else {}
    responses = await asyncio.gather(*(run(api, "assistant", f"m{i}", session_name="crowd", **who) for i in range(16)))
    assert [r.status_code for r in responses] == [200] * 16, [r.text for r in responses if r.status_code != 200]
    assert len({r.json()["user_id"] for r in responses}) == 1
    assert (await listed(api, "/users"))["total"] == 1
    assert (await listed(api, "/sessions"))["total"] == 1
    messages = (await read_session(api, "crowd", page_size=100))["messages"]["items"]
    assert [m["role"] for m in messages] == ["user", "assistant"] * 16
