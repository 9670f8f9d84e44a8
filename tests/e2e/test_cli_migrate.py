"""`agentkeep migrate-agents` through click's runner: the summary, a re-run, a dry run, a report
file, JSON output and errors. Killed and interrupted runs: `test_cli_backfill_crash.py`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from agentkeep.adapters.legacy.demo import write_profiles
from agentkeep.adapters.storage.sql.dialect import normalize_url
from tests.e2e.backfills import Rows, agentkeep, databases
from tests.e2e.backfills import dump as dump_tables


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def make_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Makes empty databases of the kind under test; each call returns a URL."""
    postgres_url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with databases(tmp_path, postgres_url) as make:
        yield make


def legacy_database(make_database: Callable[[], str], profiles: int) -> str:
    """A new database holding demo legacy tables (the same rows for the same seed)."""
    url = make_database()
    write_profiles(url, profiles, seed=5)
    return url


def dump(url: str) -> Rows:
    """Every agentkeep table, every column."""
    return dump_tables(url, {})


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
