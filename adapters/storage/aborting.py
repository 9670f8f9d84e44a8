"""Units of work that refuse every call once one of their repositories raised, on every adapter.

PostgreSQL aborts a transaction at its first failed statement and refuses every statement after it
until the transaction is rolled back. SQLite and the memory adapter would go on, so a use case that
carries on after an error (a caught `Conflict`, say) would pass on them and fail on PostgreSQL. Each
unit of work therefore puts its repositories behind one `Abort`: the first call that raises marks
it, and every later repository call, and `commit()`, raises `UnitOfWorkAborted` instead of running.
Leaving the unit of work rolls it back, as it always does.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from agentkeep.domain.ports.unit_of_work import UnitOfWorkAborted

R = TypeVar("R")


class Abort:
    """The aborted state of one unit of work: the error that aborted it, if any."""

    __slots__ = ("cause",)

    def __init__(self) -> None:
        self.cause: BaseException | None = None

    def check(self) -> None:
        """Raise `UnitOfWorkAborted` when a repository of the unit of work has raised."""
        if self.cause is not None:
            raise UnitOfWorkAborted(
                f"a repository raised in this unit of work ({type(self.cause).__name__}: {self.cause}):"
                " it can only be left (its writes are rolled back)"
            ) from self.cause

    def guard(self, repository: R) -> R:
        """`repository`, its coroutine methods checked before and marked on failure."""
        return cast(R, _Guarded(repository, self))


class _Guarded:
    """A repository whose coroutine methods go through `Abort` (each wrapped once, on first use)."""

    def __init__(self, repository: object, abort: Abort) -> None:
        self._repository = repository
        self._abort = abort

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._repository, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute
        guarded = _guarded(attribute, self._abort)
        setattr(self, name, guarded)  # later lookups find it without `__getattr__`
        return guarded


def _guarded(method: Callable[..., Awaitable[Any]], abort: Abort) -> Callable[..., Awaitable[Any]]:
    async def call(*args: Any, **kwargs: Any) -> Any:
        if abort.cause is not None:
            abort.check()
        try:
            return await method(*args, **kwargs)
        except BaseException as error:
            if abort.cause is None:
                abort.cause = error
            raise

    return call
