"""Two storages on one database: what one committed, the other sees at once."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest

from agentkeep.domain.ports import Storage
from agentkeep.testing.builders import a_user, add
from agentkeep.testing.storages import StorageFactory, opener, parameters


@pytest.fixture(params=parameters(["sqlite", "postgres"]))
def make_storage(request: pytest.FixtureRequest, tmp_path: Path) -> StorageFactory:
    return opener(request.param, request, tmp_path)


async def test_a_unit_of_work_is_committed_when_it_returns(storage: Storage, make_storage: StorageFactory) -> None:
    # Seen at once by another storage on the same database: `run` returned after the commit, not
    # before (SQLite's group commit must not answer early).
    other = make_storage()
    assert not inspect.isawaitable(other)  # the built-in adapters open synchronously
    try:
        users = [a_user() for _ in range(10)]
        await asyncio.gather(*(add(storage, u) for u in users))
        for user in users:
            assert await other.run(lambda uow, user=user: uow.users.get(user.id)) == user
    finally:
        await other.close()
