"""SQLite's large INSERTs (`ManyRows`): the one-row statement made multi-row, the rows cut in
statements within SQLite's limit of bound values, and the switch interval put back after."""

from __future__ import annotations

import asyncio
import sqlite3
import sys

import pytest

from agentkeep.adapters.storage.sql import large_writes
from agentkeep.adapters.storage.sql.large_writes import ManyRows

INSERT = "INSERT INTO t (a, b) VALUES (?, ?)"
UPSERT = f"{INSERT} ON CONFLICT (a) DO UPDATE SET b = excluded.b"


def test_a_one_row_insert_is_made_multi_row_with_its_conflict_clause_kept() -> None:
    many = ManyRows.of(UPSERT)

    assert many is not None and many.width == 2
    assert many.sql(3) == (
        "INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?) ON CONFLICT (a) DO UPDATE SET b = excluded.b"
    )


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE t SET b=? WHERE t.a = ?",
        "INSERT INTO t (a, b) SELECT a, b FROM u WHERE a = ?",
        "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)",
    ],
    ids=["update", "insert-select", "already-multi-row"],
)
def test_other_statements_are_left_to_executemany(sql: str) -> None:
    assert ManyRows.of(sql) is None


@pytest.mark.parametrize(
    ("rows", "statements"),
    [(1, [1]), (5, [5]), (7, [5, 2]), (13, [5, 5, 2, 1]), (15, [5, 5, 5]), (30, [5, 5, 5, 5, 5, 5])],
)
def test_rows_are_cut_within_the_bound_value_limit_in_order(
    monkeypatch: pytest.MonkeyPatch, rows: int, statements: list[int]
) -> None:
    # Five rows of two values a statement at most; what is left in powers of two, largest first.
    monkeypatch.setattr(large_writes, "MAX_VALUES", 11)
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT)")
    traced: list[str] = []
    connection.set_trace_callback(traced.append)
    many = ManyRows.of(UPSERT)
    assert many is not None

    many.insert(connection, [(n, f"row {n}") for n in range(rows)])

    assert connection.execute("SELECT a, b FROM t ORDER BY rowid").fetchall() == [(n, f"row {n}") for n in range(rows)]
    assert [s.count("'row ") for s in traced if s.startswith("INSERT")] == statements


def test_a_bad_row_fails_the_insert_as_executemany_does() -> None:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE t (a INTEGER PRIMARY KEY, b TEXT NOT NULL)")
    many = ManyRows.of(INSERT)
    assert many is not None

    with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
        many.insert(connection, [(1, "one"), (2, None)])


async def test_the_switch_interval_is_short_while_writes_run_and_put_back_after() -> None:
    before = sys.getswitchinterval()
    seen: list[float] = []

    async def write() -> None:
        with large_writes.short_switch_interval:
            await asyncio.sleep(0)
            seen.append(sys.getswitchinterval())
            await asyncio.sleep(0)

    await asyncio.gather(write(), write())  # overlapping: the first to end must not put it back

    assert seen == pytest.approx([large_writes.WRITER_SWITCH_INTERVAL] * 2)  # kept in whole microseconds
    assert sys.getswitchinterval() == before
