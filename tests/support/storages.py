"""The `storage` fixture: a test that takes it runs once per adapter (memory, sqlite, postgres).

A conftest brings the fixtures in with `from tests.support.storages import make_storage, storage`;
`opener` opens one adapter by name, for a test that picks its own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from agentkeep.adapters.storage.memory import MemoryStorage
from agentkeep.adapters.storage.sql.database import PostgresStorage, open_storage
from agentkeep.domain.ports import Storage

ADAPTERS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=ADAPTERS)
def make_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Any]:
    """How to open the adapter under test. A sync fixture, so that it may ask for the
    PostgreSQL fixtures (which skip without a server) only when the adapter needs them."""
    return opener(request.param, request, tmp_path)


def opener(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Any]:
    """How to open the adapter `kind` (`memory`, `sqlite`, `postgres`)."""
    if kind == "memory":
        return MemoryStorage
    if kind == "sqlite":
        return lambda: open_storage(f"sqlite:///{tmp_path}/t.db")
    url = request.getfixturevalue("postgres_url")
    schema = request.getfixturevalue("pg_schema")
    return lambda: PostgresStorage(url, schema=schema)


@pytest.fixture
async def storage(make_storage: Callable[[], Any]) -> AsyncIterator[Storage]:
    """An empty storage with its schema, closed afterwards (the SQL engines hang at exit otherwise)."""
    opened = make_storage()
    try:
        if hasattr(opened, "create_schema"):
            await opened.create_schema()
        yield opened
    finally:
        await opened.close()
