"""`agentkeep run|chat|agents|users|sessions|memories` as a user runs them: through click's runner, on
a new SQLite file and a new PostgreSQL database, each migrated by `agentkeep db upgrade` first.

Every error is one line on stderr, `Error: ...`, with the exit code of SPEC §6: 2 invalid input, 3 not
found, 4 conflict, 5 model failure.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from agentkeep.application.run_agent import RunResult
from agentkeep.domain.ids import legacy_user_id
from agentkeep.entrypoints.cli import INTERRUPTED, cli
from agentkeep.entrypoints.cli.context import CliContext
from agentkeep.entrypoints.cli.services import run_with
from tests.support.openai_server import FakeOpenAIServer, Scripted, stream_chunks

ENVELOPE = {"items", "total", "page", "page_size", "total_pages"}


class Agentkeep:
    """`agentkeep --database-url URL ...` through click's runner, with no `AGENTKEEP_*` from the
    developer's shell: each test says what it sets."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url

    def __call__(self, *args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        clean: dict[str, str | None] = {name: None for name in os.environ if name.startswith("AGENTKEEP_")}
        runner = CliRunner(env={**clean, **(env or {})})
        return runner.invoke(cli, ["--database-url", self.database_url, *args], input=input, prog_name="agentkeep")

    def json(self, *args: str, env: dict[str, str] | None = None) -> Any:
        """The command's `--json` output, parsed; the command must succeed."""
        result = self(*args, "--json", env=env)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, result.output
        return result


@pytest.fixture
def agentkeep(database_url: str) -> Agentkeep:
    """The CLI on a migrated database."""
    command = Agentkeep(database_url)
    command.ok("db", "upgrade")
    return command


@pytest.fixture
def bot(agentkeep: Agentkeep) -> dict[str, Any]:
    """An echo agent called `bot`."""
    created: dict[str, Any] = agentkeep.json("agents", "create", "bot")
    return created


def assert_one_error_line(result: Result, exit_code: int, *fragments: str) -> None:
    assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not an exception click caught for us
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def conversation(agentkeep: Agentkeep, session: str) -> list[tuple[str, str]]:
    """The session's messages as (role, text), oldest first."""
    shown = agentkeep.json("sessions", "show", session)
    assert shown["messages"]["total"] == len(shown["messages"]["items"])
    return [(m["role"], m["text_content"]) for m in shown["messages"]["items"]]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released): connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- run --------------------------------------------------------------------------------------


def test_run_prints_the_echo_reply_and_the_session(agentkeep: Agentkeep, bot: dict[str, Any]) -> None:
    result = agentkeep("run", "bot", "hello there")

    assert result.exit_code == 0, result.output
    assert result.stdout == "hello there\n"
    assert re.fullmatch(r"\(session [0-9a-f-]{36}\)\n", result.stderr)


def test_run_with_a_session_name_continues_that_session(agentkeep: Agentkeep, bot: dict[str, Any]) -> None:
    agentkeep.ok("run", "bot", "first", "--session", "talk")
    second = agentkeep.ok("run", "bot", "second", "--session", "talk")

    assert second.stdout == "second\n"
    assert "(session talk)" in second.stderr
    assert conversation(agentkeep, "talk") == [
        ("user", "first"),
        ("assistant", "first"),
        ("user", "second"),
        ("assistant", "second"),
    ]


def test_run_json_prints_the_whole_result(agentkeep: Agentkeep, bot: dict[str, Any]) -> None:
    result = agentkeep.json("run", "bot", "hi there", "--session", "talk", "--system-prompt", "Be brief.")

    assert set(result) == set(RunResult.model_fields)
    assert result["message"] == "hi there"
    assert result["session_name"] == "talk"
    assert result["agent_id"] == bot["id"]
    assert result["usage"]["model"] == "echo"
    assert result["usage"]["response_tokens"] == 2
    assert (result["tool_calls"], result["tool_outputs"]) == ([], [])
    shown = agentkeep.json("sessions", "show", "talk")
    assert shown["id"] == result["session_id"]
    assert shown["user_id"] == result["user_id"]
    assert [m["id"] for m in shown["messages"]["items"]] == [result["user_message_id"], result["assistant_message_id"]]


def test_a_legacy_integer_user_id_is_its_mapped_uuid(agentkeep: Agentkeep, bot: dict[str, Any]) -> None:
    result = agentkeep.json("run", "bot", "hi", "--user-id", "42")

    assert result["user_id"] == str(legacy_user_id(42))
    assert agentkeep.json("users", "show", "42")["id"] == str(legacy_user_id(42))


