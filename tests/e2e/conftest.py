"""The HTTP API as a client sees it: a real uvicorn server on a free loopback port, in front of a
new SQLite file or a new PostgreSQL schema for each test (the `sqlite` / `postgres` parameters).

* `api`: an `httpx.AsyncClient` on that server, sending a valid API key;
* `container`: the server's container, for a test that must reach the storage behind it;
* `openai`: a real OpenAI-compatible server on loopback, scripted by the test (the app under test
  is then configured to call it);
* `shared_api`: a client on a database that lives for the whole run, holding one agent, user,
  session and memory (`shared` gives their ids), for the many cases of bad input that must all be
  rejected without changing anything.

Starting and stopping uvicorn costs ~0.3 s (its shutdown alone sleeps 0.2 s): over a few hundred
tests, minutes. So one server per kind of database serves the whole run, and each test gives it a
storage of its own by overriding `container.storage` (which reaches every use case at once). A test
that needs other settings says so, `@pytest.mark.settings(max_body=2048)`, and gets a server of its
own. The tests run on the session's event loop, the one the shared servers run on
(`pytestmark = pytest.mark.asyncio(loop_scope="session")` in each module).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
import uvicorn

from agentkeep.adapters.storage.sql.database import PostgresStorage, SqliteStorage
from agentkeep.entrypoints.container import Container
from agentkeep.entrypoints.http.app import create_app
from agentkeep.entrypoints.settings import Settings
from tests.support.openai_server import FakeOpenAIServer

API_KEYS = ("k1", "k2")
"""Two keys, as during a rotation: both are accepted."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "settings(**fields): Settings fields for a server of this test's own")


@dataclass(frozen=True)
class Database:
    """Where a test's server keeps its rows: a URL, and on PostgreSQL the schema of this test."""

    kind: str
    url: str
    schema: str | None = None


@dataclass(frozen=True)
class Server:
    container: Container
    url: str


@dataclass(frozen=True)
class Seed:
    """What the shared database holds: one agent, user, session and memory (their ids)."""

    agent: str
    user: str
    session: str
    memory: str


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_container(database_url: str, **settings: Any) -> Container:
    container = Container()
    container.settings.override(Settings(database_url=database_url, api_keys=",".join(API_KEYS), **settings))
    return container


class _Uvicorn(uvicorn.Server):
    """uvicorn, minus its SIGINT/SIGTERM handlers: Ctrl-C must stop pytest, not the server."""

    def capture_signals(self) -> contextlib.nullcontext[None]:  # type: ignore[override]
        return contextlib.nullcontext()


