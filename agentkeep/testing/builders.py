"""Small builders of valid entities for the storage tests, and a way to write them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from agentkeep.domain.models import Agent, AgentBio, AgentProfileMetadata, Memory, Message, Run, Session, User
from agentkeep.domain.ports import Storage, UnitOfWork
from agentkeep.domain.values import PersonaBioSource, Role

T0 = datetime(2024, 5, 17, 12, 30, 45, 123456, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """A timestamp `seconds` after T0 (so tests can make ties and orders on purpose)."""
    return T0 + timedelta(seconds=seconds)


def a_user(**fields: Any) -> User:
    return User(**fields)


def an_agent(**fields: Any) -> Agent:
    fields.setdefault("name", f"agent-{uuid.uuid4().hex[:10]}")
    return Agent(**fields)


def a_bio(agent: Agent, **fields: Any) -> AgentBio:
    fields.setdefault("persona_bio", "A curious agent.")
    fields.setdefault("persona_bio_source", PersonaBioSource.USER_PROVIDED)
    return AgentBio(agent_id=agent.id, **fields)


def a_session(user: User, agent: Agent, **fields: Any) -> Session:
    return Session(user_id=user.id, agent_id=agent.id, **fields)


def a_message(session: Session, **fields: Any) -> Message:
    fields.setdefault("role", Role.USER)
    fields.setdefault("text_content", "hello")
    fields.setdefault("user_id", session.user_id)
    fields.setdefault("agent_id", session.agent_id)
    return Message(session_id=session.id, **fields)


def a_memory(agent: Agent, user: User | None = None, **fields: Any) -> Memory:
    fields.setdefault("name", f"memory-{uuid.uuid4().hex[:8]}")
    fields.setdefault("content", "remember this")
    return Memory(agent_id=agent.id, user_id=None if user is None else user.id, **fields)


def a_run(session: Session, **fields: Any) -> Run:
    fields.setdefault("user_id", session.user_id)
    fields.setdefault("agent_id", session.agent_id)
    return Run(session_id=session.id, **fields)


async def add_to(uow: UnitOfWork, entity: Any) -> None:
    """Write one entity through the repository of its kind."""
    match entity:
        case User():
            await uow.users.add(entity)
        case Agent():
            await uow.agents.add(entity)
        case AgentBio():
            await uow.bios.add(entity)
        case AgentProfileMetadata():
            await uow.profile_metadata.upsert(entity)
        case Session():
            await uow.sessions.add(entity)
        case Message():
            await uow.messages.add(entity)
        case Memory():
            await uow.memories.add(entity)
        case Run():
            await uow.runs.add(entity)
        case _:
            raise TypeError(f"not an entity: {entity!r}")


async def add(storage: Storage, *entities: Any) -> None:
    """Write `entities` in order, in one committed unit of work."""

    async def work(uow: UnitOfWork) -> None:
        for entity in entities:
            await add_to(uow, entity)

    await storage.run(work)


async def seed(storage: Storage) -> tuple[User, Agent, Session]:
    """A user, an agent and a session of theirs."""
    user, agent = a_user(), an_agent()
    session = a_session(user, agent)
    await add(storage, user, agent, session)
    return user, agent, session
