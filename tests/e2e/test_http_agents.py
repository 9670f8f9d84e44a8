"""`/api/v1/agents`, their bios and profile metadata (SPEC §2, §5) through the real server."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.e2e.http_api import API, agent, bad_fields, error, listed, run, total, unchanged

pytestmark = pytest.mark.asyncio(loop_scope="session")

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


async def test_create_answers_201_with_the_defaults_and_a_lower_case_name(api: httpx.AsyncClient) -> None:
    created = await agent(api, "Helper")
    assert re.fullmatch(r"[0-9a-f]{32}", created["id"])
    assert created["name"] == "helper"
    assert created["model"] == "echo"
    assert created["persona_source"] == "user_generated"
    assert created["config"] == {}
    assert created["active"] is True
    assert TIMESTAMP.match(created["created_at"])


async def test_create_keeps_a_given_did_as_id_and_a_duplicate_id_is_409(api: httpx.AsyncClient) -> None:
    did = "did:plc:abc123"
    created = await agent(api, "alice.bsky.social", id=did, persona_source="sync_bluesky")
    assert created["id"] == did
    read = await api.get(f"{API}/agents/{did}")
    assert read.status_code == 200, read.text
    assert read.json()["name"] == "alice.bsky.social"
    error(await api.post(f"{API}/agents", json={"name": "other", "id": did}), 409, "duplicate")


async def test_duplicate_name_ignoring_case_is_409_duplicate_on_name(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):  # the shared agent is named "assistant"
        error(await shared_api.post(f"{API}/agents", json={"name": "ASSISTANT"}), 409, "duplicate", "name")


async def test_a_name_that_is_not_a_handle_is_400(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        for name in ["has space", "-leading-dash", "", "x" * 254, "émile", "a/b", "UPPER CASE"]:
            bad_fields(await shared_api.post(f"{API}/agents", json={"name": name}), "name")


async def test_create_with_an_unknown_model_is_400_naming_model(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        for model in ["gpt-4", "openai:", "", "anthropic:claude", "ECHO"]:
            bad_fields(await shared_api.post(f"{API}/agents", json={"name": "helper", "model": model}), "model")


async def test_list_answers_the_envelope_with_0_pages_when_empty_and_active_only_keeps_the_active(
    api: httpx.AsyncClient,
) -> None:
    assert await listed(api, "/agents") == {"items": [], "total": 0, "page": 1, "page_size": 20, "total_pages": 0}
    await agent(api, "one")
    await agent(api, "two", active=False)
    await agent(api, "three")
    everything = await listed(api, "/agents")
    assert everything["total"] == 3
    assert everything["page"] == 1
    assert everything["page_size"] == 20
    assert everything["total_pages"] == 1
    active = await listed(api, "/agents", active_only="true")
    assert active["total"] == 2
    assert {a["name"] for a in active["items"]} == {"one", "three"}


async def test_total_pages_is_the_ceiling_and_a_page_past_the_end_is_empty(api: httpx.AsyncClient) -> None:
    for i in range(5):
        await agent(api, f"agent-{i}")
    first = await listed(api, "/agents", page_size=2)
    assert first["total_pages"] == 3
    assert [a["name"] for a in first["items"]] == ["agent-0", "agent-1"]  # oldest first by default
    last = await listed(api, "/agents", page_size=2, page=3)
    assert [a["name"] for a in last["items"]] == ["agent-4"]
    past = await listed(api, "/agents", page_size=2, page=4)
    assert past["items"] == []
    assert past["total"] == 5
    assert (await listed(api, "/agents", page_size=100, page=2**31))["items"] == []  # the largest page
    newest = await listed(api, "/agents", page_size=2, sort_desc="true")
    assert [a["name"] for a in newest["items"]] == ["agent-4", "agent-3"]


@pytest.mark.parametrize(
    ("param", "value"), [("page", 0), ("page", -1), ("page", "x"), ("page_size", 0), ("page_size", 101)]
)
async def test_page_or_page_size_out_of_range_is_400_naming_it(
    shared_api: httpx.AsyncClient, param: str, value: str | int
) -> None:
    bad_fields(await shared_api.get(f"{API}/agents", params={param: value}), param)


async def test_read_by_id_and_by_name_in_any_case(api: httpx.AsyncClient) -> None:
    created = await agent(api, "helper", display_name="Helper")
    for ref in (created["id"], "helper", "HeLPer"):
        read = await api.get(f"{API}/agents/{ref}")
        assert read.status_code == 200, read.text
        assert read.json() == created


async def test_read_of_an_unknown_agent_is_404(shared_api: httpx.AsyncClient) -> None:
    error(await shared_api.get(f"{API}/agents/nobody"), 404, "not_found")
    error(await shared_api.get(f"{API}/agents/{uuid.uuid4().hex}"), 404, "not_found")


async def test_patch_sets_the_fields_given_clears_with_null_and_replaces_json_whole(api: httpx.AsyncClient) -> None:
    created = await agent(api, "helper", description="kept", config={"a": 1, "b": 1}, system_prompt="Be brief.")
    body = {"display_name": "Helper", "config": {"b": 2}, "model": "openai:small", "system_prompt": None}
    response = await api.patch(f"{API}/agents/helper", json=body)
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["display_name"] == "Helper"
    assert patched["config"] == {"b": 2}
    assert patched["model"] == "openai:small"
    assert patched["system_prompt"] is None
    assert patched["description"] == "kept"
    assert patched["id"] == created["id"]
    assert patched["created_at"] == created["created_at"]
    assert (await api.get(f"{API}/agents/helper")).json() == patched
    response = await api.patch(f"{API}/agents/{created['id']}", json={"display_name": None})
    assert response.status_code == 200, response.text
    assert response.json()["display_name"] is None


async def test_patch_null_on_a_required_field_is_400(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        for field in ["name", "model", "active", "config", "persona_source"]:
            bad_fields(await shared_api.patch(f"{API}/agents/assistant", json={field: None}), field)


async def test_patch_of_id_or_created_at_is_400_naming_each(shared_api: httpx.AsyncClient) -> None:
    body = {"id": uuid.uuid4().hex, "created_at": "2020-01-01T00:00:00Z", "display_name": "x"}
    async with unchanged(shared_api):
        bad_fields(await shared_api.patch(f"{API}/agents/assistant", json=body), "id", "created_at")


async def test_patch_with_a_bad_model_is_400_and_changes_nothing(shared_api: httpx.AsyncClient) -> None:
    body = {"model": "gpt-4", "display_name": "x"}
    async with unchanged(shared_api):
        bad_fields(await shared_api.patch(f"{API}/agents/assistant", json=body), "model")


async def test_patch_rename_to_a_taken_name_is_409(api: httpx.AsyncClient) -> None:
    await agent(api, "one")
    await agent(api, "two")
    error(await api.patch(f"{API}/agents/two", json={"name": "ONE"}), 409, "duplicate", "name")


async def test_patch_of_an_unknown_agent_is_404(shared_api: httpx.AsyncClient) -> None:
    error(await shared_api.patch(f"{API}/agents/nobody", json={"display_name": "x"}), 404, "not_found")


async def test_put_creates_201_then_replaces_200(api: httpx.AsyncClient) -> None:
    response = await api.put(f"{API}/agents/newbie", json={"display_name": "Newbie", "config": {"a": 1}})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["name"] == "newbie"
    assert created["display_name"] == "Newbie"
    response = await api.put(f"{API}/agents/newbie", json={"description": "second", "active": False})
    assert response.status_code == 200, response.text
    replaced = response.json()
    assert replaced["id"] == created["id"]
    assert replaced["description"] == "second"
    assert replaced["active"] is False
    assert replaced["display_name"] is None  # a replacement: what the body leaves out is reset
    assert replaced["config"] == {}
    assert await total(api, "/agents") == 1


async def test_put_with_the_paths_name_in_the_body_is_accepted(api: httpx.AsyncClient) -> None:
    response = await api.put(f"{API}/agents/newbie", json={"name": "NewBie"})
    assert response.status_code == 201, response.text
    by_id = await api.put(f"{API}/agents/{response.json()['id']}", json={"name": "newbie", "version": "2"})
    assert by_id.status_code == 200, by_id.text  # by id, the agent's own name is the path's
    assert by_id.json()["version"] == "2"


async def test_put_with_another_name_in_the_body_is_400_naming_name(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        bad_fields(await shared_api.put(f"{API}/agents/newbie", json={"name": "other"}), "name")
        bad_fields(await shared_api.put(f"{API}/agents/assistant", json={"name": "other"}), "name")


async def test_put_on_a_path_that_is_not_a_handle_is_400_not_500(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        bad_fields(await shared_api.put(f"{API}/agents/has space", json={}), "name")


async def test_put_with_an_unknown_field_or_a_bad_model_is_400(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        for ref in ("newbie", "assistant"):
            bad_fields(await shared_api.put(f"{API}/agents/{ref}", json={"id": uuid.uuid4().hex}), "id")
            bad_fields(await shared_api.put(f"{API}/agents/{ref}", json={"model": "gpt-4"}), "model")


async def test_delete_answers_204_and_takes_the_agents_sessions_memories_bios_and_metadata(
    api: httpx.AsyncClient,
) -> None:
    await agent(api, "helper")
    await agent(api, "other")
    assert (await run(api, "helper", session_name="s")).status_code == 200
    assert (await run(api, "other", session_name="kept")).status_code == 200
    await api.post(f"{API}/memories", json={"name": "m", "content": "x", "agent_id": "helper"})
    await api.post(f"{API}/agents/helper/bios", json={"persona_bio": "A bio."})
    await api.put(f"{API}/agents/helper/profile-metadata", json={"posts_count": 1})
    response = await api.delete(f"{API}/agents/helper")
    assert response.status_code == 204
    assert response.content == b""
    error(await api.get(f"{API}/agents/helper"), 404, "not_found")
    error(await api.delete(f"{API}/agents/helper"), 404, "not_found")
    assert [s["name"] for s in (await listed(api, "/sessions"))["items"]] == ["kept"]
    assert await total(api, "/memories") == 0
    # Recreated under the same name, it starts with nothing.
    await agent(api, "helper")
    assert await total(api, "/agents/helper/bios") == 0
    error(await api.get(f"{API}/agents/helper/profile-metadata"), 404)


async def test_bios_answer_201_and_are_listed_newest_first_in_the_envelope(api: httpx.AsyncClient) -> None:
    created = await agent(api, "helper")
    assert await listed(api, "/agents/helper/bios") == {
        "items": [],
        "total": 0,
        "page": 1,
        "page_size": 20,
        "total_pages": 0,
    }
    texts = ["First bio.", "Second bio.", "Third bio."]
    for text in texts:
        response = await api.post(f"{API}/agents/helper/bios", json={"persona_bio": text})
        assert response.status_code == 201, response.text
        assert response.json()["persona_bio_source"] == "user_provided"
        assert response.json()["agent_id"] == created["id"]
    body = {"persona_bio": "Generated.", "persona_bio_source": "ai_generated"}
    generated = await api.post(f"{API}/agents/{created['id']}/bios", json=body)
    assert generated.status_code == 201, generated.text
    assert generated.json()["persona_bio_source"] == "ai_generated"
    texts.append("Generated.")
    bios = await listed(api, "/agents/helper/bios")
    assert [b["persona_bio"] for b in bios["items"]] == texts[::-1]
    oldest_first = await listed(api, "/agents/helper/bios", sort_desc="false", page_size=3)
    assert [b["persona_bio"] for b in oldest_first["items"]] == texts[:3]
    assert oldest_first["total_pages"] == 2


async def test_a_bad_bio_is_400_naming_the_field(shared_api: httpx.AsyncClient) -> None:
    cases: list[tuple[dict[str, object], str]] = [
        ({"persona_bio": "  "}, "persona_bio"),
        ({}, "persona_bio"),
        ({"persona_bio": "x", "persona_bio_source": "made_up"}, "persona_bio_source"),
        ({"persona_bio": "x", "agent_id": "other"}, "agent_id"),
    ]
    async with unchanged(shared_api):
        for body, key in cases:
            bad_fields(await shared_api.post(f"{API}/agents/assistant/bios", json=body), key)


async def test_bios_of_an_unknown_agent_are_404(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        error(await shared_api.get(f"{API}/agents/nobody/bios"), 404, "not_found")
        error(await shared_api.post(f"{API}/agents/nobody/bios", json={"persona_bio": "x"}), 404, "not_found")


async def test_profile_metadata_is_404_until_put_then_201_then_200(api: httpx.AsyncClient) -> None:
    created = await agent(api, "helper")
    error(await api.get(f"{API}/agents/helper/profile-metadata"), 404, "not_found")
    response = await api.put(f"{API}/agents/helper/profile-metadata", json={"followers_count": 5})
    assert response.status_code == 201, response.text
    first = response.json()
    assert first["agent_id"] == created["id"]
    assert (first["followers_count"], first["follows_count"], first["posts_count"]) == (5, 0, 0)
    response = await api.put(f"{API}/agents/helper/profile-metadata", json={"posts_count": 3})
    assert response.status_code == 200, response.text
    second = response.json()
    assert second["id"] == first["id"]
    assert (second["followers_count"], second["follows_count"], second["posts_count"]) == (5, 0, 3)
    read = await api.get(f"{API}/agents/{created['id']}/profile-metadata")
    assert read.status_code == 200, read.text
    assert read.json() == second


async def test_a_bad_count_is_400_and_writes_nothing(shared_api: httpx.AsyncClient) -> None:
    bodies: list[dict[str, object]] = [
        {"followers_count": -1},
        {"follows_count": 2**63},
        {"posts_count": "many"},
        {"posts_count": 1.5},
        {"posts_count": None},
        {"agent_id": "other"},
    ]
    async with unchanged(shared_api):
        for body in bodies:
            bad_fields(await shared_api.put(f"{API}/agents/assistant/profile-metadata", json=body), next(iter(body)))


async def test_profile_metadata_of_an_unknown_agent_is_404(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        error(await shared_api.get(f"{API}/agents/nobody/profile-metadata"), 404, "not_found")
        body = {"posts_count": 1}
        error(await shared_api.put(f"{API}/agents/nobody/profile-metadata", json=body), 404, "not_found")