@contextlib.asynccontextmanager
async def serving(container: Container) -> AsyncIterator[str]:
    """`create_app(container)` served by uvicorn on a free loopback port; its base URL. Stopping
    it runs the app's shutdown, which closes the container's storage."""
    server = _Uvicorn(uvicorn.Config(create_app(container), host="127.0.0.1", port=0, log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # raises why it could not start
                raise RuntimeError("the server stopped before it started")
            await asyncio.sleep(0.005)
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def client(base_url: str, **headers: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as http:
        yield http


@pytest.fixture
def serve() -> Callable[[Container], contextlib.AbstractAsyncContextManager[str]]:
    """`async with serve(container) as base_url`: a server of the test's own container."""
    return serving


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def kind(request: pytest.FixtureRequest) -> str:
    """The kind of database the test runs on."""
    return str(request.param)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new database for a command run as a process: a SQLite file, or a PostgreSQL database of
    this test's own (not a schema: a process reads its URL, which names no schema)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'agentkeep.db'}"
    return str(request.getfixturevalue("pg_database"))


@pytest.fixture
def database(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> Database:
    """A new, empty database for this test: a SQLite file, or a PostgreSQL schema."""
    if kind == "sqlite":
        return Database("sqlite", f"sqlite:///{tmp_path / 'agentkeep.db'}")
    return Database("postgres", request.getfixturevalue("postgres_url"), request.getfixturevalue("pg_schema"))


def storage_of(database: Database) -> SqliteStorage | PostgresStorage:
    if database.schema is not None:
        return PostgresStorage(database.url, schema=database.schema)
    return SqliteStorage(database.url)


@contextlib.asynccontextmanager
async def running(database: Database, **settings: Any) -> AsyncIterator[Server]:
    """A server of its own on `database`, its tables created."""
    container = make_container(database.url, **settings)
    storage = storage_of(database)
    container.storage.override(storage)
    try:
        await storage.create_schema()
        async with serving(container) as url:
            yield Server(container, url)
    finally:
        container.storage.reset_last_overriding()
        await storage.close()


async def seed(http: httpx.AsyncClient) -> Seed:
    async def create(path: str, body: dict[str, Any]) -> str:
        response = await http.post(f"/api/v1{path}", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    agent = await create("/agents", {"name": "assistant"})
    user = await create("/users", {"id": 1, "email": "seed@example.com"})
    session = await create("/sessions", {"user_id": user, "agent_id": agent, "name": "seeded"})
    memory = await create("/memories", {"name": "seeded", "content": "x", "agent_id": agent})
    return Seed(agent, user, session, memory)


@dataclass(frozen=True)
class SharedServer(Server):
    seed: Seed


@contextlib.asynccontextmanager
async def shared_server_on(database: Database) -> AsyncIterator[SharedServer]:
    async with running(database) as server, client(server.url, **{"X-API-Key": API_KEYS[0]}) as http:
        yield SharedServer(server.container, server.url, await seed(http))


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SharedServer]:
    url = f"sqlite:///{tmp_path_factory.mktemp('shared') / 'agentkeep.db'}"
    async with shared_server_on(Database("sqlite", url)) as server:
        yield server


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def postgres_server(postgres_url: str) -> AsyncIterator[SharedServer]:
    schema = f"e2e_{uuid.uuid4().hex[:12]}"
    dsn = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        async with shared_server_on(Database("postgres", postgres_url, schema)) as server:
            yield server
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


@pytest.fixture
def shared_server(request: pytest.FixtureRequest, kind: str) -> SharedServer:
    """The server of the whole run for this kind of database. Its own database (see `Seed`) is
    shared by every test that asks for `shared_api`."""
    server: SharedServer = request.getfixturevalue(f"{kind}_server")
    return server


@pytest.fixture
def shared(shared_server: SharedServer) -> Seed:
    """The ids of what the shared database holds."""
    return shared_server.seed


@pytest.fixture
def openai() -> Iterator[FakeOpenAIServer]:
    """A real OpenAI-compatible server on a loopback port, replying as each test scripts it; a test
    that asks for it gets a server of its own whose `AGENTKEEP_OPENAI_BASE_URL` points at it."""
    fake = FakeOpenAIServer()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def own_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The settings this test asks for (a `settings` marker, the `openai` fixture): none means that
    the shared server will do."""
    marker = request.node.get_closest_marker("settings")
    settings = dict(marker.kwargs) if marker else {}
    if "openai" in request.fixturenames:
        settings["openai_base_url"] = request.getfixturevalue("openai").base_url
    return settings


@pytest_asyncio.fixture(loop_scope="session")
async def server(
    database: Database, shared_server: SharedServer, own_settings: dict[str, Any]
) -> AsyncIterator[Server]:
    """A running server on this test's new, empty database (its tables created): the shared server
    with its storage overridden for the test or, for other settings, a server of its own."""
    if own_settings:
        async with running(database, **own_settings) as own:
            yield own
        return
    container, storage = shared_server.container, storage_of(database)
    container.storage.override(storage)
    try:
        await storage.create_schema()
        yield shared_server
    finally:
        container.storage.reset_last_overriding()
        await storage.close()


@pytest.fixture
def container(server: Server) -> Container:
    """The container behind this test's server, its storage overridden with the test's database."""
    return server.container


@pytest_asyncio.fixture(loop_scope="session")
async def api(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the real server on this test's new database, sending a valid API key."""
    async with client(server.url, **{"X-API-Key": API_KEYS[0]}) as http:
        yield http


@pytest_asyncio.fixture(loop_scope="session")
async def shared_api(shared_server: SharedServer) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the shared server on the run-long database of its kind (see `Seed`; the agent is
    named `assistant`, the session and the memory `seeded`): for tests that only send requests that
    must be rejected, and check that nothing changed. (A fresh database per case costs ~0.2 s on
    PostgreSQL; there are a few hundred such cases.)"""
    async with client(shared_server.url, **{"X-API-Key": API_KEYS[0]}) as http:
        yield http
