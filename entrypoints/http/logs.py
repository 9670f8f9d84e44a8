"""The server's log: records go to stderr in batches, written by the thread that logs them.

Litestar's default set-up sends every record of the root logger through a queue to a listener
thread, which writes and flushes it alone: for the access log, a thread hop and a write per
request, 0.2 ms of CPU each (measured: 13% of a first run's requests/s on PostgreSQL). Here the
lines are held and written together: at once for a warning or worse (with the lines before it),
when they reach the size of one atomic pipe write, and at least every `FLUSH_SECONDS` while the
app runs (and when it stops, and at exit). So an access line shows up at most that late.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any, TextIO

#: Litestar's default format, which the server's lines had before.
FORMAT = "%(levelname)s - %(asctime)s - %(name)s - %(module)s - %(message)s"
FLUSH_SECONDS = 0.5
#: POSIX's PIPE_BUF on Linux: a write to a pipe of at most this many bytes is never interleaved
#: with another process's, so workers sharing one stderr never cut each other's lines.
ATOMIC_WRITE = 4096


class BatchedStreamHandler(logging.Handler):
    """Holds formatted lines and writes them in batches of whole lines, each one write of at most
    `ATOMIC_WRITE` bytes (a longer line alone), to `stream` (stderr as it is when the handler is
    made, as `logging.StreamHandler` takes it: a stream swapped later, by the CLI's test runner for
    one command, never gets the lines held for another)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self._stream = stream if stream is not None else sys.stderr
        self._held: list[str] = []
        self._size = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
        except Exception:
            self.handleError(record)
            return
        size = len(line) if line.isascii() else len(line.encode(errors="backslashreplace"))
        if self._size + size > ATOMIC_WRITE:
            self._write()
        self._held.append(line)
        self._size += size
        if record.levelno >= logging.WARNING:
            self._write()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # made by Handler.__init__
            self._write()

    def _write(self) -> None:
        if not self._held:
            return
        text = "".join(self._held)
        self._held.clear()
        self._size = 0
        with suppress(OSError, ValueError):  # the stream closed (at exit) or gone: nothing to tell it
            self._stream.write(text)
            self._stream.flush()


def configure_logging() -> None:
    """Root logs at INFO through one `BatchedStreamHandler` (once per process)."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    if not any(isinstance(handler, BatchedStreamHandler) for handler in root.handlers):
        handler = BatchedStreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)


def flush_logs() -> None:
    for handler in logging.getLogger().handlers:
        if isinstance(handler, BatchedStreamHandler):
            handler.flush()


@asynccontextmanager
async def logs_flushed(_app: Any) -> AsyncIterator[None]:
    """The app's lifespan: the held lines written every `FLUSH_SECONDS`, and when it stops."""

    async def flush_periodically() -> None:
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            flush_logs()

    task = asyncio.create_task(flush_periodically())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        flush_logs()
