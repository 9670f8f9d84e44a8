"""`agentkeep serve` and `agentkeep run` as real processes, and what `serve` refuses before it starts.

A first `serve` needs no set-up: in an empty directory it makes the SQLite file, an `assistant` echo
agent and an API key for the run, and prints a `curl` line that works as printed. The refusals run
through click's runner with uvicorn replaced by a tripwire: nothing may start.
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
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import uvicorn
from click.testing import CliRunner, Result
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from adapters.storage.sql.dialect import normalize_url
from entrypoints.cli import cli

EXECUTABLE = Path(sys.executable).with_name("agentkeep")
UNKNOWN_REVISION = "ffffffffffff"


def clean_environment(**settings: str) -> dict[str, str]:
    """This process's environment without the developer's `AGENTKEEP_*`, plus `settings`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AGENTKEEP_")}
    return {**env, **settings}


def agentkeep(*args: str) -> Result:
    runner = CliRunner(env={name: None for name in os.environ if name.startswith("AGENTKEEP_")})
    return runner.invoke(cli, list(args), prog_name="agentkeep")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'agentkeep.db'}"
    return str(request.getfixturevalue("pg_database"))


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

    # uvicorn re-raises the SIGTERM it handled once it has shut down: dying of it is a clean stop.
    assert server_process.wait(timeout=10) in (0, -signal.SIGTERM)
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
