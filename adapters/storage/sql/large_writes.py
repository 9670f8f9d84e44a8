"""SQLite's large INSERTs, run in a worker thread while the event loop goes on (a backfill plans
its next rows meanwhile: `WriteBehind` in `application/backfill.py`).

A write of `OFF_LOOP_ROWS` rows or more of a one-row `INSERT ... VALUES (?, ...)` runs as multi-row
INSERTs (`ManyRows`) in the loop's default executor, with a short switch interval while it runs
(`ShortSwitchInterval`); a caller cancelled meanwhile waits for the thread before it goes on
(`finished`). Anything else is left to the caller's inline `executemany`.
"""

from __future__ import annotations

import asyncio
import functools
import re
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, TypeVar

T = TypeVar("T")


async def insert(driver: sqlite3.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> bool:
    """Insert `rows` with `sql` off the event loop when they are many and `sql` is a one-row
    INSERT; False, having done nothing, otherwise."""
    many = ManyRows.of(sql) if len(rows) >= OFF_LOOP_ROWS else None
    if many is None:
        return False
    with short_switch_interval:
        await finished(asyncio.get_running_loop().run_in_executor(None, many.insert, driver, rows))
    return True


#: A write of at least this many rows runs off the event loop (`insert`).
OFF_LOOP_ROWS = 500
#: At most this many bound values per statement: SQLite's default limit since 3.32 (a build may
#: allow more), so the statements run on any SQLite agentkeep supports.
MAX_VALUES = 32_766
#: At most this many rows per statement.
MAX_ROWS = 2_048


@dataclass(frozen=True, slots=True)
class ManyRows:
    """An `INSERT ... VALUES (?, ...) [ON CONFLICT ...]` run as multi-row INSERTs of up to
    `MAX_ROWS` rows each.

    Why: `sqlite3` releases the interpreter lock around each step of a statement, and an
    executemany steps once per row, so the thread that runs it must win the lock back for every
    row. In a worker thread beside a busy event loop it would wait for the lock (the switch
    interval, 5 ms) at every row; a statement of thousands of rows waits once per statement, and
    SQLite inserts its rows with the lock free. Alone it costs what the executemany costs. The
    rows, the order and the outcome are the executemany's: a statement either inserts all its
    rows or fails as the executemany fails on its first bad row, and the unit of work is then
    rolled back either way.
    """

    head: str
    group: str
    tail: str
    width: int

    @staticmethod
    @functools.cache
    def of(sql: str) -> ManyRows | None:
        """The multi-row form of `sql`; None for a statement that is not a one-row INSERT."""
        match = _VALUES.search(sql)
        if not sql.startswith("INSERT ") or match is None:
            return None
        group = match.group(1)
        return ManyRows(sql[: match.start(1)], group, sql[match.end(1) :], group.count("?"))

    def insert(self, driver: sqlite3.Connection, rows: Sequence[Sequence[Any]]) -> None:
        """Insert `rows`: statements of the most rows allowed, then what is left in statements of
        a power of two rows each, largest first. So a table is written by a few statement sizes
        only, and the connection's statement cache (which keeps each compiled statement, up to a
        megabyte for the largest) holds a few per table however many batch sizes there are."""
        most = max(1, min(MAX_ROWS, MAX_VALUES // self.width))
        start = 0
        while start < len(rows):
            left = len(rows) - start
            size = most if left >= most else 1 << (left.bit_length() - 1)
            chunk = rows[start : start + size]
            driver.execute(self.sql(size), list(chain.from_iterable(chunk)))
            start += size

    def sql(self, rows: int) -> str:
        return self.head + ", ".join([self.group] * rows) + self.tail


#: The one row of values of an INSERT (not followed by another).
_VALUES = re.compile(r" VALUES (\(\?(?:, \?)*\))(?!,)")


#: The interpreter's switch interval while a write runs in a worker thread (`ShortSwitchInterval`).
WRITER_SWITCH_INTERVAL = 0.0002


class ShortSwitchInterval:
    """A shorter switch interval while writes run in worker threads.

    A thread that wants the interpreter lock back (the writer, after each step of SQLite and
    between two statements) waits until the thread holding it gives it up, which a busy thread
    does only every switch interval: 5 ms by default, longer than a step takes. The event loop's
    thread is busy meanwhile (it plans the next rows), so the writer would wait more than it
    writes. The interval is put back when the last such write ends.
    """

    def __init__(self) -> None:
        self._running = 0
        self._saved = sys.getswitchinterval()

    def __enter__(self) -> None:
        if self._running == 0:
            self._saved = sys.getswitchinterval()
            sys.setswitchinterval(WRITER_SWITCH_INTERVAL)
        self._running += 1

    def __exit__(self, *_: object) -> None:
        self._running -= 1
        if self._running == 0:
            sys.setswitchinterval(self._saved)


short_switch_interval = ShortSwitchInterval()


async def finished(work: asyncio.Future[T]) -> T:
    """The result of `work` (a worker thread's); when the caller is cancelled meanwhile, the
    thread cannot be stopped, so its end is waited for before the cancellation goes on (the
    unit of work then rolls back on a connection that is idle)."""
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        await asyncio.wait([work])
        if not work.cancelled():
            work.exception()  # retrieved: the cancellation is what is reported
        raise
