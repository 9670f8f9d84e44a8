"""The runs port: the record of every run (SPEC §9)."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Collection
from typing import Protocol

from agentkeep.domain.models import Message, Run
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import RunPatch
from agentkeep.domain.values import RunStatus


class Runs(Protocol):
    """Runs by id, and a session's runs oldest first (by `created_at`, then id)."""

    async def add(self, run: Run, *, user_message: Message | None = None) -> Run:
        """Insert `run`; with `user_message`, that message first (appended to its session), in
        one statement where the database allows. NotFound without its session; Conflict on a
        taken id (the run's or the message's)."""
        ...

    async def get(self, run_id: uuid.UUID) -> Run | None: ...

    async def list(self, session_id: uuid.UUID, paging: Paging) -> tuple[builtins.list[Run], int]: ...

    async def active(self, session_id: uuid.UUID) -> Run | None:
        """The session's newest run still `queued`, `running` or `requires_action`; None if none."""
        ...

    async def update(
        self, run_id: uuid.UUID, patch: RunPatch, *, when: Collection[RunStatus] | None = None
    ) -> Run | None:
        """Apply `patch` (and stamp `updated_at`) if the run exists and, with `when`, only while its
        status is one of `when`: one conditional statement, so that two processes finishing or
        cancelling one run cannot both win. The run as updated; None when it is missing or was
        not in `when` (nothing written)."""
        ...

    async def finish(self, run: Run, patch: RunPatch, *, token: str, reply: Message | None = None) -> bool:
        """End `run` (its last model call is done, or failed): if it is still active, apply
        `patch` (its final status) and store `reply` when given; either way give back the
        session's run lease that `token` holds (`Sessions.release_run`). Whether the run was
        still active: False when it was cancelled meanwhile, and then nothing but the lease is
        written. In one statement where the database allows."""
        ...
