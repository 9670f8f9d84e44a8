"""Runs (SPEC §9): read one, list a session's, cancel one.

A cancel is one conditional update (the run must still be `queued`, `running` or
`requires_action`), with the session's lease given back in the same unit of work: the lease's token
is the run's id, so a cancel can never free a session that a later run holds. A run of this process
is also told to stop (`RunningRuns`): its model call is abandoned at once. A run of another process
finds out when it finishes: its end writes nothing for a cancelled run (`Runs.finish`).
"""

from __future__ import annotations

import asyncio
import builtins
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from agentkeep.application.run_feed import RunFeed
from agentkeep.application.sessions import find_session
from agentkeep.domain.errors import Conflict, NotFound
from agentkeep.domain.events import EventType, RunEvent
from agentkeep.domain.models import Message, Run, RunError
from agentkeep.domain.paging import Page, Paging
from agentkeep.domain.patches import RunPatch
from agentkeep.domain.ports.unit_of_work import Storage, UnitOfWork
from agentkeep.domain.values import ACTIVE_RUN_STATUSES, RunStatus, utcnow

POLL = 0.1
"""Seconds between two reads of a run's kept events, while it goes on in another process."""


def run_cancelled(run_id: uuid.UUID) -> Conflict:
    """The error of a run that was cancelled: what it answers (409 `run_cancelled`)."""
    error = Conflict("the run was cancelled", code="run_cancelled")
    error.details["run_id"] = str(run_id)
    return error


def lease_token(run_id: uuid.UUID) -> str:
    """The token of the session lease a run holds: its id, so that a cancel can give it back."""
    return run_id.hex


class RunningRuns:
    """The runs of this process in their model call, by id: a cancel stops one at once."""

    def __init__(self) -> None:
        self._calls: dict[uuid.UUID, asyncio.Task[object]] = {}
        self._cancelled: set[uuid.UUID] = set()
        self._feeds: dict[uuid.UUID, RunFeed] = {}

    def follow(self, feed: RunFeed) -> None:
        """A streamed run of this process: its readers here follow its feed."""
        self._feeds[feed.run_id] = feed

    def unfollow(self, feed: RunFeed) -> None:
        self._feeds.pop(feed.run_id, None)

    def feed(self, run_id: uuid.UUID) -> RunFeed | None:
        """The feed of a streamed run going on in this process."""
        return self._feeds.get(run_id)

    def enter(self, run_id: uuid.UUID) -> None:
        """The current task is in `run_id`'s model call, until `leave`."""
        task = asyncio.current_task()
        if task is not None:
            self._calls[run_id] = task

    def leave(self, run_id: uuid.UUID) -> bool:
        """The model call is over; whether it was cancelled by `stop` (then the task's
        cancellation is taken back: the run answers that it was cancelled instead)."""
        self._calls.pop(run_id, None)
        if run_id not in self._cancelled:
            return False
        self._cancelled.discard(run_id)
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        return True

    def stop(self, run_id: uuid.UUID) -> None:
        """Abandon the run's model call, if it is in one in this process."""
        task = self._calls.pop(run_id, None)
        if task is not None:
            self._cancelled.add(run_id)
            task.cancel()


class RunService:
    """Use cases on run records. Every method is one unit of work."""

    def __init__(self, storage: Storage, running: RunningRuns) -> None:
        self._storage = storage
        self._running = running

    async def get(self, run_id: uuid.UUID) -> Run:
        """The run; one its process left behind is `failed` (`interrupted`) from now on (§9.5)."""

        async def work(uow: UnitOfWork) -> Run:
            return await settled(uow, await find_run(uow, run_id))

        return await self._storage.run(work)

    async def list(self, session_id_or_name: str, paging: Paging) -> Page[Run]:
        """A session's runs, oldest first unless `paging.sort_desc`."""

        async def work(uow: UnitOfWork) -> tuple[list[Run], int]:
            session = await find_session(uow, session_id_or_name)
            return await uow.runs.list(session.id, paging)

        items, total = await self._storage.run(work)
        return Page(items, total, paging)

    async def cancel(self, run_id: uuid.UUID) -> Run:
        """Cancel the run if it is not finished (SPEC §9.4): its user message stays, nothing more
        is written for it, its session is free. A finished run is answered as it is."""

        async def work(uow: UnitOfWork) -> tuple[Run, bool]:
            cancelled = RunPatch(status=RunStatus.CANCELLED, finished_at=utcnow())
            updated = await uow.runs.update(run_id, cancelled, when=ACTIVE_RUN_STATUSES)
            if updated is None:
                return await find_run(uow, run_id), False
            await uow.sessions.release_run(updated.session_id, lease_token(updated.id))
            return updated, True

        run, cancelled = await self._storage.run(work)
        if cancelled:
            self._running.stop(run.id)
        return run

    async def events(
        self, run_id: uuid.UUID, after: int, failure: Callable[[Run], dict[str, Any]], *, keep_alive: float = 15.0
    ) -> AsyncIterator[builtins.list[RunEvent] | None]:
        """The run's events after id `after` (SPEC §9.2), in batches, then, while it goes on, the ones it
        makes, up to its terminal one; None after each `keep_alive` seconds of silence. NotFound
        (raised here, before any event) for an unknown run. `failure(run)`: the data of the
        `run.failed` of a failed run whose own was not kept."""
        run = await self.get(run_id)
        feed = self._running.feed(run_id)
        if feed is not None:  # it streams in this process: follow it here
            return feed.follow(after, keep_alive=keep_alive)
        return self._kept_events(run, after, failure, keep_alive)

    async def _kept_events(
        self, run: Run, after: int, failure: Callable[[Run], dict[str, Any]], keep_alive: float
    ) -> AsyncIterator[builtins.list[RunEvent] | None]:
        """What the database keeps of a run's events, polled for more while the run goes on; a
        run that ended without its terminal event kept (not streamed, or its process died) gets
        the rest made from its record, with the ids they would have had."""
        seen, quiet = after, 0.0
        while True:
            kept = await self._storage.run(_after(run.id, seen))
            if kept:
                seen = kept[-1].seq
                yield kept
                if kept[-1].event.terminal:
                    return
                quiet = 0.0
                continue
            current = await self.get(run.id)
            if not current.status.active:
                rest = [e for e in await self._storage.run(_rest(current, failure)) if e.seq > after]
                if rest:
                    yield rest
                return
            await asyncio.sleep(POLL)
            quiet += POLL
            if quiet >= keep_alive:
                quiet = 0.0
                yield None


