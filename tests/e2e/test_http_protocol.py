"""What every route shares (SPEC §5): request ids, the OpenAPI document, the body limit, and bad
input of any shape answered 4xx, never 5xx, with nothing written."""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import API_KEYS, Server, client
from tests.e2e.http_api import API, agent, bad_fields, error, run, snapshot

pytestmark = pytest.mark.asyncio(loop_scope="session")

SPEC_ROUTES = {
    ("post", "/api/v1/agents/{agent_id_or_name}/run"),
    ("post", "/api/v1/agents"),
    ("get", "/api/v1/agents"),
    ("get", "/api/v1/agents/{agent_id_or_name}"),
    ("patch", "/api/v1/agents/{agent_id_or_name}"),
    ("put", "/api/v1/agents/{agent_id_or_name}"),
    ("delete", "/api/v1/agents/{agent_id_or_name}"),
    ("get", "/api/v1/agents/{agent_id_or_name}/bios"),
    ("post", "/api/v1/agents/{agent_id_or_name}/bios"),
    ("get", "/api/v1/agents/{agent_id_or_name}/profile-metadata"),
    ("put", "/api/v1/agents/{agent_id_or_name}/profile-metadata"),
    ("post", "/api/v1/users"),
    ("get", "/api/v1/users"),
    ("get", "/api/v1/users/{user_id}"),
    ("patch", "/api/v1/users/{user_id}"),
    ("delete", "/api/v1/users/{user_id}"),
    ("post", "/api/v1/sessions"),
    ("get", "/api/v1/sessions"),
    ("get", "/api/v1/sessions/{session_id_or_name}"),
    ("patch", "/api/v1/sessions/{session_id_or_name}"),
    ("post", "/api/v1/sessions/{session_id}/finish"),
    ("delete", "/api/v1/sessions/{session_id}"),
    ("post", "/api/v1/memories"),
    ("get", "/api/v1/memories"),
    ("post", "/api/v1/memories/batch"),
    ("get", "/api/v1/memories/{memory_id}"),
    ("patch", "/api/v1/memories/{memory_id}"),
    ("delete", "/api/v1/memories/{memory_id}"),
    ("get", "/api/v1/runs/{run_id}"),
    ("get", "/api/v1/runs/{run_id}/events"),
    ("post", "/api/v1/runs/{run_id}/cancel"),
    ("get", "/api/v1/sessions/{session_id_or_name}/runs"),
    ("get", "/health"),
}
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


async def test_a_given_request_id_is_echoed_back(shared_api: httpx.AsyncClient) -> None:
    for path in (f"{API}/agents", f"{API}/agents/nobody", "/health"):
        response = await shared_api.get(path, headers={"X-Request-ID": "trace-42.a:b_c"})
        assert response.headers["x-request-id"] == "trace-42.a:b_c"


async def test_a_new_request_id_is_made_when_none_or_an_unusable_one_is_given(shared_api: httpx.AsyncClient) -> None:
    seen = set()
    for given in ({}, {"X-Request-ID": "has spaces in it"}, {"X-Request-ID": "x" * 129}):
        response = await shared_api.get(f"{API}/agents", headers=given)
        made = response.headers["x-request-id"]
        assert re.fullmatch(r"[0-9a-f]{32}", made), made
        seen.add(made)
    assert len(seen) == 3


async def test_every_kind_of_answer_carries_a_request_id(shared_server: Server, shared_api: httpx.AsyncClient) -> None:
    async with client(shared_server.url) as anonymous:
        answers = [
            await anonymous.get(f"{API}/agents"),  # 401
            await anonymous.get("/no/such/path"),  # 404, no route
            await shared_api.get(f"{API}/agents"),  # 200
            await shared_api.post(f"{API}/agents", content=b"{"),  # 400
            await shared_api.get(f"{API}/agents/nobody"),  # 404
            await shared_api.delete(f"{API}/agents"),  # 405
            await anonymous.get("/schema/openapi.json"),
        ]
    assert [r.status_code for r in answers] == [401, 404, 200, 400, 404, 405, 200]
    assert all(r.headers.get("x-request-id") for r in answers)


