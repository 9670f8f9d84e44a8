"""The storages a test suite runs on: agentkeep's own adapters by name, or anyone's by factory.

`--agentkeep-storage` (the pytest plugin's option, repeatable) names them: `memory`, `sqlite`,
`postgres` (on `AGENTKEEP_TEST_POSTGRES_URL`), or `module:callable`, a factory of one's own. A
factory takes no argument and returns a storage, or an awaitable of one, that is empty and ready
(a `create_schema()` it has is awaited first); the suite closes it after each test. Each call must
give a new, empty storage: the state machine calls it once per example.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from agentkeep.domain.ports import Storage

BUILT_IN = ("memory", "sqlite", "postgres")
POSTGRES_ENV = "AGENTKEEP_TEST_POSTGRES_URL"

StorageFactory = Callable[[], Storage | Awaitable[Storage]]


def load_factory(spec: str) -> StorageFactory:
    """The factory `module:callable` names; a `pytest.UsageError` saying what is wrong otherwise."""
    module_name, colon, attribute = spec.partition(":")
    if not colon or not module_name or not attribute:
        raise pytest.UsageError(f"--agentkeep-storage={spec}: give one of {', '.join(BUILT_IN)} or module:callable")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise pytest.UsageError(f"--agentkeep-storage={spec}: cannot import {module_name}: {e}") from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise pytest.UsageError(f"--agentkeep-storage={spec}: {module_name} has no callable {attribute}")
    return factory  # type: ignore[no-any-return]


async def ready(factory: StorageFactory) -> Storage:
    """A storage from `factory`, its schema created when it has one to create."""
    made = factory()
    storage = await made if inspect.isawaitable(made) else made
    if hasattr(storage, "create_schema"):
        await storage.create_schema()
    return storage


def postgres_url() -> str:
    """The PostgreSQL URL of the test run, or a skip (a failure in CI, `CI` set) without one."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        message = f"{POSTGRES_ENV} is not set"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must run the PostgreSQL tests")
        pytest.skip(message)
    return url


def plain_dsn(url: str) -> str:
    """`url` as asyncpg takes it (postgresql://, not the SQLAlchemy driver form)."""
    return url.replace("postgresql+asyncpg://", "postgresql://").replace("postgres://", "postgresql://")


def fresh_name() -> str:
    """A name for a new PostgreSQL schema or database of one test."""
    return f"t_{uuid.uuid4().hex[:12]}"


def opener(name: str, request: pytest.FixtureRequest, tmp_path: Path) -> StorageFactory:
    """How to open the storage `name` for one test: every call reaches the same database (a new
    `MemoryStorage` each time for `memory`, a user's factory as it is)."""
    from agentkeep.adapters.storage.memory import MemoryStorage
    from agentkeep.adapters.storage.sql.database import PostgresStorage, open_storage

    if name == "memory":
        return MemoryStorage
    if name == "sqlite":
        return lambda: open_storage(f"sqlite:///{tmp_path}/t.db")
    if name == "postgres":
        url = request.getfixturevalue("agentkeep_postgres_url")
        schema = request.getfixturevalue("agentkeep_pg_schema")
        return lambda: PostgresStorage(url, schema=schema)
    return load_factory(name)


def fresh(name: str, request: pytest.FixtureRequest, directory: Path) -> StorageFactory | None:
    """A factory of a new, empty storage per call (the state machine's), or None for `memory`
    (the state machine compares every other storage with it). On PostgreSQL, a schema per call,
    all dropped when the test ends."""
    from agentkeep.adapters.storage.sql.database import PostgresStorage, open_storage

    if name == "sqlite":
        counter = iter(range(1_000_000_000))
        return lambda: open_storage(f"sqlite:///{directory}/s{next(counter)}.db")
    if name == "memory":
        return None
    if name != "postgres":
        return load_factory(name)
    import asyncpg

    url: str = request.getfixturevalue("agentkeep_postgres_url")
    schemas: list[str] = []

    async def on_postgres(statements: list[str]) -> None:
        connection = await asyncpg.connect(plain_dsn(url))
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    async def make() -> Storage:
        schemas.append(fresh_name())
        await on_postgres([f'CREATE SCHEMA "{schemas[-1]}"'])
        return PostgresStorage(url, schema=schemas[-1])

    request.addfinalizer(lambda: asyncio.run(on_postgres([f'DROP SCHEMA "{s}" CASCADE' for s in schemas])))
    return make


def parameters(names: list[str]) -> list[Any]:
    """`names` as pytest parameters, PostgreSQL marked `postgres`."""
    return [
        pytest.param(n, marks=pytest.mark.postgres, id=n) if n == "postgres" else pytest.param(n, id=n) for n in names
    ]