def test_the_same_email_twice_is_one_user(agentkeep: Agentkeep, bot: dict[str, Any]) -> None:
    first = agentkeep.json("run", "bot", "hi", "--email", "ada@example.com")
    second = agentkeep.json("run", "bot", "again", "--email", "ada@example.com")

    assert first["user_id"] == second["user_id"]
    assert first["session_id"] != second["session_id"]  # no session named: a new one each run
    found = agentkeep.json("users", "list", "--email", "ada@example.com")
    assert [user["id"] for user in found["items"]] == [first["user_id"]]
    assert agentkeep.json("users", "list")["total"] == 1


# --- chat -------------------------------------------------------------------------------------


def replies(chat: Result) -> list[str]:
    """What the chat printed on stdout, less its `> ` prompts."""
    return [line for line in chat.stdout.replace("> ", "").splitlines() if line]


def test_chat_starts_a_cli_session_and_leaves_on_end_of_input(agentkeep: Agentkeep, bot: dict[str, Any]) -> None:
    result = agentkeep("chat", "bot", input="one\ntwo\n")

    assert result.exit_code == 0, result.output
    assert replies(result) == ["one", "two"]
    started = re.search(r"Session (\S+)\. Ctrl-D to leave\.", result.stderr)
    assert started is not None, result.stderr
    name = started.group(1)
    assert re.fullmatch(r"cli-[0-9a-f]{8}", name)
    assert conversation(agentkeep, name) == [
        ("user", "one"),
        ("assistant", "one"),
        ("user", "two"),
        ("assistant", "two"),
    ]
    assert agentkeep.json("sessions", "show", name)["platform"] == "cli"


def test_chat_with_a_session_name_continues_it(agentkeep: Agentkeep, bot: dict[str, Any]) -> None:
    agentkeep.ok("run", "bot", "first", "--session", "talk")

    result = agentkeep("chat", "bot", "--session", "talk", input="second\n\n")

    assert result.exit_code == 0, result.output
    assert replies(result) == ["second"]  # the empty line is skipped, not sent
    assert "Session talk." in result.stderr
    assert conversation(agentkeep, "talk") == [
        ("user", "first"),
        ("assistant", "first"),
        ("user", "second"),
        ("assistant", "second"),
    ]


def test_chat_with_an_unknown_agent_fails_before_the_prompt(agentkeep: Agentkeep) -> None:
    result = agentkeep("chat", "nobody", input="hello\n")

    assert_one_error_line(result, 3, "nobody")
    assert result.stdout == ""


# --- agents, users, sessions, memories --------------------------------------------------------


def test_agents_create_list_show_delete(agentkeep: Agentkeep) -> None:
    created = agentkeep.json("agents", "create", "bot", "--display-name", "Bot", "--system-prompt", "You are Bot.")

    assert (created["name"], created["display_name"], created["model"]) == ("bot", "Bot", "echo")
    assert created["system_prompt"] == "You are Bot."
    listing = agentkeep.json("agents", "list")
    assert set(listing) == ENVELOPE
    assert (listing["total"], listing["page"], listing["page_size"], listing["total_pages"]) == (1, 1, 20, 1)
    assert listing["items"] == [created]
    assert agentkeep.json("agents", "show", "bot") == created
    assert agentkeep.json("agents", "show", created["id"]) == created
    assert "bot" in agentkeep.ok("agents", "list").stdout
    assert "You are Bot." in agentkeep.ok("agents", "show", "bot").stdout

    deleted = agentkeep.ok("agents", "delete", "bot")

    assert deleted.stdout == "Deleted agent bot.\n"
    assert_one_error_line(agentkeep("agents", "show", "bot"), 3, "bot")
    assert agentkeep.json("agents", "list")["total"] == 0


def test_users_create_list_show_delete(agentkeep: Agentkeep) -> None:
    created = agentkeep.json("users", "create", "--email", "ada@example.com", "--user-data", '{"plan": "pro"}')

    assert (created["email"], created["user_data"]) == ("ada@example.com", {"plan": "pro"})
    agentkeep.json("users", "create", "--email", "bob@example.com")
    listing = agentkeep.json("users", "list", "--email", "ada@example.com")
    assert set(listing) == ENVELOPE
    assert (listing["items"], listing["total"]) == ([created], 1)
    assert agentkeep.json("users", "list", "--page-size", "1")["total_pages"] == 2
    assert agentkeep.json("users", "show", created["id"]) == created
    assert "ada@example.com" in agentkeep.ok("users", "list").stdout

    agentkeep.ok("users", "delete", created["id"])

    assert_one_error_line(agentkeep("users", "show", created["id"]), 3, created["id"])
    assert agentkeep.json("users", "list")["total"] == 1


