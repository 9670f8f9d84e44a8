"""Fresh databases for one measurement: a SQLite file, or a new PostgreSQL database dropped after.

`prepare` gives a database agentkeep's schema through its own Alembic history (as `agentkeep db
upgrade` does) and the echo agent `assistant` that `agentkeep serve` creates on an empty database,
so agentkeep and a floor app start from the same tables, indexes and rows.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from agentkeep.adapters.storage.sql import migrator
from agentkeep.adapters.storage.sql.database import open_storage
from agentkeep.application.agents import AgentService
from agentkeep.application.inputs import NewAgent

AGENT = "assistant"


def sqlite_url(directory: Path, name: str) -> str:
    return f"sqlite:///{directory / name}.db"


def asyncpg_dsn(url: str) -> str:
    """A PostgreSQL URL in the form asyncpg takes (no `+driver`)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """The URL of a new, empty database on the server of `server_url`, dropped on exit."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(server_url, f'DROP DATABASE "{name}" WITH (FORCE)'))


async def _admin(server_url: str, statement: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def prepare(url: str) -> None:
    """agentkeep's schema at head and the `assistant` echo agent, as `agentkeep serve` leaves them."""
    migrator.upgrade(url)
    asyncio.run(_add_agent(url))


async def _add_agent(url: str) -> None:
    storage = open_storage(url)
    try:
        await AgentService(storage).create(NewAgent(name=AGENT, display_name="Assistant", model="echo"))
    finally:
        await storage.close()
