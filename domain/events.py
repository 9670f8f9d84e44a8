"""A run's events (SPEC §9.1): what a streamed run sends, kept so that any worker can replay them.

Ids count from 1 within a run. The data of each event is plain JSON, as it is sent: a stored event
is replayed byte for byte the same from any worker.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from agentkeep.domain.values import JsonObject, Timestamp, utcnow


class EventType(StrEnum):
    RUN_CREATED = "run.created"
    MESSAGE_DELTA = "message.delta"
    TOOL_CALL = "tool.call"
    TOOL_OUTPUT = "tool.output"
    RUN_COMPLETED = "run.completed"
    RUN_REQUIRES_ACTION = "run.requires_action"
    RUN_FAILED = "run.failed"
    RUN_CANCELLED = "run.cancelled"

    @property
    def terminal(self) -> bool:
        """Whether the event ends its run's stream (exactly one does, last)."""
        return self in TERMINAL_EVENTS


TERMINAL_EVENTS = frozenset(
    {EventType.RUN_COMPLETED, EventType.RUN_REQUIRES_ACTION, EventType.RUN_FAILED, EventType.RUN_CANCELLED}
)


class RunEvent(BaseModel):
    """One event of a run: its id (`seq`, from 1), its type and its data."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    __table__ = "run_events"

    run_id: uuid.UUID
    seq: int = Field(ge=1)
    event: EventType
    data: JsonObject
    created_at: Timestamp = Field(default_factory=utcnow)
