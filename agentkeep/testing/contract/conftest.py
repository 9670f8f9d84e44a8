"""Each contract test runs once per storage `--agentkeep-storage` names (`storage_name`), on
`storage`: a new, empty one, closed afterwards. The tests are coroutines; they are marked for
pytest-asyncio here, so they run whatever `asyncio_mode` the project running them has."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from agentkeep.domain.ports import Storage
from agentkeep.testing.plugin import selected_storages
from agentkeep.testing.storages import StorageFactory, opener, parameters, ready


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "storage_name" in metafunc.fixturenames:
        metafunc.parametrize("storage_name", parameters(selected_storages(metafunc.config)))


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: Any) -> None:
    # A Hypothesis test is a sync wrapper around the coroutine function (`.hypothesis.inner_test`).
    test = getattr(getattr(obj, "hypothesis", None), "inner_test", obj)
    if inspect.iscoroutinefunction(test) and collector.funcnamefilter(name):  # type: ignore[attr-defined]
        pytest.mark.asyncio(obj)


@pytest.fixture
def make_storage(storage_name: str, request: pytest.FixtureRequest, tmp_path: Path) -> StorageFactory:
    """How to open the storage under test. A sync fixture, so that it may ask for the PostgreSQL
    fixtures (which skip without a server) only when the storage is PostgreSQL."""
    return opener(storage_name, request, tmp_path)


@pytest_asyncio.fixture
async def storage(make_storage: StorageFactory) -> AsyncIterator[Storage]:
    """An empty storage with its schema, closed afterwards (the SQL engines hang at exit otherwise)."""
    opened = await ready(make_storage)
    try:
        yield opened
    finally:
        await opened.close()
