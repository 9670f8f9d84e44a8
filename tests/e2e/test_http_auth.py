"""The API key (SPEC §5): every /api/v1 route needs one of the configured keys, in `X-API-Key` or
`Authorization: Bearer`; `/health` and the OpenAPI document need none."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import API_KEYS, Server, client
from tests.e2e.http_api import API, error

pytestmark = pytest.mark.asyncio(loop_scope="session")

ROUTES = [
    ("GET", "/agents"),
    ("POST", "/agents"),
    ("POST", "/agents/assistant/run"),
    ("PUT", "/agents/assistant"),
    ("DELETE", "/agents/assistant"),
    ("GET", "/users/1"),
    ("PATCH", "/sessions/x"),
    ("POST", "/memories/batch"),
]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": "wrong"},
        {"X-API-Key": ""},
        {"X-API-Key": "k1x"},
        {"X-API-Key": "k"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "k1"},
        {"Authorization": "Basic k1"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer k1 k2"},
    ],
    ids=["none", "wrong", "empty", "longer", "prefix", "wrong-bearer", "no-scheme", "basic", "no-token", "two-tokens"],
)
async def test_without_a_valid_key_every_api_route_is_401(server: Server, headers: dict[str, str]) -> None:
    async with client(server.url, **headers) as anonymous:
        for method, path in ROUTES:
            response = await anonymous.request(method, f"{API}{path}", json={"name": "x"})
            error(response, 401, "unauthorized")
            assert response.headers["x-request-id"]


@pytest.mark.parametrize("key", API_KEYS)
@pytest.mark.parametrize("header", ["X-API-Key", "Authorization"])
async def test_every_configured_key_is_accepted_in_either_header(server: Server, key: str, header: str) -> None:
    value = key if header == "X-API-Key" else f"Bearer {key}"
    async with client(server.url, **{header: value}) as keyed:
        created = await keyed.post(f"{API}/agents", json={"name": "helper"})
        assert created.status_code == 201, created.text
        assert (await keyed.get(f"{API}/agents/helper")).status_code == 200


async def test_the_bearer_scheme_is_case_insensitive(server: Server) -> None:
    async with client(server.url, Authorization=f"bearer {API_KEYS[1]}") as keyed:
        assert (await keyed.get(f"{API}/agents")).status_code == 200


async def test_a_rejected_request_writes_nothing(server: Server, api: httpx.AsyncClient) -> None:
    async with client(server.url, **{"X-API-Key": "wrong"}) as anonymous:
        assert (await anonymous.post(f"{API}/agents", json={"name": "helper"})).status_code == 401
    assert (await api.get(f"{API}/agents")).json()["total"] == 0


async def test_health_and_the_openapi_document_need_no_key(server: Server) -> None:
    async with client(server.url) as anonymous:
        assert (await anonymous.get("/health")).status_code in (200, 503)  # its status: test_http_health
        assert (await anonymous.get("/schema/openapi.json")).status_code == 200
