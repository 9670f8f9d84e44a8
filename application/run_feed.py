"""A streamed run's events (SPEC §9.1, §9.2): numbered from 1, kept in the database in small
batches, and followed live by any number of readers in this process.

The run writes its events through a `RunFeed`: `run.created` is kept with the run itself (in its
prepare unit of work); the deltas are kept together, one unit of work per batch, once
`FLUSH_AFTER` seconds have passed since the first one not yet kept or `BATCH` of them wait; the
terminal event is kept with the last deltas, after the run's end is stored. So a stream costs the
database a few statements per second of reply, not one per token.

A reader of this process (the stream that started the run, `GET /runs/{id}/events` on the same
worker) follows the feed itself: it never waits for the database. A reader elsewhere reads what is
kept and polls for more (`RunService.events`).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from agentkeep.domain.errors import DomainError
from agentkeep.domain.events import EventType, RunEvent
from agentkeep.domain.ports.unit_of_work import Storage

BATCH = 64
FLUSH_AFTER = 0.05


class RunFeed:
    """The events of one run as it goes. `emit` numbers and buffers an event; `close` keeps what
    is left (the terminal event last). `follow(after)` yields every event after that id, live,
    until the terminal one."""

    def __init__(self, storage: Storage, run_id: uuid.UUID) -> None:
        self._storage = storage
        self.run_id = run_id
        self._events: list[RunEvent] = []
        self._kept = 0  # how many of `_events` are in the database
        self._changed = asyncio.Event()
        self._flusher: asyncio.TimerHandle | None = None
        self._writing = asyncio.Lock()  # one batch at a time, in order
        self._tasks: set[asyncio.Task[None]] = set()

    def created(self, data: dict[str, Any]) -> RunEvent:
        """The first event (`run.created`), which the run's prepare unit of work keeps with the
        run: counted as kept. (A prepare tried again makes it again.)"""
        self._events.clear()
        event = self._append(EventType.RUN_CREATED, data)
        self._kept = len(self._events)
        return event

    def emit(self, event_type: EventType, data: dict[str, Any]) -> None:
        """Add an event; it is kept with the next batch."""
        self._append(event_type, data)
        if len(self._events) - self._kept >= BATCH:
            self._flush_soon(0)
        elif self._flusher is None:
            self._flush_soon(FLUSH_AFTER)

    async def close(self, event_type: EventType, data: dict[str, Any]) -> None:
        """Add the terminal event and keep every event not kept yet. The terminal event is sent
        to readers of this process even when the database cannot keep it."""
        self._append(event_type, data)
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        with contextlib.suppress(DomainError):
            await self._flush()

    async def follow(self, after: int = 0, keep_alive: float | None = None) -> AsyncIterator[list[RunEvent] | None]:
        """Every event with an id greater than `after`, as it comes, up to the terminal one: the
        events there are at each step, together (a reader sends them at once); with `keep_alive`,
        None after each that many seconds without an event."""
        seen = after
        while True:
            if seen < len(self._events):
                batch = self._events[seen:]
                seen += len(batch)
                yield batch
                if batch[-1].event.terminal:
                    return
                continue
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), keep_alive)
            except TimeoutError:
                yield None

    def _append(self, event_type: EventType, data: dict[str, Any]) -> RunEvent:
        event = RunEvent(run_id=self.run_id, seq=len(self._events) + 1, event=event_type, data=data)
        self._events.append(event)
        self._changed.set()
        return event

    def _flush_soon(self, delay: float) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
        self._flusher = asyncio.get_running_loop().call_later(delay, self._start_flush)

    def _start_flush(self) -> None:
        self._flusher = None
        task = asyncio.get_running_loop().create_task(self._flush_quietly())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush_quietly(self) -> None:
        # A batch the database cannot keep now is kept with the next one (or by `close`).
        with contextlib.suppress(DomainError):
            await self._flush()

    async def _flush(self) -> None:
        async with self._writing:
            batch = self._events[self._kept :]
            if batch:
                await self._storage.run(lambda uow: uow.run_events.add_many(batch))
                self._kept += len(batch)
