"""Running `migrate-agents` and `import-automagik` as an operator does, for the crash and Ctrl-C
tests: a real `agentkeep` process (to kill or interrupt), or click's runner in this process (for
the clean and final runs, which need no process of their own); fresh databases of either kind;
the row count a running backfill has committed; and every agentkeep table, as rows to compare.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from click.testing import CliRunner, Result
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from agentkeep.adapters.storage.sql.dialect import normalize_url
from agentkeep.adapters.storage.sql.tables import metadata
from agentkeep.entrypoints.cli import cli

EXECUTABLE = Path(sys.executable).with_name("agentkeep")

#: Tables whose insertion key (`seq`) orders rows within a group: what is compared is each row's
#: place in its group, not the key itself. A batch rolled back on PostgreSQL has used up identity
#: values that its re-run does not get again, so the keys may differ; the order must not.
ORDERED_BY_SEQ = {"messages": "session_id", "agent_persona_bios": "agent_id"}

Rows = dict[str, list[tuple[str, ...]]]


def agentkeep(database_url: str, *args: str) -> Result:
    """`agentkeep --database-url URL ARGS...` through click's runner, with no AGENTKEEP_* setting
    of the environment."""
    runner = CliRunner(env={name: None for name in os.environ if name.startswith("AGENTKEEP_")})
    return runner.invoke(cli, ["--database-url", database_url, *args], prog_name="agentkeep")


@dataclass(frozen=True)
class Ended:
    """How a process ended: its exit status and output."""

    returncode: int
    stdout: str
    stderr: str


class Process:
    """`agentkeep --database-url URL ARGS...` as a process of its own; its stdout captured, its
    stderr written to a file, so that a test can watch it while the process runs."""

    def __init__(self, database_url: str, *args: str, stderr: Path) -> None:
        env = {name: value for name, value in os.environ.items() if not name.startswith("AGENTKEEP_")}
        self._stderr_path = stderr
        with stderr.open("w") as sink:
            self.popen = subprocess.Popen(
                [str(EXECUTABLE), "--database-url", database_url, *args],
                env=env,
                stdout=subprocess.PIPE,
                stderr=sink,
                text=True,
            )

    def running(self) -> bool:
        return self.popen.poll() is None

    def stderr(self) -> str:
        """What it has written to stderr so far."""
        return self._stderr_path.read_text()

    def signal(self, sig: int) -> None:
        if self.running():
            self.popen.send_signal(sig)

    def finish(self, sig: int | None = None) -> Ended:
        """Send `sig` (if any) and wait for the process to end."""
        if sig is not None:
            self.signal(sig)
        stdout, _ = self.popen.communicate(timeout=120)
        return Ended(self.popen.returncode, stdout, self.stderr())


class Databases:
    """Makes new, empty databases and drops them at `close()`: SQLite files in `folder`, or,
    given `postgres_url`, PostgreSQL databases on its server."""

    def __init__(self, folder: Path, postgres_url: str | None = None) -> None:
        self._folder = folder
        self._postgres_url = postgres_url
        self._made: list[str] = []

    def __call__(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        if self._postgres_url is None:
            return f"sqlite:///{self._folder / name}.db"
        asyncio.run(self._admin(f'CREATE DATABASE "{name}"'))
        self._made.append(name)
        base, _, _ = self._postgres_url.rpartition("/")
        return f"{base}/{name}"

    def close(self) -> None:
        for name in self._made:
            asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    async def _admin(self, sql: str) -> None:
        assert self._postgres_url is not None
        connection = await asyncpg.connect(_dsn(self._postgres_url))
        try:
            await connection.execute(sql)
        finally:
            await connection.close()


@contextmanager
def databases(folder: Path, postgres_url: str | None = None) -> Iterator[Databases]:
    made = Databases(folder, postgres_url)
    try:
        yield made
    finally:
        made.close()


class RowCounter:
    """How many rows `tables` of a target hold now, as another process commits them: 0 until
    its schema is made. Cheap enough to ask every few milliseconds (one connection, kept on
    PostgreSQL; a new one each time on SQLite, whose file may not exist yet)."""

    def __init__(self, url: str, tables: Collection[str]) -> None:
        self._url = normalize_url(url)
        self._sql = "SELECT " + " + ".join(f"(SELECT count(*) FROM {t})" for t in tables)
        self._runner: asyncio.Runner | None = None
        self._connection: asyncpg.Connection | None = None

    def __call__(self) -> int:
        if self._url.get_backend_name() == "sqlite":
            return self._sqlite()
        return self._postgres()

    def _sqlite(self) -> int:
        path = self._url.database
        try:
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
                return int(connection.execute(self._sql).fetchone()[0])
        except sqlite3.OperationalError:  # no file, or no tables, yet
            return 0

    def _postgres(self) -> int:
        if self._runner is None:
            self._runner = asyncio.Runner()
            url = self._url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._connection = self._runner.run(asyncpg.connect(url))
        assert self._connection is not None
        try:
            return int(self._runner.run(self._connection.fetchval(self._sql)))
        except asyncpg.UndefinedTableError:
            return 0

    def close(self) -> None:
        if self._runner is not None:
            assert self._connection is not None
            self._runner.run(self._connection.close())
            self._runner.close()


@contextmanager
def row_counter(url: str, tables: Collection[str]) -> Iterator[RowCounter]:
    counter = RowCounter(url, tables)
    try:
        yield counter
    finally:
        counter.close()


def wait_for(condition: Callable[[], bool], process: Process, seconds: float = 120) -> bool:
    """Poll `condition` until it holds (True), or the process ends or time runs out (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        if not process.running():
            return False
        time.sleep(0.005)
    return False


def dump(url: str, not_compared: Mapping[str, Callable[[dict[str, Any]], Collection[str]]]) -> Rows:
    """Every row of every agentkeep table, as text, in a stable order; `not_compared[table](row)`
    names the columns of a row to leave out (timestamps a re-run sets anew). An ordered table
    (`ORDERED_BY_SEQ`) gives each row its place in its group instead of its `seq`."""

    async def read() -> Rows:
        engine = create_async_engine(normalize_url(url), poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                rows: Rows = {}
                for table in metadata.sorted_tables:
                    rows[table.name] = await _rows(connection, table.name, not_compared.get(table.name))
                return rows
        finally:
            await engine.dispose()

    return asyncio.run(read())


async def _rows(
    connection: Any, table: str, leave_out: Callable[[dict[str, Any]], Collection[str]] | None
) -> list[tuple[str, ...]]:
    group = ORDERED_BY_SEQ.get(table)
    order = f" ORDER BY {group}, seq" if group else ""
    result = await connection.execute(text(f"SELECT * FROM {table}{order}"))
    places: dict[object, int] = {}
    rows: list[tuple[str, ...]] = []
    for record in result.mappings():
        row = dict(record)
        if group:
            row["seq"] = places[row[group]] = places.get(row[group], -1) + 1
        dropped = set(leave_out(row)) if leave_out else set()
        rows.append(tuple(f"{name}={value}" for name, value in sorted(row.items()) if name not in dropped))
    return sorted(rows)


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://").replace("postgres://", "postgresql://")
