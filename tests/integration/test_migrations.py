"""The Alembic history against real databases, a new SQLite file and a new PostgreSQL database:
the head revision builds exactly the schema of `tables.py`, goes down to nothing and back up with
data in every table, and runs safely from an event loop and from several processes at once."""

from __future__ import annotations

import asyncio
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from subprocess import DEVNULL, PIPE
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, insert, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from agentkeep.adapters.storage.sql import migrator, tables
from agentkeep.adapters.storage.sql.dialect import normalize_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database: a SQLite file, or a PostgreSQL database of its own."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'agentkeep.db'}"
    return str(request.getfixturevalue("pg_database"))


@pytest.fixture
async def connect(database_url: str) -> AsyncIterator[Callable[[], Any]]:
    """`async with connect() as connection:` a connection to the test database (committed at exit)."""
    engine = create_async_engine(normalize_url(database_url), poolclass=NullPool)
    yield engine.begin
    await engine.dispose()


async def off_loop(function: Callable[..., Any], *args: Any) -> Any:
    # Given a URL, the migrator runs an event loop of its own: from a test's loop, call it on a thread.
    return await asyncio.to_thread(function, *args)


async def upgrade(url: str, revision: str = "head") -> None:
    await off_loop(migrator.upgrade, url, revision)


def schema_objects(connection: Connection) -> set[str]:
    """Every table, index, sequence and constraint of the database but SQLite's own."""
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    else:
        rows = connection.exec_driver_sql(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' UNION SELECT conname FROM pg_constraint c "
            "JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public'"
        )
    return {row[0] for row in rows}


def one_row_per_table() -> dict[str, dict[str, Any]]:
    now = datetime(2024, 5, 17, 12, 30, 15, 123456, tzinfo=UTC)
    stamps = {"created_at": now, "updated_at": now}
    user_id, agent_id, session_id, run_id = uuid.uuid4(), uuid.uuid4().hex, uuid.uuid4(), uuid.uuid4()
    rows = {
        "users": {"id": user_id, "email": "ada@example.com", "user_data": {"plan": "pro"}, **stamps},
        "agent": {
            "id": agent_id,
            "name": "assistant",
            "persona_source": "user_generated",
            "model": "echo",
            "config": {},
            "active": True,
            **stamps,
        },
        "agent_persona_bios": {
            "id": uuid.uuid4(),
            "agent_id": agent_id,
            "persona_bio": "Helps.",
            "persona_bio_source": "user_provided",
            **stamps,
        },
        "user_agent_profile_metadata": {
            "id": uuid.uuid4(),
            "agent_id": agent_id,
            "followers_count": 1,
            "follows_count": 2,
            "posts_count": 3,
            **stamps,
        },
        "sessions": {
            "id": session_id,
            "user_id": user_id,
            "agent_id": agent_id,
            "name": "first",
            "platform": "api",
            "metadata": {},
            **stamps,
        },
        "system_prompts": {"id": "0" * 64, "text": "You help.", "created_at": now},
        "messages": {
            "id": uuid.uuid4(),
            "session_id": session_id,
            "user_id": user_id,
            "agent_id": agent_id,
            "role": "assistant",
            "text_content": "hello",
            "message_type": "text",
            "tool_calls": [],
            "tool_outputs": [],
            "context": {},
            "system_prompt_id": "0" * 64,
            "created_at": now,
        },
        "memories": {
            "id": uuid.uuid4(),
            "name": "tone",
            "content": "warm",
            "agent_id": agent_id,
            "session_id": session_id,
            "read_mode": "system_prompt",
            "access": "write",
            "metadata": {},
            **stamps,
        },
        "idempotency_keys": {
            "route": "POST /api/v1/agents",
            "key": "retry-1",
            "fingerprint": "0" * 64,
            "status": 201,
            "body": "{}",
            "expires_at": now,
        },
        "runs": {
            "id": run_id,
            "session_id": session_id,
            "agent_id": agent_id,
            "user_id": user_id,
            "status": "completed",
            "pending_tool_calls": [],
            "usage": {"model": "echo", "total_tokens": 3},
            "steps": 1,
            "multitask_strategy": "enqueue",
            "started_at": now,
            "finished_at": now,
            **stamps,
        },
        "run_events": {"run_id": run_id, "seq": 1, "event": "run.created", "data": {"run_id": "x"}, "created_at": now},
    }
    assert set(rows) == set(tables.metadata.tables), "a table was added: give it a row here"
    return rows


