"""agentkeep's pytest plugin, loaded by pytest wherever agentkeep is installed (`pytest11`).

Fixtures, each built on the one before; none touches the working directory or the environment:

* `agentkeep_storage`: a new, empty `MemoryStorage`;
* `agentkeep_container`: `Container.for_tests` on it, with the key `API_KEY`;
* `agentkeep_app`: `create_test_app` on that container (the whole HTTP API, in memory);
* `agentkeep_client`, `agentkeep_async_client`: Litestar test clients on the app, the key already
  in their headers;
* `make_user`, `make_agent`, `make_session`, `make_message`, `make_memory`: async factories that
  store a valid entity in `agentkeep_storage` (`await make_agent(name="ada")`) and return it.

Override `agentkeep_storage` in a conftest to run them all on another storage. The option
`--agentkeep-storage` (memory, sqlite, postgres or `module:callable`, repeatable) chooses what the
shipped contract suite runs on: `pytest --pyargs agentkeep.testing.contract --agentkeep-storage=my_pkg:make_storage`.
The async fixtures need pytest-asyncio (`pip install agentkeep[testing]`); without it they are left out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from agentkeep.domain.models import Agent, Memory, Message, Session, User
from agentkeep.domain.ports import Storage
from agentkeep.testing import builders
from agentkeep.testing.storages import BUILT_IN, load_factory, plain_dsn, postgres_url

if TYPE_CHECKING:
    from agentkeep.entrypoints.container import Container

# The adapters and the HTTP app are imported by the fixtures that use them: pytest loads this
# plugin in every project where agentkeep is installed, and most of its runs use none of them.

#: The API key the plugin's container accepts and its clients send.
API_KEY = "agentkeep-test-key"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("agentkeep").addoption(
        "--agentkeep-storage",
        action="append",
        metavar="NAME",
        help="a storage the contract suite runs on: memory, sqlite, postgres, or module:callable "
        "(a factory of a new, empty storage). Repeatable; default: memory, sqlite and postgres.",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: needs AGENTKEEP_TEST_POSTGRES_URL")
    for name in selected_storages(config):
        if name not in BUILT_IN:
            load_factory(name)  # a wrong name stops the run at once, with what is wrong


def selected_storages(config: pytest.Config) -> list[str]:
    """The storages `--agentkeep-storage` names, in order, or the three built-in adapters."""
    return list(dict.fromkeys(config.getoption("agentkeep_storage", None) or BUILT_IN))


@pytest.fixture
def agentkeep_storage() -> Storage:
    """A new, empty in-memory storage (nothing to close)."""
    from agentkeep.adapters.storage.memory import MemoryStorage

    return MemoryStorage()


@pytest.fixture
def agentkeep_container(agentkeep_storage: Storage) -> Container:
    """A container on `agentkeep_storage`, its settings the defaults and `API_KEY` only."""
    from agentkeep.entrypoints.container import Container

    return Container.for_tests(storage=agentkeep_storage, api_keys=[API_KEY])


@pytest.fixture
def agentkeep_app(agentkeep_container: Container) -> Any:
    """The whole HTTP API on `agentkeep_container` (see `create_test_app`)."""
    from agentkeep.entrypoints.http.app import create_test_app

    return create_test_app(agentkeep_container)


@pytest.fixture
def agentkeep_client(agentkeep_app: Any) -> Iterator[Any]:
    """A synchronous Litestar `TestClient` on the app, sending `API_KEY`."""
    from litestar.testing import TestClient

    with TestClient(agentkeep_app) as client:
        client.headers["X-API-Key"] = API_KEY
        yield client


@pytest.fixture(scope="session")
def agentkeep_postgres_url() -> str:
    """`AGENTKEEP_TEST_POSTGRES_URL`, or a skip (a failure when `CI` is set) without it."""
    return postgres_url()


@pytest.fixture
def make_user(agentkeep_storage: Storage) -> Callable[..., Awaitable[User]]:
    """`await make_user(**fields)`: a stored user."""

    async def make(**fields: Any) -> User:
        user = builders.a_user(**fields)
        await builders.add(agentkeep_storage, user)
        return user

    return make


@pytest.fixture
def make_agent(agentkeep_storage: Storage) -> Callable[..., Awaitable[Agent]]:
    """`await make_agent(**fields)`: a stored agent (a unique name unless one is given)."""

    async def make(**fields: Any) -> Agent:
        agent = builders.an_agent(**fields)
        await builders.add(agentkeep_storage, agent)
        return agent

    return make


@pytest.fixture
def make_session(
    make_user: Callable[..., Awaitable[User]], make_agent: Callable[..., Awaitable[Agent]], agentkeep_storage: Storage
) -> Callable[..., Awaitable[Session]]:
    """`await make_session(user=None, agent=None, **fields)`: a stored session (of a new user and
    agent when none are given)."""

    async def make(user: User | None = None, agent: Agent | None = None, **fields: Any) -> Session:
        session = builders.a_session(user or await make_user(), agent or await make_agent(), **fields)
        await builders.add(agentkeep_storage, session)
        return session

    return make


@pytest.fixture
def make_message(
    make_session: Callable[..., Awaitable[Session]], agentkeep_storage: Storage
) -> Callable[..., Awaitable[Message]]:
    """`await make_message(session=None, **fields)`: a stored message (a user's "hello" in a new
    session unless told otherwise)."""

    async def make(session: Session | None = None, **fields: Any) -> Message:
        message = builders.a_message(session or await make_session(), **fields)
        await builders.add(agentkeep_storage, message)
        return message

    return make


@pytest.fixture
def make_memory(
    make_agent: Callable[..., Awaitable[Agent]], agentkeep_storage: Storage
) -> Callable[..., Awaitable[Memory]]:
    """`await make_memory(agent=None, user=None, **fields)`: a stored memory (of a new agent when
    none is given; bound to `user` when one is)."""

    async def make(agent: Agent | None = None, user: User | None = None, **fields: Any) -> Memory:
        memory = builders.a_memory(agent or await make_agent(), user, **fields)
        await builders.add(agentkeep_storage, memory)
        return memory

    return make


try:
    import pytest_asyncio
except ImportError:  # pragma: no cover - agentkeep installed without its testing extra
    pass
else:

    @pytest_asyncio.fixture
    async def agentkeep_async_client(agentkeep_app: Any) -> AsyncIterator[Any]:
        """An asynchronous Litestar `AsyncTestClient` on the app, sending `API_KEY`, on the test's
        event loop (so it shares it with the `make_*` factories)."""
        from litestar.testing import AsyncTestClient

        async with AsyncTestClient(agentkeep_app) as client:
            client.headers["X-API-Key"] = API_KEY
            yield client

    @pytest_asyncio.fixture
    async def agentkeep_pg_schema(agentkeep_postgres_url: str) -> AsyncIterator[str]:
        """A new, empty PostgreSQL schema for one test, dropped afterwards."""
        import asyncpg

        from agentkeep.testing.storages import fresh_name

        name = fresh_name()
        connection = await asyncpg.connect(plain_dsn(agentkeep_postgres_url))
        try:
            await connection.execute(f'CREATE SCHEMA "{name}"')
            yield name
        finally:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
            await connection.close()
