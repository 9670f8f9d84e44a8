"""Every benchmark of SPEC §8 in one run, one table against the bars:

* http: POST .../run under wrk, agentkeep against its floor app (`bench.http_run`, `bench.floor`);
* streaming: streamed echo runs against the same runs not streamed, and the first delta's time
  against a whole run's (`bench.streaming`);
* history: the last 50 messages of a session at growing database sizes (`bench.history`);
* turn: one turn in-process through `RunAgent` on a 1,000-message session, then its last 50
  messages read back, against the raw `sqlite3` turn (`bench.turn`);
* migrate: migrate-agents against raw executemany and a commit per row, and its peak RSS
  (`bench.migrate_agents`, in a child process);
* test-apps: the memory a test suite grows by over 1,000 `create_test_app` starts with a request
  each, and the server's `create_app` over 100 for contrast (`bench.test_apps`, child processes).

Writes bench/results/latest.json and latest.png. `--quick` is a smoke run (tiny sizes, one short
wrk run): it checks that everything works, says nothing of speed, and writes to a temporary
directory so the real figures stay. PostgreSQL is measured on the server of `--postgres` (default:
$AGENTKEEP_TEST_POSTGRES_URL), in databases made and dropped for the run.

    python -m bench [--quick] [--postgres URL] [--runs N] [--seconds S]
                    [--only http,streaming,history,turn,migrate,test-apps]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentkeep.adapters.storage.sql.dialect import mask_url
from bench.history import PER_SESSION, WARMUP, run_history
from bench.http_run import WrkSettings, run_http
from bench.report import (
    Row,
    history_rows,
    http_rows,
    migrate_rows,
    streaming_rows,
    table,
    test_app_rows,
    turn_rows,
    write_json,
    write_plot,
)
from bench.streaming import run_streaming
from bench.test_apps import WARMUP as TEST_APP_WARMUP
from bench.test_apps import run_test_apps
from bench.turn import run_turn

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
MIGRATE_RESULT = RESULTS / "migrate_agents.json"  # where bench.migrate_agents writes its figures
SMOKE_RESULTS = Path(tempfile.gettempdir()) / "agentkeep-bench-smoke"
PARTS = ("http", "streaming", "history", "turn", "migrate", "test-apps")


@dataclass(frozen=True)
class Plan:
    """What one run measures, from the command line (`--quick`: tiny sizes, short runs)."""

    quick: bool
    postgres: str | None
    runs: int
    wrk: WrkSettings
    history_sizes: list[int]
    history_reads: int
    turns: int  # per round of the in-process turn (as many rounds as `runs`, at least 3 unless quick)
    migrate_profiles: int
    migrate_rss: str  # the profile counts whose peak RSS is measured
    test_app_starts: int
    server_app_starts: int
    stream_requests: int  # one at a time, for the first delta's latency

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Plan:
        quick = args.quick
        runs = args.runs or (1 if quick else 3)
        return cls(
            quick=quick,
            postgres=args.postgres or os.environ.get("AGENTKEEP_TEST_POSTGRES_URL"),
            runs=runs,
            wrk=WrkSettings(seconds=args.seconds or (1 if quick else 10), warmup=1 if quick else 2, runs=runs),
            history_sizes=[1_000, 10_000] if quick else [10_000, 100_000, 1_000_000],
            history_reads=100 if quick else 1000,
            turns=30 if quick else 500,
            migrate_profiles=2_000 if quick else 100_000,
            migrate_rss="2000" if quick else "100000,1000000",
            test_app_starts=40 if quick else 1000,
            server_app_starts=30 if quick else 100,
            stream_requests=20 if quick else 300,
        )


def main() -> None:
    args = parse_args()
    parts = [part.strip() for part in args.only.split(",")]
    if unknown := set(parts) - set(PARTS):
        sys.exit(f"--only: unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}")
    if {"http", "streaming"} & set(parts) and shutil.which("wrk") is None:
        sys.exit("wrk is not installed: `apt-get install wrk` (Debian, Ubuntu) or `brew install wrk` (macOS)")
    plan = Plan.from_args(args)
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),  # other work on the machine when the run began
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "quick": plan.quick,
    }
    notes = [
        f"PostgreSQL: on {mask_url(plan.postgres)}, a database made and dropped per measurement"
        if plan.postgres
        else "PostgreSQL: skipped (no --postgres URL and no AGENTKEEP_TEST_POSTGRES_URL)"
    ]
    rows: list[Row] = []
    for part in PARTS:
        if part in parts:
            figures, part_rows, note = MEASURE[part](plan)
            report[part] = figures
            rows += part_rows
            notes.append(note)
    if plan.quick:
        notes.append("--quick: a smoke run; its figures show that the benchmarks work, not how fast agentkeep is")
    print("\n".join(notes) + "\n\n" + table(rows))
    write(report, rows, *((SMOKE_RESULTS, "smoke") if plan.quick else (RESULTS, "latest")))


def measure_http(plan: Plan) -> tuple[Any, list[Row], str]:
    _progress("http: agentkeep serve and the floor app under wrk")
    figures, stack = run_http(plan.wrk, plan.postgres)
    figures["stack"] = stack
    note = (
        f"run-agent: POST /api/v1/agents/assistant/run, echo model, {plan.wrk.describe()};"
        f" both apps served by uvicorn on {stack};"
        f" wrk and the servers share this machine's {os.cpu_count()} cores: the figures compare apps, not machines"
    )
    return figures, http_rows(figures), note


def measure_streaming(plan: Plan) -> tuple[Any, list[Row], str]:
    _progress("streaming: streamed and plain echo runs on agentkeep serve")
    figures = run_streaming(plan.wrk, plan.stream_requests, plan.postgres)
    note = (
        f"streaming: first runs of the echo model, streamed and not, {plan.wrk.describe()}; the first delta's"
        f" time: median of {plan.stream_requests} streamed runs, one at a time, against as many whole runs"
    )
    return figures, streaming_rows(figures), note


def measure_history(plan: Plan) -> tuple[Any, list[Row], str]:
    _progress(f"history: seeding {', '.join(f'{s:,}' for s in plan.history_sizes)} messages, then reading")
    figures = run_history(plan.history_sizes, plan.history_reads, plan.postgres)
    note = (
        f"history: median of {plan.history_reads} reads after {WARMUP} warm-up reads; sessions of"
        f" {PER_SESSION:,} messages written round-robin; the sizes read in turn"
    )
    return figures, history_rows(figures), note


def measure_turn(plan: Plan) -> tuple[Any, list[Row], str]:
    rounds = plan.runs if plan.quick else max(plan.runs, 3) * 2 - 1
    _progress(f"turn: {rounds} round(s) of {plan.turns} turns, agentkeep and raw sqlite3 in turn")
    figures = run_turn(plan.turns, rounds)
    note = (
        f"turn: RunAgent (echo, message_limit 50) on a 1,000-message SQLite session, then its last 50"
        f" read back, against the raw sqlite3 turn (same statements, PRAGMAS); median ms of {rounds}"
        f" round(s) of {plan.turns} turns"
    )
    return figures, turn_rows(figures), note


def measure_migrate(plan: Plan) -> tuple[Any, list[Row], str]:
    _progress("migrate: bench.migrate_agents")
    figures = run_migrate(plan.migrate_profiles, plan.migrate_rss, runs=plan.runs, keep_previous=plan.quick)
    return figures, migrate_rows(figures), f"migrate-agents on SQLite: median of {plan.runs} run(s)"


def measure_test_apps(plan: Plan) -> tuple[Any, list[Row], str]:
    _progress(f"test-apps: {plan.test_app_starts:,} test app starts, {plan.server_app_starts} server app starts")
    figures = run_test_apps(plan.test_app_starts, plan.server_app_starts)
    note = (
        f"test-apps: RSS after {TEST_APP_WARMUP} starts and after the last, each start a new container on a new"
        " MemoryStorage, the app, a TestClient entered and left with one request (bench.test_apps)"
    )
    return figures, test_app_rows(figures), note


MEASURE = {
    "http": measure_http,
    "streaming": measure_streaming,
    "history": measure_history,
    "turn": measure_turn,
    "migrate": measure_migrate,
    "test-apps": measure_test_apps,
}


def write(report: dict[str, Any], rows: list[Row], directory: Path, stem: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / f"{stem}.json", directory / f"{stem}.png"]
    write_json(written[0], report, rows)
    if not write_plot(written[1], report):
        written.pop()
    print("\nwrote " + " and ".join(map(str, written)))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: tiny sizes, 1 s of wrk, 1 run")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server (default: $AGENTKEEP_TEST_POSTGRES_URL)")
    parser.add_argument("--only", default=",".join(PARTS), help="comma-separated parts (default: all)")
    parser.add_argument("--runs", type=int, help="measured runs of wrk and of migrate-agents (default 3; quick 1)")
    parser.add_argument("--seconds", type=int, help="seconds of each wrk run (default 10; quick 1)")
    return parser.parse_args()


def run_migrate(profiles: int, rss: str, *, runs: int, keep_previous: bool) -> dict[str, Any]:
    """bench.migrate_agents in a child process, and the figures it writes. `keep_previous`: put
    back the figures the file held before (a smoke run leaves the real ones alone)."""
    previous = MIGRATE_RESULT.read_bytes() if keep_previous and MIGRATE_RESULT.exists() else None
    command = [sys.executable, "-m", "bench.migrate_agents", "--profiles", str(profiles), "--rss", rss]
    child = subprocess.run([*command, "--runs", str(runs)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        if child.returncode != 0:
            raise RuntimeError(f"bench.migrate_agents failed ({child.returncode}):\n{child.stdout}")
        figures: dict[str, Any] = json.loads(MIGRATE_RESULT.read_text())
        return figures
    finally:
        if previous is not None:
            MIGRATE_RESULT.write_bytes(previous)


def _progress(text: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
