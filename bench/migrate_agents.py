"""migrate-agents on SQLite against the raw driver, in one run (SPEC §8, issue 5).

Three ways to write the same rows into the same tables of a fresh, migrated SQLite file (WAL,
synchronous=NORMAL, the settings agentkeep uses):

* **agentkeep**: `agentkeep migrate-agents` from a demo legacy database (another file), in
  process, as the CLI runs it (reading the source, planning, writing batch by batch);
* **raw executemany**: the rows agentkeep wrote, read back, inserted with `sqlite3.executemany`
  in one transaction: the floor, which neither reads a source nor decides anything;
* **one commit per row**: the same rows with a commit after each insert (the seed's job).

Times are medians of `--runs` (per-row commits: one run). Peak RSS is measured in a child process
that runs the CLI command (`ru_maxrss`) for each size of `--rss`. Run:

    .venv/bin/python -m bench.migrate_agents [--profiles 100000] [--rss 100000,1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from adapters.legacy.demo import write_profiles
from adapters.storage.sql import migrator

TABLES = ("agent", "agent_persona_bios", "user_agent_profile_metadata")
RESULTS = Path(__file__).with_name("results")


def fresh_target(directory: Path, name: str) -> Path:
    path = directory / f"{name}.db"
    path.unlink(missing_ok=True)
    migrator.upgrade(f"sqlite:///{path}")
    return path


def connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON"):
        connection.execute(f"PRAGMA {pragma}")
    return connection


def run_agentkeep(source: Path, target: Path, batch_size: int) -> float:
    """Seconds for `agentkeep migrate-agents`, in this process (no interpreter start-up)."""
    from click.testing import CliRunner

    from entrypoints.cli import cli

    started = time.perf_counter()
    target_url, source_url = f"sqlite:///{target}", f"sqlite:///{source}"
    arguments = ["migrate-agents", "--source-url", source_url, "--batch-size", str(batch_size), "--json"]
    result = CliRunner().invoke(cli, ["--database-url", target_url, *arguments])
    elapsed = time.perf_counter() - started
    if result.exit_code != 0:
        raise RuntimeError(result.output)
    return elapsed


def read_rows(path: Path) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Every row of the agent tables, as stored."""
    connection = sqlite3.connect(path)
    try:
        rows = {}
        for table in TABLES:
            cursor = connection.execute(f"SELECT * FROM {table}")
            rows[table] = ([d[0] for d in cursor.description], cursor.fetchall())
        return rows
    finally:
        connection.close()


def insert_sql(table: str, columns: list[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def run_executemany(target: Path, rows: dict[str, tuple[list[str], list[tuple[Any, ...]]]]) -> float:
    connection = connect(target)
    try:
        started = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        for table in TABLES:
            columns, values = rows[table]
            connection.executemany(insert_sql(table, columns), values)
        connection.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        connection.close()


def run_commit_per_row(target: Path, rows: dict[str, tuple[list[str], list[tuple[Any, ...]]]]) -> float:
    connection = connect(target)
    try:
        started = time.perf_counter()
        for table in TABLES:  # agents first: the others point at them
            columns, values = rows[table]
            sql = insert_sql(table, columns)
            for value in values:
                connection.execute("BEGIN")
                connection.execute(sql, value)
                connection.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        connection.close()


def peak_rss(source: Path, target: Path, batch_size: int) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of `agentkeep migrate-agents` in a child process."""
    started = time.perf_counter()
    output = subprocess.run(
        [sys.executable, "-m", "bench.migrate_agents", "--child", str(source), str(target), str(batch_size)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return time.perf_counter() - started, float(output.strip().splitlines()[-1])


def child(source: str, target: str, batch_size: int) -> None:
    run_agentkeep(Path(source), Path(target), batch_size)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # KiB on Linux


def median(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--rss", default="100000,1000000", help="profile counts to measure peak RSS at ('' for none)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "legacy.db"
        started = time.perf_counter()
        write_profiles(f"sqlite:///{source}", args.profiles, seed=1)
        print(f"demo source: {args.profiles} profiles in {time.perf_counter() - started:.1f} s", file=sys.stderr)

        agentkeep = median(args.runs, lambda: run_agentkeep(source, fresh_target(work, "agentkeep"), args.batch_size))
        rows = read_rows(work / "agentkeep.db")
        raw = median(args.runs, lambda: run_executemany(fresh_target(work, "raw"), rows))
        per_row = run_commit_per_row(fresh_target(work, "per_row"), rows)

        rss: dict[str, dict[str, float]] = {}
        for size in [int(s) for s in args.rss.split(",") if s]:
            sized = work / f"legacy-{size}.db"
            if size == args.profiles:
                sized = source
            else:
                write_profiles(f"sqlite:///{sized}", size, seed=1)
            seconds, megabytes = peak_rss(sized, fresh_target(work, f"rss-{size}"), args.batch_size)
            rss[str(size)] = {"seconds": round(seconds, 2), "peak_rss_mb": round(megabytes, 1)}
            if sized != source:
                sized.unlink()

    written = {table: len(rows[table][1]) for table in TABLES}
    report = {
        "profiles": args.profiles,
        "rows_written": written,
        "agentkeep_s": round(agentkeep, 3),
        "raw_executemany_s": round(raw, 3),
        "commit_per_row_s": round(per_row, 3),
        "agentkeep_vs_raw": round(agentkeep / raw, 2),
        "per_row_vs_agentkeep": round(per_row / agentkeep, 2),
        "peak_rss": rss,
        "runs": args.runs,
        "batch_size": args.batch_size,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "migrate_agents.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"migrate-agents, {args.profiles} profiles on SQLite (median of {args.runs}; rows {written})")
    print(f"  agentkeep         {agentkeep:8.2f} s")
    print(f"  raw executemany   {raw:8.2f} s   agentkeep / raw = {agentkeep / raw:.2f} (bar <= 3)")
    print(f"  commit per row    {per_row:8.2f} s   per-row / agentkeep = {per_row / agentkeep:.2f} (bar >= 4)")
    for size, figures in rss.items():
        print(f"  {size:>9} profiles: {figures['seconds']:.1f} s, peak RSS {figures['peak_rss_mb']:.0f} MB (bar < 300)")


if __name__ == "__main__":
    main()