async def insert_rows(connection: AsyncConnection, rows: dict[str, dict[str, Any]]) -> None:
    for table in tables.metadata.sorted_tables:  # parents first
        await connection.execute(insert(table).values(rows[table.name]))


async def count_rows(connection: AsyncConnection) -> dict[str, int]:
    counts = {}
    for table in tables.metadata.sorted_tables:
        counts[table.name] = len((await connection.execute(select(table))).all())
    return counts


async def test_head_builds_the_schema_of_the_models(database_url: str) -> None:
    assert await off_loop(migrator.current, database_url) is None

    await upgrade(database_url)

    assert await off_loop(migrator.current, database_url) == migrator.head()
    await off_loop(migrator.check, database_url)  # raises on any difference


async def test_check_sees_a_schema_that_drifted_from_the_models(database_url: str, connect: Any) -> None:
    await upgrade(database_url)
    async with connect() as connection:
        await connection.execute(text("DROP INDEX ix_messages_user_id"))

    with pytest.raises(migrator.SchemaMismatch) as raised:
        await off_loop(migrator.check, database_url)

    assert "ix_messages_user_id" in str(raised.value)


async def test_check_refuses_a_database_behind_head(database_url: str) -> None:
    with pytest.raises(migrator.SchemaMismatch, match="not up to date"):
        await off_loop(migrator.check, database_url)


async def test_head_to_base_to_head_with_a_row_in_every_table(database_url: str, connect: Any) -> None:
    await upgrade(database_url)
    async with connect() as connection:
        await insert_rows(connection, one_row_per_table())
        assert set((await count_rows(connection)).values()) == {1}

    await off_loop(migrator.downgrade, database_url, "base")

    async with connect() as connection:
        # Alembic keeps its (now empty) version table; nothing of ours remains.
        assert {*await connection.run_sync(schema_objects)} <= {"alembic_version", "alembic_version_pkc"}
        assert (await connection.execute(text("SELECT count(*) FROM alembic_version"))).scalar_one() == 0
    assert await off_loop(migrator.current, database_url) is None

    await upgrade(database_url)

    assert await off_loop(migrator.current, database_url) == migrator.head()
    await off_loop(migrator.check, database_url)
    async with connect() as connection:
        assert set((await count_rows(connection)).values()) == {0}
        await insert_rows(connection, one_row_per_table())  # the schema takes the same rows again


async def test_the_migrated_schema_is_the_one_create_all_makes(
    database_url: str, connect: Any, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # Beyond what `check` compares: CHECK constraints, the partial index's predicate, ON DELETE
    # rules, identity columns.
    await upgrade(database_url)
    if database_url.startswith("sqlite"):
        reference_url = f"sqlite:///{tmp_path / 'create_all.db'}"
    else:
        reference_url = str(request.getfixturevalue("pg_database"))
    reference = create_async_engine(normalize_url(reference_url), poolclass=NullPool)
    try:
        async with reference.begin() as connection:
            await connection.run_sync(tables.metadata.create_all)
            expected = await connection.run_sync(describe_schema)
    finally:
        await reference.dispose()

    async with connect() as connection:
        migrated = await connection.run_sync(describe_schema)

    assert migrated == expected


def describe_schema(connection: Connection) -> dict[str, Any]:
    inspector = inspect(connection)
    described: dict[str, Any] = {}
    for name in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
        described[name] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"), c.get("identity"))
                for c in inspector.get_columns(name)
            ],
            "primary key": inspector.get_pk_constraint(name),
            "foreign keys": sorted(inspector.get_foreign_keys(name), key=lambda fk: str(fk["name"])),
            "unique": sorted(inspector.get_unique_constraints(name), key=lambda u: str(u["name"])),
            "indexes": sorted(
                (
                    {**i, "dialect_options": {k: str(v) for k, v in i.get("dialect_options", {}).items()}}
                    for i in inspector.get_indexes(name)
                ),
                key=lambda i: str(i["name"]),
            ),
            "checks": sorted(inspector.get_check_constraints(name), key=lambda c: str(c["name"])),
        }
    return described


