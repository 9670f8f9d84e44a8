"""`agentkeep serve` and `agentkeep run` as real processes, and what `serve` refuses before it starts.

A first `serve` needs no set-up: in an empty directory it makes the SQLite file, an `assistant` echo
agent and an API key for the run, and prints a `curl` line that works as printed. The refusals run
through click's runner with uvicorn replaced by a tripwire: nothing may start. SIGTERM (issue 7,
item 6) lets the runs in flight finish, refuses new connections meanwhile, closes the database and
exits 0, with one worker and with two.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import asyncpg
import httpx
import pytest
import uvicorn
from click.testing import CliRunner, Result
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from agentkeep.adapters.storage.sql.dialect import normalize_url
from agentkeep.entrypoints.cli import cli
from agentkeep.entrypoints.cli.serve import GRACEFUL_SECONDS
from tests.e2e.serve_process import (
    EXECUTABLE,
    HEADERS,
    clean_environment,
    conversations,
    free_port,
    sqlite_path,
    start_serve,
    wait_for_group_exit,
)
from tests.support.openai_server import FakeOpenAIServer, Scripted, completion

IN_FLIGHT = 4
OTHER_CONNECTIONS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
)

UNKNOWN_REVISION = "ffffffffffff"


def agentkeep(*args: str) -> Result:
    runner = CliRunner(env={name: None for name in os.environ if name.startswith("AGENTKEEP_")})
    return runner.invoke(cli, list(args), prog_name="agentkeep")


def assert_one_error_line(result: Result, exit_code: int, *fragments: str) -> None:
    assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in lines[0]


class Lines:
    """A process's output, line by line, read on a thread so a test can wait with a deadline."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line.rstrip("\n"))

    def until(self, prefix: str, timeout: float = 30.0) -> list[str]:
        """The lines up to and including the first that starts with `prefix`."""
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while True:
            try:
                line = self._lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"no line starting with {prefix!r} in {timeout} s; got {seen}") from None
            seen.append(line)
            if line.startswith(prefix):
                return seen


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The uvicorn runs `serve` asked for (each one is recorded and fails the command)."""
    runs: list[dict[str, Any]] = []

    def tripwire(*args: Any, **kwargs: Any) -> None:
        runs.append(kwargs)
        raise RuntimeError("uvicorn was started")

    monkeypatch.setattr(uvicorn, "run", tripwire)  # `serve` calls `uvicorn.run`
    return runs


def execute(url: str, statement: str) -> None:
    async def run() -> None:
        engine = create_async_engine(normalize_url(url), poolclass=NullPool)
        try:
            async with engine.begin() as connection:
                await connection.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(run())


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """`agentkeep serve` on a free port, in an empty directory, with no setting at all; killed
    afterwards if the test did not stop it."""
    process = subprocess.Popen(
        [str(EXECUTABLE), "serve", "--port", str(free_port())],
        cwd=tmp_path,
        env=clean_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def curl_request(line: str) -> httpx.Request:
    """The request a printed `curl -s URL -H ... -d BODY` line describes."""
    words = shlex.split(line)
    assert words[:2] == ["curl", "-s"], line
    url, options = words[2], words[3:]
    headers: dict[str, str] = {}
    body = None
    for flag, value in zip(options[::2], options[1::2], strict=True):
        if flag == "-H":
            name, _, header_value = value.partition(":")
            headers[name.strip()] = header_value.strip()
        else:
            assert flag == "-d", line
            body = value
    return httpx.Request("POST" if body is not None else "GET", url, headers=headers, content=body)


def test_a_first_serve_prints_a_key_and_a_curl_line_that_works(
    tmp_path: Path, server_process: subprocess.Popen[str]
) -> None:
    stdout = Lines(server_process.stdout)  # type: ignore[arg-type]

    printed = stdout.until("Docs:")

    key_line = next(line for line in printed if line.startswith("API key for this run"))
    key = key_line.rpartition(": ")[2]
    assert re.fullmatch(r"[A-Za-z0-9_-]{24,}", key), key_line
    curl = printed[printed.index("Try it:") + 1].strip()
    request = curl_request(curl)
    assert request.headers["X-API-Key"] == key
    base = str(request.url).partition("/api/")[0]
    with httpx.Client(base_url=base, timeout=10) as client:
        deadline = time.monotonic() + 20
        while True:  # the lines come before uvicorn binds the port
            try:
                health = client.get("/health")
                break
            except httpx.TransportError:
                assert server_process.poll() is None, server_process.stderr.read()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "the server did not answer in 20 s"
                time.sleep(0.05)
        assert health.status_code == 200, health.text

        first = client.send(request)

        assert first.status_code == 200, first.text
        assert first.json()["message"] == json.loads(request.content)["message_content"]
        session_id = first.json()["session_id"]
        headers = {"X-API-Key": key}
        second = client.post(
            "/api/v1/agents/assistant/run", headers=headers, json={"message_content": "again", "session_id": session_id}
        )
        assert second.status_code == 200, second.text
        assert second.json()["session_id"] == session_id
        session = client.get(f"/api/v1/sessions/{session_id}", headers=headers).json()
        assert [(m["role"], m["text_content"]) for m in session["messages"]["items"]] == [
            ("user", "Hello!"),
            ("assistant", "Hello!"),
            ("user", "again"),
            ("assistant", "again"),
        ]
        agent = client.get("/api/v1/agents/assistant", headers=headers).json()
        assert (agent["name"], agent["model"]) == ("assistant", "echo")
        assert client.get("/api/v1/agents", headers={"X-API-Key": "not-the-key"}).status_code == 401

    server_process.send_signal(signal.SIGTERM)

    assert server_process.wait(timeout=10) == 0
    stderr = server_process.stderr.read()  # type: ignore[union-attr]
    assert "Traceback" not in stderr
    assert "Created the agent 'assistant' (model echo)." in stderr
    assert (tmp_path / "agentkeep.db").is_file()  # the default database, in the working directory


def test_run_as_a_real_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'agentkeep.db'}"
    assert agentkeep("--database-url", url, "db", "upgrade").exit_code == 0
    assert agentkeep("--database-url", url, "agents", "create", "bot").exit_code == 0

    process = subprocess.run(
        [str(EXECUTABLE), "run", "bot", "hello world", "--session", "talk"],
        env=clean_environment(AGENTKEEP_DATABASE_URL=url),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert process.returncode == 0, process.stderr
    assert (process.stdout, process.stderr) == ("hello world\n", "(session talk)\n")
    shown = json.loads(agentkeep("--database-url", url, "sessions", "show", "talk", "--json").stdout)
    assert [m["text_content"] for m in shown["messages"]["items"]] == ["hello world", "hello world"]


def test_serve_refuses_a_public_address_without_a_configured_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, started: list[dict[str, Any]]
) -> None:
    monkeypatch.chdir(tmp_path)

    result = agentkeep("serve", "--host", "0.0.0.0", "--port", str(free_port()))

    assert_one_error_line(result, 2, "0.0.0.0", "AGENTKEEP_API_KEY")
    assert result.stdout == ""
    assert started == []
    assert list(tmp_path.iterdir()) == []  # not even the default SQLite file


@pytest.mark.parametrize("no_migrate", [False, True], ids=["migrate", "no-migrate"])
def test_serve_refuses_a_schema_newer_than_the_code(
    database_url: str, no_migrate: bool, started: list[dict[str, Any]]
) -> None:
    assert agentkeep("--database-url", database_url, "db", "upgrade").exit_code == 0
    execute(database_url, f"UPDATE alembic_version SET version_num = '{UNKNOWN_REVISION}'")

    result = agentkeep(
        "--database-url", database_url, "serve", "--port", str(free_port()), *(["--no-migrate"] if no_migrate else [])
    )

    assert_one_error_line(result, 4, UNKNOWN_REVISION, "newer")
    assert started == []
    assert agentkeep("--database-url", database_url, "db", "current").output == f"{UNKNOWN_REVISION}\n"
    agents = json.loads(agentkeep("--database-url", database_url, "agents", "list", "--json").stdout)
    assert agents["total"] == 0  # no `assistant` made on a database this code does not know


@pytest.mark.parametrize(
    ("database_url", "workers"),
    [("sqlite", 1), ("sqlite", 2), pytest.param("postgres", 2, marks=pytest.mark.postgres)],
    indirect=["database_url"],
)
def test_sigterm_lets_the_runs_in_flight_finish_refuses_new_connections_and_closes_the_database(
    database_url: str, workers: int, openai: FakeOpenAIServer, tmp_path: Path
) -> None:
    # The model holds its replies until the test lets them go (a delay `stopping` cuts short): the
    # runs are in flight for as long as the test needs, whatever the machine's speed.
    openai.script(*[Scripted(completion("slow reply"), delay=50) for _ in range(IN_FLIGHT)])
    served = start_serve(database_url, tmp_path, workers=workers, AGENTKEEP_OPENAI_BASE_URL=openai.base_url)
    try:
        with httpx.Client(base_url=served.url, headers=HEADERS, timeout=60) as http:
            created = http.post("/api/v1/agents", json={"name": "slow", "model": "openai:slow"})
            assert created.status_code == 201, created.text
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            runs = [pool.submit(_run_slowly, served.url, f"question {n}") for n in range(IN_FLIGHT)]
            _wait_for(lambda: len(openai.received) == IN_FLIGHT, "every run to reach the model")

            served.process.send_signal(signal.SIGTERM)

            _wait_for(lambda: _refused(served.port), "new connections to be refused")
            assert served.process.poll() is None
            assert not any(run.done() for run in runs)  # refused while the runs are still in flight
            openai.stopping.set()  # the model answers now
            answers = [run.result() for run in runs]
        assert served.process.wait(timeout=GRACEFUL_SECONDS + 15) == 0
        wait_for_group_exit(served.process.pid)
    finally:
        if served.process.poll() is None:
            served.kill_all()

    assert answers == [(200, "slow reply")] * IN_FLIGHT
    assert "Traceback" not in served.output()
    stored = sorted(conversations(database_url).values())
    assert stored == [[("user", f"question {n}"), ("assistant", "slow reply")] for n in range(IN_FLIGHT)]
    # The engine was closed: SQLite's last connection checkpointed the WAL and removed it; on
    # PostgreSQL no connection of the server is left.
    if database_url.startswith("sqlite"):
        assert not Path(sqlite_path(database_url) + "-wal").exists()
    else:
        _wait_for(lambda: _connections_to(database_url) == 0, "the server's connections to be gone")


def _run_slowly(base_url: str, text: str) -> tuple[int, str]:
    """A run of the slow agent, on a connection of its own; (status, reply)."""
    with httpx.Client(base_url=base_url, headers=HEADERS, timeout=120) as http:
        response = http.post("/api/v1/agents/slow/run", json={"message_content": text})
    return response.status_code, response.json().get("message", response.text)


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"waited {timeout} s for {what}"
        time.sleep(0.02)


def _refused(port: int) -> bool:
    """Whether a new connection is turned away: refused, or reset by a listening socket that
    closed while the connection was being made (what a client sees in that instant)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    return False


def _connections_to(database_url: str) -> int:
    """Sessions on the database other than this one."""

    async def count() -> int:
        connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            return int(await connection.fetchval(OTHER_CONNECTIONS))
        finally:
            await connection.close()

    return asyncio.run(count())
