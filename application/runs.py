"""Runs (SPEC §9): read one, list a session's, cancel one.

A cancel is one conditional update (the run must still be `queued`, `running` or
`requires_action`), with the session's lease given back in the same unit of work: the lease's token
is the run's id, so a cancel can never free a session that a later run holds. A run of this process
is also told to stop (`RunningRuns`): its model call is abandoned at once. A run of another process
finds out when it finishes: its end writes nothing for a cancelled run (`Runs.finish`).
"""

from __future__ import annotations

import asyncio
import uuid

from agentkeep.application.sessions import find_session
from agentkeep.domain.errors import NotFound
from agentkeep.domain.models import Run
from agentkeep.domain.paging import Page, Paging
from agentkeep.domain.patches import RunPatch
from agentkeep.domain.ports.unit_of_work import Storage, UnitOfWork
from agentkeep.domain.values import ACTIVE_RUN_STATUSES, RunStatus, utcnow


def lease_token(run_id: uuid.UUID) -> str:
    """The token of the session lease a run holds: its id, so that a cancel can give it back."""
    return run_id.hex


class RunningRuns:
    """The runs of this process in their model call, by id: a cancel stops one at once."""

    def __init__(self) -> None:
        self._calls: dict[uuid.UUID, asyncio.Task[object]] = {}
        self._cancelled: set[uuid.UUID] = set()

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
        async def work(uow: UnitOfWork) -> Run:
            return await find_run(uow, run_id)

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


async def find_run(uow: UnitOfWork, run_id: uuid.UUID) -> Run:
    run = await uow.runs.get(run_id)
    if run is None:
        raise NotFound(f"no run {run_id}", key="run_id")
    return run
