"""The `storage` fixture: a test that takes it runs once per adapter (memory, sqlite, postgres).

A conftest brings the fixtures in with `from tests.support.storages import make_storage, storage`;
`opener` (from the shipped `agentkeep.testing.storages`) opens one adapter by name, for a test that
picks its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agentkeep.domain.ports import Storage
from agentkeep.testing.storages import BUILT_IN, StorageFactory, opener, parameters, ready

__all__ = ["ADAPTERS", "make_storage", "opener", "storage"]

ADAPTERS = parameters(list(BUILT_IN))


@pytest.fixture(params=ADAPTERS)
def make_storage(request: pytest.FixtureRequest, tmp_path: Path) -> StorageFactory:
    """How to open the adapter under test. A sync fixture, so that it may ask for the
    PostgreSQL fixtures (which skip without a server) only when the adapter needs them."""
    return opener(request.param, request, tmp_path)


@pytest.fixture
async def storage(make_storage: StorageFactory) -> AsyncIterator[Storage]:
    """An empty storage with its schema, closed afterwards (the SQL engines hang at exit otherwise)."""
    opened = await ready(make_storage)
    try:
        yield opened
    finally:
        await opened.close()
