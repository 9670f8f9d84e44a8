"""Users imported from automagik-agents (SPEC §7) served by their old integer ids over HTTP: the
import writes into the server's own storage, then clients that still send integers are answered
with the mapped UUIDs."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from agentkeep.adapters.legacy.automagik import open_automagik_source
from agentkeep.application.backfill import Options
from agentkeep.application.import_automagik import ImportAutomagik
from agentkeep.domain.ids import legacy_agent_id, legacy_user_id
from agentkeep.entrypoints.container import Container
from tests.e2e.http_api import API, error, listed, run
from tests.support.automagik_source import create_source, sid

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def imported(container: Container, tmp_path: Path) -> None:
    """The standard automagik-agents data set (a SQLite file), imported into the server's storage."""
    url = f"sqlite:///{tmp_path / 'automagik.db'}"
    await create_source(url)
    source = await open_automagik_source(url, target_url=f"sqlite:///{tmp_path / 'agentkeep.db'}")
    try:
        await ImportAutomagik(container.storage())(source, Options())
    finally:
        await source.close()


@pytest.mark.usefixtures("imported")
async def test_get_user_by_its_integer_id_answers_the_mapped_user(api: httpx.AsyncClient) -> None:
    response = await api.get(f"{API}/users/2")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == str(legacy_user_id(2))
    assert (body["email"], body["phone_number"], body["user_data"]) == ("ada@example.com", "+44 20", {"lang": "en"})
    assert body["created_at"] == "2024-01-02T09:00:00.000000Z"  # naive in the source: UTC
    assert (await api.get(f"{API}/users/{legacy_user_id(2)}")).json() == body
    error(await api.get(f"{API}/users/99"), 404, "not_found")  # a user the source no longer had


@pytest.mark.usefixtures("imported")
async def test_lists_filter_by_an_integer_user_id(api: httpx.AsyncClient) -> None:
    sessions = (await listed(api, "/sessions", user_id=2))["items"]
    assert sid("chat") in [s["id"] for s in sessions]
    assert {s["user_id"] for s in sessions} == {str(legacy_user_id(2))}
    memories = await listed(api, "/memories", user_id=2)
    assert sorted(m["name"] for m in memories["items"]) == ["prefs", "tooling", "user_name"]


@pytest.mark.usefixtures("imported")
async def test_a_run_with_an_integer_user_id_joins_the_imported_user(api: httpx.AsyncClient) -> None:
    response = await run(api, "sofia-agent", "hello again", user_id=2)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["user_id"], body["agent_id"]) == (str(legacy_user_id(2)), legacy_agent_id(2))
    assert body["message"] == "hello again"
    assert await listed(api, "/users", email="ada@example.com") == await listed(api, "/users", email="ADA@example.com")
    assert (await listed(api, "/users", email="ada@example.com"))["total"] == 1  # no second Ada
