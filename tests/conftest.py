"""Fixtures every test layer shares: where PostgreSQL is, and a fresh schema on it per test.

Without `AGENTKEEP_TEST_POSTGRES_URL` the PostgreSQL tests skip (a newcomer's laptop); in CI
(`CI=true`) they fail instead, so a PostgreSQL test is never silently skipped there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

POSTGRES_ENV = "AGENTKEEP_TEST_POSTGRES_URL"


def _plain_dsn(url: str) -> str:
    # asyncpg wants postgresql://, not the SQLAlchemy driver form.
    return url.replace("postgresql+asyncpg://", "postgresql://").replace("postgres://", "postgresql://")


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL URL of the test run, or a skip (a failure in CI) when there is none."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        message = f"{POSTGRES_ENV} is not set"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must run the PostgreSQL tests")
        pytest.skip(message)
    return url


@pytest.fixture
async def pg_schema(postgres_url: str) -> AsyncIterator[str]:
    """A new, empty schema for one test, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(_plain_dsn(postgres_url))
    try:
        await connection.execute(f'CREATE SCHEMA "{name}"')
        yield name
    finally:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        await connection.close()


@pytest.fixture
async def pg_database(postgres_url: str) -> AsyncIterator[str]:
    """A new, empty database for one test (for what needs the whole database, like Alembic);
    its URL. Dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(_plain_dsn(postgres_url))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
        base, _, _ = postgres_url.rpartition("/")
        yield f"{base}/{name}"
    finally:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.close()
