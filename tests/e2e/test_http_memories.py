"""`/api/v1/memories`, one at a time and in batches (SPEC §2, §5) through the real server."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Seed
from tests.e2e.http_api import API, agent, bad_fields, error, listed, run, total, unchanged, user

pytestmark = pytest.mark.asyncio(loop_scope="session")


def memory(name: str = "facts", agent_id: str = "assistant", **fields: Any) -> dict[str, Any]:
    return {"name": name, "content": "likes tea", "agent_id": agent_id} | fields


async def create(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await api.post(f"{API}/memories", json=memory(**fields))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_create_answers_201_with_the_defaults_and_the_agents_id_for_its_name(api: httpx.AsyncClient) -> None:
    created_agent = await agent(api)
    created = await create(api)
    assert str(uuid.UUID(created["id"])) == created["id"]
    assert created["agent_id"] == created_agent["id"]
    assert created["user_id"] is None
    assert created["session_id"] is None
    assert created["read_mode"] == "system_prompt"
    assert created["access"] == "write"
    assert created["content"] == "likes tea"


async def test_create_keeps_json_content_and_binds_to_user_and_session(api: httpx.AsyncClient) -> None:
    created_agent = await agent(api)
    started = (await run(api, "assistant", user_id=3)).json()
    content = {"likes": ["tea", "rain"], "age": 40, "nested": {"ok": True}}
    created = await create(
        api,
        agent_id=created_agent["id"],
        content=content,
        user_id=3,
        session_id=started["session_id"],
        read_mode="tool_call",
        access="read",
    )
    assert created["content"] == content
    assert created["user_id"] == started["user_id"]
    assert created["session_id"] == started["session_id"]
    assert (created["read_mode"], created["access"]) == ("tool_call", "read")


async def test_same_name_agent_and_user_is_409_duplicate(api: httpx.AsyncClient) -> None:
    await agent(api)
    owner = await user(api)
    await create(api, user_id=owner["id"])
    response = await api.post(f"{API}/memories", json=memory(user_id=owner["id"], content="other"))
    error(response, 409, "duplicate")
    assert await total(api, "/memories") == 1


async def test_two_agent_wide_memories_of_one_name_are_409(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):  # the shared agent-wide memory is named "seeded"
        error(await shared_api.post(f"{API}/memories", json=memory("seeded", content="other")), 409, "duplicate")


async def test_a_session_does_not_make_a_memory_distinct(api: httpx.AsyncClient) -> None:
    await agent(api)
    started = (await run(api, "assistant")).json()
    await create(api, user_id=started["user_id"])
    again = memory(user_id=started["user_id"], session_id=started["session_id"])
    error(await api.post(f"{API}/memories", json=again), 409, "duplicate")


async def test_one_name_for_other_users_or_agents_is_fine(api: httpx.AsyncClient) -> None:
    await agent(api)
    await agent(api, "other")
    ada, bob = await user(api), await user(api)
    await create(api)
    await create(api, user_id=ada["id"])
    await create(api, user_id=bob["id"])
    await create(api, agent_id="other")
    assert await total(api, "/memories") == 4


async def test_an_unknown_parent_is_404_naming_it(shared_api: httpx.AsyncClient) -> None:
    cases = [
        ("agent_id", "nobody"),
        ("user_id", str(uuid.uuid4())),
        ("user_id", 404),
        ("session_id", str(uuid.uuid4())),
    ]
    async with unchanged(shared_api):
        for field, value in cases:
            response = await shared_api.post(f"{API}/memories", json=memory("new") | {field: value})
            error(response, 404, "not_found", field)


async def test_a_bad_field_is_400_naming_it(shared_api: httpx.AsyncClient) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"read_mode": "tool"}, "read_mode"),
        ({"access": "everything"}, "access"),
        ({"name": ""}, "name"),
        ({"metadata": "not an object"}, "metadata"),
        ({"session_id": "not-a-uuid"}, "session_id"),
        ({"colour": "blue"}, "colour"),
    ]
    async with unchanged(shared_api):
        for body, key in cases:
            bad_fields(await shared_api.post(f"{API}/memories", json=memory("new") | body), key)
        bad_fields(await shared_api.post(f"{API}/memories", json={"name": "x", "agent_id": "assistant"}), "content")
        bad_fields(await shared_api.post(f"{API}/memories", json={"name": "x", "content": "y"}), "agent_id")


async def test_list_filters_by_agent_name_user_session_read_mode_and_name(api: httpx.AsyncClient) -> None:
    helper = await agent(api)
    await agent(api, "other")
    started = (await run(api, "assistant", user_id=11)).json()
    await create(api, name="a")
    await create(api, name="b", user_id=11, read_mode="tool_call")
    await create(api, name="c", user_id=11, session_id=started["session_id"])
    await create(api, name="a", agent_id="other")

    async def names(**params: object) -> list[str]:
        return [m["name"] for m in (await listed(api, "/memories", **params))["items"]]

    assert await names() == ["a", "b", "c", "a"]
    assert await names(agent_id="assistant") == ["a", "b", "c"]
    assert await names(agent_id=helper["id"]) == ["a", "b", "c"]
    assert await names(user_id=started["user_id"]) == ["b", "c"]
    assert await names(user_id=11) == ["b", "c"]
    assert await names(session_id=started["session_id"]) == ["c"]
    assert await names(read_mode="tool_call") == ["b"]
    assert await names(name="a") == ["a", "a"]
    assert await names(name="a", agent_id="other", read_mode="system_prompt") == ["a"]
    assert await names(sort_desc="true", agent_id="assistant") == ["c", "b", "a"]


async def test_list_with_an_unknown_agent_user_or_session_is_404_and_bad_filters_400(
    shared_api: httpx.AsyncClient,
) -> None:
    get = shared_api.get
    error(await get(f"{API}/memories", params={"agent_id": "nobody"}), 404, "not_found", "agent_id")
    error(await get(f"{API}/memories", params={"user_id": str(uuid.uuid4())}), 404, "not_found", "user_id")
    error(await get(f"{API}/memories", params={"session_id": str(uuid.uuid4())}), 404, "not_found", "session_id")
    bad_fields(await get(f"{API}/memories", params={"read_mode": "sometimes"}), "read_mode")
    bad_fields(await get(f"{API}/memories", params={"user_id": "nope"}), "user_id")
    bad_fields(await get(f"{API}/memories", params={"session_id": "nope"}), "session_id")


async def test_batch_answers_201_with_the_items_in_order(api: httpx.AsyncClient) -> None:
    await agent(api)
    owner = await user(api)
    body = [memory("one"), memory("two", user_id=owner["id"]), memory("three", content={"k": [1, 2]})]
    response = await api.post(f"{API}/memories/batch", json=body)
    assert response.status_code == 201, response.text
    items = response.json()["items"]
    assert list(response.json()) == ["items"]
    assert [m["name"] for m in items] == ["one", "two", "three"]
    assert items[2]["content"] == {"k": [1, 2]}
    assert await total(api, "/memories") == 3


async def test_batch_of_100_is_accepted(api: httpx.AsyncClient) -> None:
    await agent(api)
    response = await api.post(f"{API}/memories/batch", json=[memory(f"m{i}") for i in range(100)])
    assert response.status_code == 201, response.text
    assert await total(api, "/memories") == 100


async def test_batch_of_0_or_101_items_is_400(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        for size in (0, 101):
            bad_fields(await shared_api.post(f"{API}/memories/batch", json=[memory(f"m{i}") for i in range(size)]))


async def test_batch_with_an_invalid_item_is_400_naming_its_index_and_writes_nothing(
    shared_api: httpx.AsyncClient,
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"read_mode": "sometimes"}, "1.read_mode"),
        ({"name": ""}, "1.name"),
        ({"x": 1}, "1.x"),
        ({"user_id": "nope"}, "1.user_id"),
    ]
    async with unchanged(shared_api):
        for body, key in cases:
            items = [memory("ok"), memory("bad") | body, memory("fine")]
            bad_fields(await shared_api.post(f"{API}/memories/batch", json=items), key)
        items = [memory("ok"), {"name": "no content", "agent_id": "assistant"}]
        bad_fields(await shared_api.post(f"{API}/memories/batch", json=items), "1.content")


async def test_batch_with_an_unknown_agent_is_404_naming_its_index_and_writes_nothing(
    shared_api: httpx.AsyncClient,
) -> None:
    body = [memory("one"), memory("two"), memory("three", agent_id="nobody")]
    async with unchanged(shared_api):
        error(await shared_api.post(f"{API}/memories/batch", json=body), 404, "not_found", "2.agent_id")


async def test_batch_with_an_unknown_user_or_session_is_404_naming_its_index(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        body = [memory("one", user_id=str(uuid.uuid4()))]
        error(await shared_api.post(f"{API}/memories/batch", json=body), 404, "not_found", "0.user_id")
        body = [memory("one"), memory("two", session_id=str(uuid.uuid4()))]
        error(await shared_api.post(f"{API}/memories/batch", json=body), 404, "not_found", "1.session_id")


async def test_batch_with_a_duplicate_within_it_is_409_naming_its_index_and_writes_nothing(
    shared_api: httpx.AsyncClient, shared: Seed
) -> None:
    async with unchanged(shared_api):
        body = [memory("one"), memory("one", content="again"), memory("two")]
        error(await shared_api.post(f"{API}/memories/batch", json=body), 409, "duplicate", "1.name")
        body = [memory("one", user_id=shared.user), memory("two"), memory("one", user_id=1)]  # 1 is that user
        error(await shared_api.post(f"{API}/memories/batch", json=body), 409, "duplicate", "2.name")


async def test_batch_with_a_duplicate_of_a_stored_memory_is_409_naming_its_index_and_writes_nothing(
    shared_api: httpx.AsyncClient,
) -> None:
    body = [memory("new"), memory("other"), memory("seeded")]  # "seeded": the shared agent-wide memory
    async with unchanged(shared_api):
        error(await shared_api.post(f"{API}/memories/batch", json=body), 409, "duplicate", "2.name")


async def test_batch_of_something_else_than_an_array_of_memories_is_400(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        for body in ({"name": "x"}, "x", None, [1, 2], [[memory()]]):
            bad_fields(await shared_api.post(f"{API}/memories/batch", json=body))


async def test_read_patch_and_delete_one_memory(api: httpx.AsyncClient) -> None:
    await agent(api)
    created = await create(api, description="about tea", metadata={"a": 1})
    ref = f"{API}/memories/{created['id']}"
    read = await api.get(ref)
    assert read.status_code == 200, read.text
    assert read.json() == created
    body = {"content": {"likes": "coffee"}, "description": None, "metadata": {"b": 2}, "read_mode": "tool_call"}
    response = await api.patch(ref, json=body)
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["content"] == {"likes": "coffee"}
    assert patched["description"] is None
    assert patched["metadata"] == {"b": 2}
    assert patched["read_mode"] == "tool_call"
    assert patched["name"] == created["name"]
    assert (await api.get(ref)).json() == patched
    response = await api.delete(ref)
    assert response.status_code == 204, response.text
    error(await api.get(ref), 404, "not_found", "memory_id")
    error(await api.delete(ref), 404, "not_found")


async def test_patch_of_a_read_only_field_is_400_naming_it(shared_api: httpx.AsyncClient, shared: Seed) -> None:
    async with unchanged(shared_api):
        for field in ["agent_id", "user_id", "session_id", "id", "created_at"]:
            value = "2020-01-01T00:00:00Z" if field == "created_at" else str(uuid.uuid4())
            bad_fields(await shared_api.patch(f"{API}/memories/{shared.memory}", json={field: value}), field)
        for field in ["name", "read_mode", "access", "metadata"]:
            bad_fields(await shared_api.patch(f"{API}/memories/{shared.memory}", json={field: None}), field)


async def test_patch_to_a_taken_name_is_409_and_a_null_name_400(api: httpx.AsyncClient) -> None:
    await agent(api)
    await create(api, name="one")
    two = await create(api, name="two")
    error(await api.patch(f"{API}/memories/{two['id']}", json={"name": "one"}), 409, "duplicate")
    bad_fields(await api.patch(f"{API}/memories/{two['id']}", json={"name": None}), "name")


async def test_an_unknown_or_malformed_memory_id_is_404(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        for ref in ["not-a-uuid", str(uuid.uuid4()), "1", "seeded"]:
            error(await shared_api.get(f"{API}/memories/{ref}"), 404, "not_found")
            error(await shared_api.patch(f"{API}/memories/{ref}", json={"description": "x"}), 404, "not_found")
            error(await shared_api.delete(f"{API}/memories/{ref}"), 404, "not_found")
