"""`agentkeep demo legacy|automagik` through click's runner, on a new SQLite file and a new
PostgreSQL database: the legacy tables made and filled, the same rows for the same seed, the bad
rows SPEC §4 names, a second run appending, and agentkeep's own database refused for automagik.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from agentkeep.adapters.storage.sql.dialect import mask_url, normalize_url
from agentkeep.entrypoints.cli import cli

HANDLE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,252}$")
WROTE = re.compile(r"^Wrote (?P<what>.+) to (?P<where>\S+)\.$")


def agentkeep(database_url: str, *args: str) -> Result:
    """`agentkeep --database-url URL ...`, with no `AGENTKEEP_*` from the developer's shell."""
    runner = CliRunner(env={name: None for name in os.environ if name.startswith("AGENTKEEP_")})
    return runner.invoke(cli, ["--database-url", database_url, *args], prog_name="agentkeep")


def wrote(result: Result) -> dict[str, int]:
    """The rows per table the command's one line says it wrote; the command must succeed."""
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    match = WROTE.match(lines[0])
    assert match is not None, lines[0]
    tables = match["what"].split(" (planted")[0]
    return {table: int(count.replace(",", "")) for count, table in (part.split(" ") for part in tables.split(", "))}


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    async def run() -> list[tuple[Any, ...]]:
        engine = create_async_engine(normalize_url(url), poolclass=NullPool)
        try:
            async with engine.begin() as connection:
                result = await connection.execute(text(sql))
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


def count(url: str, table: str) -> int:
    return int(query(url, f"SELECT count(*) FROM {table}")[0][0])


def dump(url: str, *tables: str) -> dict[str, list[tuple[str, ...]]]:
    """Every row of the tables, as text, sorted (row order aside)."""
    return {t: sorted(tuple(map(str, row)) for row in query(url, f"SELECT * FROM {t}")) for t in tables}


def drop(url: str, *tables: str) -> None:
    for table in tables:
        query(url, f"DROP TABLE {table}")


def assert_one_error_line(result: Result, exit_code: int, *fragments: str) -> None:
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'legacy.db'}"
    return str(request.getfixturevalue("pg_database"))


@pytest.fixture
def elsewhere(tmp_path: Path) -> str:
    """An agentkeep database other than the one under test."""
    return f"sqlite:///{tmp_path / 'agentkeep.db'}"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def from_json(url: str, value: Any) -> Any:
    """A JSON column's value: PostgreSQL's driver decodes JSONB, SQLite gives the text."""
    return json.loads(value) if is_sqlite(url) and value is not None else value


# --- demo legacy ------------------------------------------------------------------------------

PROFILE_TABLES = ("bluesky_profiles", "agent_bios")


def test_legacy_writes_into_agentkeeps_database_and_says_so(database_url: str) -> None:
    written = wrote(result := agentkeep(database_url, "demo", "legacy", "--profiles", "500"))

    assert result.stdout.rstrip().endswith(f" to {mask_url(database_url)}.")
    assert written["bluesky_profiles"] == count(database_url, "bluesky_profiles") == 500
    assert written["agent_bios"] == count(database_url, "agent_bios")
    assert 500 < written["agent_bios"] < 2000  # 0 to 3 each, mostly one


def test_legacy_writes_to_the_url_given(database_url: str, elsewhere: str) -> None:
    wrote(agentkeep(elsewhere, "demo", "legacy", "--profiles", "50", "--url", database_url))

    assert count(database_url, "bluesky_profiles") == 50
    assert not Path(elsewhere.removeprefix("sqlite:///")).exists()


def test_one_seed_writes_the_same_rows_and_another_seed_others(database_url: str) -> None:
    wrote(agentkeep(database_url, "demo", "legacy", "--profiles", "300", "--seed", "7"))
    first = dump(database_url, *PROFILE_TABLES)
    drop(database_url, *PROFILE_TABLES)

    wrote(agentkeep(database_url, "demo", "legacy", "--profiles", "300", "--seed", "7"))
    assert dump(database_url, *PROFILE_TABLES) == first
    drop(database_url, *PROFILE_TABLES)

    wrote(agentkeep(database_url, "demo", "legacy", "--profiles", "300", "--seed", "8"))
    other = dump(database_url, *PROFILE_TABLES)
    assert not set(other["bluesky_profiles"]) & set(first["bluesky_profiles"])


def test_a_second_run_appends_new_handles(database_url: str) -> None:
    wrote(agentkeep(database_url, "demo", "legacy", "--profiles", "200"))
    first = {row[0] for row in query(database_url, "SELECT handle FROM bluesky_profiles")}
    bios = count(database_url, "agent_bios")

    written = wrote(agentkeep(database_url, "demo", "legacy", "--profiles", "200"))

    handles = [row[0] for row in query(database_url, "SELECT handle FROM bluesky_profiles")]
    assert len(handles) == 400
    assert count(database_url, "agent_bios") == bios + written["agent_bios"]
    new = set(handles) - first
    assert "-0201.bsky.social" in " ".join(h for h in new if h)  # numbering goes on
    assert len({h for h in new if h and HANDLE.match(h)}) > 170


