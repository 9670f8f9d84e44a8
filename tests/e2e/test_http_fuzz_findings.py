"""What the fuzz (tests/e2e/test_http_fuzz.py) found, each kept as a plain test: an answer the
OpenAPI document did not list, or whose body the document described wrongly. Each response here is
checked against the document the server serves, the way the fuzz checks it (schemathesis's own
validation), and its status code must be one the operation lists.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.schemas import BaseSchema

from tests.e2e.conftest import Server, client
from tests.e2e.http_api import API, agent, run

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def served_document(api: httpx.AsyncClient) -> BaseSchema:
    response = await api.get("/schema/openapi.json")
    assert response.status_code == 200
    return schemathesis.openapi.from_dict(response.json())


def assert_documented(document: BaseSchema, method: str, path: str, response: httpx.Response) -> None:
    """`response` to `method path` (a path template of the document) is one the document lists, and
    its body is of the schema the document gives it."""
    listed = document.raw_schema["paths"][path][method.lower()]["responses"]
    assert str(response.status_code) in listed, (method, path, response.status_code, sorted(listed))
    document[path][method.upper()].validate_response(response)


async def test_errors_are_documented_with_their_bodies(server: Server, api: httpx.AsyncClient) -> None:
    # Found: every 404, 409, 401 and 413 was undocumented (Litestar lists only 2xx and 400), and
    # the 400's `extra` was documented as any object.
    document = await served_document(api)
    await agent(api, "assistant")
    answers = [
        ("GET", "/api/v1/agents/{agent_id_or_name}", await api.get(f"{API}/agents/nobody"), 404),
        ("GET", "/api/v1/memories", await api.get(f"{API}/memories", params={"agent_id": "nobody"}), 404),
        ("POST", "/api/v1/agents", await api.post(f"{API}/agents", json={"name": "assistant"}), 409),
        ("POST", "/api/v1/agents", await api.post(f"{API}/agents", json={"name": 5}), 400),
        ("POST", "/api/v1/agents", await api.post(f"{API}/agents", content=b"{"), 400),
        ("GET", "/api/v1/users", await api.get(f"{API}/users", params={"page_size": 101}), 400),
        ("POST", "/api/v1/memories", await api.post(f"{API}/memories", content=b"x" * (1024 * 1024 + 1)), 413),
    ]
    async with client(server.url) as anonymous:
        answers.append(("DELETE", "/api/v1/users/{user_id}", await anonymous.delete(f"{API}/users/1"), 401))
    for method, path, response, status in answers:
        assert response.status_code == status, response.text
        assert_documented(document, method, path, response)


async def test_a_put_that_creates_answers_a_documented_201(api: httpx.AsyncClient) -> None:
    # Found: both create-or-replace routes answered 201 when creating; the document listed 200 only.
    document = await served_document(api)
    created = await api.put(f"{API}/agents/helper", json={"display_name": "Helper"})
    replaced = await api.put(f"{API}/agents/helper", json={"display_name": "Helper 2"})
    assert (created.status_code, replaced.status_code) == (201, 200)
    for response in (created, replaced):
        assert_documented(document, "PUT", "/api/v1/agents/{agent_id_or_name}", response)
    profile = f"{API}/agents/helper/profile-metadata"
    for status in (201, 200):
        response = await api.put(profile, json={"posts_count": 3})
        assert response.status_code == status, response.text
        assert_documented(document, "PUT", "/api/v1/agents/{agent_id_or_name}/profile-metadata", response)


async def test_integers_in_json_fields_match_the_documented_schema(api: httpx.AsyncClient) -> None:
    # Found: `{"config": {"x": 0}}` came back as it went in, yet failed the document: Litestar
    # documents a JSON value as `oneOf` [..., integer, number, ...], and 0 is both.
    document = await served_document(api)
    numbers: dict[str, Any] = {"n": 0, "big": 2**53, "f": 1.5, "nested": [1, {"m": -2}]}
    created = await api.post(f"{API}/agents", json={"name": "counter", "config": numbers})
    assert_documented(document, "POST", "/api/v1/agents", created)
    user = await api.post(f"{API}/users", json={"user_data": numbers})
    assert_documented(document, "POST", "/api/v1/users", user)
    memory = await api.post(f"{API}/memories", json={"name": "n", "content": 42, "agent_id": "counter"})
    assert_documented(document, "POST", "/api/v1/memories", memory)
    session = {"user_id": user.json()["id"], "agent_id": "counter", "metadata": numbers}
    assert_documented(document, "POST", "/api/v1/sessions", await api.post(f"{API}/sessions", json=session))
    assert [response.status_code for response in (created, user, memory)] == [201, 201, 201]

    def one_of_integer_and_number(node: Any) -> bool:
        if isinstance(node, dict):
            branches = {b.get("type") for b in node.get("oneOf", []) if isinstance(b, dict)}
            return {"integer", "number"} <= branches or any(one_of_integer_and_number(v) for v in node.values())
        return isinstance(node, list) and any(one_of_integer_and_number(v) for v in node)

    assert not one_of_integer_and_number(document.raw_schema)


async def test_health_answers_are_documented(api: httpx.AsyncClient) -> None:
    # Found: the 503 of a database behind the code was undocumented, and the body was `{}`.
    document = await served_document(api)
    response = await api.get("/health")
    assert response.status_code == 503  # this test's database was made without Alembic: "behind"
    assert response.json()["status"] == "schema_behind"
    assert_documented(document, "GET", "/health", response)
    health = document.raw_schema["components"]["schemas"]["Health"]
    assert set(health["required"]) == {"status", "database", "schema_revision", "version"}


async def test_a_session_read_is_documented_with_its_messages(api: httpx.AsyncClient) -> None:
    # Found: the session read was documented as any object (its handler returns a dict).
    document = await served_document(api)
    await agent(api, "assistant", system_prompt="Be brief.")
    session_id = (await run(api, "assistant", "hi", session_name="talk")).json()["session_id"]
    path = "/api/v1/sessions/{session_id_or_name}"
    for params in ({}, {"hide_tools": True}, {"show_system_prompt": True, "sort_desc": True}):
        response = await api.get(f"{API}/sessions/{session_id}", params=params)
        assert len(response.json()["messages"]["items"]) == 2
        assert_documented(document, "GET", path, response)
    content = document.raw_schema["paths"][path]["get"]["responses"]["200"]["content"]
    assert content["application/json"]["schema"] == {"$ref": "#/components/schemas/SessionView"}