def test_sessions_create_list_show_delete(agentkeep: Agentkeep, bot: dict[str, Any]) -> None:
    user = agentkeep.json("users", "create")
    created = agentkeep.json("sessions", "create", "--user-id", user["id"], "--agent", "bot", "--name", "talk")

    assert (created["name"], created["user_id"], created["agent_id"]) == ("talk", user["id"], bot["id"])
    assert created["platform"] == "cli"
    listing = agentkeep.json("sessions", "list", "--agent", "bot")
    assert set(listing) == ENVELOPE
    assert (listing["items"], listing["total"]) == ([created], 1)
    assert agentkeep.json("sessions", "list", "--user-id", user["id"])["items"] == [created]
    shown = agentkeep.json("sessions", "show", "talk")
    assert shown == {**created, "messages": {"items": [], "total": 0, "page": 1, "page_size": 100, "total_pages": 0}}
    assert agentkeep.json("sessions", "show", created["id"]) == shown
    assert "talk" in agentkeep.ok("sessions", "list").stdout

    agentkeep.ok("sessions", "delete", created["id"])

    assert_one_error_line(agentkeep("sessions", "show", "talk"), 3, "talk")


def test_memories_create_list_show_delete(agentkeep: Agentkeep, bot: dict[str, Any]) -> None:
    user = agentkeep.json("users", "create")
    tone = agentkeep.json("memories", "create", "--agent", "bot", "--name", "tone", "--content", "warm")
    prefs = agentkeep.json(
        "memories", "create", "--agent", "bot", "--name", "prefs", "--user-id", user["id"],
        "--json-content", "--content", '{"languages": ["pt", "en"]}', "--read-mode", "tool_call",
    )  # fmt: skip

    assert (tone["name"], tone["content"], tone["user_id"], tone["agent_id"]) == ("tone", "warm", None, bot["id"])
    assert (prefs["content"], prefs["user_id"], prefs["read_mode"]) == (
        {"languages": ["pt", "en"]},
        user["id"],
        "tool_call",
    )
    listing = agentkeep.json("memories", "list", "--agent", "bot")
    assert set(listing) == ENVELOPE
    assert listing["total"] == 2
    assert sorted(listing["items"], key=lambda m: m["name"]) == [prefs, tone]
    assert agentkeep.json("memories", "list", "--user-id", user["id"])["items"] == [prefs]
    assert agentkeep.json("memories", "show", tone["id"]) == tone
    table = agentkeep.ok("memories", "list").stdout
    assert "tone" in table and "prefs" in table

    agentkeep.ok("memories", "delete", tone["id"])

    assert_one_error_line(agentkeep("memories", "show", tone["id"]), 3, tone["id"])
    assert agentkeep.json("memories", "list")["items"] == [prefs]


def test_tables_print_stored_text_as_it_is(agentkeep: Agentkeep, bot: dict[str, Any]) -> None:
    text = "[/x] [bold]b[/bold] :smile:"

    created = agentkeep("memories", "create", "--agent", "bot", "--name", "odd", "--content", text)
    agentkeep.ok("run", "bot", text, "--session", "talk")
    shown = agentkeep("sessions", "show", "talk")

    assert created.exit_code == 0, created.output
    assert text in created.stdout
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.count(text) == 2


