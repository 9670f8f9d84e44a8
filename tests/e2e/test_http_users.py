"""`/api/v1/users` (SPEC §2, §5, §7's integer ids) through the real server."""

from __future__ import annotations

import uuid

import httpx
import pytest

from agentkeep.domain.ids import legacy_user_id
from tests.e2e.conftest import Seed
from tests.e2e.http_api import API, agent, bad_fields, error, listed, run, total, unchanged, user

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_create_answers_201_with_the_email_lower_cased_and_needs_no_field(api: httpx.AsyncClient) -> None:
    created = await user(api, email="Ada@Example.COM", phone_number="+44 20", user_data={"lang": "en"})
    assert str(uuid.UUID(created["id"])) == created["id"]
    assert created["email"] == "ada@example.com"
    assert created["phone_number"] == "+44 20"
    assert created["user_data"] == {"lang": "en"}
    bare = await user(api)
    assert (bare["email"], bare["phone_number"], bare["user_data"]) == (None, None, {})


async def test_create_keeps_a_given_id_and_maps_an_integer_one(api: httpx.AsyncClient) -> None:
    given = str(uuid.uuid4())
    assert (await user(api, id=given))["id"] == given
    assert (await user(api, id=42))["id"] == str(legacy_user_id(42))
    error(await api.post(f"{API}/users", json={"id": given}), 409, "duplicate")


async def test_an_integer_user_id_beyond_64_bits_is_400_in_a_body_as_it_is_404_in_a_path(
    api: httpx.AsyncClient,
) -> None:
    error(await api.get(f"{API}/users/{2**64}"), 404)
    bad_fields(await api.post(f"{API}/users", json={"id": 2**64}), "id")


async def test_duplicate_email_ignoring_case_is_409_duplicate_on_email(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):  # the shared user's email is seed@example.com
        response = await shared_api.post(f"{API}/users", json={"email": "SEED@example.com"})
        error(response, 409, "duplicate", "email")


async def test_a_bad_email_is_400_naming_email(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        for email in ["not-an-email", "a@", "", 42, "two@at@example.com"]:
            bad_fields(await shared_api.post(f"{API}/users", json={"email": email}), "email")


async def test_an_unknown_field_or_a_non_object_user_data_is_400(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        bad_fields(await shared_api.post(f"{API}/users", json={"name": "Ada"}), "name")
        bad_fields(await shared_api.post(f"{API}/users", json={"user_data": [1, 2]}), "user_data")


async def test_list_filters_by_email_in_any_case(api: httpx.AsyncClient) -> None:
    ada = await user(api, email="ada@example.com")
    await user(api, email="bob@example.com")
    await user(api)
    assert await total(api, "/users") == 3
    for email in ("ada@example.com", "ADA@Example.com"):
        found = await listed(api, "/users", email=email)
        assert [u["id"] for u in found["items"]] == [ada["id"]]
    assert (await listed(api, "/users", email="nobody@example.com"))["items"] == []


async def test_read_by_uuid_and_by_legacy_integer(api: httpx.AsyncClient) -> None:
    created = await user(api, id=42, email="ada@example.com")
    for ref in (created["id"], "42", created["id"].upper()):
        read = await api.get(f"{API}/users/{ref}")
        assert read.status_code == 200, read.text
        assert read.json() == created


async def test_patch_by_uuid_and_by_integer_sets_clears_and_replaces_json(api: httpx.AsyncClient) -> None:
    created = await user(api, id=7, email="ada@example.com", user_data={"a": 1, "b": 1})
    response = await api.patch(f"{API}/users/7", json={"phone_number": "123", "user_data": {"b": 2}})
    assert response.status_code == 200, response.text
    assert response.json()["phone_number"] == "123"
    assert response.json()["user_data"] == {"b": 2}
    response = await api.patch(f"{API}/users/{created['id']}", json={"email": None, "phone_number": None})
    assert response.status_code == 200, response.text
    assert response.json()["email"] is None
    assert response.json()["phone_number"] is None
    assert response.json()["id"] == created["id"]


async def test_patch_of_id_or_created_at_or_null_user_data_is_400(shared_api: httpx.AsyncClient, shared: Seed) -> None:
    ref = f"{API}/users/{shared.user}"
    async with unchanged(shared_api):
        bad_fields(await shared_api.patch(ref, json={"id": str(uuid.uuid4()), "phone_number": "1"}), "id")
        bad_fields(await shared_api.patch(ref, json={"created_at": "2020-01-01T00:00:00Z"}), "created_at")
        bad_fields(await shared_api.patch(ref, json={"user_data": None}), "user_data")
        bad_fields(await shared_api.patch(ref, json={"email": "nope"}), "email")


async def test_patch_to_another_users_email_is_409(api: httpx.AsyncClient) -> None:
    await user(api, email="ada@example.com")
    bob = await user(api, email="bob@example.com")
    error(await api.patch(f"{API}/users/{bob['id']}", json={"email": "Ada@example.com"}), 409, "duplicate", "email")


async def test_delete_by_uuid_and_by_integer_answers_204_then_404(api: httpx.AsyncClient) -> None:
    first = await user(api)
    await user(api, id=9)
    for ref in (first["id"], "9"):
        response = await api.delete(f"{API}/users/{ref}")
        assert response.status_code == 204, response.text
        error(await api.get(f"{API}/users/{ref}"), 404, "not_found", "user_id")
        error(await api.delete(f"{API}/users/{ref}"), 404, "not_found")
    assert await total(api, "/users") == 0


async def test_a_malformed_user_id_in_the_path_is_404(shared_api: httpx.AsyncClient) -> None:
    async with unchanged(shared_api):
        for ref in ["not-a-uuid", "-1", "1.5", "99999999999999999999999", "did:plc:x", "%20", "1e3"]:
            error(await shared_api.get(f"{API}/users/{ref}"), 404, "not_found")
            error(await shared_api.patch(f"{API}/users/{ref}", json={"phone_number": "1"}), 404, "not_found")
            error(await shared_api.delete(f"{API}/users/{ref}"), 404, "not_found")


async def test_delete_takes_the_users_sessions_messages_and_memories(api: httpx.AsyncClient) -> None:
    await agent(api)
    leaving, staying = str(uuid.uuid4()), str(uuid.uuid4())
    assert (await run(api, "assistant", user_id=leaving, session_name="gone")).status_code == 200
    assert (await run(api, "assistant", user_id=staying, session_name="kept")).status_code == 200
    for owner in (leaving, None):
        body = {"name": "m", "content": "x", "agent_id": "assistant", "user_id": owner}
        assert (await api.post(f"{API}/memories", json=body)).status_code == 201
    assert (await api.delete(f"{API}/users/{leaving}")).status_code == 204
    assert [s["name"] for s in (await listed(api, "/sessions"))["items"]] == ["kept"]
    error(await api.get(f"{API}/sessions/gone"), 404)
    memories = (await listed(api, "/memories"))["items"]
    assert [m["user_id"] for m in memories] == [None]  # the agent-wide memory stays