async def test_an_unknown_path_is_404_in_the_error_shape(shared_api: httpx.AsyncClient) -> None:
    error(await shared_api.get(f"{API}/nothing-here"), 404, "not_found")
    error(await shared_api.get("/no/such/path"), 404, "not_found")


async def test_a_method_a_route_does_not_have_is_405(shared_api: httpx.AsyncClient) -> None:
    error(await shared_api.delete(f"{API}/agents"), 405, "method_not_allowed")
    error(await shared_api.put(f"{API}/memories/batch", json=[]), 405)


async def test_the_openapi_document_lists_every_route_of_the_spec(shared_api: httpx.AsyncClient) -> None:
    response = await shared_api.get("/schema/openapi.json")
    assert response.status_code == 200, response.text
    document = response.json()
    routes = {(method, path) for path, item in document["paths"].items() for method in item if method in HTTP_METHODS}
    assert routes == SPEC_ROUTES
    assert set(document["components"]["securitySchemes"]) == {"apiKey", "bearer"}
    batch = document["paths"]["/api/v1/memories/batch"]["post"]["requestBody"]["content"]["application/json"]
    assert batch["schema"]["type"] == "array"
    assert batch["schema"]["items"] == {"$ref": "#/components/schemas/NewMemory"}
    assert (batch["schema"]["minItems"], batch["schema"]["maxItems"]) == (1, 100)


async def test_the_interactive_documentation_page_is_served(shared_api: httpx.AsyncClient) -> None:
    response = await shared_api.get("/schema")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]


@pytest.mark.settings(max_body=2048)
async def test_a_body_over_the_limit_is_413_and_writes_nothing(api: httpx.AsyncClient) -> None:
    await agent(api)
    response = await run(api, "assistant", "x" * 4096, session_name="big")
    error(response, 413)
    assert response.headers["x-request-id"]
    assert (await run(api, "assistant", "x" * 1024, session_name="small")).status_code == 200
    assert [s["name"] for s in (await snapshot(api))["sessions"]] == ["small"]


@pytest.mark.settings(max_body=2048)
async def test_a_chunked_body_over_the_limit_is_413(api: httpx.AsyncClient) -> None:
    body = json.dumps({"message_content": "x" * 8192}).encode()

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the server must count
        for start in range(0, len(body), 1024):
            yield body[start : start + 1024]

    await agent(api)
    headers = {"Content-Type": "application/json"}
    error(await api.post(f"{API}/agents/assistant/run", content=chunks(), headers=headers), 413)
    assert (await snapshot(api))["sessions"] == []


@pytest.mark.settings(log_format="json")
async def test_each_request_logs_one_json_line_without_a_key_a_message_or_a_memory(
    api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    await agent(api)
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        response = await run(api, "assistant", "my secret message", headers={"X-Request-ID": "req-1"})
        memory = {"name": "m", "content": "secret memory content", "agent_id": "assistant"}
        await api.post(f"{API}/memories", json=memory, headers={"X-Request-ID": "req-2"})
        await api.get(f"{API}/nothing", headers={"X-Request-ID": "req-3"})
    assert response.status_code == 200, response.text
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "agentkeep.access"]
    assert [(line["request_id"], line["method"], line["route"], line["status"]) for line in lines] == [
        ("req-1", "POST", "/api/v1/agents/{agent_id_or_name}/run", 200),
        ("req-2", "POST", "/api/v1/memories", 201),
        ("req-3", "GET", "(no route)", 404),
    ]
    assert all(isinstance(line["duration_ms"], float | int) for line in lines)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    for secret in ("my secret message", "secret memory content", API_KEYS[0]):
        assert secret not in logged