def _after(run_id: uuid.UUID, seen: int) -> Callable[[UnitOfWork], Awaitable[list[RunEvent]]]:
    async def work(uow: UnitOfWork) -> list[RunEvent]:
        return await uow.run_events.after(run_id, seen)

    return work


def _rest(run: Run, failure: Callable[[Run], dict[str, Any]]) -> Callable[[UnitOfWork], Awaitable[list[RunEvent]]]:
    async def work(uow: UnitOfWork) -> list[RunEvent]:
        last = await uow.run_events.last(run.id)
        if last is not None and last.event.terminal:
            return []
        return await _rest_of(uow, run, 0 if last is None else last.seq, failure)

    return work


async def _rest_of(uow: UnitOfWork, run: Run, kept: int, failure: Callable[[Run], dict[str, Any]]) -> list[RunEvent]:
    """The events a finished run would have sent after its `kept` first ones (a run not streamed
    kept none): `run.created`, its reply as one `message.delta`, its terminal event."""
    events: list[tuple[EventType, dict[str, Any]]] = []
    reply = await uow.messages.get(run.assistant_message_id) if run.assistant_message_id else None
    session = await uow.sessions.get(run.session_id)
    if kept == 0:
        events.append((EventType.RUN_CREATED, created_data(run, session.name if session else None)))
        if reply is not None and reply.text_content:
            events.append((EventType.MESSAGE_DELTA, {"text": reply.text_content}))
    if run.status is RunStatus.COMPLETED and reply is not None:
        events.append((EventType.RUN_COMPLETED, completed_data(run, session.name if session else None, reply)))
    elif run.status is RunStatus.CANCELLED:
        events.append((EventType.RUN_CANCELLED, {"run_id": str(run.id)}))
    else:
        events.append((EventType.RUN_FAILED, failure(run)))
    first = kept + 1 if kept else 1
    return [RunEvent(run_id=run.id, seq=first + i, event=t, data=d) for i, (t, d) in enumerate(events)]


def created_data(run: Run, session_name: str | None) -> dict[str, Any]:
    """The data of `run.created`."""
    return {
        "run_id": str(run.id),
        "session_id": str(run.session_id),
        "session_name": session_name,
        "user_id": str(run.user_id),
        "agent_id": run.agent_id,
        "user_message_id": None if run.user_message_id is None else str(run.user_message_id),
    }


def completed_data(run: Run, session_name: str | None, reply: Message) -> dict[str, Any]:
    """The data of `run.completed`: the body the run answered (`RunResult`)."""
    return {
        "run_id": str(run.id),
        "status": run.status.value,
        "message": reply.text_content or "",
        "session_id": str(run.session_id),
        "session_name": session_name,
        "user_id": str(run.user_id),
        "agent_id": run.agent_id,
        "user_message_id": None if run.user_message_id is None else str(run.user_message_id),
        "assistant_message_id": str(reply.id),
        "tool_calls": [c.model_dump(mode="json") for c in reply.tool_calls],
        "tool_outputs": [o.model_dump(mode="json") for o in reply.tool_outputs],
        "usage": None if reply.usage is None else reply.usage.model_dump(mode="json"),
    }


async def settled(uow: UnitOfWork, run: Run) -> Run:
    """`run`, or, when it is `queued` or `running` without its session's lease (the lease ran out:
    the process that ran it died, SPEC §9.5), the same run ended `failed` with `interrupted`. A run
    holds its lease from the unit of work that writes it to the one that ends it, so a live run
    is never taken for a dead one."""
    if run.status not in _LEASED:
        return run
    lease = await uow.sessions.lease(run.session_id)
    if lease is not None and lease.token == lease_token(run.id) and lease.until >= utcnow():
        return run
    interrupted = RunPatch(
        status=RunStatus.FAILED,
        error=RunError(code="interrupted", detail="the process running it stopped before it ended"),
        finished_at=utcnow(),
    )
    ended = await uow.runs.update(run.id, interrupted, when=_LEASED)
    if ended is None:  # it ended meanwhile
        return await find_run(uow, run.id)
    await uow.sessions.release_run(run.session_id, lease_token(run.id))
    return ended


_LEASED = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})


async def find_run(uow: UnitOfWork, run_id: uuid.UUID) -> Run:
    run = await uow.runs.get(run_id)
    if run is None:
        raise NotFound(f"no run {run_id}", key="run_id")
    return run