def parse(stamp: str) -> datetime | None:
    """A bio time as migrate-agents reads it (either format, UTC), or None."""
    for reader in (lambda s: datetime.strptime(s, "%Y_%m_%d-%H:%M:%S"), datetime.fromisoformat):
        try:
            return reader(stamp).replace(tzinfo=None)
        except ValueError:
            pass
    return None


def test_every_bad_row_kind_is_there(database_url: str) -> None:
    wrote(agentkeep(database_url, "demo", "legacy", "--profiles", "1000"))
    profiles = query(
        database_url, "SELECT handle, did, bio, followers_count, follows_count, posts_count FROM bluesky_profiles"
    )
    handles = [p[0] for p in profiles]
    dids = Counter(p[1] for p in profiles if p[1] is not None)
    lowered = Counter(h.lower() for h in handles if h is not None)

    null_handles = handles.count(None)
    assert null_handles == (10 if is_sqlite(database_url) else 0)  # PostgreSQL's primary key forbids it
    assert sum(p[1] is None for p in profiles) == 10
    assert sum(min(p[3:]) < 0 for p in profiles) == 10
    invalid = [h for h in handles if h is not None and not HANDLE.match(h.lower())]
    assert len(invalid) == 10
    # Every shape of invalid handle the demo writes is among them (the default seed, 0, picks all five).
    shapes = [r"^Not A Handle! \d+$", r"^@\w+_\d+$", r"^\w+ \w+ \d+$", r"^-\w+-\d+\.bsky\.social$", "\N{BUTTERFLY}"]
    assert [shape for shape in shapes if not any(re.search(shape, h) for h in invalid)] == [], invalid
    assert sum(n for n in lowered.values() if n > 1) == 20  # ten pairs, differing in case
    assert sum(n for n in dids.values() if n > 1) == 20
    assert any(p[2] is not None and p[2] != "" and not p[2].strip() for p in profiles)  # whitespace-only bio
    assert any(p[2] == "" for p in profiles)

    bios = query(database_url, "SELECT handle, created_at FROM agent_bios")
    assert sum(parse(stamp) is None for _, stamp in bios) == 10
    by_handle: dict[str, list[str]] = {}
    for handle, stamp in bios:
        if parse(stamp) is not None:
            by_handle.setdefault(handle, []).append(stamp)
    several = [stamps for stamps in by_handle.values() if len(stamps) > 1]
    assert len(several) > 100
    stamps = [stamp for each in several for stamp in each]
    assert any(s[4] == "_" for s in stamps) and any(s[4] == "-" for s in stamps)
    # The newest is not the greatest text: a reader must parse both formats to choose it.
    assert any(max(stamps, key=lambda s: parse(s) or datetime.min) != max(stamps) for stamps in several)


def test_no_bad_rows_when_asked_for_none(database_url: str) -> None:
    wrote(agentkeep(database_url, "demo", "legacy", "--profiles", "300", "--bad-fraction", "0"))
    profiles = query(
        database_url, "SELECT handle, did, followers_count, follows_count, posts_count FROM bluesky_profiles"
    )

    assert all(h is not None and HANDLE.match(h) for h, *_ in profiles)
    assert len({p[1] for p in profiles}) == 300
    assert all(min(p[2:]) >= 0 for p in profiles)
    assert all(parse(stamp) for (stamp,) in query(database_url, "SELECT created_at FROM agent_bios"))


def test_legacy_errors_are_one_line(tmp_path: Path) -> None:
    agentkeep_db = f"sqlite:///{tmp_path / 'a.db'}"

    missing = agentkeep(agentkeep_db, "demo", "legacy", "--profiles", "5", "--url", f"sqlite:///{tmp_path}/no/x.db")
    assert_one_error_line(missing, 3, "no directory")
    unsupported = agentkeep(agentkeep_db, "demo", "legacy", "--profiles", "5", "--url", "mysql://u@h/db")
    assert_one_error_line(unsupported, 2, "mysql")
    unreachable = agentkeep(
        agentkeep_db, "demo", "legacy", "--profiles", "5", "--url", "postgresql://u:pw@127.0.0.1:1/x"
    )
    assert_one_error_line(unreachable, 1, "u:***@127.0.0.1:1")
    assert "pw" not in unreachable.stderr
    assert agentkeep(agentkeep_db, "demo", "legacy").exit_code == 2  # --profiles is required


# --- demo automagik ---------------------------------------------------------------------------

AUTOMAGIK_TABLES = ("users", "agents", "sessions", "messages", "memories")


