"""Crash safety of the server (issue 7, item 4): `agentkeep serve` SIGKILLed, the uvicorn parent and
every worker at once, at a random moment of a load of runs and reads, then started again on the
same database, a few times over, on SQLite and on PostgreSQL.

After each kill the SQLite file passes `PRAGMA integrity_check` and `foreign_key_check`, and the
server starts again on it and serves (health 200, a run answered). At the end no run is half
written: every user message has its reply right after it or is the last of its session (a run
killed during its model call keeps its question, as a model failure does), every reply answers the
question before it, and every run answered 200 before the kill is there with its reply. The first
kill hits two workers, the others one (it starts in half the time). `AGENTKEEP_SERVE_KILLS` sets how
many kills (3 by default).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sqlite3
from pathlib import Path

import httpx

from tests.e2e.serve_process import (
    HEADERS,
    LOCKED,
    Load,
    ServeProcess,
    Tally,
    conversations,
    half_written,
    run_load,
    serving,
    sqlite_path,
    start_serve,
)

KILLS = int(os.environ.get("AGENTKEEP_SERVE_KILLS", "3"))


def test_a_server_killed_during_load_restarts_on_an_intact_database(database_url: str, tmp_path: Path) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    answered: set[str] = set()  # runs answered 200 before a kill: they must survive it
    sent: set[str] = set()
    for kill in range(KILLS):
        served = start_serve(database_url, tmp_path, workers=2 if kill == 0 else 1)
        try:
            sent.add(_a_run_works(served, f"after {kill} kills"))
            after = rng.uniform(0.5, 2.0)
            tally = asyncio.run(_load_until_killed(served, Load(f"kill-{kill}"), after))
        finally:
            served.kill_all()
        print(f"\nkill {kill + 1} (seed {seed}) after {after:.2f} s: {len(tally.ok)} runs, {tally.reads} reads")
        assert not [status for status in tally.statuses if status >= 500], tally.statuses
        assert LOCKED not in served.output()
        assert "Traceback" not in served.output()
        answered |= tally.ok
        sent |= tally.sent
        if database_url.startswith("sqlite"):
            _assert_intact(database_url)

    with serving(database_url, tmp_path, workers=1) as served:
        sent.add(_a_run_works(served, f"after {KILLS} kills"))

    stored = conversations(database_url)
    for session_id, messages in stored.items():
        assert half_written(messages) == [], session_id
    asked = [text for messages in stored.values() for role, text in messages if role == "user"]
    assert len(asked) == len(set(asked)) and set(asked) <= sent
    replied = {text for messages in stored.values() for role, text in messages if role == "assistant"}
    assert answered <= replied


async def _load_until_killed(served: ServeProcess, load: Load, after: float) -> Tally:
    """The load, with the whole server SIGKILLed `after` seconds into it."""
    stop = asyncio.Event()
    clients = asyncio.create_task(run_load(served.url, load, seconds=600, stop=stop))
    await asyncio.sleep(after)
    served.kill_all()
    stop.set()
    return await clients


def _a_run_works(served: ServeProcess, text: str) -> str:
    """A run on a new session is answered (the server was started, so `/health` answered 200)."""
    with httpx.Client(base_url=served.url, headers=HEADERS, timeout=30) as http:
        response = http.post("/api/v1/agents/assistant/run", json={"message_content": text})
    assert response.status_code == 200, response.text
    assert response.json()["message"] == text
    return text


def _assert_intact(database_url: str) -> None:
    with contextlib.closing(sqlite3.connect(sqlite_path(database_url))) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
