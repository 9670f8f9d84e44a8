"""The API key (SPEC §5): every /api/v1 route needs one of the configured keys, in `X-API-Key` or
`Authorization: Bearer`; `/health` and the OpenAPI document need none."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.e2e.conftest import API_KEYS, Server, client
from tests.e2e.http_api import API, error, unchanged

pytestmark = pytest.mark.asyncio(loop_scope="session")

WITHOUT_A_VALID_KEY = [
    {},
    {"X-API-Key": "wrong"},
    {"X-API-Key": ""},
    {"X-API-Key": "k1x"},  # longer than a key
    {"X-API-Key": "k"},  # a prefix of one
    {"X-API-Key": "K1"},
    {"Authorization": "Bearer wrong"},
    {"Authorization": "k1"},  # no scheme
    {"Authorization": "Basic k1"},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer k1 k2"},
]


async def api_routes(anonymous: httpx.AsyncClient) -> list[tuple[str, str]]:
    """Every /api/v1 route of the OpenAPI document, its path parameters filled in."""
    document = (await anonymous.get("/schema/openapi.json")).json()
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "assistant", path))
        for path, item in document["paths"].items()
        if path.startswith(API)
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]


async def test_without_a_valid_key_every_api_route_is_401_and_writes_nothing(
    shared_server: Server, shared_api: httpx.AsyncClient
) -> None:
    async with unchanged(shared_api), client(shared_server.url) as anonymous:
        routes = await api_routes(anonymous)
        assert len(routes) == 32
        for headers in WITHOUT_A_VALID_KEY:
            for method, path in routes if headers == {} else routes[::5]:
                response = await anonymous.request(method, path, json={"name": "x"}, headers=headers)
                assert response.status_code == 401, (headers, method, path, response.text)
                error(response, 401, "unauthorized")
                assert response.headers["x-request-id"]


async def test_the_key_is_checked_before_the_body_is_read(shared_server: Server) -> None:
    async with client(shared_server.url) as anonymous:  # over the 1 MiB limit, and malformed
        response = await anonymous.post(f"{API}/agents", content=b"{" * (2 * 1024 * 1024))
    error(response, 401, "unauthorized")


async def test_every_configured_key_is_accepted_in_either_header(server: Server) -> None:
    ways = [{"X-API-Key": key} for key in API_KEYS]  # both keys of a rotation
    ways += [{"Authorization": f"{scheme} {key}"} for key in API_KEYS for scheme in ("Bearer", "bearer")]
    for number, headers in enumerate(ways):
        async with client(server.url, **headers) as keyed:
            created = await keyed.post(f"{API}/agents", json={"name": f"helper-{number}"})
            assert created.status_code == 201, (headers, created.text)
            assert (await keyed.get(f"{API}/agents/helper-{number}")).status_code == 200


async def test_health_and_the_openapi_document_need_no_key(shared_server: Server) -> None:
    async with client(shared_server.url) as anonymous:
        # The shared database is made without Alembic: its health is 503 schema_behind, told to anyone.
        health = await anonymous.get("/health")
        assert (health.status_code, health.json()["status"]) == (503, "schema_behind")
        assert (await anonymous.get("/schema/openapi.json")).status_code == 200
