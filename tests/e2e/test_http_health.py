"""`GET /health` (SPEC §5): 200 on a database migrated to the code's head revision, 503 when the
schema is behind or the database unreachable; no key needed. These tests need a whole database of
their own (Alembic's version table), so they build their own container and server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import pytest

from agentkeep.adapters.storage.sql import migrator
from agentkeep.entrypoints.container import Container
from agentkeep.entrypoints.version import VERSION
from tests.e2e.conftest import client, closed_port, make_container

pytestmark = pytest.mark.asyncio(loop_scope="session")

Serve = Callable[[Container], contextlib.AbstractAsyncContextManager[str]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'agentkeep.db'}"
    return str(request.getfixturevalue("pg_database"))


async def health(serve: Serve, database_url: str) -> tuple[int, dict[str, object]]:
    async with serve(make_container(database_url)) as url, client(url) as anonymous:
        response = await anonymous.get("/health")
    assert response.headers["x-request-id"]
    return response.status_code, response.json()


async def test_health_is_200_on_a_migrated_database_without_a_key(serve: Serve, empty_database_url: str) -> None:
    await asyncio.to_thread(migrator.upgrade, empty_database_url)
    status, body = await health(serve, empty_database_url)
    assert status == 200, body
    assert body == {"status": "ok", "database": "ok", "schema_revision": migrator.head(), "version": VERSION}


async def test_health_is_503_schema_behind_on_a_database_without_the_schema(
    serve: Serve, empty_database_url: str
) -> None:
    status, body = await health(serve, empty_database_url)
    assert status == 503
    assert body == {"status": "schema_behind", "database": "ok", "schema_revision": None, "version": VERSION}


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(lambda tmp: f"postgresql://postgres@127.0.0.1:{closed_port()}/test", id="postgres-closed-port"),
        pytest.param(lambda tmp: f"sqlite:///{tmp / 'no' / 'such' / 'dir.db'}", id="sqlite-missing-directory"),
    ],
)
async def test_health_is_503_when_the_database_is_unreachable(
    serve: Serve, tmp_path: Path, url: Callable[[Path], str]
) -> None:
    status, body = await health(serve, url(tmp_path))
    assert status == 503
    assert body == {"status": "unavailable", "database": "unreachable", "schema_revision": None, "version": VERSION}
