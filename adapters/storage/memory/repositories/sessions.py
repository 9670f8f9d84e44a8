"""Sessions and their messages, in memory."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from agentkeep.adapters.storage.memory.repositories.users import MemoryUsers
from agentkeep.adapters.storage.memory.state import (
    Lease,
    Repository,
    Sequenced,
    Tables,
    by_time_then_id,
    by_time_then_seq,
    conflict,
    detach,
    detach_or_none,
    page,
    pick,
    present,
    sequenced_page,
)
from agentkeep.domain.models import Message, Run, Session, User
from agentkeep.domain.paging import Paging
from agentkeep.domain.patches import MessagePatch, SessionPatch
from agentkeep.domain.ports.sessions import RunLease
from agentkeep.domain.values import Role, to_utc, utcnow


class MemorySessions(Repository):
    async def add(
        self,
        session: Session,
        *,
        lease: RunLease | None = None,
        owner: User | None = None,
        first_message: Message | None = None,
        run: Run | None = None,
    ) -> Session:
        if owner is not None:
            await MemoryUsers(self._uow_tables).add(owner)
        # The same order of checks as SQLite: the name rule, the id, then the parents.
        if session.name is not None and self._named(session.name) is not None:
            raise conflict("session", "name")
        if session.id in self._tables.sessions:
            raise conflict("session", "id")
        self._tables.require_user(session.user_id)
        self._tables.require_agent(session.agent_id)
        self._tables.sessions[session.id] = detach(session)
        if lease is not None:
            self._tables.leases[session.id] = Lease(lease.token, to_utc(lease.until))
        if first_message is not None:
            await MemoryMessages(self._uow_tables).add(first_message)
        if run is not None:
            add_run(self._tables, run)
        return session

    async def get(self, session_id: uuid.UUID) -> Session | None:
        return detach_or_none(self._tables.sessions.get(session_id))

    async def get_many(self, session_ids: Collection[uuid.UUID]) -> builtins.list[Session]:
        return pick(self._tables.sessions, session_ids)

    async def get_many_by_name(self, names: Collection[str]) -> builtins.list[Session]:
        wanted = set(names)
        if not wanted:
            return []
        return [detach(s) for s in self._tables.sessions.values() if s.name is not None and s.name in wanted]

    async def add_many(self, sessions: Sequence[Session]) -> None:
        # Row by row, as the SQL executemany checks each row against the ones before it; an
        # error leaves rows in this unit of work's copy, dropped when it is left.
        for session in sessions:
            await self.add(session)

    async def get_by_name(self, name: str) -> Session | None:
        return detach_or_none(self._named(name))

    async def get_or_create_by_name(self, session: Session, *, lease: RunLease | None = None) -> tuple[Session, bool]:
        if session.name is None:
            raise ValueError("get_or_create_by_name needs a name")
        stored = self._named(session.name)
        if stored is not None:
            return detach(stored), False
        await self.add(session, lease=lease)
        return detach(session), True

    async def list(
        self, paging: Paging, *, user_id: uuid.UUID | None = None, agent_id: str | None = None
    ) -> tuple[list[Session], int]:
        rows = [
            s
            for s in self._tables.sessions.values()
            if (user_id is None or s.user_id == user_id) and (agent_id is None or s.agent_id == agent_id)
        ]
        return page(rows, by_time_then_id, paging)

    async def update(self, session_id: uuid.UUID, patch: SessionPatch) -> Session | None:
        current = self._tables.sessions.get(session_id)
        if current is None or not patch:
            return detach_or_none(current)
        changes = patch.changes()
        name = changes.get("name")
        if name is not None:
            owner = self._named(name)
            if owner is not None and owner.id != session_id:
                raise conflict("session", "name")
        updated = detach(current.model_copy(update={**changes, "updated_at": utcnow()}))
        self._tables.sessions[session_id] = updated
        return detach(updated)

    async def finish(self, session_id: uuid.UUID, at: datetime) -> Session | None:
        current = self._tables.sessions.get(session_id)
        if current is None or current.finished_at is not None:
            return detach_or_none(current)
        updated = current.model_copy(update={"finished_at": to_utc(at), "updated_at": utcnow()})
        self._tables.sessions[session_id] = updated
        return detach(updated)

    async def delete(self, session_id: uuid.UUID) -> bool:
        return self._tables.delete_session(session_id)

    async def claim_run(self, session_id: uuid.UUID, token: str, now: datetime, until: datetime) -> bool:
        if session_id not in self._tables.sessions:
            return False
        lease = self._tables.leases.get(session_id)
        if lease is not None and not lease.until < now:
            return False  # held, even by this token: a lease is taken once
        self._tables.leases[session_id] = Lease(token, to_utc(until))
        return True

    async def claim_run_by_name(self, name: str, token: str, now: datetime, until: datetime) -> Session | None:
        session = self._named(name)
        if session is None or not await self.claim_run(session.id, token, now, until):
            return None
        return detach(session)

    async def lease(self, session_id: uuid.UUID) -> RunLease | None:
        held = self._tables.leases.get(session_id)
        return None if held is None else RunLease(held.token, held.until)

    async def release_run(self, session_id: uuid.UUID, token: str) -> None:
        release(self._tables, session_id, token)

    def _named(self, name: str) -> Session | None:
        return next((s for s in self._tables.sessions.values() if s.name == name), None)


class MemoryMessages(Repository):
    async def add(self, message: Message) -> Message:
        self._check(message, set())
        self._tables.messages[message.id] = Sequenced(self._tables.next_seq(), detach(message))
        return message

    async def add_many(self, messages: Sequence[Message]) -> None:
        # One statement in SQL: every row or none.
        seen: set[uuid.UUID] = set()
        for message in messages:
            self._check(message, seen)
            seen.add(message.id)
        for message in messages:
            self._tables.messages[message.id] = Sequenced(self._tables.next_seq(), detach(message))

    async def get(self, message_id: uuid.UUID) -> Message | None:
        row = self._tables.messages.get(message_id)
        return None if row is None else detach(row.item)

    async def existing_ids(self, message_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        return present(self._tables.messages, message_ids)

    async def list(
        self, session_id: uuid.UUID, paging: Paging, *, hide_tools: bool = False
    ) -> tuple[list[Message], int]:
        rows = [
            m
            for m in self._tables.messages.values()
            if m.item.session_id == session_id and not (hide_tools and m.item.role == Role.TOOL)
        ]
        return sequenced_page(rows, paging)

    async def last(self, session_id: uuid.UUID, limit: int) -> builtins.list[Message]:
        if limit <= 0:
            return []
        rows = sorted(
            (m for m in self._tables.messages.values() if m.item.session_id == session_id), key=by_time_then_seq
        )
        return [detach(row.item) for row in rows[-limit:]]

    async def update(self, message_id: uuid.UUID, patch: MessagePatch) -> Message | None:
        row = self._tables.messages.get(message_id)
        if row is None or not patch:
            return None if row is None else detach(row.item)
        updated = detach(row.item.model_copy(update=patch.changes()))  # messages have no updated_at
        self._tables.messages[message_id] = Sequenced(row.seq, updated)
        return detach(updated)

    async def delete(self, message_id: uuid.UUID) -> bool:
        return self._tables.messages.pop(message_id, None) is not None

    def _check(self, message: Message, batch: set[uuid.UUID]) -> None:
        if message.id in self._tables.messages or message.id in batch:
            raise conflict("message", "id")
        self._tables.require_session(message.session_id)
        self._tables.require_user(message.user_id)
        self._tables.require_agent(message.agent_id)


def add_run(tables: Tables, run: Run) -> None:
    """Insert a run's record (`Runs.add`)."""
    if run.id in tables.runs:
        raise conflict("run", "id")
    tables.require_session(run.session_id)
    tables.runs[run.id] = detach(run)


def release(tables: Tables, session_id: uuid.UUID, token: str) -> None:
    """Give back the session's run lease if `token` holds it."""
    lease = tables.leases.get(session_id)
    if lease is not None and lease.token == token:
        del tables.leases[session_id]
