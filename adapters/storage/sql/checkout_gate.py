"""Who gets the next free PostgreSQL connection: a run's reply before a new unit of work.

A run checks a connection out twice: for its first unit of work, and, after the model answered,
for its reply (`add_reply`; no connection is held across the model call). Under load every
connection is busy and both kinds wait; SQLAlchemy's pool serves them in arrival order, so a reply
that would finish a request waits behind the units of work of requests that have only begun, and
the slowest requests wait twice as long as they need to. The gate admits as many checkouts as the
pool holds connections and hands a freed place to a waiting reply first: it never caps units of
work (all of the pool may be in units of work at once), it only orders the waiters.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class CheckoutGate:
    """At most `size` checkouts at once; waiting replies are admitted before waiting units of work."""

    def __init__(self, size: int) -> None:
        self._free = size
        self._replies: collections.deque[asyncio.Future[None]] = collections.deque()
        self._others: collections.deque[asyncio.Future[None]] = collections.deque()

    @asynccontextmanager
    async def place(self, *, reply: bool = False) -> AsyncIterator[None]:
        """Hold one of the places for the block; a reply jumps the queue of units of work."""
        await self._acquire(self._replies if reply else self._others)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, queue: collections.deque[asyncio.Future[None]]) -> None:
        if self._free > 0 and not self._replies and not self._others:
            self._free -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        queue.append(waiter)
        try:
            await waiter  # the place is handed over with the result: `_free` stays as it is
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # handed a place as it was cancelled: pass it on
            elif waiter in queue:
                queue.remove(waiter)
            raise

    def _release(self) -> None:
        for queue in (self._replies, self._others):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._free += 1
