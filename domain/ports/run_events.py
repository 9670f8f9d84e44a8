"""The run events port: a run's events, kept in order (SPEC §9.2)."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence
from typing import Protocol

from agentkeep.domain.events import RunEvent


class RunEvents(Protocol):
    """A run's events by id (`seq`). Deleting the run (its session) deletes them."""

    async def add_many(self, events: Sequence[RunEvent]) -> None:
        """Append `events` (of runs that exist): one statement. Conflict on a taken (run, seq)."""
        ...

    async def after(self, run_id: uuid.UUID, seq: int, limit: int = 1000) -> builtins.list[RunEvent]:
        """The run's events whose id is greater than `seq`, oldest first, at most `limit`."""
        ...

    async def last(self, run_id: uuid.UUID) -> RunEvent | None:
        """The run's last event kept; None when it has none."""
        ...
