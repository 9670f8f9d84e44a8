"""`agentkeep serve` as a real process tree (the uvicorn parent and its workers), and a load of
concurrent clients against it: what the load, crash and shutdown tests share.

A server runs in a process group of its own, so a test can SIGKILL all of it at once, as an
out-of-memory killer or a lost machine would; its stdout and stderr go to a file the test reads
back. The load mixes runs on a few shared named sessions (the contended case: runs take turns
through the session's lease, across workers) with first runs and reads. Every run's message is
unique, and the echo model answers it unchanged, so the database alone tells which request each
stored message came from.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

EXECUTABLE = Path(sys.executable).with_name("agentkeep")
API_KEY = "serve-test-key"
HEADERS = {"X-API-Key": API_KEY}
LOCKED = "database is locked"


def clean_environment(**settings: str) -> dict[str, str]:
    """This process's environment without the developer's `AGENTKEEP_*`, plus `settings`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AGENTKEEP_")}
    return {**env, **settings}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServeProcess:
    """A running `agentkeep serve`: its parent process (the group leader), base URL and log."""

    process: subprocess.Popen[bytes]
    url: str
    port: int
    log: Path

    def output(self) -> str:
        """Everything the server and its workers printed so far (stdout and stderr)."""
        return self.log.read_text(errors="replace")

    def kill_all(self) -> None:
        """SIGKILL the whole process tree at once, and wait until every process of it is gone."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        wait_for_group_exit(self.process.pid)


def start_serve(database_url: str, workdir: Path, *, workers: int = 2, **settings: str) -> ServeProcess:
    """`agentkeep serve --workers N` on a free loopback port, with `AGENTKEEP_*` `settings`;
    returned once `/health` answers 200."""
    port = free_port()
    log = workdir / f"serve-{port}.log"
    env = clean_environment(AGENTKEEP_DATABASE_URL=database_url, AGENTKEEP_API_KEY=API_KEY, **settings)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(EXECUTABLE), "serve", "--port", str(port), "--workers", str(workers)],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own: killed as one
        )
    served = ServeProcess(process, f"http://127.0.0.1:{port}", port, log)
    try:
        _wait_until_healthy(served)
    except BaseException:
        served.kill_all()
        raise
    return served


@contextlib.contextmanager
def serving(database_url: str, workdir: Path, *, workers: int = 2, **settings: str) -> Iterator[ServeProcess]:
    """`start_serve`, and the whole process group killed afterwards if the test left it running."""
    served = start_serve(database_url, workdir, workers=workers, **settings)
    try:
        yield served
    finally:
        if served.process.poll() is None:
            served.kill_all()


def _wait_until_healthy(served: ServeProcess, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=served.url, timeout=10) as http:
        while True:
            assert served.process.poll() is None, f"serve exited with {served.process.returncode}:\n{served.output()}"
            with contextlib.suppress(httpx.TransportError):
                if http.get("/health").status_code == 200:
                    return
            assert time.monotonic() < deadline, f"serve did not answer /health in {timeout} s:\n{served.output()}"
            time.sleep(0.05)


def wait_for_group_exit(pgid: int, timeout: float = 30.0) -> None:
    """Wait until no live process is left in the process group (zombies are dead already)."""
    deadline = time.monotonic() + timeout
    while _group_members(pgid):
        assert time.monotonic() < deadline, f"processes of group {pgid} still alive: {_group_members(pgid)}"
        time.sleep(0.02)


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after its last ")".
        state, _ppid, pgrp = stat.rpartition(")")[2].split()[:3]
        if int(pgrp) == pgid and state not in ("Z", "X"):
            members.append(int(entry.name))
    return members


# --- the load ---------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the clients saw. A run is `ok` (200) or `busy` (409 `session_busy`: it waited longer
    than AGENTKEEP_SESSION_WAIT for a shared session); anything else is a `failure`."""

    ok: set[str] = field(default_factory=set)  # the message of each run answered 200
    busy: set[str] = field(default_factory=set)
    sent: set[str] = field(default_factory=set)  # every run's message, whatever came of it
    reads: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    session_ids: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values()) + len(self.failures)


@dataclass(frozen=True)
class Load:
    """The mix: `clients` concurrent clients, `shared` named sessions they all run on (each with
    its fixed user id), and the share of first runs and reads among their requests."""

    label: str
    clients: int = 32
    shared: int = 8
    first_runs: float = 0.1
    reads: float = 0.3

    def shared_sessions(self) -> list[tuple[str, str]]:
        """(name, user id) of each shared session."""
        names = [f"{self.label}-shared-{i}" for i in range(self.shared)]
        return [(name, str(uuid.uuid5(uuid.NAMESPACE_URL, name))) for name in names]