async def test_migrations_run_on_a_connection_of_a_running_loop(database_url: str, connect: Any) -> None:
    async with connect() as connection:
        await connection.run_sync(migrator.upgrade, "head")
        assert await connection.run_sync(migrator.current) == migrator.head()

    assert await off_loop(migrator.current, database_url) == migrator.head()
    await off_loop(migrator.check, database_url)


async def test_concurrent_upgrades_from_several_processes_take_turns(database_url: str) -> None:
    # Replicas that start together all run `upgrade`: one migrates, the others find it done.
    # (Processes, not threads: Alembic keeps its running environment in module globals.)
    script = "import sys; from adapters.storage.sql import migrator; migrator.upgrade(sys.argv[1])"
    processes = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", script, database_url, stdin=DEVNULL, stderr=PIPE)
        for _ in range(3)
    ]
    outcomes = [await process.communicate() for process in processes]

    assert [p.returncode for p in processes] == [0] * 3, [err.decode() for _, err in outcomes]
    assert await off_loop(migrator.current, database_url) == migrator.head()
    await off_loop(migrator.check, database_url)


def with_extra_revision(tmp_path: Path, url: str, name: str, upgrade_body: str) -> Config:
    """An Alembic config for a copy of our migrations plus one revision on top of head."""
    scripts = tmp_path / "migrations"
    shutil.copytree(migrator.migrations_directory(), scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / f"{name}.py").write_text(
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        f"revision = {name!r}\ndown_revision = {migrator.head()!r}\nbranch_labels = depends_on = None\n\n\n"
        f"def upgrade():\n{upgrade_body}\n\n"
        "def downgrade():\n    pass\n"
    )
    config = Config()
    config.set_main_option("script_location", str(scripts))
    config.set_main_option("path_separator", "os")
    config.set_main_option("sqlalchemy.url", url)
    return config


async def test_a_failing_revision_leaves_the_schema_as_it_was(database_url: str, connect: Any, tmp_path: Path) -> None:
    await upgrade(database_url)
    config = with_extra_revision(
        tmp_path,
        database_url,
        "0099_fails_halfway",
        "    op.create_table('half_done', sa.Column('id', sa.Integer, primary_key=True))\n"
        "    op.add_column('agent', sa.Column('half_done', sa.Integer))\n"
        "    op.execute('SELECT * FROM no_such_table')\n",
    )

    with pytest.raises(DBAPIError, match="no_such_table"):  # the database refused the statement
        await off_loop(command.upgrade, config, "head")

    assert await off_loop(migrator.current, database_url) == migrator.head()
    await off_loop(migrator.check, database_url)  # no half_done table, no half_done column
    async with connect() as connection:
        assert "half_done" not in await connection.run_sync(schema_objects)


async def test_a_batch_migration_on_sqlite_keeps_the_children_of_a_recreated_table(tmp_path: Path) -> None:
    # A batch migration copies a table, drops it and renames the copy: with foreign keys on, the
    # drop would cascade to every child row. The environment turns them off for the run.
    url = f"sqlite:///{tmp_path / 'agentkeep.db'}"
    await upgrade(url)
    engine = create_async_engine(normalize_url(url), poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await insert_rows(connection, one_row_per_table())
        config = with_extra_revision(
            tmp_path,
            url,
            "0099_recreate_agent",
            "    with op.batch_alter_table('agent', recreate='always'):\n        pass\n",
        )

        await off_loop(command.upgrade, config, "head")

        async with engine.begin() as connection:
            assert await count_rows(connection) == dict.fromkeys(tables.metadata.tables, 1)
            foreign_keys_on = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar_one()
            assert foreign_keys_on == 0  # the pragma is per connection: the run's did not leak
    finally:
        await engine.dispose()
