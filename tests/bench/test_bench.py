"""The benchmark's own parts: the floors write what agentkeep reads, wrk's report is read right, and
the bars are judged right. (The figures themselves are `make bench`'s.)"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from agentkeep.adapters.storage.sql.database import open_storage
from bench.databases import AGENT, asyncpg_dsn, prepare, sqlite_url
from bench.floor.app import open_floor
from bench.http_run import parse_wrk
from bench.report import Bar, Row, http_rows, turn_rows
from bench.turn import run_turn

# wrk 4.1's report; it pads the 99% line with a space when the figure is in seconds.
WRK_REPORT = "\n".join(
    [
        "Running 1s test @ http://127.0.0.1:60879",
        "  2 threads and 32 connections",
        "  Thread Stats   Avg      Stdev     Max   +/- Stdev",
        "    Latency   441.91ms  210.50ms   1.01s    63.08%",
        "    Req/Sec    42.60     28.36    90.00     80.00%",
        "  Latency Distribution",
        "     50%  440.17ms",
        "     75%  631.80ms",
        "     90%  691.90ms",
        "     99%    1.01s ",
        "  65 requests in 1.10s, 41.80KB read",
        "  Socket errors: connect 0, read 1, write 0, timeout 2",
        "  Non-2xx or 3xx responses: 3",
        "Requests/sec:     59.09",
        "Transfer/sec:     38.01KB",
    ]
)


def _two_turns(url: str, floor_url: str) -> tuple[list[Any], list[Any]]:
    """Two runs on one named session and one on a missing agent through the floor, then the
    session's history read back through agentkeep's storage."""
    prepare(url)

    async def turns() -> tuple[list[Any], list[Any]]:
        floor = await open_floor(floor_url)
        try:
            answers = [
                await floor.run(AGENT, "hello there", "bench-1"),
                await floor.run(AGENT, "and again", "bench-1"),
                await floor.run("nobody", "hello", None),
            ]
        finally:
            await floor.close()
        storage = open_storage(url)
        try:
            assert answers[0] is not None
            session_id = uuid.UUID(answers[0]["session_id"])
            history = await storage.run(lambda uow: uow.messages.last(session_id, 50))
        finally:
            await storage.close()
        return answers, history

    return asyncio.run(turns())


def _assert_agentkeep_reads_the_floor(answers: list[Any], history: list[Any]) -> None:
    first, second, missing = answers
    assert missing is None
    assert second["session_id"] == first["session_id"]
    assert [(m.role.value, m.text_content) for m in history] == [
        ("user", "hello there"),
        ("assistant", "hello there"),
        ("user", "and again"),
        ("assistant", "and again"),
    ]
    assert [str(m.id) for m in history[2:]] == [second["user_message_id"], second["assistant_message_id"]]
    # The echo usage counts the words sent: two earlier messages and the new one, two words each.
    assert history[-1].usage is not None and history[-1].usage.request_tokens == 6


def test_agentkeep_reads_what_the_sqlite_floor_writes(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path, "floor")
    _assert_agentkeep_reads_the_floor(*_two_turns(url, url))


@pytest.mark.postgres
def test_agentkeep_reads_what_the_postgres_floor_writes(pg_database: str) -> None:
    _assert_agentkeep_reads_the_floor(*_two_turns(pg_database, asyncpg_dsn(pg_database)))


def test_wrk_report_is_read_with_units_and_errors() -> None:
    assert parse_wrk(WRK_REPORT) == {
        "rps": 59.09,
        "p50_ms": 440.17,
        "p99_ms": 1010.0,
        "non_2xx": 3,
        "socket_errors": 3,
    }


def test_a_ratio_bar_is_judged_on_agentkeep_over_the_floor() -> None:
    assert Row("req/s", 60.0, 100.0, Bar("≥", 0.5)).met is True
    assert Row("req/s", 40.0, 100.0, Bar("≥", 0.5)).met is False
    assert Row("p99", 250.0, 100.0, Bar("≤", 2.0)).met is False
    assert Row("p50", 250.0, 100.0).met is None


def test_errors_of_either_app_miss_the_bar() -> None:
    figures = {"rps": 1.0, "p50_ms": 1.0, "p99_ms": 1.0, "non_2xx": 0, "socket_errors": 0}
    failing_floor = {**figures, "socket_errors": 1}
    rows = http_rows({"sqlite": {"session": {"agentkeep": figures, "floor": failing_floor}}})
    errors = rows[-1]
    assert (errors.agentkeep, errors.floor, errors.ratio, errors.met) == (0, 1, None, False)


def test_the_in_process_turn_runs_both_sides_and_is_judged_against_five_times_raw() -> None:
    figures = run_turn(turns=5, rounds=1)
    assert figures["agentkeep_ms"] > 0 and figures["raw_ms"] > 0
    (row,) = turn_rows(figures)
    assert row.ratio == figures["agentkeep_ms"] / figures["raw_ms"]
    assert turn_rows({"agentkeep_ms": 5.0, "raw_ms": 1.0})[0].met is True
    assert turn_rows({"agentkeep_ms": 5.1, "raw_ms": 1.0})[0].met is False
