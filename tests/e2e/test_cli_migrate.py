"""`agentkeep migrate-agents` as an operator runs it: a real process, killed with SIGKILL in the
middle of a run and run again, must end in the state of one clean run (SPEC §4 crash safety); and
the summary, dry run, report file, JSON output and errors through click's runner.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from adapters.legacy.demo import write_profiles
from adapters.storage.sql.dialect import normalize_url
from entrypoints.cli import cli

EXECUTABLE = Path(sys.executable).with_name("agentkeep")
TABLES = {
    "agent": "id",
    "agent_persona_bios": "id",
    "user_agent_profile_metadata": "id",
}
# Timestamps aside (SPEC §4), and the bios' insertion key, which a rolled-back batch may consume.
NOT_COMPARED = {"created_at", "updated_at", "seq"}


def agentkeep(database_url: str, *args: str) -> Result:
    runner = CliRunner(env={name: None for name in os.environ if name.startswith("AGENTKEEP_")})
    return runner.invoke(cli, ["--database-url", database_url, *args], prog_name="agentkeep")


def start(database_url: str, *args: str) -> subprocess.Popen[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AGENTKEEP_")}
    return subprocess.Popen(
        [str(EXECUTABLE), "--database-url", database_url, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def dump(url: str) -> dict[str, list[tuple[str, ...]]]:
    """Every row of agentkeep's agent tables, without the columns a re-run may change."""

    async def read() -> dict[str, list[tuple[str, ...]]]:
        engine = create_async_engine(normalize_url(url), poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                rows: dict[str, list[tuple[str, ...]]] = {}
                for table, key in TABLES.items():
                    result = await connection.execute(text(f"SELECT * FROM {table} ORDER BY {key}"))
                    keep = [i for i, name in enumerate(result.keys()) if name not in NOT_COMPARED]
                    rows[table] = [tuple(str(row[i]) for i in keep) for row in result]
                return rows
        finally:
            await engine.dispose()

    return asyncio.run(read())


def count_agents(url: str) -> int:
    """How many agents the target holds now (0 while its schema is being made)."""

    async def read() -> int:
        engine = create_async_engine(normalize_url(url), poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                return int((await connection.execute(text("SELECT count(*) FROM agent"))).scalar_one())
        except DBAPIError:
            return 0
        finally:
            await engine.dispose()

    return asyncio.run(read())


@pytest.fixture
def new_pg_database(postgres_url: str) -> Iterator[Callable[[], str]]:
    """Makes fresh PostgreSQL databases (dropped afterwards); each call returns a URL."""
    made: list[str] = []
    base, _, _ = postgres_url.rpartition("/")
    dsn = postgres_url.replace("postgresql+asyncpg://", "postgresql://")

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    def make() -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return f"{base}/{name}"

    yield make
    for name in made:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


PROFILES = 6000
BATCH = "100"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def make_database(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """Makes empty databases of the kind under test; each call returns a URL."""
    if request.param == "sqlite":
        names = iter(range(100))
        return lambda: f"sqlite:///{tmp_path}/db{next(names)}.db"
    make: Callable[[], str] = request.getfixturevalue("new_pg_database")
    return make


def legacy_database(make_database: Callable[[], str], profiles: int = PROFILES) -> str:
    """A new database holding demo legacy tables (the same rows for the same seed)."""
    url = make_database()
    write_profiles(url, profiles, seed=5)
    return url


def test_a_killed_run_resumes_to_the_state_of_one_clean_run(make_database: Callable[[], str]) -> None:
    # The same-database case: the legacy tables sit beside agentkeep's in each database.
    clean, killed = legacy_database(make_database), legacy_database(make_database)
    assert agentkeep(clean, "migrate-agents", "--batch-size", BATCH).exit_code == 0
    expected = dump(clean)
    assert len(expected["agent"]) > PROFILES * 0.9

    kill_points = sorted(random.Random(11).sample(range(300, int(PROFILES * 0.8)), 2))
    for kill_at in kill_points:
        process = start(killed, "migrate-agents", "--batch-size", BATCH)
        deadline = time.monotonic() + 120
        while process.poll() is None and count_agents(killed) < kill_at and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.communicate()
        assert process.returncode == -signal.SIGKILL, f"the run ended before the kill at {kill_at} agents"
        assert 0 < len(dump(killed)["agent"]) < len(expected["agent"])

    resumed = agentkeep(killed, "migrate-agents", "--batch-size", BATCH)
    assert resumed.exit_code == 0, resumed.output
    assert dump(killed) == expected


def test_the_summary_counts_then_a_rerun_changes_nothing(make_database: Callable[[], str], tmp_path: Path) -> None:
    url = legacy_database(make_database, profiles=300)
    first = agentkeep(url, "migrate-agents", "--batch-size", "50")
    assert first.exit_code == 0, first.output
    created = int(first.stdout.split()[1])
    assert first.stdout.startswith(f"Migrated {created} agents.\n")
    assert f"created {created}, updated 0, unchanged 0, skipped " in first.stdout
    assert "duplicate_did" in first.stdout  # the demo holds bad rows; each reason is listed
    before = dump(url)

    again = agentkeep(url, "migrate-agents", "--json")
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout)
    assert summary["summary"] == "Migrated 0 agents."
    assert summary["tables"]["agents"]["unchanged"] == created
    assert summary["tables"]["agents"]["created"] == summary["tables"]["agents"]["updated"] == 0
    assert dump(url) == before


def test_a_dry_run_writes_nothing_and_says_what_would_change(make_database: Callable[[], str]) -> None:
    url = legacy_database(make_database, profiles=200)
    assert agentkeep(url, "db", "upgrade").exit_code == 0  # a dry run writes nothing, the schema neither
    dry = agentkeep(url, "migrate-agents", "--dry-run")
    assert dry.exit_code == 0, dry.output
    would = int(dry.stdout.split()[2])
    assert would > 0
    assert dry.stdout.startswith(f"Would migrate {would} agents.\n")
    assert all(rows == [] for rows in dump(url).values())

    real = agentkeep(url, "migrate-agents")
    assert real.stdout.startswith(f"Migrated {would} agents.\n")
    assert real.stdout.splitlines()[1:] == dry.stdout.splitlines()[1:]


def test_a_separate_source_and_a_report_of_every_skipped_row(make_database: Callable[[], str], tmp_path: Path) -> None:
    source, target = legacy_database(make_database, profiles=400), make_database()
    report = tmp_path / "skipped.jsonl"
    result = agentkeep(target, "migrate-agents", "--source-url", source, "--report", str(report), "--json")
    assert result.exit_code == 0, result.output
    tables = json.loads(result.stdout)["tables"]["agents"]
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    skipped = [line for line in lines if not line["kept"]]
    assert len(skipped) == sum(tables["skipped"].values()) > 0
    assert {line["reason"] for line in skipped} == set(tables["skipped"])
    assert _tables_of(source) == {"bluesky_profiles", "agent_bios"}  # nothing written to the source


def test_a_missing_source_file_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    result = agentkeep(f"sqlite:///{tmp_path}/agentkeep.db", "migrate-agents", "--source-url", f"sqlite:///{missing}")
    assert result.exit_code == 3, result.output
    assert result.output.strip().splitlines()[-1].startswith("Error: ")
    assert not missing.exists()


def _tables_of(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_async_engine(normalize_url(url), poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(read())
