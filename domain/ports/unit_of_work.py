"""The unit of work (one transaction over every repository) and the storage that hands them out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol, TypeVar

from agentkeep.domain.models import Message, Run
from agentkeep.domain.patches import RunPatch
from agentkeep.domain.ports.agents import Agents
from agentkeep.domain.ports.bios import AgentBios
from agentkeep.domain.ports.idempotency_keys import IdempotencyKeys
from agentkeep.domain.ports.memories import Memories
from agentkeep.domain.ports.messages import Messages
from agentkeep.domain.ports.profile_metadata import ProfileMetadata
from agentkeep.domain.ports.run_events import RunEvents
from agentkeep.domain.ports.runs import Runs
from agentkeep.domain.ports.sessions import Sessions
from agentkeep.domain.ports.users import Users

T = TypeVar("T")


class UnitOfWorkAborted(RuntimeError):
    """A unit of work was used after one of its repositories raised: a bug in the use case (it
    should have left the unit of work), so no status is given to it (500)."""


class UnitOfWork(Protocol):
    """One transaction over every repository. Use it as `async with storage.unit_of_work() as uow`;
    it rolls back on leaving unless `commit()` was called. No I/O but the database's belongs inside.

    Once a repository has raised, the unit of work can only be left: every later repository call
    and `commit()` raise `UnitOfWorkAborted` (PostgreSQL aborts the transaction at the first
    failed statement; every adapter refuses the same). To try again, start a new one.
    """

    # Read-only properties, so that an adapter may hold repositories of a wider port (the
    # backfill ones) and still be a `UnitOfWork`.
    @property
    def users(self) -> Users: ...

    @property
    def agents(self) -> Agents: ...

    @property
    def bios(self) -> AgentBios: ...

    @property
    def profile_metadata(self) -> ProfileMetadata: ...

    @property
    def sessions(self) -> Sessions: ...

    @property
    def messages(self) -> Messages: ...

    @property
    def memories(self) -> Memories: ...

    @property
    def idempotency_keys(self) -> IdempotencyKeys: ...

    @property
    def runs(self) -> Runs: ...

    @property
    def run_events(self) -> RunEvents: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class Storage(Protocol):
    """A storage adapter: hands out units of work, and closes its connections when done."""

    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]: ...

    async def run(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """Run `work` in one unit of work and commit when it returns (roll back when it raises)."""
        ...

    async def finish_run(self, run: Run, patch: RunPatch, token: str, reply: Message | None = None) -> bool:
        """`Runs.finish` in a unit of work of its own, all or nothing. A database that does it in
        one statement runs that statement alone, with no transaction around it (a statement is
        atomic by itself): two round trips fewer at the end of every run."""
        ...

    async def close(self) -> None: ...
