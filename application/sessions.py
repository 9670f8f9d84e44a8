"""Sessions and their messages: create, read with messages, list, rename, finish, delete."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass

from agentkeep.application.agents import find_agent
from agentkeep.application.idempotency import KeyedCreate
from agentkeep.application.inputs import NewSession
from agentkeep.application.users import find_user
from agentkeep.domain.errors import NotFound
from agentkeep.domain.ids import is_agent_id, parse_agent_id
from agentkeep.domain.models import Message, Session
from agentkeep.domain.paging import Page, Paging
from agentkeep.domain.patches import SessionPatch
from agentkeep.domain.ports.unit_of_work import Storage, UnitOfWork
from agentkeep.domain.values import utcnow


@dataclass(frozen=True, slots=True)
class SessionWithMessages:
    session: Session
    messages: Page[Message]


async def find_session(uow: UnitOfWork, id_or_name: str | uuid.UUID, key: str = "session_id") -> Session:
    """The session with this id, else with this name."""
    session = None
    if isinstance(id_or_name, uuid.UUID):
        session = await uow.sessions.get(id_or_name)
    else:
        with contextlib.suppress(ValueError):  # not an id: try it as a name
            session = await uow.sessions.get(uuid.UUID(id_or_name))
        if session is None:
            session = await uow.sessions.get_by_name(id_or_name)
    if session is None:
        raise NotFound(f"no session {id_or_name}", key=key)
    return session


class SessionService:
    """Use cases on sessions. Every method is one unit of work."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    async def create(self, data: NewSession, keyed: KeyedCreate[Session] | None = None) -> Session:
        """Create the session; with `keyed`, keep the request's answer in the same unit of work."""

        async def work(uow: UnitOfWork) -> Session:
            agent = await find_agent(uow, data.agent_id, key="agent_id")
            await find_user(uow, data.user_id)
            session = await uow.sessions.add(data.build(agent.id))
            if keyed is not None:
                await keyed.keep(uow.idempotency_keys, session)
            return session

        return await self._storage.run(work)

    async def get(self, id_or_name: str, paging: Paging, *, hide_tools: bool = False) -> SessionWithMessages:
        """The session and one page of its messages (`hide_tools` leaves out `role=tool` ones)."""

        async def work(uow: UnitOfWork) -> SessionWithMessages:
            session = await find_session(uow, id_or_name)
            items, total = await uow.messages.list(session.id, paging, hide_tools=hide_tools)
            return SessionWithMessages(session, Page(items, total, paging))

        return await self._storage.run(work)

    async def list(
        self, paging: Paging, *, user_id: uuid.UUID | None = None, agent_id: str | None = None
    ) -> Page[Session]:
        async def work(uow: UnitOfWork) -> tuple[list[Session], int]:
            agent = None
            if agent_id is not None:
                found = await uow.agents.resolve(agent_id)
                # An unknown agent filters to nothing, like an unknown user does.
                agent = found.id if found else (parse_agent_id(agent_id) if is_agent_id(agent_id) else agent_id)
            return await uow.sessions.list(paging, user_id=user_id, agent_id=agent)

        items, total = await self._storage.run(work)
        return Page(items, total, paging)

    async def update(self, id_or_name: str, patch: SessionPatch) -> Session:
        async def work(uow: UnitOfWork) -> Session:
            session = await find_session(uow, id_or_name)
            updated = await uow.sessions.update(session.id, patch)
            assert updated is not None
            return updated

        return await self._storage.run(work)

    async def finish(self, session_id: uuid.UUID) -> Session:
        """Mark the session finished; idempotent (the first `finished_at` stays)."""

        async def work(uow: UnitOfWork) -> Session:
            finished = await uow.sessions.finish(session_id, utcnow())
            if finished is None:
                raise NotFound(f"no session {session_id}", key="session_id")
            return finished

        return await self._storage.run(work)

    async def delete(self, session_id: uuid.UUID) -> None:
        async def work(uow: UnitOfWork) -> None:
            if not await uow.sessions.delete(session_id):
                raise NotFound(f"no session {session_id}", key="session_id")

        await self._storage.run(work)
