"""The sessions port, and the run lease a session holds while a run works on it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from agentkeep.domain.models import Message, Run, Session, User
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import SessionPatch


@dataclass(frozen=True, slots=True)
class RunLease:
    """A session's run lease: held by `token` until `until` (see `Sessions.claim_run`)."""

    token: str
    until: datetime


class Sessions(Protocol):
    """Conversations of one user with one agent, by id or unique name; a session holds at most
    one run at a time through its lease, taken with one conditional statement so that it holds
    across processes."""

    async def add(
        self,
        session: Session,
        *,
        lease: RunLease | None = None,
        owner: User | None = None,
        first_message: Message | None = None,
        run: Run | None = None,
    ) -> Session:
        """Insert `session`, holding `lease` when given (a run that makes its session takes the
        lease in the same statement); with `owner`, its new user, inserted first; with
        `first_message`, appended to it; with `run`, that run's record. A first run makes all
        four: in one statement where the database allows. NotFound without its user or agent;
        Conflict on a taken id, name or email (the owner's, the session's, the message's or the
        run's)."""
        ...

    async def get(self, session_id: uuid.UUID) -> Session | None: ...

    async def get_by_name(self, name: str) -> Session | None: ...

    async def get_or_create_by_name(self, session: Session, *, lease: RunLease | None = None) -> tuple[Session, bool]:
        """The session named `session.name` (which must be set), or `session` inserted (holding
        `lease` when given); atomic."""
        ...

    async def list(
        self, paging: Paging, *, user_id: uuid.UUID | None = None, agent_id: str | None = None
    ) -> tuple[list[Session], int]: ...

    async def update(self, session_id: uuid.UUID, patch: SessionPatch) -> Session | None: ...

    async def finish(self, session_id: uuid.UUID, at: datetime) -> Session | None:
        """Mark the session finished at `at`; idempotent: the first `finished_at` stays."""
        ...

    async def delete(self, session_id: uuid.UUID) -> bool:
        """Delete the session and its messages; memories bound to it become unbound."""
        ...

    async def claim_run(self, session_id: uuid.UUID, token: str, now: datetime, until: datetime) -> bool:
        """Take the session's run lease for `token` until `until`, if nobody holds it or the
        holder's lease ended before `now`. One conditional UPDATE, so it holds across processes."""
        ...

    async def claim_run_by_name(self, name: str, token: str, now: datetime, until: datetime) -> Session | None:
        """`claim_run` on the session of that name, returning it: None when there is none, or
        another run holds it (the same conditional UPDATE, so one statement instead of two)."""
        ...

    async def lease(self, session_id: uuid.UUID) -> RunLease | None:
        """The session's run lease as it is stored (expired or not); None when nobody holds it."""
        ...

    async def release_run(self, session_id: uuid.UUID, token: str) -> None:
        """Give the lease back, if `token` still holds it."""
        ...
