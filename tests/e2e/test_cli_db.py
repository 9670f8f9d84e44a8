"""`agentkeep --version` and `agentkeep db ...` as a user runs them: through click's runner on a new
SQLite file and a new PostgreSQL database, and once as a real process."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from agentkeep.adapters.storage.sql import migrator, tables
from agentkeep.adapters.storage.sql.dialect import normalize_url
from agentkeep.entrypoints.cli import cli

OUR_TABLES = set(tables.metadata.tables)


def agentkeep(*args: str, env: dict[str, str] | None = None) -> Result:
    # No AGENTKEEP_* from the developer's shell: each test says what it sets.
    clean = {name: None for name in os.environ if name.startswith("AGENTKEEP_")}
    return CliRunner(env={**clean, **(env or {})}).invoke(cli, list(args), prog_name="agentkeep")


def table_names(url: str) -> set[str]:
    """Our tables in the database (Alembic's version table aside)."""

    async def names() -> set[str]:
        engine = create_async_engine(normalize_url(url), poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(names()) - {"alembic_version"}


def assert_one_error_line(result: Result, *fragments: str) -> None:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_version_is_the_installed_package_version() -> None:
    result = agentkeep("--version")

    assert result.exit_code == 0
    assert result.output == f"agentkeep {version('agentkeep')}\n"


def test_upgrade_current_downgrade(database_url: str) -> None:
    assert agentkeep("--database-url", database_url, "db", "current").output == "none\n"

    upgraded = agentkeep("--database-url", database_url, "db", "upgrade")

    assert upgraded.exit_code == 0, upgraded.output
    assert f"to {migrator.head()}" in upgraded.output
    assert table_names(database_url) == OUR_TABLES
    current = agentkeep("--database-url", database_url, "db", "current")
    assert (current.exit_code, current.output) == (0, f"{migrator.head()}\n")

    again = agentkeep("--database-url", database_url, "db", "upgrade", "head")
    assert again.exit_code == 0
    assert "nothing to do" in again.output

    downgraded = agentkeep("--database-url", database_url, "db", "downgrade", "base")

    assert downgraded.exit_code == 0, downgraded.output
    assert table_names(database_url) == set()
    assert agentkeep("--database-url", database_url, "db", "current").output == "none\n"


def test_the_database_url_comes_from_the_environment(tmp_path: Path) -> None:
    database = tmp_path / "from-env.db"

    result = agentkeep("db", "upgrade", env={"AGENTKEEP_DATABASE_URL": f"sqlite:///{database}"})

    assert result.exit_code == 0, result.output
    assert table_names(f"sqlite:///{database}") == OUR_TABLES


def test_current_does_not_create_a_missing_sqlite_file(tmp_path: Path) -> None:
    database = tmp_path / "typo.db"

    result = agentkeep("--database-url", f"sqlite:///{database}", "db", "current")

    assert (result.exit_code, result.output) == (0, "none\n")
    assert not database.exists()


def test_an_unreachable_database_is_one_line_without_the_password() -> None:
    result = agentkeep("--database-url", "postgresql://ada:s3cret-pw@127.0.0.1:1/agentkeep", "db", "upgrade")

    assert result.exit_code == 1
    assert_one_error_line(result, "127.0.0.1:1", "ada:***@")
    assert "s3cret-pw" not in result.output


def test_a_sqlite_file_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    result = agentkeep("--database-url", f"sqlite:///{tmp_path}/no/such/dir/agentkeep.db", "db", "upgrade")

    assert result.exit_code == 1
    assert_one_error_line(result, "unable to open database file")


def test_a_url_that_is_no_database_url_is_invalid_input() -> None:
    result = agentkeep("--database-url", "mysql://root:pw@localhost/x", "db", "upgrade")

    assert result.exit_code == 2
    assert_one_error_line(result, "unsupported database")


def test_an_unknown_revision_is_invalid_input(tmp_path: Path) -> None:
    result = agentkeep("--database-url", f"sqlite:///{tmp_path / 'agentkeep.db'}", "db", "upgrade", "no_such_rev")

    assert result.exit_code == 2
    assert_one_error_line(result, "no_such_rev")


def test_a_bad_setting_is_invalid_input_naming_it(tmp_path: Path) -> None:
    result = agentkeep("db", "current", env={"AGENTKEEP_MODEL_TIMEOUT": "soon"})

    assert result.exit_code == 2
    assert_one_error_line(result, "model_timeout")


def test_db_upgrade_as_a_real_process(tmp_path: Path) -> None:
    database = tmp_path / "agentkeep.db"
    executable = Path(sys.executable).with_name("agentkeep")
    env = {name: value for name, value in os.environ.items() if not name.startswith("AGENTKEEP_")}

    process = subprocess.run(
        [str(executable), "db", "upgrade"],
        env={**env, "AGENTKEEP_DATABASE_URL": f"sqlite:///{database}"},
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert process.returncode == 0, process.stderr
    assert f"to {migrator.head()}" in process.stdout
    with sqlite3.connect(database) as connection:
        names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert names >= OUR_TABLES


# A real process upgrading the schema that SIGKILLs itself just before its `KILL_AT`-th statement
# (counted from 1; one past the last: just before the commit), so the kill lands inside the
# upgrade's one transaction at a known point. With KILL_AT=0 it upgrades and prints its count.
_KILLED_UPGRADE = """
import os, signal, sys
from sqlalchemy import event
from sqlalchemy.engine import Engine
from agentkeep.adapters.storage.sql import migrator

kill_at = int(os.environ["KILL_AT"])
statements = 0

def kill_here() -> None:
    os.kill(os.getpid(), signal.SIGKILL)

@event.listens_for(Engine, "before_cursor_execute")
def before_statement(*_):
    global statements
    statements += 1
    if statements == kill_at:
        kill_here()

@event.listens_for(Engine, "commit")
def before_commit(*_):
    if statements + 1 == kill_at:
        kill_here()

migrator.upgrade(sys.argv[1])
print(statements)
"""
KILL_POINTS = 10


def killed_upgrade(url: str, kill_at: int) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AGENTKEEP_")}
    return subprocess.run(
        [sys.executable, "-c", _KILLED_UPGRADE, url],
        env={**env, "KILL_AT": str(kill_at)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_upgrade_killed_at_any_point_leaves_nothing_and_runs_again_whole(database_url: str) -> None:
    # Every run starts from base with Alembic's version table there (it stays after a downgrade),
    # so each one runs the same statements.
    migrator.upgrade(database_url)
    migrator.downgrade(database_url, "base")
    counted = killed_upgrade(database_url, 0)
    assert counted.returncode == 0, counted.stderr
    statements = int(counted.stdout.strip().splitlines()[-1])
    migrator.downgrade(database_url, "base")
    # Points spread over the whole transaction, its first statement to its commit.
    points = sorted({1 + round(i * statements / (KILL_POINTS - 1)) for i in range(KILL_POINTS)})

    for point in points:
        killed = killed_upgrade(database_url, point)
        assert killed.returncode == -signal.SIGKILL, (point, killed.stderr)
        # One transaction: a kill anywhere in it leaves the database as it was.
        assert (migrator.current(database_url), table_names(database_url)) == (None, set()), point

        upgraded = agentkeep("--database-url", database_url, "db", "upgrade")

        assert upgraded.exit_code == 0, (point, upgraded.output)
        assert (migrator.current(database_url), table_names(database_url)) == (migrator.head(), OUR_TABLES)
        migrator.downgrade(database_url, "base")
