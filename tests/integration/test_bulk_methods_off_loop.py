"""The contract's bulk methods again, on SQLite's large writes: each bulk INSERT run as a large one
is, in a worker thread, as multi-row statements (of two rows here, so that a batch takes several
and one of them is shorter). The contract's calls are small: `SyncExecutor` would run them inline."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentkeep.adapters.storage.sql import large_writes
from agentkeep.testing.contract.test_bulk_methods import *  # noqa: F403 - the same tests, on this module's storage
from agentkeep.testing.storages import StorageFactory, opener


@pytest.fixture
def make_storage(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StorageFactory:
    monkeypatch.setattr(large_writes, "OFF_LOOP_ROWS", 1)
    monkeypatch.setattr(large_writes, "MAX_ROWS", 2)
    return opener("sqlite", request, tmp_path)
