"""Requests/s of POST /api/v1/agents/{name}/run (echo model) over loopback, with wrk.

Starts `agentkeep serve` on a fresh database (SQLite file, or a new PostgreSQL database), then drives
it with wrk (2 threads, `--connections`). Two workloads:

* `first-run`: every request sends no user and no session: a new user, a new session, two messages;
* `session`: requests go round-robin over 256 named sessions, so each run reads a growing history.

wrk and the server share this machine's cores; the figures are for comparing runs on one machine.
Run:  .venv/bin/python -m bench.http_run [--postgres URL] [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

KEY = "bench-key"
LUA = """
counter = 0
request = function()
  counter = counter + 1
  local body = '{"message_content": "hello there, how are you?"%s}'
  local extra = ""
  if MODE == "session" then extra = string.format(', "session_name": "bench-%d"', counter % 256) end
  return wrk.format("POST", "/api/v1/agents/assistant/run", nil, string.format(body, extra))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wrk(port: int, mode: str, seconds: int, connections: int, workdir: Path) -> dict[str, float]:
    script = workdir / f"{mode}.lua"
    script.write_text(f'MODE = "{mode}"\n' + LUA)
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            "-H",
            f"X-API-Key: {KEY}",
            "-H",
            "Content-Type: application/json",
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    lat = dict(re.findall(r"\s+(50|99)%\s+([\d.]+\w+)", out))
    return {"rps": rps, "p50": _ms(lat["50"]), "p99": _ms(lat["99"]), "non_2xx": int(errors.group(1)) if errors else 0}


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def serve(url: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "AGENTKEEP_DATABASE_URL": url, "AGENTKEEP_API_KEY": KEY, "AGENTKEEP_LOG_FORMAT": "text"}
    agentkeep = Path(sys.executable).parent / "agentkeep"
    process = subprocess.Popen(
        [str(agentkeep), "serve", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start")


def measure(url: str, seconds: int, connections: int) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        port = free_port()
        process = serve(url, port, workdir)
        try:
            results = {}
            for mode in ("first-run", "session"):
                wrk(port, mode, 2, connections, workdir)  # warm-up
                results[mode] = wrk(port, mode, seconds, connections, workdir)
            return results
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


async def new_database(url: str) -> tuple[str, str]:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    await connection.execute(f"CREATE DATABASE {name}")
    await connection.close()
    return url.rsplit("/", 1)[0] + "/" + name, name


async def drop_database(url: str, name: str) -> None:
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    await connection.execute(f"DROP DATABASE {name} WITH (FORCE)")
    await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--postgres", help="a PostgreSQL URL (a database is made and dropped on that server)")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = measure(f"sqlite:///{tmp}/bench.db", args.seconds, args.connections)
    if args.postgres:
        url, name = asyncio.run(new_database(args.postgres))
        try:
            results["postgres"] = measure(url, args.seconds, args.connections)
        finally:
            asyncio.run(drop_database(args.postgres, name))
    print(f"POST .../run, echo model, wrk -t2 -c{args.connections} -d{args.seconds}s on loopback (2 cores shared)")
    print(f"{'database':<10} {'workload':<10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for db, by_mode in results.items():
        for mode, r in by_mode.items():
            print(f"{db:<10} {mode:<10} {r['rps']:>8.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['non_2xx']:>8}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
