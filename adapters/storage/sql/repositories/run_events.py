"""Run events in SQL: one row per event, keyed (run_id, seq); the data kept as the JSON text it was
written as (`json` on PostgreSQL, not `jsonb`, which would reorder its keys)."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Sequence

from sqlalchemy import bindparam, select

from agentkeep.adapters.storage.sql.prepared import Prepared, insert_row
from agentkeep.adapters.storage.sql.repositories.base import SqlRepository, row_values
from agentkeep.adapters.storage.sql.tables import run_events
from agentkeep.domain.events import RunEvent

_ADD = Prepared(insert_row(run_events))
_AFTER = Prepared(
    select(run_events)
    .where(run_events.c.run_id == bindparam("run_id"), run_events.c.seq > bindparam("seq"))
    .order_by(run_events.c.seq)
    .limit(bindparam("limit"))
)
_LAST = Prepared(
    select(run_events).where(run_events.c.run_id == bindparam("run_id")).order_by(run_events.c.seq.desc()).limit(1)
)


class SqlRunEvents(SqlRepository):
    table = run_events

    async def add_many(self, events: Sequence[RunEvent]) -> None:
        if events:
            await self._executor.write(_ADD, [row_values(e) for e in events])

    async def after(self, run_id: uuid.UUID, seq: int, limit: int = 1000) -> builtins.list[RunEvent]:
        return await self._rows(RunEvent, _AFTER, {"run_id": run_id, "seq": seq, "limit": limit})

    async def last(self, run_id: uuid.UUID) -> RunEvent | None:
        return await self._row(RunEvent, _LAST, {"run_id": run_id})
