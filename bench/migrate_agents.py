"""migrate-agents on SQLite against the raw driver, in one run (SPEC §8, issue 6).

The same rows go into the same tables (same indexes: fresh files migrated by Alembic) with the
same connection settings (agentkeep's own `PRAGMAS`: WAL, synchronous=NORMAL, foreign keys on, a
32 MiB page cache) three ways:

* **agentkeep**: `agentkeep migrate-agents` from a demo legacy database (another file), in
  process, as the CLI runs it (opening and preparing the source, reading it, planning, writing,
  a commit per batch of `--batch-size` profiles);
* **raw executemany**: the rows agentkeep wrote, read back as stored, inserted with
  `sqlite3.executemany` in one transaction, table by table: the floor of the bar, which neither
  reads a source nor decides anything;
* **one commit per row**, the seed's way (shared/seeds: its job wrote each profile through three
  repositories, each write its own transaction, and looked up the agent's latest bio before
  writing one): per profile, the agent, then that lookup, then its bio and its counts, each
  insert committed on its own.

For context, not a bar: the raw executemany again with a commit per batch of `--batch-size`
profiles, the way SPEC §4 has any migration commit (`raw_per_batch_s`). Times are medians of
`--runs` (the per-row and per-batch floors: one run). Peak RSS is that of a child process that
runs the CLI command (its own high-water mark: see `peak_rss_mb`), for each size of `--rss`. Run:

    .venv/bin/python -m bench.migrate_agents [--profiles 100000] [--rss 100000,1000000] [--runs 3]
        [--batch-size N] [--out FILE]

or call `measure(...)`, which returns the figures written to the JSON file.
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
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentkeep.adapters.legacy.demo import write_profiles
from agentkeep.adapters.storage.sql import migrator
from agentkeep.adapters.storage.sql.sqlite import PRAGMAS
from agentkeep.entrypoints.cli.migrate import MIGRATE_BATCH

AGENTS, BIOS, COUNTS = "agent", "agent_persona_bios", "user_agent_profile_metadata"
TABLES = (AGENTS, BIOS, COUNTS)  # agents first: the others point at them
RESULTS = Path(__file__).with_name("results")
OUT = RESULTS / "migrate_agents.json"

Rows = dict[str, tuple[list[str], list[tuple[Any, ...]]]]


def fresh_target(directory: Path, name: str) -> Path:
    path = directory / f"{name}.db"
    for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    migrator.upgrade(f"sqlite:///{path}")
    return path


def connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    for pragma in PRAGMAS:
        connection.execute(f"PRAGMA {pragma}")
    return connection


def run_agentkeep(source: Path, target: Path, batch_size: int) -> float:
    """Seconds for `agentkeep migrate-agents`, in this process (no interpreter start-up)."""
    from click.testing import CliRunner

    from agentkeep.entrypoints.cli import cli

    started = time.perf_counter()
    target_url, source_url = f"sqlite:///{target}", f"sqlite:///{source}"
    arguments = ["migrate-agents", "--source-url", source_url, "--batch-size", str(batch_size), "--json"]
    result = CliRunner().invoke(cli, ["--database-url", target_url, *arguments])
    elapsed = time.perf_counter() - started
    if result.exit_code != 0:
        raise RuntimeError(result.output)
    return elapsed


def read_rows(path: Path) -> Rows:
    """Every row of the agent tables, as stored, in the order agentkeep wrote them."""
    connection = sqlite3.connect(path)
    try:
        rows = {}
        for table in TABLES:
            cursor = connection.execute(f"SELECT * FROM {table} ORDER BY rowid")
            rows[table] = ([d[0] for d in cursor.description], cursor.fetchall())
        return rows
    finally:
        connection.close()


def insert_sql(table: str, columns: list[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def run_executemany(target: Path, rows: Rows) -> float:
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


def run_executemany_per_batch(target: Path, rows: Rows, batch_size: int) -> float:
    """The raw executemany with a commit per batch of `batch_size` agents (and their rows)."""
    columns, agents = rows[AGENTS]
    batches = [agents[i : i + batch_size] for i in range(0, len(agents), batch_size)]
    batch_of = {agent[0]: n for n, batch in enumerate(batches) for agent in batch}
    children: dict[str, tuple[list[str], list[list[tuple[Any, ...]]]]] = {}
    for table in (BIOS, COUNTS):
        child_columns, values = rows[table]
        key = child_columns.index("agent_id")
        grouped: list[list[tuple[Any, ...]]] = [[] for _ in batches]
        for value in values:
            grouped[batch_of[value[key]]].append(value)
        children[table] = child_columns, grouped
    connection = connect(target)
    try:
        started = time.perf_counter()
        for n, batch in enumerate(batches):
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(insert_sql(AGENTS, columns), batch)
            for table, (child_columns, grouped) in children.items():
                connection.executemany(insert_sql(table, child_columns), grouped[n])
            connection.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        connection.close()


def run_commit_per_row(target: Path, rows: Rows) -> float:
    """The seed's way: per profile, each insert its own transaction, and the latest bio looked up
    before the bio is written."""
    columns, agents = rows[AGENTS]
    by_agent: dict[str, dict[str, list[tuple[Any, ...]]]] = defaultdict(lambda: defaultdict(list))
    statements = {AGENTS: insert_sql(AGENTS, columns)}
    for table in (BIOS, COUNTS):
        child_columns, values = rows[table]
        key = child_columns.index("agent_id")
        statements[table] = insert_sql(table, child_columns)
        for value in values:
            by_agent[value[key]][table].append(value)
    latest_bio = f"SELECT * FROM {BIOS} WHERE agent_id = ? ORDER BY created_at DESC, seq DESC LIMIT 1"
    connection = connect(target)

    def commit_each(table: str, values: list[tuple[Any, ...]]) -> None:
        for value in values:
            connection.execute("BEGIN")
            connection.execute(statements[table], value)
            connection.execute("COMMIT")

    try:
        started = time.perf_counter()
        for agent in agents:
            commit_each(AGENTS, [agent])
            children = by_agent[agent[0]]
            connection.execute(latest_bio, (agent[0],)).fetchall()
            commit_each(BIOS, children[BIOS])
            commit_each(COUNTS, children[COUNTS])
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
    print(peak_rss_mb())


def peak_rss_mb() -> float:
    """This process's peak RSS in MB: Linux's `VmHWM`, the high-water mark of its own memory.

    Not `ru_maxrss`: Linux keeps, across exec, the peak of the memory the process had before
    (for a child spawned by `subprocess`, the parent's whole RSS), so a child started by a parent
    holding 300 MB reports at least 300 MB however little it uses itself.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


def median(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def _progress(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def measure(profiles: int, runs: int, rss_sizes: list[int], batch_size: int = MIGRATE_BATCH) -> dict[str, Any]:
    """Every figure of one run, as written to the JSON file (seconds, ratios, peak RSS per size)."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = work / "legacy.db"
        started = time.perf_counter()
        write_profiles(f"sqlite:///{source}", profiles, seed=1)
        _progress(f"demo source: {profiles} profiles in {time.perf_counter() - started:.1f} s")

        agentkeep = median(runs, lambda: run_agentkeep(source, fresh_target(work, "agentkeep"), batch_size))
        _progress(f"agentkeep: {agentkeep:.2f} s")
        rows = read_rows(work / "agentkeep.db")
        raw = median(runs, lambda: run_executemany(fresh_target(work, "raw"), rows))
        _progress(f"raw executemany: {raw:.2f} s")
        per_batch = run_executemany_per_batch(fresh_target(work, "per_batch"), rows, batch_size)
        _progress(f"raw executemany, a commit per batch: {per_batch:.2f} s")
        per_row = run_commit_per_row(fresh_target(work, "per_row"), rows)
        _progress(f"a commit per row: {per_row:.2f} s")

        rss: dict[str, dict[str, float]] = {}
        for size in rss_sizes:
            sized = source if size == profiles else work / f"legacy-{size}.db"
            if sized != source:
                write_profiles(f"sqlite:///{sized}", size, seed=1)
            seconds, megabytes = peak_rss(sized, fresh_target(work, f"rss-{size}"), batch_size)
            _progress(f"peak RSS at {size} profiles: {megabytes:.0f} MB ({seconds:.1f} s)")
            rss[str(size)] = {"seconds": round(seconds, 2), "peak_rss_mb": round(megabytes, 1)}
            if sized != source:
                sized.unlink()

    return {
        "profiles": profiles,
        "rows_written": {table: len(rows[table][1]) for table in TABLES},
        "agentkeep_s": round(agentkeep, 3),
        "raw_executemany_s": round(raw, 3),
        "commit_per_row_s": round(per_row, 3),
        "raw_per_batch_s": round(per_batch, 3),
        "agentkeep_vs_raw": round(agentkeep / raw, 2),
        "per_row_vs_agentkeep": round(per_row / agentkeep, 2),
        "agentkeep_vs_raw_per_batch": round(agentkeep / per_batch, 2),
        "peak_rss": rss,
        "runs": runs,
        "batch_size": batch_size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--rss", default="100000,1000000", help="profile counts to measure peak RSS at ('' for none)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=MIGRATE_BATCH)
    parser.add_argument("--out", type=Path, default=OUT, help=f"where the JSON goes (default {OUT})")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return

    rss_sizes = [int(s) for s in args.rss.split(",") if s]
    report = measure(args.profiles, args.runs, rss_sizes, args.batch_size)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    agentkeep, raw, per_row = report["agentkeep_s"], report["raw_executemany_s"], report["commit_per_row_s"]
    print(
        f"migrate-agents, {args.profiles} profiles on SQLite, batches of {args.batch_size} "
        f"(median of {args.runs}; rows {report['rows_written']})"
    )
    print(f"  agentkeep         {agentkeep:8.2f} s")
    print(f"  raw executemany   {raw:8.2f} s   agentkeep / raw = {agentkeep / raw:.2f} (bar <= 3)")
    print(f"  commit per row    {per_row:8.2f} s   per-row / agentkeep = {per_row / agentkeep:.2f} (bar >= 4)")
    print(f"  raw, per batch    {report['raw_per_batch_s']:8.2f} s   (context: the floor with SPEC §4's commits)")
    for size, figures in report["peak_rss"].items():
        print(f"  {size:>9} profiles: {figures['seconds']:.1f} s, peak RSS {figures['peak_rss_mb']:.0f} MB (bar < 300)")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