async def run_load(base_url: str, load: Load, seconds: float, stop: asyncio.Event | None = None) -> Tally:
    """Send the mix for `seconds` (or until `stop` is set); what came back."""
    tally = Tally()
    stop = stop or asyncio.Event()
    deadline = time.monotonic() + seconds
    shared = load.shared_sessions()
    # uvicorn closes a connection idle for 5 s (`timeout_keep_alive`), httpx keeps one 5 s too:
    # a request sent on a pooled connection as the server closes it fails with no answer (a
    # ReadError, as from any HTTP server). A client keeps connections for less than the server.
    limits = httpx.Limits(max_connections=load.clients, max_keepalive_connections=load.clients, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=base_url, headers=HEADERS, timeout=60, limits=limits) as http:

        async def client(number: int) -> None:
            rng = random.Random(f"{load.label}/{number}")
            sent = 0
            while time.monotonic() < deadline and not stop.is_set():
                draw = rng.random()
                if draw < load.reads:
                    await _read(http, rng, tally)
                    continue
                sent += 1
                text = f"{load.label} client {number} message {sent}"
                if draw < load.reads + load.first_runs:
                    body = {"message_content": text, "user_id": str(uuid.uuid4())}
                    if rng.random() < 0.5:
                        body["session_name"] = f"{load.label}-first-{number}-{sent}"
                else:
                    name, user_id = rng.choice(shared)
                    body = {"message_content": text, "session_name": name, "user_id": user_id}
                await _run(http, body, tally)

        await asyncio.gather(*(client(n) for n in range(load.clients)))
    return tally


async def _run(http: httpx.AsyncClient, body: dict[str, str], tally: Tally) -> None:
    text = body["message_content"]
    tally.sent.add(text)
    try:
        response = await http.post("/api/v1/agents/assistant/run", json=body)
    except httpx.TransportError as e:
        tally.failures.append(f"run {text!r}: {type(e).__name__}: {e}")
        return
    tally.statuses[response.status_code] += 1
    if response.status_code == 200 and response.json()["message"] == text:
        tally.ok.add(text)
        tally.session_ids.append(response.json()["session_id"])
    elif response.status_code == 409 and response.json()["extra"]["code"] == "session_busy":
        tally.busy.add(text)
    else:
        tally.failures.append(f"run {text!r}: {response.status_code} {response.text}")


async def _read(http: httpx.AsyncClient, rng: random.Random, tally: Tally) -> None:
    if tally.session_ids and rng.random() < 0.7:
        path = f"/api/v1/sessions/{rng.choice(tally.session_ids)}?page_size=100&sort_desc=true"
    else:
        path = rng.choice(["/api/v1/sessions", "/api/v1/users", "/api/v1/agents"]) + f"?page={rng.randint(1, 3)}"
    try:
        response = await http.get(path)
    except httpx.TransportError as e:
        tally.failures.append(f"read: {type(e).__name__}: {e}")
        return
    tally.statuses[response.status_code] += 1
    tally.reads += 1
    if response.status_code != 200:
        tally.failures.append(f"read {path}: {response.status_code} {response.text}")


# --- what the database holds afterwards ---------------------------------------------------------

Conversation = list[tuple[str, str | None]]
"""One session's messages as (role, text), in the order a reader sees them (`created_at`, `seq`)."""


def conversations(database_url: str, order: str = "created_at, seq") -> dict[str, Conversation]:
    """Every session's messages, read straight from the database (the server is stopped), in the
    reader's order or, with `order="seq"`, by the insertion key alone (the two must agree)."""
    query = f"SELECT session_id, role, text_content FROM messages ORDER BY session_id, {order}"
    if database_url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(sqlite_path(database_url))) as db:
            rows = db.execute(query).fetchall()
    else:
        rows = asyncio.run(_postgres_rows(database_url, query))
    found: dict[str, Conversation] = {}
    for session_id, role, text in rows:
        found.setdefault(str(session_id), []).append((role, text))
    return found


def sqlite_path(database_url: str) -> str:
    return database_url.partition(":///")[2]


async def _postgres_rows(database_url: str, query: str) -> list[tuple[object, ...]]:
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return [tuple(row) for row in await connection.fetch(query)]
    finally:
        await connection.close()


def half_written(conversation: Conversation) -> list[str]:
    """What breaks "every user message has its reply right after it, or is the last": an
    assistant message that does not answer the user message before it, or a user message
    followed by anything but its reply."""
    problems = []
    for index, (role, text) in enumerate(conversation):
        before = conversation[index - 1] if index else None
        if role == "assistant" and before != ("user", text):
            problems.append(f"#{index}: reply {text!r} after {before}")
        if role == "user" and index + 1 < len(conversation) and conversation[index + 1] != ("assistant", text):
            problems.append(f"#{index}: {text!r} followed by {conversation[index + 1]}")
    return problems
