"""Fixtures every test layer shares: where PostgreSQL is, and a fresh schema on it per test (the
plugin's `agentkeep_postgres_url` and `agentkeep_pg_schema` under the names the tests use).

Without `AGENTKEEP_TEST_POSTGRES_URL` the PostgreSQL tests skip (a newcomer's laptop); in CI
(`CI=true`) they fail instead, so a PostgreSQL test is never silently skipped there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from agentkeep.testing.storages import fresh_name, plain_dsn


@pytest.fixture(scope="session")
def postgres_url(agentkeep_postgres_url: str) -> str:
    """The PostgreSQL URL of the test run, or a skip (a failure in CI) when there is none."""
    return agentkeep_postgres_url


@pytest.fixture
def pg_schema(agentkeep_pg_schema: str) -> str:
    """A new, empty schema for one test, dropped afterwards (the plugin's)."""
    return agentkeep_pg_schema


@pytest.fixture
async def pg_database(postgres_url: str) -> AsyncIterator[str]:
    """A new, empty database for one test (for what needs the whole database, like Alembic);
    its URL. Dropped afterwards."""
    name = fresh_name()
    connection = await asyncpg.connect(plain_dsn(postgres_url))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
        base, _, _ = postgres_url.rpartition("/")
        yield f"{base}/{name}"
    finally:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()
