"""`/api/v1/sessions` and the messages of a session (SPEC §2, §5) through the real server."""

from __future__ import annotations

import uuid

import httpx
import pytest

from agentkeep.domain.models import Message, ToolCall, ToolOutput
from agentkeep.domain.values import Role
from agentkeep.entrypoints.container import Container
from tests.e2e.conftest import Seed
from tests.e2e.http_api import (
    API,
    agent,
    bad_fields,
    error,
    listed,
    read_session,
    run,
    session,
    total,
    unchanged,
    user,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_create_answers_201_with_the_agents_id_for_its_name(api: httpx.AsyncClient) -> None:
    created_agent = await agent(api)
    owner = await user(api)
    created = await session(api, owner["id"], "assistant", name="talk", metadata={"topic": "x"})
    assert str(uuid.UUID(created["id"])) == created["id"]
    assert created["agent_id"] == created_agent["id"]
    assert created["user_id"] == owner["id"]
    assert created["name"] == "talk"
    assert created["platform"] == "api"
    assert created["metadata"] == {"topic": "x"}
    assert created["finished_at"] is None
    legacy = await user(api, id=5)
    assert (await session(api, 5, created_agent["id"]))["user_id"] == legacy["id"]  # a legacy integer user id


async def test_create_for_an_unknown_agent_or_user_is_404_naming_it(
    shared_api: httpx.AsyncClient, shared: Seed
) -> None:
    cases = [
        ({"user_id": shared.user, "agent_id": "nobody"}, "agent_id"),
        ({"user_id": shared.user, "agent_id": uuid.uuid4().hex}, "agent_id"),
        ({"user_id": str(uuid.uuid4()), "agent_id": shared.agent}, "user_id"),
        ({"user_id": 12345, "agent_id": "assistant"}, "user_id"),
    ]
    async with unchanged(shared_api):
        for body, key in cases:
            error(await shared_api.post(f"{API}/sessions", json=body), 404, "not_found", key)


async def test_create_with_a_malformed_user_id_or_no_agent_is_400(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        body = {"user_id": "nope", "agent_id": "assistant"}
        bad_fields(await shared_api.post(f"{API}/sessions", json=body), "user_id")
        bad_fields(await shared_api.post(f"{API}/sessions", json={"user_id": str(uuid.uuid4())}), "agent_id")


async def test_create_with_a_taken_name_is_409(shared_api: httpx.AsyncClient, shared: Seed) -> None:
    body = {"user_id": shared.user, "agent_id": "assistant", "name": "seeded"}
    async with unchanged(shared_api):
        error(await shared_api.post(f"{API}/sessions", json=body), 409, "duplicate", "name")


async def test_list_is_newest_first_and_filters_by_user_and_agent(api: httpx.AsyncClient) -> None:
    one = await agent(api, "one")
    await agent(api, "two")
    ada, bob = await user(api, id=1), await user(api)
    await session(api, ada["id"], "one", name="first")
    await session(api, bob["id"], "one", name="second")
    await session(api, ada["id"], "two", name="third")

    async def names(**params: object) -> list[str]:
        return [s["name"] for s in (await listed(api, "/sessions", **params))["items"]]

    assert await names() == ["third", "second", "first"]
    assert await names(sort_desc="false") == ["first", "second", "third"]
    assert await names(user_id=ada["id"]) == ["third", "first"]
    assert await names(user_id=1) == ["third", "first"]
    assert await names(agent_id="one") == ["second", "first"]
    assert await names(agent_id=one["id"]) == ["second", "first"]
    assert await names(agent_id="one", user_id=ada["id"]) == ["first"]
    assert await names(agent_id="nobody") == []
    assert await names(user_id=str(uuid.uuid4())) == []


async def test_list_with_a_malformed_user_id_filter_is_400(shared_api: httpx.AsyncClient) -> None:
    bad_fields(await shared_api.get(f"{API}/sessions", params={"user_id": "nope"}), "user_id")


async def test_read_by_id_and_by_name_answers_the_session_with_a_messages_envelope(api: httpx.AsyncClient) -> None:
    await agent(api)
    first = (await run(api, "assistant", "one", session_name="talk")).json()
    await run(api, "assistant", "two", session_name="talk")
    by_id = await read_session(api, first["session_id"])
    by_name = await read_session(api, "talk")
    assert by_id == by_name
    assert by_id["id"] == first["session_id"]
    assert by_id["name"] == "talk"
    envelope = by_id["messages"]
    assert {k: v for k, v in envelope.items() if k != "items"} == {
        "total": 4,
        "page": 1,
        "page_size": 20,
        "total_pages": 1,
    }
    assert [(m["role"], m["text_content"]) for m in envelope["items"]] == [
        ("user", "one"),
        ("assistant", "one"),
        ("user", "two"),
        ("assistant", "two"),
    ]
    assert all("system_prompt" not in m for m in envelope["items"])
    newest = (await read_session(api, "talk", sort_desc="true", page_size=3))["messages"]
    assert [m["text_content"] for m in newest["items"]] == ["two", "two", "one"]
    assert newest["items"][0]["role"] == "assistant"
    assert newest["total_pages"] == 2


async def test_read_of_an_unknown_session_is_404(shared_api: httpx.AsyncClient) -> None:
    error(await shared_api.get(f"{API}/sessions/{uuid.uuid4()}"), 404, "not_found")
    error(await shared_api.get(f"{API}/sessions/nothing-by-this-name"), 404, "not_found")


async def test_show_system_prompt_includes_the_prompt_of_each_assistant_message(api: httpx.AsyncClient) -> None:
    await agent(api, system_prompt="You are terse.")
    await run(api, "assistant", session_name="talk")
    await run(api, "assistant", session_name="talk", system_prompt="Just this once.")
    messages = (await read_session(api, "talk", show_system_prompt="true"))["messages"]["items"]
    prompts = [(m["role"], m["system_prompt"]) for m in messages]
    assert prompts == [
        ("user", None),
        ("assistant", "You are terse."),
        ("user", None),
        ("assistant", "Just this once."),
    ]


async def test_hide_tools_leaves_out_tool_messages_and_tool_fields(
    api: httpx.AsyncClient, container: Container
) -> None:
    await agent(api)
    started = (await run(api, "assistant", session_name="talk")).json()
    session_id = uuid.UUID(started["session_id"])
    call = ToolCall(id="c1", name="lookup", arguments={"q": "x"})
    written = [
        Message(session_id=session_id, role=Role.ASSISTANT, text_content=None, tool_calls=[call]),
        Message(
            session_id=session_id,
            role=Role.TOOL,
            text_content="found",
            tool_outputs=[ToolOutput(tool_call_id="c1", name="lookup", content="found")],
        ),
    ]

    async def add(uow: object) -> None:  # what a tool-running client would have stored
        for message in written:
            await uow.messages.add(message)  # type: ignore[attr-defined]

    await container.storage().run(add)
    shown = (await read_session(api, "talk"))["messages"]
    assert [m["role"] for m in shown["items"]] == ["user", "assistant", "assistant", "tool"]
    assert shown["items"][2]["tool_calls"] == [{"id": "c1", "name": "lookup", "arguments": {"q": "x"}}]
    assert shown["items"][3]["tool_outputs"] == [{"tool_call_id": "c1", "name": "lookup", "content": "found"}]
    hidden = (await read_session(api, "talk", hide_tools="true"))["messages"]
    assert [m["role"] for m in hidden["items"]] == ["user", "assistant", "assistant"]
    assert hidden["total"] == 3
    assert all("tool_calls" not in m and "tool_outputs" not in m for m in hidden["items"])


async def test_patch_renames_and_replaces_metadata(api: httpx.AsyncClient) -> None:
    await agent(api)
    owner = await user(api)
    created = await session(api, owner["id"], "assistant", name="old", metadata={"a": 1, "b": 1})
    response = await api.patch(f"{API}/sessions/old", json={"name": "new", "metadata": {"b": 2}})
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "new"
    assert response.json()["metadata"] == {"b": 2}
    assert (await read_session(api, "new"))["id"] == created["id"]
    error(await api.get(f"{API}/sessions/old"), 404)
    response = await api.patch(f"{API}/sessions/{created['id']}", json={"name": None})
    assert response.status_code == 200, response.text
    assert response.json()["name"] is None


async def test_patch_of_a_read_only_field_is_400_naming_it(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        for field in ["user_id", "agent_id", "id", "created_at", "finished_at"]:
            value = "2020-01-01T00:00:00Z" if field.endswith("_at") else str(uuid.uuid4())
            bad_fields(await shared_api.patch(f"{API}/sessions/seeded", json={field: value}), field)


async def test_patch_to_a_taken_name_or_of_an_unknown_session(api: httpx.AsyncClient) -> None:
    await agent(api)
    owner = await user(api)
    await session(api, owner["id"], "assistant", name="one")
    await session(api, owner["id"], "assistant", name="two")
    error(await api.patch(f"{API}/sessions/two", json={"name": "one"}), 409, "duplicate", "name")
    error(await api.patch(f"{API}/sessions/{uuid.uuid4()}", json={"name": "x"}), 404, "not_found")
    bad_fields(await api.patch(f"{API}/sessions/two", json={"platform": None}), "platform")


async def test_finish_answers_200_and_is_idempotent_keeping_the_first_finished_at(api: httpx.AsyncClient) -> None:
    await agent(api)
    owner = await user(api)
    created = await session(api, owner["id"], "assistant")
    first = await api.post(f"{API}/sessions/{created['id']}/finish")
    assert first.status_code == 200, first.text
    assert first.json()["finished_at"] is not None
    again = await api.post(f"{API}/sessions/{created['id']}/finish")
    assert again.status_code == 200, again.text
    assert again.json()["finished_at"] == first.json()["finished_at"]
    assert (await read_session(api, created["id"]))["finished_at"] == first.json()["finished_at"]


async def test_finish_of_an_unknown_or_malformed_session_is_404(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        error(await shared_api.post(f"{API}/sessions/{uuid.uuid4()}/finish"), 404, "not_found")
        error(await shared_api.post(f"{API}/sessions/not-a-uuid/finish"), 404, "not_found")


async def test_delete_answers_204_takes_the_messages_and_unbinds_memories(api: httpx.AsyncClient) -> None:
    await agent(api)
    started = (await run(api, "assistant", session_name="talk")).json()
    body = {"name": "m", "content": "x", "agent_id": "assistant", "session_id": started["session_id"]}
    memory = (await api.post(f"{API}/memories", json=body)).json()
    response = await api.delete(f"{API}/sessions/{started['session_id']}")
    assert response.status_code == 204, response.text
    error(await api.get(f"{API}/sessions/{started['session_id']}"), 404, "not_found")
    assert await total(api, "/sessions") == 0
    kept = await api.get(f"{API}/memories/{memory['id']}")
    assert kept.status_code == 200, kept.text
    assert kept.json()["session_id"] is None
    # The name is free again, and a new session under it starts with no history.
    again = (await run(api, "assistant", "fresh", session_name="talk")).json()
    assert (await read_session(api, again["session_id"]))["messages"]["total"] == 2


async def test_delete_of_an_unknown_or_malformed_session_is_404(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        error(await shared_api.delete(f"{API}/sessions/{uuid.uuid4()}"), 404, "not_found")
        error(await shared_api.delete(f"{API}/sessions/not-a-uuid"), 404, "not_found")
        error(await shared_api.delete(f"{API}/sessions/seeded"), 404, "not_found")  # an id, not a name