def test_the_database_url_flag_wins_over_the_environment(agentkeep: Agentkeep, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.db"

    result = agentkeep("agents", "create", "bot", env={"AGENTKEEP_DATABASE_URL": f"sqlite:///{elsewhere}"})

    assert result.exit_code == 0, result.output
    assert agentkeep.json("agents", "show", "bot")["name"] == "bot"
    assert not elsewhere.exists()


# --- errors -----------------------------------------------------------------------------------


def test_a_duplicate_agent_name_is_a_conflict(agentkeep: Agentkeep, bot: dict[str, Any]) -> None:
    assert_one_error_line(agentkeep("agents", "create", "bot"), 4, "name already exists")
    assert agentkeep.json("agents", "list")["total"] == 1


def test_the_duplicate_agent_message_reads_as_english(agentkeep: Agentkeep, bot: dict[str, Any]) -> None:
    assert_one_error_line(agentkeep("agents", "create", "bot"), 4, "an agent with this name already exists")


def test_an_unknown_agent_is_not_found(agentkeep: Agentkeep) -> None:
    assert_one_error_line(agentkeep("agents", "show", "nobody"), 3, "nobody")
    assert_one_error_line(agentkeep("run", "nobody", "hello"), 3, "nobody")
    assert agentkeep.json("users", "list")["total"] == 0  # the failed run wrote nothing


def test_a_malformed_user_id_argument_is_not_found(agentkeep: Agentkeep) -> None:
    assert_one_error_line(agentkeep("users", "show", "nobody"), 3, "nobody")
    assert_one_error_line(agentkeep("users", "delete", "nobody"), 3, "nobody")


def test_a_bad_email_is_invalid_input(agentkeep: Agentkeep, bot: dict[str, Any]) -> None:
    assert_one_error_line(agentkeep("users", "create", "--email", "not-an-email"), 2, "email")
    assert_one_error_line(agentkeep("run", "bot", "hello", "--email", "not-an-email"), 2, "email")
    assert agentkeep.json("users", "list")["total"] == 0


def test_an_empty_message_is_invalid_input(agentkeep: Agentkeep, bot: dict[str, Any]) -> None:
    assert_one_error_line(agentkeep("run", "bot", "  "), 2, "message_content")


def test_a_run_on_a_finished_session_is_a_conflict(agentkeep: Agentkeep, bot: dict[str, Any]) -> None:
    started = agentkeep.json("run", "bot", "hello", "--session", "done")
    session_id = uuid.UUID(started["session_id"])
    run_with(CliContext(database_url=agentkeep.database_url), lambda c: c.sessions().finish(session_id))

    result = agentkeep("run", "bot", "again", "--session", "done")

    assert_one_error_line(result, 4, "finished")
    assert len(conversation(agentkeep, "done")) == 2


def test_a_run_on_a_session_of_another_owner_is_a_conflict(agentkeep: Agentkeep, bot: dict[str, Any]) -> None:
    agentkeep.ok("run", "bot", "hello", "--session", "mine", "--email", "ada@example.com")
    agentkeep.ok("agents", "create", "other")

    other_user = agentkeep("run", "bot", "hello", "--session", "mine", "--email", "bob@example.com")
    other_agent = agentkeep("run", "other", "hello", "--session", "mine")

    assert_one_error_line(other_user, 4, "another user or agent")
    assert_one_error_line(other_agent, 4, "another user or agent")
    assert len(conversation(agentkeep, "mine")) == 2


def test_memory_content_that_is_not_json_is_invalid_input(agentkeep: Agentkeep, bot: dict[str, Any]) -> None:
    result = agentkeep("memories", "create", "--agent", "bot", "--name", "m", "--json-content", "--content", "{oops")

    assert_one_error_line(result, 2, "content", "JSON")
    assert agentkeep.json("memories", "list")["total"] == 0


def test_a_model_failure_exits_5_and_keeps_the_message(agentkeep: Agentkeep) -> None:
    agentkeep.ok("agents", "create", "oracle", "--model", "openai:x")
    port = closed_port()

    result = agentkeep(
        "run", "oracle", "hello", "--session", "talk", env={"AGENTKEEP_OPENAI_BASE_URL": f"http://127.0.0.1:{port}"}
    )

    assert_one_error_line(result, 5, f"127.0.0.1:{port}", "(run ")
    assert result.stdout == ""
    assert conversation(agentkeep, "talk") == [("user", "hello")]
    run_id = result.stderr.split("(run ")[1].split(")")[0]
    failed = agentkeep.json("runs", "show", run_id)
    assert (failed["status"], failed["error"]["code"]) == ("failed", "model_error")


def test_run_prints_a_streamed_reply_as_it_comes_and_keeps_it_whole(agentkeep: Agentkeep) -> None:
    agentkeep.ok("agents", "create", "oracle", "--model", "openai:x")
    fake = FakeOpenAIServer()
    fake.start()
    try:
        fake.script(Scripted(None, chunks=stream_chunks("Let ", "me ", "see.")))
        result = agentkeep("run", "oracle", "hi", "--session", "talk", env={"AGENTKEEP_OPENAI_BASE_URL": fake.base_url})
    finally:
        fake.stop()

    assert result.exit_code == 0, result.output
    assert fake.received[0].body["stream"] is True
    assert result.stdout == "Let me see.\n"
    assert conversation(agentkeep, "talk") == [("user", "hi"), ("assistant", "Let me see.")]


# --- runs -------------------------------------------------------------------------------------


def test_runs_list_show_cancel(agentkeep: Agentkeep, bot: dict[str, Any]) -> None:
    first = agentkeep.json("run", "bot", "one", "--session", "talk")
    second = agentkeep.json("run", "bot", "two", "--session", "talk")

    listing = agentkeep.json("runs", "list", "talk")
    newest = agentkeep.json("runs", "list", first["session_id"], "--newest-first")
    shown = agentkeep.json("runs", "show", first["run_id"])
    cancelled = agentkeep.json("runs", "cancel", first["run_id"])

    assert set(listing) == ENVELOPE
    assert [r["id"] for r in listing["items"]] == [first["run_id"], second["run_id"]]
    assert [r["id"] for r in newest["items"]] == [second["run_id"], first["run_id"]]
    assert shown == listing["items"][0]
    assert (shown["status"], shown["assistant_message_id"]) == ("completed", first["assistant_message_id"])
    assert cancelled == shown  # a finished run is answered unchanged
    assert first["run_id"] in agentkeep.ok("runs", "list", "talk").stdout
    assert_one_error_line(agentkeep("runs", "show", "nope"), 3, "nope")
    assert_one_error_line(agentkeep("runs", "list", "nobody"), 3, "nobody")


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    # `agentkeep ... | head`: the pipe is closed before the command writes; no "Error:" line.
    env = {**os.environ, "AGENTKEEP_DATABASE_URL": f"sqlite:///{tmp_path}/a.db"}
    agentkeep = str(Path(sys.executable).parent / "agentkeep")
    subprocess.run([agentkeep, "db", "upgrade"], env=env, capture_output=True, check=True)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [agentkeep, "agents", "list", "--json"], stdout=write_end, stderr=subprocess.PIPE, env=env
        )
    finally:
        os.close(write_end)
    assert done.returncode == 1
    assert done.stderr == b""


