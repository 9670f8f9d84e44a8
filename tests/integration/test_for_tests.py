"""What agentkeep gives a test: overrides that reach every use case whenever it was resolved,
`Container.for_tests`, and `create_test_app`, which leaves the process and the storage as it found
them (SPEC §1; issue 16)."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
from pathlib import Path

import pytest
from litestar.testing import TestClient

from agentkeep import MemoryStorage, create_test_app
from agentkeep.adapters.storage.sql.database import SqliteStorage
from agentkeep.application.inputs import NewAgent, NewUser
from agentkeep.application.run_agent import RunRequest
from agentkeep.domain.errors import NotFound
from agentkeep.entrypoints.container import Container
from agentkeep.entrypoints.settings import Settings


@pytest.fixture
def sqlite_container(tmp_path: Path) -> Container:
    """A container on a SQLite file with its tables, as `serve` builds it."""
    container = Container()
    container.settings.override(Settings(database_url=f"sqlite:///{tmp_path / 'agentkeep.db'}"))
    return container


@pytest.mark.parametrize("resolved", ["before the override", "inside it"])
async def test_an_override_reaches_every_use_case_and_ends_with_its_block(
    sqlite_container: Container, resolved: str
) -> None:
    sqlite = sqlite_container.storage()
    assert isinstance(sqlite, SqliteStorage)
    await sqlite.create_schema()
    memory = MemoryStorage()
    if resolved == "before the override":
        agents, run_agent = sqlite_container.agents(), sqlite_container.run_agent()
    with sqlite_container.storage.override(memory):
        if resolved == "inside it":
            agents, run_agent = sqlite_container.agents(), sqlite_container.run_agent()
        agent = await agents.create(NewAgent(name="ada"))
        result = await run_agent("ada", RunRequest(message_content="hello"))
        kept = await memory.run(lambda uow: uow.messages.last(result.session_id, 10))
        assert [m.text_content for m in kept] == ["hello", result.message]
    # Once the block ends, the same use cases are back on SQLite, where none of it was written.
    with pytest.raises(NotFound):
        await agents.get(agent.id)
    with pytest.raises(NotFound):
        await run_agent("ada", RunRequest(message_content="hello"))
    await sqlite.close()


async def test_a_container_for_tests_reads_no_environment_and_writes_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AGENTKEEP_DATABASE_URL", f"sqlite:///{tmp_path / 'from-the-environment.db'}")
    monkeypatch.setenv("AGENTKEEP_API_KEY", "from-the-environment")
    container = Container.for_tests(api_keys=["k"])
    assert [key.get_secret_value() for key in container.settings().api_keys] == ["k"]
    assert isinstance(container.storage(), MemoryStorage)
    user = await container.users().create(NewUser(email="ada@example.com"))
    assert await container.users().get(user.id) == user
    await container.run_agent()(
        (await container.agents().create(NewAgent(name="ada"))).name, RunRequest(message_content="hi")
    )
    assert os.listdir(tmp_path) == []


def test_the_test_app_leaves_the_collector_the_logging_and_the_storage_as_they_were() -> None:
    storage = MemoryStorage()
    container = Container.for_tests(storage=storage, api_keys=["k"])
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    # A server app run earlier in this process may have set its own threshold: start from another.
    before = gc.get_threshold()
    gc.set_threshold(701, 11, 12)
    frozen = gc.get_freeze_count()  # (a frozen object freed meanwhile makes it smaller, never larger)
    try:
        with TestClient(create_test_app(container)) as client:
            response = client.post("/api/v1/users", json={"email": "ada@example.com"}, headers={"X-API-Key": "k"})
            assert response.status_code == 201, response.text
        assert gc.get_threshold() == (701, 11, 12)
        assert gc.get_freeze_count() <= frozen
    finally:
        gc.set_threshold(*before)
    assert (root.handlers, root.level) == (handlers, level)
    # The storage outlives the client: what the request stored can be read after it.
    user = asyncio.run(storage.run(lambda uow: uow.users.get_by_email("ada@example.com")))
    assert user is not None
    assert str(user.id) == response.json()["id"]


def test_test_apps_leave_no_thread_behind() -> None:
    # Litestar's logging set-up starts a queue listener thread per app: a test app has none.
    threads = threading.active_count()
    for _ in range(3):
        with TestClient(create_test_app(Container.for_tests(api_keys=["k"]))) as client:
            assert client.get("/health").status_code == 200
    assert threading.active_count() == threads


def test_the_test_app_can_be_started_again_on_the_same_container() -> None:
    container = Container.for_tests(api_keys=["k"])
    app = create_test_app(container)
    for expected in (1, 2):
        with TestClient(app) as client:
            client.headers["X-API-Key"] = "k"
            assert client.post("/api/v1/agents", json={"name": f"agent-{expected}"}).status_code == 201
            assert client.get("/api/v1/agents").json()["total"] == expected
