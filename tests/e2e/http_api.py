"""Small helpers of the HTTP tests: create things, count rows through the list endpoints, and check
the error shape of SPEC §5 (`{status_code, detail, extra}`)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from typing import Any

import httpx

API = "/api/v1"


async def created(api: httpx.AsyncClient, path: str, body: Any) -> dict[str, Any]:
    """POST `body` to `path` (under /api/v1), which must answer 201; the created object."""
    response = await api.post(f"{API}{path}", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def agent(api: httpx.AsyncClient, name: str = "assistant", **fields: Any) -> dict[str, Any]:
    return await created(api, "/agents", {"name": name, **fields})


async def user(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    return await created(api, "/users", fields)


async def session(api: httpx.AsyncClient, user_id: str | int, agent_id: str, **fields: Any) -> dict[str, Any]:
    return await created(api, "/sessions", {"user_id": user_id, "agent_id": agent_id, **fields})


async def run(
    api: httpx.AsyncClient,
    agent_ref: str,
    message: str = "hello there",
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> httpx.Response:
    body = {"message_content": message, **fields}
    return await api.post(f"{API}/agents/{agent_ref}/run", json=body, headers=headers)


async def listed(api: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    """GET a list (under /api/v1), which must answer 200 with the list envelope; the envelope."""
    response = await api.get(f"{API}{path}", params=params)
    assert response.status_code == 200, response.text
    envelope: dict[str, Any] = response.json()
    assert set(envelope) == {"items", "total", "page", "page_size", "total_pages"}
    assert envelope["total_pages"] == math.ceil(envelope["total"] / envelope["page_size"])
    return envelope


async def total(api: httpx.AsyncClient, path: str, **params: Any) -> int:
    return int((await listed(api, path, **params))["total"])


async def snapshot(api: httpx.AsyncClient) -> dict[str, Any]:
    """Every agent (with its bios and profile), user, session and memory (up to 100 of each), and
    each session's message count: compare one taken before a request with one taken after to see
    that it changed nothing."""
    state: dict[str, Any] = {
        name: (await listed(api, f"/{name}", page_size=100))["items"]
        for name in ("agents", "users", "sessions", "memories")
    }
    state["messages"] = {s["id"]: (await read_session(api, s["id"]))["messages"]["total"] for s in state["sessions"]}
    for found in state["agents"]:
        state[f"bios of {found['id']}"] = (await listed(api, f"/agents/{found['id']}/bios"))["items"]
        profile = await api.get(f"{API}/agents/{found['id']}/profile-metadata")
        state[f"profile of {found['id']}"] = profile.json() if profile.status_code == 200 else None
    return state


@contextlib.asynccontextmanager
async def unchanged(api: httpx.AsyncClient) -> AsyncIterator[None]:
    """Assert that what the block sends changes nothing (see `snapshot`)."""
    before = await snapshot(api)
    yield
    assert await snapshot(api) == before


async def read_session(api: httpx.AsyncClient, ref: str, **params: Any) -> dict[str, Any]:
    response = await api.get(f"{API}/sessions/{ref}", params=params)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def error(response: httpx.Response, status: int, code: str | None = None, key: str | None = None) -> dict[str, Any]:
    """Assert a non-400 error: its status, Litestar's shape, and `extra: {code, key}`."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"status_code", "detail", "extra"}
    assert body["status_code"] == status
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert isinstance(body["extra"], dict)
    # A failed run also names itself (`run_id`).
    assert set(body["extra"]) in ({"code", "key"}, {"code", "key", "run_id"})
    if code is not None:
        assert body["extra"]["code"] == code, body
    if key is not None:
        assert body["extra"]["key"] == key, body
    return body


def bad_fields(response: httpx.Response, *keys: str) -> list[dict[str, str]]:
    """Assert a 400 whose `extra` is a list of `{key, message}` naming at least each of `keys`."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"status_code", "detail", "extra"}
    assert body["status_code"] == 400
    extra: list[dict[str, str]] = body["extra"]
    assert isinstance(extra, list)
    assert extra
    for item in extra:
        assert set(item) >= {"key", "message"}, item
        assert isinstance(item["message"], str)
    named = {item["key"] for item in extra}
    for key in keys:
        assert key in named, body
    return extra
