"""What agentkeep holds, as a batch of import-automagik sees it (SPEC §7).

A real run reads it from the database: earlier batches are committed. A dry run writes nothing, so
it also remembers what earlier batches would have written: the ids and names of users, agents and
sessions (and of a session what its messages and memories need), not their rows, so that later
batches and phases are planned as a real run would plan them.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable

from agentkeep.domain.models import Agent, Session, User
from agentkeep.domain.ports.backfill import BackfillUnitOfWork


class Known:
    """What agentkeep holds, as a batch sees it: the database, and what a dry run's earlier
    batches would have written (the steps tell it with `add_*` in a dry run only)."""

    def __init__(self) -> None:
        self.users: set[uuid.UUID] = set()
        self.emails: dict[str, uuid.UUID] = {}
        self.agents: set[str] = set()
        self.agent_names: dict[str, str] = {}
        self.sessions: dict[uuid.UUID, Session] = {}
        self.session_names: dict[str, uuid.UUID] = {}

    async def user_ids(self, uow: BackfillUnitOfWork, ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        found = {u.id for u in await uow.users.get_many(ids)} if ids else set()
        return found | (self.users & set(ids))

    async def email_holders(self, uow: BackfillUnitOfWork, emails: Collection[str]) -> dict[str, uuid.UUID]:
        found = {u.email: u.id for u in await uow.users.get_many_by_email(emails) if u.email} if emails else {}
        return {**{e: self.emails[e] for e in emails if e in self.emails}, **found}

    async def agent_ids(self, uow: BackfillUnitOfWork, ids: Collection[str]) -> set[str]:
        found = {a.id for a in await uow.agents.get_many(ids)} if ids else set()
        return found | (self.agents & set(ids))

    async def agent_holders(self, uow: BackfillUnitOfWork, names: Collection[str]) -> dict[str, str]:
        found = {a.name: a.id for a in await uow.agents.get_many_by_name(names)} if names else {}
        return {**{n: self.agent_names[n] for n in names if n in self.agent_names}, **found}

    async def sessions_of(self, uow: BackfillUnitOfWork, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Session]:
        found = {s.id: s for s in await uow.sessions.get_many(ids)} if ids else {}
        return {**{i: self.sessions[i] for i in ids if i in self.sessions}, **found}

    async def session_holders(self, uow: BackfillUnitOfWork, names: Collection[str]) -> dict[str, uuid.UUID]:
        found = {s.name: s.id for s in await uow.sessions.get_many_by_name(names) if s.name} if names else {}
        return {**{n: self.session_names[n] for n in names if n in self.session_names}, **found}

    def add_users(self, users: Iterable[User]) -> None:
        for user in users:
            self.users.add(user.id)
            if user.email is not None:
                self.emails[user.email] = user.id

    def add_agents(self, agents: Iterable[Agent]) -> None:
        for agent in agents:
            self.agents.add(agent.id)
            self.agent_names[agent.name] = agent.id

    def add_sessions(self, sessions: Iterable[Session]) -> None:
        for session in sessions:
            # Only what messages and memories need of it (the row is small: no metadata).
            self.sessions[session.id] = session.model_copy(update={"metadata": {}})
            if session.name is not None:
                self.session_names[session.name] = session.id
