"""Requests/s and latency of POST /api/v1/agents/{name}/run (echo model): agentkeep against its
floor app, under wrk, in one run.

For each database kind, `agentkeep serve` and the floor (`python -m bench.floor`: the same statements
on the raw driver, under the same uvicorn settings) each get a fresh database, prepared the same way
(`bench.databases.prepare`), and run side by side: each is idle while wrk drives the other. Both say
which event loop and HTTP parser they serve on ("Serving on uvloop + httptools."); a comparison of
two apps on different stacks is refused, and the report names the stack. Workloads:

* `first-run`: no user and no session in the request: a new user, a new session, two messages;
* `session`: round-robin over 256 named sessions, so each run reads a growing history (up to 50
  messages). Each wrk thread starts half-way round from the other, so the requests in flight are
  on different sessions, as they are when each conversation waits for its reply.
* `busy`: each request on one of 100 named sessions picked at random, so runs collide on a
  session (a user who double-texts, a UI that retries): agentkeep's wait their turn (`enqueue`),
  the floor's take turns through an asyncio lock per session.

Each workload is warmed up on each app (not measured), then measured `runs` times per app,
alternating which app goes first; figures are medians over the runs, errors are summed. wrk and the
servers share this machine's cores.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.databases import AGENT, asyncpg_dsn, postgres_database, prepare, sqlite_url

APPS = ("agentkeep", "floor")
WORKLOADS = ("first-run", "session", "busy")
SESSIONS = 256
BUSY_SESSIONS = 100
KEY = "bench-key"
ROOT = Path(__file__).resolve().parents[1]
LUA = """
local threads = 0
function setup(thread)
  thread:set("offset", threads * OFFSET)
  threads = threads + 1
end
counter = 0
request = function()
  counter = counter + 1
  local extra = ""
  if MODE == "session" then
    extra = string.format(', "session_name": "bench-%d"', (offset + counter) % SESSIONS)
  elseif MODE == "busy" then
    extra = string.format(', "session_name": "busy-%d"', math.random(0, BUSY_SESSIONS - 1))
  end
  local body = string.format('{"message_content": "hello there, how are you?"%s}', extra)
  return wrk.format("POST", PATH, nil, body)
end
"""


@dataclass(frozen=True)
class WrkSettings:
    seconds: int
    warmup: int
    runs: int
    threads: int = 2
    connections: int = 32

    def describe(self) -> str:
        return (
            f"wrk -t{self.threads} -c{self.connections} -d{self.seconds}s, {self.runs} run(s) after a"
            f" {self.warmup} s warm-up, medians"
        )


def run_http(settings: WrkSettings, postgres_url: str | None) -> tuple[dict[str, Any], str]:
    """{database: {workload: {app: figures}}} for SQLite, and PostgreSQL when a server URL is given;
    and the stack both apps served on ("uvloop + httptools")."""
    results: dict[str, Any] = {}
    stacks: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = measure({app: sqlite_url(Path(tmp), app) for app in APPS}, settings, stacks)
    if postgres_url:
        with postgres_database(postgres_url) as ours, postgres_database(postgres_url) as floor:
            results["postgres"] = measure({"agentkeep": ours, "floor": floor}, settings, stacks)
    return results, " / ".join(sorted(stacks))


def measure(urls: dict[str, str], settings: WrkSettings, stacks: set[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """Both apps, each on its own freshly prepared database, side by side; adds the stack they
    serve on to `stacks` (refused when the two differ)."""
    for url in urls.values():
        prepare(url)
    results = {}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as servers:
        workdir = Path(tmp)
        ports = {app: servers.enter_context(server(app, url, workdir)) for app, url in urls.items()}
        served_on = {app: stack_of(workdir / f"{app}.log") for app in ports}
        if len(set(served_on.values())) != 1:
            raise RuntimeError(f"the apps serve on different stacks, so their ratio means nothing: {served_on}")
        stacks.update(served_on.values())
        for workload in WORKLOADS:
            script = workdir / f"{workload}.lua"
            script.write_text(lua_script(workload, settings.threads))
            for port in ports.values():
                wrk(port, script, settings, settings.warmup)
            samples: dict[str, list[dict[str, float]]] = {app: [] for app in ports}
            for run in range(settings.runs):
                for app in APPS if run % 2 == 0 else reversed(APPS):
                    samples[app].append(wrk(ports[app], script, settings, settings.seconds))
            results[workload] = {app: summary(runs) for app, runs in samples.items()}
    return results


def lua_script(workload: str, threads: int) -> str:
    """wrk's request generator: each thread starts at its own offset in the round of sessions."""
    path = f"/api/v1/agents/{AGENT}/run"
    return (
        f'MODE = "{workload}"\nSESSIONS = {SESSIONS}\nBUSY_SESSIONS = {BUSY_SESSIONS}\n'
        f'OFFSET = {SESSIONS // threads}\nPATH = "{path}"\n' + LUA
    )


def summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    medians = {key: statistics.median(run[key] for run in runs) for key in ("rps", "p50_ms", "p99_ms")}
    errors = {key: int(sum(run[key] for run in runs)) for key in ("non_2xx", "socket_errors")}
    return {**medians, **errors, "runs": runs}


@contextmanager
def server(app: str, url: str, workdir: Path) -> Iterator[int]:
    """The app serving on a free loopback port, until the block ends."""
    port = free_port()
    if app == "agentkeep":
        command = [str(Path(sys.executable).parent / "agentkeep"), "serve", "--port", str(port)]
        env = {**os.environ, "AGENTKEEP_DATABASE_URL": url, "AGENTKEEP_API_KEY": KEY, "AGENTKEEP_LOG_FORMAT": "text"}
    else:
        floor_url = url if url.startswith("sqlite") else asyncpg_dsn(url)
        command = [sys.executable, "-m", "bench.floor", "--database-url", floor_url, "--port", str(port)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    log = workdir / f"{app}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=workdir, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        if not healthy(port, process):
            raise RuntimeError(f"{app} did not start: {' '.join(command)}\n{log.read_text()[-2000:]}")
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def stack_of(log: Path) -> str:
    """The event loop and HTTP parser a server said it serves on ("uvloop + httptools")."""
    found = re.search(r"^Serving on (.+)\.$", log.read_text(), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"{log.name} does not say which stack it serves on:\n{log.read_text()[-2000:]}")
    return found.group(1)


def healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 60) -> bool:
    """Whether the server answers GET /health with 200 before it exits or `timeout` runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wrk(port: int, script: Path, settings: WrkSettings, seconds: int) -> dict[str, float]:
    command = [
        "wrk",
        f"-t{settings.threads}",
        f"-c{settings.connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(script),
        "-H",
        f"X-API-Key: {KEY}",
        "-H",
        "Content-Type: application/json",
        f"http://127.0.0.1:{port}",
    ]
    return parse_wrk(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def parse_wrk(output: str) -> dict[str, float]:
    """Requests/s, p50 and p99 in ms, non-2xx responses and socket errors from wrk's report."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)\s*$", output, re.MULTILINE))
    if rps is None or set(latency) != {"50", "99"}:
        raise RuntimeError(f"cannot read wrk's report:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return {
        "rps": float(rps.group(1)),
        "p50_ms": _ms(latency["50"]),
        "p99_ms": _ms(latency["99"]),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(int(n) for n in sockets.groups()) if sockets else 0,
    }


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise RuntimeError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[match.group(2)]