@pytest.mark.parametrize("after", [0.3, 0.6])
def test_a_ctrl_c_while_the_command_starts_ends_it_quietly(tmp_path: Path, after: float) -> None:
    # Loading the modules takes about a second: a Ctrl-C then must not print a traceback. (Not in
    # the interpreter's own first tens of milliseconds, before any of agentkeep runs: a Ctrl-C
    # there is Python's to report, and a loaded CI machine can stretch them.)
    env = {**os.environ, "AGENTKEEP_DATABASE_URL": f"sqlite:///{tmp_path}/a.db"}
    agentkeep = str(Path(sys.executable).parent / "agentkeep")
    started = subprocess.Popen([agentkeep, "agents", "list"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        started.wait(timeout=after)
    except subprocess.TimeoutExpired:
        started.send_signal(signal.SIGINT)
    _, err = started.communicate(timeout=30)
    assert b"Traceback" not in err, err.decode()
    if started.returncode == 1:  # the command had ended on its own (no tables) before the Ctrl-C came
        assert err.decode().startswith("Error: ") and err.count(b"\n") == 1, err.decode()
    else:
        assert started.returncode == 130, (started.returncode, err.decode())


def test_a_ctrl_c_as_the_command_ends_leaves_its_exit_status(tmp_path: Path) -> None:
    # The command fails (no tables: exit 1); Ctrl-C lands at points around its end, as it prints
    # the error and as the interpreter shuts down. It answers 1 or 130, never "killed by SIGINT".
    env = {**os.environ, "AGENTKEEP_DATABASE_URL": f"sqlite:///{tmp_path}/a.db"}
    command = [str(Path(sys.executable).parent / "agentkeep"), "agents", "list"]
    started = time.perf_counter()
    subprocess.run(command, env=env, capture_output=True, check=False)
    whole = time.perf_counter() - started
    statuses = []
    for n in range(8):
        running = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            running.wait(timeout=whole * (0.8 + 0.04 * n))
        except subprocess.TimeoutExpired:
            running.send_signal(signal.SIGINT)
        _, err = running.communicate(timeout=30)
        assert b"Traceback" not in err, err.decode()
        statuses.append(running.returncode)
    assert set(statuses) <= {1, INTERRUPTED}, statuses