def test_automagik_writes_a_database_shaped_like_automagiks(database_url: str, elsewhere: str) -> None:
    written = wrote(agentkeep(elsewhere, "demo", "automagik", "--users", "40", "--url", database_url))

    assert written == {table: count(database_url, table) for table in AUTOMAGIK_TABLES}
    assert written["users"] == 40
    assert written["sessions"] > 40 and written["messages"] > 2 * written["sessions"] and written["memories"] >= 40
    ids = [row[0] for row in query(database_url, "SELECT id FROM users ORDER BY id")]
    assert ids == list(range(1, 41))  # integer ids, as automagik's SERIAL
    emails = [row[0] for row in query(database_url, "SELECT email FROM users")]
    assert "admin@automagik" in emails
    assert len({e.lower() for e in emails}) == len(emails) - 1  # one repeated, in another case

    agents = query(database_url, "SELECT name, model FROM agents")
    assert any(not HANDLE.match(name) for name, _ in agents)
    assert any(model != "echo" and not model.startswith("openai:") for _, model in agents)

    sessions = query(database_url, "SELECT user_id, metadata, name FROM sessions")
    assert any(user_id is None for user_id, _, _ in sessions)
    assert sum(isinstance(from_json(database_url, metadata), str) for _, metadata, _ in sessions) == 1  # a JSON string
    names = Counter(name for _, _, name in sessions if name is not None)
    assert max(names.values()) == 2

    messages = query(database_url, "SELECT role, tool_calls, tool_outputs, session_id, user_id FROM messages")
    assert all(calls is None for role, calls, *_ in messages if role == "user")
    tools = [
        (from_json(database_url, c), from_json(database_url, o)) for role, c, o, *_ in messages if role == "assistant"
    ]
    assert any(calls == {} for calls, _ in tools)
    calls, outputs = next((c, o) for c, o in tools if c)
    assert sorted(calls) == [str(k) for k in range(len(calls))]
    assert set(calls["0"]) == {"tool_name", "args", "tool_call_id"}
    assert set(outputs["0"]) == {"tool_name", "content", "tool_call_id"}
    assert outputs["0"]["tool_call_id"] == calls["0"]["tool_call_id"]
    session_ids = {str(row[0]) for row in query(database_url, "SELECT id FROM sessions")}
    assert sum(str(m[3]) not in session_ids for m in messages) == 1  # its session is gone

    memories = query(database_url, "SELECT read_mode, access, user_id FROM memories")
    assert ("tool_calling", "read_write") in {(m[0], m[1]) for m in memories}
    assert any(user_id is None for *_, user_id in memories)  # agent-wide


def test_automagik_one_seed_writes_the_same_rows(database_url: str, elsewhere: str) -> None:
    wrote(agentkeep(elsewhere, "demo", "automagik", "--users", "15", "--seed", "3", "--url", database_url))
    first = dump(database_url, *AUTOMAGIK_TABLES)
    drop(database_url, "messages", "memories", "sessions", "prompts", "agents", "users")

    wrote(agentkeep(elsewhere, "demo", "automagik", "--users", "15", "--seed", "3", "--url", database_url))
    assert dump(database_url, *AUTOMAGIK_TABLES) == first


def test_automagik_a_second_run_appends(database_url: str, elsewhere: str) -> None:
    before = wrote(agentkeep(elsewhere, "demo", "automagik", "--users", "30", "--url", database_url))
    again = wrote(agentkeep(elsewhere, "demo", "automagik", "--users", "30", "--url", database_url))

    assert {t: count(database_url, t) for t in AUTOMAGIK_TABLES} == {t: before[t] + again[t] for t in AUTOMAGIK_TABLES}
    assert [row[0] for row in query(database_url, "SELECT max(id) FROM users")] == [60]
    emails = [row[0] for row in query(database_url, "SELECT email FROM users")]
    assert emails.count("admin@automagik") == 1
    names = Counter(row[0] for row in query(database_url, "SELECT name FROM agents"))
    assert max(names.values()) == 1  # the named agents are not written twice
    assert again["agents"] == 1  # a new helper (one per 25 users)


def test_automagik_refuses_agentkeeps_own_database(database_url: str, elsewhere: str) -> None:
    assert agentkeep(database_url, "db", "upgrade").exit_code == 0

    same = agentkeep(database_url, "demo", "automagik", "--users", "3", "--url", database_url)
    assert_one_error_line(same, 2, "agentkeep's database", "--url")
    holding = agentkeep(elsewhere, "demo", "automagik", "--users", "3", "--url", database_url)
    assert_one_error_line(holding, 2, "holds agentkeep's schema", "--url")
    assert count(database_url, "users") == 0  # agentkeep's, untouched
    tables = {
        row[0]
        for row in query(
            database_url,
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            if is_sqlite(database_url)
            else "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()",
        )
    }
    assert "agents" not in tables


def test_automagik_defaults_to_a_file_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    written = wrote(result := agentkeep("sqlite:///agentkeep.db", "demo", "automagik", "--users", "2"))

    assert result.stdout.rstrip().endswith(" to sqlite:///automagik.db.")
    assert count("sqlite:///automagik.db", "users") == written["users"] == 2
    assert not (tmp_path / "agentkeep.db").exists()