MALFORMED = [b"{", b"{'name': 'x'}", b"", b"\xff\xfe", b"[1, 2", b"nul", b'{"name": "x"} trailing']
ROUTES_WITH_A_BODY = [
    ("POST", "/agents"),
    ("POST", "/agents/assistant/run"),
    ("PATCH", "/agents/assistant"),
    ("PUT", "/agents/assistant"),
    ("POST", "/memories/batch"),
    ("POST", "/users"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES_WITH_A_BODY)
async def test_malformed_json_is_400_and_writes_nothing(shared_api: httpx.AsyncClient, method: str, path: str) -> None:
    before = await snapshot(shared_api)
    for content in MALFORMED:
        response = await shared_api.request(
            method, f"{API}{path}", content=content, headers={"Content-Type": "application/json"}
        )
        bad_fields(response)
    assert await snapshot(shared_api) == before


BAD_BODIES: list[tuple[str, str, Any, str]] = [
    # (method, path, body, the field named)
    ("POST", "/agents/assistant/run", {"message_content": "hi", "message_limit": 10**30}, "message_limit"),
    ("POST", "/agents/assistant/run", {"message_content": "hi", "message_limit": -1}, "message_limit"),
    ("POST", "/agents/assistant/run", {"message_content": "hi", "message_limit": 1001}, "message_limit"),
    ("POST", "/agents/assistant/run", {"message_content": 123}, "message_content"),
    ("POST", "/agents/assistant/run", {"message_content": ["hi"]}, "message_content"),
    ("POST", "/agents/assistant/run", {"message_content": "hi", "session_id": "nope"}, "session_id"),
    ("POST", "/agents/assistant/run", {"message_content": "hi", "session_id": 5}, "session_id"),
    ("POST", "/agents/assistant/run", {"message_content": "hi", "user_id": "nope"}, "user_id"),
    ("POST", "/agents/assistant/run", {"message_content": "hi", "user_id": -3}, "user_id"),
    ("POST", "/agents/assistant/run", {"message_content": "hi", "user_id": True}, "user_id"),
    ("POST", "/agents/assistant/run", {"message_content": "hi", "user_id": 1.5}, "user_id"),
    ("POST", "/agents/assistant/run", {"message_content": "hi", "context": []}, "context"),
    ("POST", "/agents/assistant/run", {"message_content": "hi", "user": {"email": "x"}}, "user.email"),
    ("POST", "/agents/assistant/run", {"message_content": "hi", "user": {"mail": "x@y.z"}}, "user.mail"),
    ("POST", "/agents/assistant/run", {"message_content": "hi", "session_name": ""}, "session_name"),
    ("POST", "/agents/assistant/run", {"message_content": "hi", "session_origin": None}, "session_origin"),
    ("POST", "/agents", {"name": "x", "active": "maybe"}, "active"),
    ("POST", "/agents", {"name": "x", "config": "{}"}, "config"),
    ("POST", "/agents", {"name": "x", "persona_source": "twitter"}, "persona_source"),
    ("POST", "/agents", {"name": 5}, "name"),
    ("POST", "/agents", {"name": "x", "id": "not-hex"}, "id"),
    ("POST", "/agents", {"name": "x", "id": 10**30}, "id"),
    ("POST", "/agents", ["name"], ""),
    ("POST", "/agents", "assistant", ""),
    ("POST", "/agents", None, ""),
    ("PATCH", "/agents/assistant", {"active": None, "version": ""}, "active"),
    ("PATCH", "/agents/assistant", {"config": {"a": 1}, "created_at": "yesterday"}, "created_at"),
    ("PATCH", "/agents/assistant", [], ""),
    ("PUT", "/agents/assistant", {"active": [1]}, "active"),
    ("PUT", "/agents/assistant/profile-metadata", {"posts_count": 10**30}, "posts_count"),
    ("POST", "/agents/assistant/bios", {"persona_bio": 7}, "persona_bio"),
    ("POST", "/users", {"phone_number": "1" * 51}, "phone_number"),
    ("POST", "/users", {"email": ["a@b.c"]}, "email"),
    ("POST", "/sessions", {"user_id": 1, "agent_id": "assistant", "metadata": [1]}, "metadata"),
    ("POST", "/sessions", {"user_id": 1, "agent_id": 1}, "agent_id"),
    ("POST", "/memories", {"name": "m", "content": "x", "agent_id": "assistant", "read_mode": 1}, "read_mode"),
    ("POST", "/memories", {"name": "m", "content": "x", "agent_id": "assistant", "user_id": {}}, "user_id"),
    ("POST", "/memories/batch", [{"name": "m", "content": "x", "agent_id": "assistant", "access": "all"}], "0.access"),
]


async def test_wrong_types_huge_numbers_and_unknown_enums_are_400_naming_the_field(
    shared_api: httpx.AsyncClient,
) -> None:
    before = await snapshot(shared_api)
    for method, path, body, key in BAD_BODIES:
        response = await shared_api.request(method, f"{API}{path}", json=body)
        assert response.status_code == 400, (method, path, body, response.text)
        if key:
            bad_fields(response, key)
    assert await snapshot(shared_api) == before


BAD_QUERIES: list[tuple[str, dict[str, Any], str]] = [
    ("/agents", {"active_only": "perhaps"}, "active_only"),
    ("/agents", {"page": 10**30}, "page"),
    ("/agents", {"page_size": "ten"}, "page_size"),
    ("/agents", {"sort_desc": "sideways"}, "sort_desc"),
    ("/agents/assistant/bios", {"page": 0}, "page"),
    ("/users", {"page": "1.5"}, "page"),
    ("/users", {"page_size": 101}, "page_size"),
    ("/sessions", {"user_id": "1" * 40}, "user_id"),
    ("/sessions", {"page": -5}, "page"),
    ("/memories", {"read_mode": "tool"}, "read_mode"),
    ("/memories", {"session_id": "not-a-uuid"}, "session_id"),
    ("/memories", {"user_id": "someone"}, "user_id"),
    ("/sessions/x", {"hide_tools": "yes please"}, "hide_tools"),
]


async def test_a_bad_query_parameter_is_400_naming_it(shared_api: httpx.AsyncClient) -> None:
    for path, params, key in BAD_QUERIES:
        response = await shared_api.get(f"{API}{path}", params=params)
        assert response.status_code == 400, (path, params, response.text)
        bad_fields(response, key)


async def test_an_odd_but_harmless_path_is_404_never_5xx(shared_api: httpx.AsyncClient) -> None:
    paths = ["/agents/" + "a" * 5000, "/sessions/%F0%9F%98%80", "/memories/%25", "/users/0x10", "/agents/..%2F..%2Fetc"]
    for path in paths:
        response = await shared_api.get(f"{API}{path}")
        assert response.status_code == 404, (path, response.text)


NUL_BODIES: list[tuple[str, dict[str, Any]]] = [
    ("/agents/assistant/run", {"message_content": "a\u0000b"}),
    ("/agents/assistant/run", {"message_content": "hi", "context": {"k": "\u0000"}}),
    ("/users", {"user_data": {"k": "\u0000"}}),
    ("/memories", {"name": "m\u0000", "content": "x", "agent_id": "assistant"}),
]


async def test_a_nul_character_in_a_body_is_never_5xx(
    request: pytest.FixtureRequest, kind: str, api: httpx.AsyncClient
) -> None:
    await agent(api)
    for path, body in NUL_BODIES:
        response = await api.post(f"{API}{path}", json=body)
        assert response.status_code < 500, (path, body, response.text)


@pytest.mark.parametrize("path", ["/agents/%00", "/sessions/%00", "/users?email=a%00@b.c", "/memories?name=%00"])
async def test_a_nul_character_in_a_path_or_query_is_never_5xx(
    request: pytest.FixtureRequest, kind: str, shared_api: httpx.AsyncClient, path: str
) -> None:
    response = await shared_api.get(f"{API}{path}")
    assert response.status_code < 500, response.text


async def test_the_same_idempotency_key_and_body_answers_the_stored_response_and_writes_nothing(
    api: httpx.AsyncClient,
) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await api.post(f"{API}/agents", json={"name": "helper"}, headers=key)
    again = await api.post(f"{API}/agents", json={"name": "helper"}, headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    other = await api.post(f"{API}/agents", json={"name": "other"}, headers=key)
    error(other, 409)
