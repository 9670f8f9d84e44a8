"""Runs of this process waiting for a busy session (SPEC §9.6 `enqueue`): first come, first
served, one queue per session.

Only the first in a session's queue asks the database again, and only when it is woken: at once
when a run of this process gives the session back (`release`), or after a pause that grows while
the holder is a run of another process. The others wait without any database work until they are
first. So a session given back wakes one waiter, never all of them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque


class SessionQueues:
    """The waiting runs of this process, per session, in their order of arrival."""

    def __init__(self) -> None:
        self._queues: dict[uuid.UUID, deque[Place]] = {}

    def join(self, session_id: uuid.UUID) -> Place:
        """A place at the end of the session's queue."""
        place = Place(self, session_id)
        self._queues.setdefault(session_id, deque()).append(place)
        return place

    def release(self, session_id: uuid.UUID) -> None:
        """A run of this process gave the session back: wake the first in its queue."""
        queue = self._queues.get(session_id)
        if queue:
            queue[0].wake()

    def _leave(self, place: Place, *, holds: bool) -> None:
        queue = self._queues.get(place.session_id)
        if queue is None or place not in queue:
            return
        first = queue[0] is place
        queue.remove(place)
        if not queue:
            del self._queues[place.session_id]
        elif first and not holds:
            queue[0].wake()  # the session is not taken by the one that left: the next may try

    def _is_first(self, place: Place) -> bool:
        queue = self._queues.get(place.session_id)
        return queue is not None and bool(queue) and queue[0] is place


class Place:
    """One waiting run's place in its session's queue."""

    def __init__(self, queues: SessionQueues, session_id: uuid.UUID) -> None:
        self._queues = queues
        self.session_id = session_id
        self._woken = asyncio.get_running_loop().create_future()

    @property
    def first(self) -> bool:
        return self._queues._is_first(self)

    async def wait(self, at_most: float) -> bool:
        """Wait to be woken, `at_most` seconds; whether it was."""
        try:
            await asyncio.wait_for(asyncio.shield(self._woken), at_most)
            woken = True
        except TimeoutError:
            woken = False
        if self._woken.done():
            self._woken = asyncio.get_running_loop().create_future()
        return woken

    def wake(self) -> None:
        if not self._woken.done():
            self._woken.set_result(None)

    def leave(self, *, holds: bool) -> None:
        """Leave the queue: `holds`, with the session taken (the next waits for its release)."""
        self._queues._leave(self, holds=holds)
