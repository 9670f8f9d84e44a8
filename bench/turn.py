"""One conversation turn in-process: agentkeep's `RunAgent` against the raw `sqlite3` turn, in one run.

A turn, on a session that already holds 1,000 messages:

* agentkeep: `RunAgent` (the use case: echo model, SQLite, `message_limit` 50), then the session's
  last 50 messages read back through the port (`uow.messages.last`);
* raw: the same statements on the stdlib `sqlite3` driver with agentkeep's connection settings
  (`PRAGMAS`: WAL, `synchronous=NORMAL`), as the HTTP floor runs them (`bench.floor.sqlite`: read
  the agent, the session and the last 50 messages, insert two, commit), then the last 50 again:
  the fastest plain code, rows left as the driver's tuples, only the text the echo model counts
  read from them (no decoding, no validation: what agentkeep does on top is what the ratio shows).

Each side gets its own database (agentkeep's schema, `bench.databases.prepare`), seeded alike: 500
turns of the raw floor, so 1,000 messages in the session. Then rounds of `turns` sequential turns,
alternating which side goes first; ms per turn is the median over the rounds, after a warm-up.

    .venv/bin/python -m bench.turn [--turns 500] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from agentkeep.adapters.models.echo import EchoModel
from agentkeep.adapters.storage.sql.database import SqliteStorage, open_storage
from agentkeep.adapters.storage.sql.sqlite import PRAGMAS
from agentkeep.application.run_agent import RunAgent, RunRequest
from agentkeep.domain.ports import ChatModel
from bench.databases import AGENT, prepare, sqlite_url
from bench.floor.sqlite import _INSERT_MESSAGE, _LAST, SqliteFloor, _now
from bench.floor.turn import HISTORY, echo_usage

SESSION = "bench-turn"
SEEDED = 1000  # messages in the session before the first measured turn
TEXT = "hello there, how are you?"
Turn = Callable[[], Awaitable[None]]
_TEXT = 6  # the column of `text_content` in a messages row (SELECT *: seq, id, session_id, ...)


class _Echo:
    """Every agent talks to the echo model."""

    def get(self, model: str) -> ChatModel:
        return EchoModel()


async def _seed(url: str) -> uuid.UUID:
    """The session SESSION with SEEDED messages, written by the raw floor; its id. (`url`: prepared.)"""
    floor = SqliteFloor(url.removeprefix("sqlite:///"))
    try:
        answer = None
        for _ in range(SEEDED // 2):
            answer = await floor.run(AGENT, TEXT, SESSION)
        assert answer is not None
        return uuid.UUID(answer["session_id"])
    finally:
        await floor.close()


def agentkeep_turn(storage: SqliteStorage, session_id: uuid.UUID) -> Turn:
    run = RunAgent(storage, _Echo())
    request = RunRequest(message_content=TEXT, session_name=SESSION, message_limit=HISTORY)

    async def turn() -> None:
        result = await run(AGENT, request)
        assert result.session_id == session_id
        history = await storage.run(lambda uow: uow.messages.last(session_id, HISTORY))
        assert len(history) == HISTORY and history[-1].id == result.assistant_message_id

    return turn


def raw_turn(path: str) -> tuple[Turn, Callable[[], None]]:
    """The raw turn on its own `sqlite3` connection (agentkeep's PRAGMAS), and its closer."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in (*PRAGMAS, "busy_timeout = 30000"):
        db.execute(f"PRAGMA {pragma}")

    async def turn() -> None:
        db.execute("BEGIN IMMEDIATE")
        agent = db.execute("SELECT * FROM agent WHERE name = ?", (AGENT,)).fetchone()
        session = db.execute("SELECT * FROM sessions WHERE name = ?", (SESSION,)).fetchone()
        history = db.execute(_LAST, (session[0], HISTORY)).fetchall()
        usage = echo_usage(TEXT, ({"text_content": row[_TEXT]} for row in history))
        common = (session[0], session[1], agent[0])
        db.execute(_INSERT_MESSAGE, (uuid.uuid4().hex, *common, "user", TEXT, None, _now()))
        db.execute(_INSERT_MESSAGE, (uuid.uuid4().hex, *common, "assistant", TEXT, json.dumps(usage), _now()))
        db.execute("COMMIT")
        last = db.execute(_LAST, (session[0], HISTORY)).fetchall()[::-1]
        assert len(last) == HISTORY and last[-1][_TEXT] == TEXT and last[-1][5] == "assistant"

    return turn, db.close


async def _round(turn: Turn, turns: int) -> float:
    start = time.perf_counter()
    for _ in range(turns):
        await turn()
    return (time.perf_counter() - start) * 1000 / turns


async def measure(ours_url: str, raw_url: str, turns: int, rounds: int) -> dict[str, Any]:
    """{"agentkeep_ms", "raw_ms", "ratio", "turns", "rounds"}: medians of the rounds."""
    if True:
        ours_session = await _seed(ours_url)
        await _seed(raw_url)
        storage = open_storage(ours_url)
        assert isinstance(storage, SqliteStorage)
        raw, close_raw = raw_turn(raw_url.removeprefix("sqlite:///"))
        try:
            sides = {"agentkeep": agentkeep_turn(storage, ours_session), "raw": raw}
            for turn in sides.values():
                await _round(turn, min(turns, 100))  # warm-up: caches, compiled statements
            samples: dict[str, list[float]] = {side: [] for side in sides}
            for i in range(rounds):
                for side in sides if i % 2 == 0 else reversed(sides):
                    samples[side].append(await _round(sides[side], turns))
        finally:
            await storage.close()
            close_raw()
    ours_ms, raw_ms = (statistics.median(samples[side]) for side in ("agentkeep", "raw"))
    return {"agentkeep_ms": ours_ms, "raw_ms": raw_ms, "ratio": ours_ms / raw_ms, "turns": turns, "rounds": rounds}


def run_turn(turns: int, rounds: int) -> dict[str, Any]:
    """The in-process turn, agentkeep and raw, on two fresh SQLite databases."""
    with tempfile.TemporaryDirectory() as tmp:
        urls = sqlite_url(Path(tmp), "agentkeep"), sqlite_url(Path(tmp), "raw")
        for url in urls:
            prepare(url)
        return asyncio.run(measure(*urls, turns, rounds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    result = run_turn(args.turns, args.rounds)
    print(
        f"in-process turn, SQLite: agentkeep {result['agentkeep_ms']:.3f} ms, raw sqlite3 {result['raw_ms']:.3f} ms,"
        f" ratio {result['ratio']:.2f}"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
